"""The command's temporary Prefect server process (flows/prefect_process.py): started without importing
Prefect's server module, retried on a port clash, failing at once when the child dies."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from flows import prefect_process
from flows.prefect_process import STARTUP_FAILURE, TemporaryServer, server_environment

HEALTHY = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.answer()
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer()
    def answer(self):
        if len(sys.argv) > 2:
            with open(sys.argv[2], "a") as log:
                log.write(self.command + " " + self.path + "\\n")
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(b"true")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.fixture
def no_database(monkeypatch):
    monkeypatch.setattr(prefect_process.prefect_template, "server_database", lambda env: None)


def _children(monkeypatch, scripts: list[str], log=None) -> list[subprocess.Popen]:
    """Each start spawns the next script instead of uvicorn, with the port (and ``log``, the file where
    ``HEALTHY`` writes the requests it got) as arguments."""
    started: list[subprocess.Popen] = []

    def spawn(self, env):
        self.port = prefect_process._free_port()
        args = [sys.executable, "-c", scripts[len(started)], str(self.port)]
        if log is not None:
            args.append(str(log))
        self.process = subprocess.Popen(args)
        started.append(self.process)

    monkeypatch.setattr(TemporaryServer, "_spawn", spawn)
    return started


def test_a_child_that_exits_fails_the_start_at_once_with_its_code(monkeypatch, no_database):
    _children(monkeypatch, ["raise SystemExit(1)"])
    server = TemporaryServer()
    began = time.monotonic()
    with pytest.raises(RuntimeError, match="exited with code 1"):
        server.start(timeout_s=120)
    assert time.monotonic() - began < 30, "not left to the start-up limit"


def test_a_port_taken_meanwhile_is_retried_on_another(monkeypatch, no_database):
    clash = f"raise SystemExit({STARTUP_FAILURE})"
    started = _children(monkeypatch, [clash, clash, HEALTHY])
    server = TemporaryServer()
    try:
        server.start(timeout_s=60)
        assert len(started) == 3
        assert server.api_url == f"http://127.0.0.1:{server.port}/api"
    finally:
        server.stop()
    assert started[-1].poll() is not None, "stop ends the child"


def test_the_routes_a_first_flow_run_calls_are_warmed_and_their_errors_ignored(
    tmp_path, monkeypatch, no_database
):
    log = tmp_path / "requests.log"
    _children(monkeypatch, [HEALTHY], log)
    server = TemporaryServer()
    try:
        server.start(timeout_s=60)  # every route but /health answers 404 here: no error
    finally:
        server.stop()
    asked = log.read_text().splitlines()
    assert "GET /api/admin/version" in asked
    assert {f"POST /api/{kind}/filter" for kind in prefect_process.WARM_FILTERS} <= set(asked)


def test_a_child_that_never_answers_times_out(monkeypatch, no_database):
    started = _children(monkeypatch, ["import time; time.sleep(60)"])
    server = TemporaryServer()
    with pytest.raises(RuntimeError, match="Timed out"):
        server.start(timeout_s=1)
    server.stop()
    assert started[0].poll() is not None


def test_only_a_server_with_services_leaves_temporary_mode(monkeypatch):
    monkeypatch.setenv("PREFECT__SERVER_EPHEMERAL", "1")
    assert server_environment(services=False)["PREFECT__SERVER_EPHEMERAL"] == "1"
    assert "PREFECT__SERVER_EPHEMERAL" not in server_environment(services=True)
    assert server_environment(services=False)["PREFECT_UI_ENABLED"] == "0"


def test_settings_changed_in_this_process_reach_the_child():
    from prefect.settings import PREFECT_LOGGING_LEVEL, temporary_settings

    with temporary_settings({PREFECT_LOGGING_LEVEL: "DEBUG"}):
        assert server_environment(services=False)["PREFECT_LOGGING_LEVEL"] == "DEBUG"
