"""A real C2SP tlog-witness for tests and development: `litewitness` from filippo.io/torchwood.

litewitness (and its admin tool `witnessctl`) are Go source, built once through the Go module proxy
into `~/.cache/sunshine/bin` like MinIO; later starts reuse them. litewitness keeps its state in
SQLite and signs with a key held by an ssh-agent, so each instance gets its own folder with a
throwaway Ed25519 key (`ssh-keygen`), a private `ssh-agent` holding it, and a free port on
127.0.0.1. Logs are registered with `WitnessInstance.add_log(origin, log vkey)` (witnessctl).

`start/stop/status` manage one shared instance (`infra/services start witness`, state in
`~/.cache/sunshine/run/witness.json`); `launch/terminate` run a private one, as the tests do.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from archiver.errors import SunshineError
from archiver.ledger.cosignature import CosignatureVerifier, cosigner_key_id
from infra.service_state import (
    CACHE,
    RUN_DIR,
    clear_state,
    free_port,
    pid_alive,
    read_state,
    stop_pid,
    write_state,
)

NAME = "witness"
MODULE = "filippo.io/torchwood"
VERSION = "v0.6.1"  # pinned: the newest release that builds with this machine's Go (see the README)
COMMANDS = ("litewitness", "witnessctl")
BIN_DIR = CACHE / "bin"
BUILD_TIMEOUT = 20 * 60
READY_TIMEOUT = 30.0
DEFAULT_NAME = "witness.sunshine.test/local"

_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class WitnessInstance:
    """One running litewitness, its ssh-agent, and what a log operator needs to use it."""

    pid: int
    agent_pid: int
    url: str
    name: str
    vkey: str
    db: str
    data_dir: str
    log_path: str

    def env(self) -> dict[str, str]:
        return {"SUNSHINE_WITNESS_URL": self.url, "SUNSHINE_WITNESS_VKEY": self.vkey,
                "SUNSHINE_WITNESS_DB": self.db}

    def add_log(self, origin: str, log_vkey: str) -> None:
        """Register a log (its origin and verifier key) with this witness, as its operator would."""
        add_log(self.db, origin, log_vkey)


def ensure_binaries() -> dict[str, Path]:
    """litewitness and witnessctl, built from the pinned module version if not cached yet.

    A missing Go toolchain is an error saying so: the tests that need a witness fail, never skip.
    """
    binaries = {name: BIN_DIR / name for name in COMMANDS}
    if all(path.is_file() and os.access(path, os.X_OK) for path in binaries.values()):
        return binaries
    if shutil.which("go") is None:
        raise SunshineError("litewitness is not built yet and the Go toolchain is missing: install Go 1.24+ "
                            "and run `infra/services start witness` again")
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(BIN_DIR), "GOTOOLCHAIN": "local"}
    targets = [f"{MODULE}/cmd/{name}@{VERSION}" for name in COMMANDS]
    result = subprocess.run(["go", "install", *targets], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=BUILD_TIMEOUT, check=False)
    if result.returncode != 0:
        raise SunshineError(f"building litewitness failed (go install {' '.join(targets)}):\n{_tail(result.stdout)}")
    missing = [str(path) for path in binaries.values() if not path.is_file()]
    if missing:
        raise SunshineError(f"building litewitness reported success but {', '.join(missing)} is missing")
    return binaries


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
                            check=False, **kwargs)
    if result.returncode != 0:
        raise SunshineError(f"{Path(args[0]).name} {args[1] if len(args) > 1 else ''} failed:\n{_tail(result.stdout)}")
    return result


def _ssh_public_key(pub_path: Path) -> tuple[bytes, str]:
    """(raw Ed25519 public key, OpenSSH SHA256 fingerprint) of an `ssh-ed25519` public key file."""
    blob = base64.b64decode(pub_path.read_text().split()[1])
    # wire format: string "ssh-ed25519", string key (each a u32 length then bytes)
    kind_len = int.from_bytes(blob[:4], "big")
    key = blob[8 + kind_len:]
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return key, fingerprint


def witness_vkey(name: str, public_key: bytes) -> str:
    """The witness's cosignature/v1 verifier key, as its policy line carries it."""
    return CosignatureVerifier(name, cosigner_key_id(name, public_key), public_key).key()


