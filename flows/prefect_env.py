"""Prefect for the command line: state under PPG_HOME, and a temporary server the command owns.

``PREFECT_API_URL`` selects a Prefect server; without it a command starts Prefect's temporary server
on a SQLite database in ``PPG_HOME/prefect`` and owns it (``owned_server``):

- it stops when the command ends, also on SIGTERM or Ctrl-C (the signal ends the command normally);
- on Linux the server is started with ``PR_SET_PDEATHSIG``, so the kernel stops it (SIGTERM) even
  when the command is killed with SIGKILL;
- its pid is written to ``PPG_HOME/prefect/server.json``; the next command stops a server left there
  whose owner is gone (where the kernel could not, or the server ignored the signal);
- flow runs on it send no heartbeats (nothing on a server without services reads them).

Settings already in the environment always win.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from flows.prefect_process import APP, TemporaryServer
from ppg_models.home import home_dir
from ppg_models.lake.locks import alive

SERVER_MARKS = (APP, "prefect.server.api.server:create_app")  # in the command line of such a server
STARTUP_TIMEOUT_S = 300
TIMEOUT_VARIABLE = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
HEARTBEAT_VARIABLES = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


def configure_prefect() -> None:
    """Defaults for the command line: state under PPG_HOME, warnings only, no telemetry (offline)."""
    os.environ.setdefault("PREFECT_HOME", str(home_dir("prefect")))
    # a busy machine (training on every core) needs minutes, not Prefect's 20 s, for a first start that
    # migrates the database; a healthy start takes ~10 s and never waits for this limit
    os.environ.setdefault(TIMEOUT_VARIABLE, str(STARTUP_TIMEOUT_S))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _is_prefect_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return any(mark in cmdline for mark in SERVER_MARKS)


def stop_stale_server(record: Path) -> int | None:
    """Stop the server a previous command left behind (its owner gone); returns its pid if one was."""
    try:
        seen = json.loads(record.read_text())
        pid, owner = int(seen["pid"]), int(seen["owner"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if alive(owner) or not alive(pid) or not _is_prefect_server(pid):
        if not alive(owner):
            record.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    record.unlink(missing_ok=True)
    return pid


_STOP: dict[str, int] = {}  # the signal that asked the command to stop, once one did


def stop_requested() -> int | None:
    """The exit code a SIGTERM/SIGHUP asked for (128 + signal), or None: long loops check it between items."""
    return _STOP.get("code")


@contextlib.contextmanager
def _signals_end_the_command() -> Iterator[None]:
    """SIGTERM (and SIGHUP) raise SystemExit in the main thread, so ``finally`` blocks run; the request is
    also remembered (``stop_requested``), since a flow engine may catch the SystemExit inside a task."""

    def leave(signum: int, _frame: object) -> None:
        _STOP["code"] = 128 + signum
        raise SystemExit(128 + signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals; its own owner stops the server
        return
    previous = {s: signal.signal(s, leave) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _startup_timeout_s() -> float:
    try:
        return float(os.environ.get(TIMEOUT_VARIABLE, STARTUP_TIMEOUT_S))
    except ValueError:
        seen = os.environ[TIMEOUT_VARIABLE]
        raise ValueError(f"{TIMEOUT_VARIABLE}={seen!r}: not a number of seconds") from None


def _start_while(
    server: TemporaryServer,
    timeout_s: float,
    meanwhile: Callable[[], object] | None,
    release: threading.Event,
) -> None:
    """Start the server, running ``meanwhile`` in this thread while its process boots (the server's
    imports and migrations run in its own process, so the two overlap on two cores). The thread that
    starts the server lives until ``release`` is set: ``PR_SET_PDEATHSIG`` fires when the *thread* that
    started a child ends, so it must outlive the server, not just its start."""
    if meanwhile is None:
        server.start(timeout_s)
        return
    started = threading.Event()
    failure: list[BaseException] = []

    def start() -> None:
        try:
            server.start(timeout_s)
        except BaseException as exc:  # handed to the caller below
            failure.append(exc)
        finally:
            started.set()
        release.wait()

    threading.Thread(target=start, name="prefect-server-owner", daemon=True).start()
    meanwhile()  # on an error (or a signal) the caller's finally stops the server
    started.wait()
    if failure:
        raise failure[0]


def _quiet_runs(services: bool) -> dict:
    """No flow-run heartbeats on a temporary server without services: only its services read them (to
    mark crashed runs), and the engine's heartbeat thread costs each flow run about a second at its end
    (measured: an empty flow 1.1-1.9 s with them, 0.15 s without). A setting in the environment wins."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

    chosen = any(k in os.environ for k in HEARTBEAT_VARIABLES)
    return {} if services or chosen else {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}


@contextlib.contextmanager
def owned_server(services: bool = False, meanwhile: Callable[[], object] | None = None) -> Iterator[str]:
    """The Prefect API for one command: ``PREFECT_API_URL``, or a temporary server owned by the command
    (with ``services``, one that also schedules runs: Prefect's temporary server does not).
    ``meanwhile`` (e.g. importing the flow's modules) runs while the server starts."""
    configure_prefect()
    if os.environ.get("PREFECT_API_URL"):
        if meanwhile is not None:
            meanwhile()
        yield os.environ["PREFECT_API_URL"]
        return
    record = home_dir("prefect") / "server.json"
    stop_stale_server(record)
    timeout_s = _startup_timeout_s()
    with _signals_end_the_command():
        server = TemporaryServer(services)
        release = threading.Event()
        try:
            try:
                _start_while(server, timeout_s, meanwhile, release)
            except RuntimeError as exc:
                if "Timed out" not in str(exc):
                    raise
                raise RuntimeError(
                    f"{exc} (waited {timeout_s:g} s): a busy machine starts it slowly; raise"
                    f" {TIMEOUT_VARIABLE} or set PREFECT_API_URL"
                ) from exc
            pid = server.process.pid if server.process else None
            record.write_text(json.dumps({"pid": pid, "owner": os.getpid(), "url": server.api_url}))
            from prefect.settings import PREFECT_API_URL, temporary_settings

            with temporary_settings({PREFECT_API_URL: server.api_url, **_quiet_runs(services)}):
                yield server.api_url
        finally:
            server.stop()
            release.set()
            record.unlink(missing_ok=True)
