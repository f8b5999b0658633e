"""A real single-node Elasticsearch for tests and dev (SERVICES.md), fetched from Maven Central.

Elastic publishes its integration-test distribution on Maven Central; `mvn dependency:copy` fetches it
once into `~/.cache/sunshine/elasticsearch-<ver>/`. That zip carries only the server core and x-pack
security: no `analysis-common`, so no `porter_stem`/`english`. CodeLibs' republished modules stop at
7.10, so stemming on this node comes from the core `hunspell` filter with Debian's `hunspell-en-us`
dictionary, placed in the node's own config folder (`indexer.elastic` picks porter stemming instead
when a full deployment offers it).

Elasticsearch refuses to run as root; when we are root the node runs inside a user namespace that
maps us to an ordinary uid, so it keeps read access to the cache without touching file permissions.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from archiver.errors import SunshineError
from infra.service_state import CACHE, clear_state, free_port, pid_alive, read_state, write_state

NAME = "elasticsearch"
VERSION = "9.2.4"  # newest integ-test-zip on Maven Central (9.2.5, 9.2.6, 9.3.0 are not published)
ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{VERSION}:zip"
JAVA_HOME = Path("/usr/lib/jvm/temurin-25-jdk-amd64")  # Elasticsearch 9 needs Java 21+
HUNSPELL_DIR = Path("/usr/share/hunspell")
HEALTH_TIMEOUT = 180.0
HEAP = "-Xms512m -Xmx512m"


def install_dir() -> Path:
    return CACHE / f"elasticsearch-{VERSION}"


def start() -> dict[str, str]:
    """Start the node if it is not running; return `{"SUNSHINE_ES_URL": url}` either way."""
    state = read_state(NAME)
    if state and not _is_our_node(int(state["pid"])):  # stale state: the pid now belongs to another program
        clear_state(NAME)
        state = None
    if state:
        _wait_healthy(state["url"], int(state["pid"]), Path(state["log"]), timeout=HEALTH_TIMEOUT)
        return {"SUNSHINE_ES_URL": state["url"]}
    home = ensure_installed()
    dictionary = ensure_hunspell()
    run_dir = Path(tempfile.mkdtemp(prefix="sunshine-es-"))
    conf = run_dir / "config"
    shutil.copytree(home / "config", conf)
    (conf / "hunspell" / "en_US").mkdir(parents=True)
    for suffix in (".aff", ".dic"):
        shutil.copy(dictionary.with_suffix(suffix), conf / "hunspell" / "en_US" / f"en_US{suffix}")
    (conf / "hunspell" / "en_US" / "settings.yml").write_text("ignore_case: true\n")
    port, transport = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    log = run_dir / "server.log"
    settings = {
        "cluster.name": "sunshine-dev",
        "node.name": "sunshine-dev",
        "discovery.type": "single-node",
        "xpack.security.enabled": "false",
        "network.host": "127.0.0.1",
        "http.port": str(port),
        "transport.port": str(transport),
        "path.data": str(run_dir / "data"),
        "path.logs": str(run_dir / "logs"),
        # A busy dev disk must not flip our indices read-only mid-test.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.destructive_requires_name": "false",
    }
    command = [str(home / "bin" / "elasticsearch")] + [f"-E{k}={v}" for k, v in settings.items()]
    if os.geteuid() == 0:
        command = ["unshare", "--user", "--map-user=1000", "--map-group=1000", *command]
    env = dict(os.environ, ES_PATH_CONF=str(conf), ES_JAVA_OPTS=HEAP, ES_JAVA_HOME=str(JAVA_HOME),
               JAVA_HOME=str(JAVA_HOME))
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True)
    write_state(NAME, {"pid": process.pid, "url": url, "port": port, "run_dir": str(run_dir),
                       "log": str(log), "version": VERSION})
    try:
        _wait_healthy(url, process.pid, log, timeout=HEALTH_TIMEOUT)
    except SunshineError:
        stop()
        raise
    return {"SUNSHINE_ES_URL": url}


def stop() -> None:
    """Stop the node we started (its whole process group) and remove its data folder."""
    state = read_state(NAME)
    if state is None:
        clear_state(NAME)
        return
    if _is_our_node(int(state["pid"])):  # never signal a program that merely inherited the pid
        _stop_group(int(state["pid"]))
    clear_state(NAME)
    run_dir = Path(state.get("run_dir", ""))
    if run_dir.name.startswith("sunshine-es-"):
        shutil.rmtree(run_dir, ignore_errors=True)


def status() -> dict[str, Any] | None:
    """The running node's state plus its cluster health, or None if it is not running."""
    state = read_state(NAME)
    if state is None:
        return None
    try:
        state["health"] = _health(state["url"], timeout=2.0).get("status")
    except OSError as exc:
        state["health"] = f"not answering: {exc}"
    return state


def ensure_installed() -> Path:
    """The unpacked server, fetched with Maven and unpacked once (atomically) into the cache."""
    home = install_dir()
    if (home / "bin" / "elasticsearch").exists():
        return home
    if shutil.which("mvn") is None:
        raise SunshineError("Maven (`mvn`) is needed to fetch Elasticsearch: apt-get install maven")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="es-download-") as tmp:
        result = subprocess.run(
            ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={tmp}"],
            capture_output=True, text=True, timeout=1200, check=False)
        archive = Path(tmp) / f"elasticsearch-{VERSION}.zip"
        if result.returncode != 0 or not archive.exists():
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise SunshineError(f"could not fetch {ARTIFACT} from Maven Central: " + " | ".join(tail))
        unpacked = Path(tmp) / "unpacked"
        _unzip(archive, unpacked)
        (unpacked / f"elasticsearch-{VERSION}").rename(home)
    return home


def ensure_hunspell() -> Path:
    """Debian's en_US hunspell dictionary (stem base path), installed with apt-get if missing."""
    base = HUNSPELL_DIR / "en_US"
    if not base.with_suffix(".dic").exists():
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-qq", "hunspell-en-us"]
        result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, check=False)
            result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
        if not base.with_suffix(".dic").exists():
            raise SunshineError("the en_US hunspell dictionary is missing and `apt-get install "
                                f"hunspell-en-us` failed: {result.stderr.strip()[-300:]}")
    return base


def _unzip(archive: Path, target: Path) -> None:
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-q", str(archive), "-d", str(target)], check=True)
        return
    with zipfile.ZipFile(archive) as zf:  # zipfile drops the exec bits; restore them from the entry
        for info in zf.infolist():
            path = Path(zf.extract(info, target))
            mode = info.external_attr >> 16
            if mode:
                path.chmod(mode & 0o777)


def _health(url: str, timeout: float) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_cluster/health", timeout=timeout) as response:
        return json.loads(response.read())


def _wait_healthy(url: str, pid: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            raise SunshineError(f"Elasticsearch exited while starting; server log tail:\n{_tail(log)}")
        try:
            if _health(url, timeout=2.0).get("status") in ("yellow", "green"):
                return
            last = "cluster health is red"
        except (OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.5)
    raise SunshineError(f"Elasticsearch at {url} was not healthy after {timeout:.0f}s ({last}); "
                        f"server log tail:\n{_tail(log)}")


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _stop_group(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM the process group we created (launcher + server JVM), wait, then SIGKILL it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            _reap(pid)
            time.sleep(0.1)


def _is_our_node(pid: int) -> bool:
    try:
        return b"elasticsearch" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc to ask: trust the saved state

def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie (and look alive)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
