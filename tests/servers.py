"""Real servers started as processes for the tests of the production configuration (no containers here):
an MLflow tracking server and a Prefect server on PostgreSQL, a two-node Ray cluster on loopback, a
Prefect process worker. Each is a context manager that stops what it started."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, what: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{what} not healthy after {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def _server(command: list[str], env: dict, log: Path, url: str, health: str, what: str) -> Iterator[str]:
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_healthy(f"{url}{health}", proc, log, what)
        yield url
    finally:
        _stop(proc)


def mlflow_server(database: str, workdir: Path):
    """``mlflow server`` on ``database``, serving artifacts from ``workdir``; yields its URL."""
    port = free_port()
    command = [
        str(BIN / "mlflow"), "server",
        "--backend-store-uri", database,
        "--artifacts-destination", str(workdir / "server-artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    return _server(command, os.environ.copy(), workdir / "mlflow-server.log", url, "/health", "mlflow server")


def prefect_server(database: str, workdir: Path):
    """A Prefect server (with its scheduler and services) on PostgreSQL ``database`` (a
    ``postgresql://`` URL, used through asyncpg); yields its API URL."""
    port = free_port()
    env = os.environ | {
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": database.replace("postgresql://", "postgresql+asyncpg://"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "0",
        "PREFECT_HOME": str(workdir / "prefect-server-home"),
    }
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "flows.prefect_server:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}/api"
    return _server(command, env, workdir / "prefect-server.log", url, "/health", "prefect server")


def ray_status(address: str, env: dict) -> subprocess.CompletedProcess:
    """``ray status`` for the cluster at ``address`` (its stdout lists the live nodes)."""
    command = [str(BIN / "ray"), "status", "--address", address]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def ray_nodes(address: str, env: dict) -> int:
    out = ray_status(address, env).stdout
    return sum(1 for line in out.splitlines() if line.strip().startswith("1 node_"))


def _ray_node(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A Ray node in its own session (``--block``): killing its process group stops exactly this node,
    never another Ray on the machine (``ray stop`` would stop them all). Its output goes to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [str(BIN / "ray"), "start", "--block", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill_node(node: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.pid, signal.SIGKILL)
    node.wait(30)


def _tail(log: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return ""


def processes_marked(name: str, value: str) -> list[int]:
    """Pids whose environment holds ``name=value`` (what a process and every child it started inherit)."""
    mark = f"{name}={value}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if mark in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
    return found


def kill_marked(name: str, value: str, timeout_s: float = 60) -> None:
    """SIGKILL every process marked ``name=value`` until none is left: the Ray a killed driver started,
    and nothing else (``ray stop --force`` kills every Ray on the machine, another test's cluster too)."""
    deadline = time.monotonic() + timeout_s
    while pids := [p for p in processes_marked(name, value) if p != os.getpid()]:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        assert time.monotonic() < deadline, f"processes marked {name}={value} survive: {pids}"
        time.sleep(0.2)


@contextlib.contextmanager
def _one_ray_cluster_at_a_time() -> Iterator[None]:
    """Test workers (pytest -n 2) take turns: two clusters started with ``ray start`` on one machine share
    Ray's fixed default ports (client server, agents) and ``/tmp/ray/ray_current_cluster``."""
    with open(Path(tempfile.gettempdir()) / "ppg-tests-ray-cluster.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _head(env: dict, common: list[str], log: Path) -> tuple[str, subprocess.Popen]:
    """A head node that answers; a head that exits while starting (a port taken meanwhile) is started
    once more on another port. A failure stops what it started and names what the head printed."""
    for attempt in (1, 2):
        address = f"127.0.0.1:{free_port()}"
        args = ["--head", f"--port={address.split(':')[1]}", "--include-dashboard=false", *common]
        head = _ray_node(args, env, log)
        deadline = time.monotonic() + 120
        while head.poll() is None and time.monotonic() < deadline:
            if ray_nodes(address, env) >= 1:
                return address, head
            time.sleep(1)
        exited = head.poll() is not None
        _kill_node(head)  # its group: GCS, raylet and the rest
        assert exited, f"the head node never started:\n{_tail(log)}"
        assert attempt == 1, f"the head node exited twice while starting:\n{_tail(log)}"
    raise AssertionError("unreachable")


@contextlib.contextmanager
def ray_cluster() -> Iterator[tuple[str, dict, subprocess.Popen]]:
    """A head node and a worker node (1 CPU each) on 127.0.0.1 with token authentication; yields
    (address, env, worker process)."""
    env = os.environ | {"RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
    token = [str(BIN / "ray"), "get-auth-token", "--generate"]
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    with _one_ray_cluster_at_a_time(), tempfile.TemporaryDirectory() as logs:
        subprocess.run(token, env=env, capture_output=True, check=True)
        head = worker = None
        try:
            address, head = _head(env, common, Path(logs) / "head.log")
            worker = _ray_node([f"--address={address}", *common], env, Path(logs) / "worker.log")
            deadline = time.monotonic() + 120
            while ray_nodes(address, env) < 2:
                assert time.monotonic() < deadline, (
                    f"the worker never joined:\n{_tail(Path(logs) / 'worker.log')}"
                )
                time.sleep(2)
            yield address, env, worker
        finally:
            for node in (worker, head):
                if node is not None:
                    _kill_node(node)
            current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"  # `ray stop` clears it
            with contextlib.suppress(OSError):
                if head is not None and current.read_text().strip() == address:
                    current.unlink()


def prefect_worker(pool: str, env: dict, log: Path) -> subprocess.Popen:
    """``prefect worker start`` for a process work pool; its flow runs are its child processes."""
    with open(log, "a") as out:
        return subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--type", "process"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
