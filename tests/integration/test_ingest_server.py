"""`ppg ingest` owns the Prefect server it starts: it ends with the command on SIGTERM and on SIGKILL,
and a server left behind by a command that is gone is stopped by the next one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from servers import processes_marked

from ppg_models.sim.simulate import write_simulated

pytestmark = pytest.mark.slow
PPG = Path(sys.executable).with_name("ppg")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _start_ingest(home: Path, files: int = 40) -> tuple[subprocess.Popen, int]:
    """`ppg ingest` over ``files`` simulated batches, returned once it has filed its first one: well
    inside the run whatever the machine's speed (a fixed sleep let a fast machine finish every file first)."""
    write_simulated(home / "lake" / "incoming", files, 300, 4)
    env = {**os.environ, "PPG_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [str(PPG), "ingest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    seen = []
    for line in proc.stderr:  # a line per filed file when stderr is not a terminal: "[1/40] accepted: ..."
        seen.append(line)
        if line.startswith(f"[1/{files}]"):
            break
    else:
        raise AssertionError(f"ingest ended before filing a file: {''.join(seen)[-2000:]}")
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe from filling
    record = home / "prefect" / "server.json"
    return proc, int(json.loads(record.read_text())["pid"])


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _alive(pid)


def _ingest_again(home: Path) -> dict:
    env = {**os.environ, "PPG_HOME": str(home)}
    done = subprocess.run(
        [str(PPG), "ingest", "--json"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_sigkill_of_ingest_takes_its_server_down_and_the_next_run_finishes(tmp_path):
    home = tmp_path / "home"
    proc, server = _start_ingest(home)
    proc.kill()
    proc.wait(30)
    assert _gone_within(server, 15), "the Prefect server outlived a SIGKILLed ingest"
    summary = _ingest_again(home)
    assert summary["counts"].get("error", 0) == 0
    assert list((home / "lake" / "incoming").iterdir()) == []
    filed = list((home / "lake" / "accepted").iterdir()) + list((home / "lake" / "quarantine").iterdir())
    assert len(filed) == 40, "every file ends in exactly one place"


def test_sigterm_ends_ingest_and_its_server(tmp_path):
    home = tmp_path / "home"
    proc, server = _start_ingest(home)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 128 + signal.SIGTERM
    assert _gone_within(server, 15)
    assert not (home / "prefect" / "server.json").exists()
    left = list((home / "lake" / "incoming").iterdir())
    filed = list((home / "lake" / "accepted").iterdir()) + list((home / "lake" / "quarantine").iterdir())
    assert left, "the run stopped between files: the files not yet checked stay incoming"
    assert len(left) + len(filed) == 40, "every file is in exactly one place"


def test_the_next_run_stops_a_server_whose_owner_is_gone(tmp_path):
    home = tmp_path / "home"
    stale = subprocess.Popen(  # stands in for a server whose command died where the kernel could not help
        [sys.executable, "-c", "import time; time.sleep(300)", "prefect.server.api.server:create_app"]
    )
    dead_owner = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_owner.wait()
    (home / "prefect").mkdir(parents=True)
    (home / "prefect" / "server.json").write_text(json.dumps({"pid": stale.pid, "owner": dead_owner.pid}))
    (home / "empty").mkdir()
    env = {**os.environ, "PPG_HOME": str(home)}
    done = subprocess.run(
        [str(PPG), "ingest", str(home / "empty")], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert stale.wait(15) is not None, "the stale server was stopped"


def _servers_of(home: Path) -> list[int]:
    """Processes whose environment points Prefect at this home (the command's server among them)."""
    return processes_marked("PREFECT_HOME", str(home / "prefect"))


def test_a_server_that_starts_too_slowly_fails_with_a_hint_and_is_stopped(tmp_path):
    """A busy machine can start Prefect slower than the limit: the command says which setting to raise,
    stops the half-started server and leaves the incoming files where they were."""
    incoming = tmp_path / "lake" / "incoming"
    write_simulated(incoming, 2, 50, 4)
    before = sorted(p.name for p in incoming.iterdir())
    env = {**os.environ, "PPG_HOME": str(tmp_path), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1"}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run([str(PPG), "ingest"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "Timed out" in done.stderr
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" in done.stderr
    assert "waited 1 s" in done.stderr
    deadline = time.monotonic() + 30
    while _servers_of(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _servers_of(tmp_path) == []
    assert not (tmp_path / "prefect" / "server.json").exists()
    assert sorted(p.name for p in incoming.iterdir()) == before