def launch(data_dir: Path, *, name: str = DEFAULT_NAME, port: int | None = None) -> WitnessInstance:
    """Start litewitness on `data_dir` (key, agent socket, database) and wait until it answers.

    Launching again on the same `data_dir` and `port` brings back "the same" witness: same key,
    same memory of every log, which is how the tests take a witness down and up again.
    """
    binaries = ensure_binaries()
    for tool in ("ssh-keygen", "ssh-agent", "ssh-add"):
        if shutil.which(tool) is None:
            raise SunshineError(f"litewitness needs OpenSSH's {tool} (Debian: apt-get install openssh-client)")
    data_dir.mkdir(parents=True, exist_ok=True)
    key_path = data_dir / "witness_key"
    if not key_path.exists():
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key_path)])
    public_key, fingerprint = _ssh_public_key(key_path.with_suffix(".pub"))
    socket_path = data_dir / "agent.sock"
    socket_path.unlink(missing_ok=True)
    log_path = data_dir / "litewitness.log"
    agent = _spawn(["ssh-agent", "-D", "-a", str(socket_path)], log_path, data_dir)
    try:
        _wait(lambda: socket_path.exists(), agent, "ssh-agent", log_path)
        _run(["ssh-add", "-q", str(key_path)], env={**os.environ, "SSH_AUTH_SOCK": str(socket_path)})
        port = port or free_port()
        db = data_dir / "litewitness.db"
        process = _spawn([str(binaries["litewitness"]), "-db", str(db), "-name", name, "-key", fingerprint,
                          "-ssh-agent", str(socket_path), "-listen", f"127.0.0.1:{port}"], log_path, data_dir)
    except BaseException:
        _stop(agent.pid)
        raise
    instance = WitnessInstance(pid=process.pid, agent_pid=agent.pid, url=f"http://127.0.0.1:{port}", name=name,
                               vkey=witness_vkey(name, public_key), db=str(db), data_dir=str(data_dir),
                               log_path=str(log_path))
    try:
        _wait(lambda: _live(instance.url), process, "litewitness", log_path)
    except BaseException:
        terminate(instance, remove_data=False)
        raise
    return instance


def _spawn(args: list[str], log_path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        process = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    _children[process.pid] = process
    return process


def _wait(ready, process: subprocess.Popen[bytes], what: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SunshineError(f"{what} exited with status {process.returncode} while starting; "
                                f"log {log_path} ends:\n{_log_tail(log_path)}")
        if ready():
            return
        time.sleep(0.1)
    raise SunshineError(f"{what} did not become ready within {READY_TIMEOUT:.0f}s; log {log_path} ends:\n"
                        f"{_log_tail(log_path)}")


def _live(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def add_log(db: str, origin: str, log_vkey: str) -> None:
    """`witnessctl add-log` then `add-key`: the witness will cosign this log's checkpoints."""
    witnessctl = str(ensure_binaries()["witnessctl"])
    _run([witnessctl, "add-log", "-db", db, "-origin", origin])
    _run([witnessctl, "add-key", "-db", db, "-origin", origin, "-key", log_vkey])


def terminate(instance: WitnessInstance, *, remove_data: bool = True) -> None:
    """Stop exactly this witness and its agent (by process id); drop its folder unless asked not to."""
    _stop(instance.pid)
    _stop(instance.agent_pid)
    if remove_data:
        shutil.rmtree(instance.data_dir, ignore_errors=True)


def _stop(pid: int) -> None:
    process = _children.pop(pid, None)
    if process is None:
        stop_pid(pid)
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start() -> dict[str, str]:
    """Start the shared witness if it is not running; the variables that point a log at it."""
    state = read_state(NAME)
    if state is not None:
        instance = WitnessInstance(**state)
        if pid_alive(instance.agent_pid) and _live(instance.url):
            return instance.env()
        terminate(instance)
        clear_state(NAME)
    instance = launch(Path(tempfile.mkdtemp(prefix="sunshine-witness-")))
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    write_state(NAME, asdict(instance))
    return instance.env()


def stop() -> None:
    state = read_state(NAME)
    if state is None:
        return
    terminate(WitnessInstance(**state))
    clear_state(NAME)


def status() -> dict[str, str | int] | None:
    state = read_state(NAME)
    return state if state is not None and _live(state["url"]) else None


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return _tail(path.read_text(errors="replace"), lines)
    except OSError:
        return "(no log)"


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
