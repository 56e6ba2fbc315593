"""Prefect's temporary API server as a child process of a command, started without importing Prefect.

Prefect's own ``SubprocessASGIServer`` lives in ``prefect.server.api.server``; importing that module
in the command costs about 2.4 s on 2 cores *before* the child process starts, and the child then
imports it again. This starts the same child (``uvicorn --factory`` on the app in
``flows.prefect_server``, UI off, temporary-server mode) straight away, so the command's own imports
overlap the server's boot instead of preceding it: a command waited ~5.5 s for its server, ~3.3 s now.

The child dies with the thread that started it (``PR_SET_PDEATHSIG`` on Linux). A new SQLite
database starts as a copy of the migrated template (``flows.prefect_template``).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from flows import prefect_template

APP = "flows.prefect_server:create_app"  # Prefect's app with the scheduler fix for SQLAlchemy 2.1
PR_SET_PDEATHSIG = 1
STARTUP_FAILURE = 3  # uvicorn's exit code when it cannot bind its port or its app does not start
PORT_RETRIES = 3
POLL_S = 0.05
WARM_FILTERS = ("flows", "flow_runs", "task_runs")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _warm(url: str) -> None:
    """Ask what a flow run's first calls ask: the server answers its first request on each route
    slowly (lazy imports, first queries), ~0.5 s in all on 2 cores. Done here, in the thread that
    started the server while the command still imports its flow, that time overlaps the imports
    (the first flow run took 0.62 s cold, 0.14 s warmed). Best effort: no answer is no error."""
    calls = [("admin/version", None), *((f"{kind}/filter", b'{"limit": 1}') for kind in WARM_FILTERS)]
    for route, body in calls:
        request = urllib.request.Request(
            f"{url}/{route}", data=body, headers={"Content-Type": "application/json"}
        )
        with contextlib.suppress(OSError, urllib.error.URLError):
            urllib.request.urlopen(request, timeout=10).close()


def server_environment(services: bool) -> dict[str, str]:
    """The child's environment: this one, Prefect's temporary-server switches, and any Prefect setting
    changed in this process (only possible once Prefect's settings were imported here)."""
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_FINAL": "1"}
    if not services:  # a full server runs the scheduler and the other background services (``ppg serve``)
        env["PREFECT__SERVER_EPHEMERAL"] = "1"
    else:
        env.pop("PREFECT__SERVER_EPHEMERAL", None)
    settings = sys.modules.get("prefect.settings")
    if settings is not None:
        env.update(settings.get_current_settings().to_environment_variables(exclude_unset=True))
    return env


class TemporaryServer:
    """One Prefect API server on a free loopback port, owned by this process."""

    def __init__(self, services: bool = False) -> None:
        self.services = services
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.new_database: Path | None = None  # the SQLite file this server creates, when it is new
        self.seeded = False  # ... and it was copied from the template

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout_s: float) -> None:
        """Start the child and wait until its API answers; raises RuntimeError ("Timed out ...") after
        ``timeout_s``, or at once when the child exits."""
        env = server_environment(self.services)
        database = prefect_template.server_database(env)
        if database is not None and not database.exists():
            self.new_database, self.seeded = database, prefect_template.seed(database)
        try:
            self._boot(env, timeout_s)
        except BaseException:
            if self.seeded:
                prefect_template.forget(self.new_database)
            raise
        if self.new_database is not None and not self.seeded:
            prefect_template.save(self.new_database)  # before anything runs on it, warm-up included
        _warm(self.api_url)

    def _boot(self, env: dict[str, str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        self._spawn(env)
        retries = PORT_RETRIES
        while not _healthy(self.api_url):
            code = self.process.poll()
            if code == STARTUP_FAILURE and retries > 0:  # most often: the port was taken meanwhile
                retries -= 1
                self._spawn(env)
                continue
            if code is not None:
                raise RuntimeError(f"the temporary Prefect server exited with code {code} before it answered")
            if time.monotonic() > deadline:
                raise RuntimeError("Timed out waiting for the temporary Prefect API server to answer")
            time.sleep(POLL_S)

    def _spawn(self, env: dict[str, str]) -> None:
        self.port = _free_port()
        prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent  # found, not imported
        args = [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_dir.parent), "--factory", APP]
        args += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error", "--lifespan", "on"]
        self.process = subprocess.Popen(args, env=env, preexec_fn=_die_with_parent)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
