"""A real RFC 3161 time-stamping authority on 127.0.0.1 for tests: `openssl ts -reply` behind HTTP.

`make_tsa(folder)` makes a root CA and a time-stamping certificate it issues (critical EKU
timeStamping, as RFC 3161 §2.3 requires) with the openssl command line; `LocalTSA` answers
`application/timestamp-query` POSTs by running `openssl ts -reply` on them. Nothing here is ours:
the tokens our code requests, stores and verifies are made by OpenSSL's own TSA.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

EXTENSIONS = ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\n"
              "authorityKeyIdentifier=keyid\n")


def openssl(*args: str | Path) -> bytes:
    return subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True).stdout


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed root: (certificate PEM, key PEM)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", cert, "-days", "3650", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


@dataclass(frozen=True)
class TSAFiles:
    ca: Path  # the root a verifier trusts
    config: Path  # the openssl [tsa] config `openssl ts -reply` reads


def make_tsa(folder: Path) -> TSAFiles:
    """A root CA and a TSA certificate it signed, plus the openssl TSA config that uses them."""
    ca, ca_key = make_ca(folder, "tsa-root")
    key, csr, cert = folder / "tsa.key", folder / "tsa.csr", folder / "tsa.pem"
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", csr, "-subj", "/CN=Test Time-Stamping Unit")
    (folder / "tsa.ext").write_text(EXTENSIONS)
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
            "-days", "3650", "-extfile", folder / "tsa.ext")
    (folder / "tsaserial").write_text("01\n")
    config = folder / "tsa.cnf"
    config.write_text(
        "[ tsa ]\ndefault_tsa = tsa_config\n[ tsa_config ]\n"
        f"serial = {folder / 'tsaserial'}\ncrypto_device = builtin\n"
        f"signer_cert = {cert}\nsigner_key = {key}\nsigner_digest = sha256\n"
        "default_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\n"
        "ordering = yes\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n")
    return TSAFiles(ca=ca, config=config)


class LocalTSA:
    """`openssl ts -reply` served over HTTP on 127.0.0.1 (RFC 3161 §3.4); `with` starts and stops it."""

    def __init__(self, files: TSAFiles) -> None:
        self.files = files
        self.requests = 0
        self._lock = threading.Lock()  # openssl increments one serial file
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                query = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self.send_error(415)
                    return
                reply = tsa.reply(query)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsr"

    def reply(self, query: bytes) -> bytes:
        with self._lock, tempfile.TemporaryDirectory() as work:
            self.requests += 1
            query_file, reply_file = Path(work) / "q.tsq", Path(work) / "r.tsr"
            query_file.write_bytes(query)
            openssl("ts", "-reply", "-config", self.files.config, "-queryfile", query_file, "-out", reply_file)
            return reply_file.read_bytes()

    def __enter__(self) -> LocalTSA:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
