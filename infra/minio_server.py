"""A real MinIO server for tests and development (SERVICES.md "S3: MinIO").

MinIO is Go source, so the binary is built once through the Go module proxy into
`~/.cache/sunshine/bin/minio`; later starts reuse it. Each start gets a throwaway data folder, free
ports on 127.0.0.1 and fresh root credentials. The credentials live only in the server's environment
and in the run-state file (mode 0600): they are never logged or printed except as the shell
`KEY=VALUE` lines `infra/services start minio` exists to print.

`start/stop/status` manage the one shared server (state in `~/.cache/sunshine/run/minio.json`);
`launch/terminate` run a private instance, for tests that must stop a server without disturbing
the shared one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from archiver.errors import SunshineError
from infra.service_state import CACHE, RUN_DIR, clear_state, free_port, pid_alive, read_state, write_state

NAME = "minio"
MODULE = "github.com/minio/minio"
VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"  # pinned: the build this project is tested with
BIN_DIR = CACHE / "bin"
BINARY = BIN_DIR / "minio"
BUILD_TIMEOUT = 45 * 60
READY_TIMEOUT = 60.0

# Popen handles of servers this process started, so stopping one also reaps it (a zombie child
# would otherwise look alive to `kill(pid, 0)`).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class MinioInstance:
    """One running MinIO server and what a client needs to reach it."""

    pid: int
    endpoint: str
    console: str
    access_key: str
    secret_key: str
    data_dir: str
    log_path: str

    def env(self) -> dict[str, str]:
        """The variables `archiver.store.s3` and the tests read to reach this server."""
        return {
            "SUNSHINE_S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }


def ensure_binary() -> Path:
    """The MinIO binary, built from the pinned module version if it is not cached yet."""
    if BINARY.is_file() and os.access(BINARY, os.X_OK):
        return BINARY
    if shutil.which("go") is None:
        raise SunshineError("MinIO is not built yet and the Go toolchain is missing: install Go "
                            "(Debian: apt-get install golang) and run `infra/services start minio` again")
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(BIN_DIR)}
    result = _run(["go", "install", f"{MODULE}@{VERSION}"], env=env)
    if result.returncode != 0 and "replace" in result.stdout:
        _build_from_module_dir(env)
    elif result.returncode != 0:
        raise SunshineError(f"building MinIO failed (go install {MODULE}@{VERSION}):\n{_tail(result.stdout)}")
    if not BINARY.is_file():
        raise SunshineError(f"building MinIO reported success but {BINARY} is missing")
    return BINARY


def _build_from_module_dir(env: dict[str, str]) -> None:
    """The fallback when `go.mod` carries `replace` directives: build the module as the main module."""
    result = _run(["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"], env=env)
    if result.returncode != 0:
        raise SunshineError(f"downloading the MinIO module failed:\n{_tail(result.stdout)}")
    module_dir = Path(json.loads(result.stdout)["Dir"])
    with tempfile.TemporaryDirectory(prefix="sunshine-minio-src-") as workdir:
        source = Path(workdir) / "minio"
        shutil.copytree(module_dir, source)
        for path in source.rglob("*"):  # the module cache is read-only
            path.chmod(path.stat().st_mode | 0o200)
        result = _run(["go", "build", "-o", str(BINARY), "."], env=env, cwd=source)
        if result.returncode != 0:
            raise SunshineError(f"building MinIO from {module_dir} failed:\n{_tail(result.stdout)}")


def _run(args: list[str], *, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=BUILD_TIMEOUT, check=False)


def launch(data_dir: Path, log_path: Path, *, port: int | None = None, access_key: str | None = None,
           secret_key: str | None = None, certs_dir: Path | None = None) -> MinioInstance:
    """Start a MinIO server on `data_dir` and wait until it answers its liveness probe.

    Passing the `port` and keys of an earlier instance restarts "the same" server on the same data,
    which is how the spool tests bring S3 back. With `certs_dir` (MinIO's layout: `public.crt`,
    `private.key`) it serves HTTPS, and the probe trusts exactly that certificate.
    """
    binary = ensure_binary()
    port = port or free_port()
    console_port = free_port()
    access_key = access_key or f"sunshine-{secrets.token_hex(6)}"
    secret_key = secret_key or secrets.token_hex(24)
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "MINIO_ROOT_USER": access_key,
        "MINIO_ROOT_PASSWORD": secret_key,
        "MINIO_UPDATE": "off",
        "MINIO_BROWSER": "off",
    }
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(binary), "server", str(data_dir), "--quiet", "--address", f"127.0.0.1:{port}",
             "--console-address", f"127.0.0.1:{console_port}",
             *(["--certs-dir", str(certs_dir)] if certs_dir else [])],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # detached: survives the launcher and ignores its Ctrl-C
        )
    _children[process.pid] = process
    scheme = "https" if certs_dir else "http"
    instance = MinioInstance(
        pid=process.pid, endpoint=f"{scheme}://127.0.0.1:{port}", console=f"{scheme}://127.0.0.1:{console_port}",
        access_key=access_key, secret_key=secret_key, data_dir=str(data_dir), log_path=str(log_path),
    )
    try:
        _wait_ready(instance, process, ssl.create_default_context(cafile=certs_dir / "public.crt") if certs_dir else None)
    except BaseException:
        terminate(instance, remove_data=False)
        raise
    return instance


def _wait_ready(instance: MinioInstance, process: subprocess.Popen[bytes], tls: ssl.SSLContext | None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    url = f"{instance.endpoint}/minio/health/live"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SunshineError(f"MinIO exited with status {process.returncode} while starting; "
                                f"log {instance.log_path} ends:\n{_log_tail(instance.log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=tls) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise SunshineError(f"MinIO did not answer {url} within {READY_TIMEOUT:.0f}s; "
                        f"log {instance.log_path} ends:\n{_log_tail(instance.log_path)}")


def terminate(instance: MinioInstance, *, remove_data: bool = True, timeout: float = 20.0) -> None:
    """Stop exactly this server (by process id), reap it if it is our child, drop its data."""
    _stop_pid(instance.pid, timeout)
    if remove_data:
        shutil.rmtree(instance.data_dir, ignore_errors=True)


def _stop_pid(pid: int, timeout: float) -> None:
    process = _children.pop(pid, None)
    if process is not None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return
    if not pid_alive(pid):
        return
    os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        os.kill(pid, 9)


def start() -> dict[str, str]:
    """Start the shared server if it is not running; return the variables that point clients at it."""
    state = read_state(NAME)
    if state is not None:
        instance = MinioInstance(**state)
        if _live(instance.endpoint):
            return instance.env()
        terminate(instance)  # alive but not answering: replace it rather than run two
        clear_state(NAME)
    data_dir = Path(tempfile.mkdtemp(prefix="sunshine-minio-"))
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    instance = launch(data_dir, RUN_DIR / f"{NAME}.log")
    _write_private_state(instance)
    return instance.env()


def _write_private_state(instance: MinioInstance) -> None:
    """Save the state with owner-only permissions (it holds the root credentials)."""
    path = RUN_DIR / f"{NAME}.json"
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    write_state(NAME, asdict(instance))


def stop() -> None:
    """Stop the shared server, if running, and remove its data folder."""
    state = read_state(NAME)
    if state is None:
        return
    terminate(MinioInstance(**state))
    clear_state(NAME)


def status() -> dict[str, str | int] | None:
    """The shared server's state if it is running and answering, else None; secrets left out."""
    state = read_state(NAME)
    if state is None or not _live(state["endpoint"]):
        return None
    return {key: value for key, value in state.items() if key != "secret_key"}


def _live(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/minio/health/live", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(path: str, lines: int = 20) -> str:
    try:
        return _tail(Path(path).read_text(errors="replace"), lines)
    except OSError:
        return "(no log)"


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@contextlib.contextmanager
def env_or_private(work: Path) -> Iterator[dict[str, str]]:
    """The MinIO the environment names (SUNSHINE_S3_ENDPOINT and AWS keys), or a private one in
    `work` for the duration (benchmarks use this, so they run with or without the test command)."""
    keys = ("SUNSHINE_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    if all(key in os.environ for key in keys):
        yield {key: os.environ[key] for key in keys}
        return
    instance = launch(work / "minio", work / "minio.log")
    try:
        yield instance.env()
    finally:
        terminate(instance)
