"""``ppg`` ends through ``fast_exit.leave``: what a normal exit does that matters still happens."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flows.cli.fast_exit import exit_status

SCRIPT = """
import atexit, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from flows.cli.fast_exit import leave
log = open(sys.argv[1], "w")
def work():
    time.sleep(0.5)
    log.write("thread done\\n")
threading.Thread(target=work).start()  # not a daemon: the exit waits for it
ThreadPoolExecutor(1).submit(lambda: log.write("pool job done\\n"))  # never shut down by the script
atexit.register(lambda: (log.write("atexit ran\\n"), log.close()))
print("buffered output", end="")
leave(int(sys.argv[2]))
"""


@pytest.mark.parametrize("status", [0, 3])
def test_threads_finish_atexit_runs_and_output_is_flushed(tmp_path, status):
    log = tmp_path / "log.txt"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(log), str(status)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == status, done.stderr
    assert done.stdout == "buffered output"
    lines = log.read_text().splitlines()
    assert lines[-1] == "atexit ran", "atexit handlers run after the threads ended"
    assert sorted(lines[:-1]) == ["pool job done", "thread done"]


def test_exit_status_follows_sys_exit(capsys):
    assert exit_status(None) == 0
    assert exit_status(2) == 2
    assert exit_status(256 + 3) == 3
    assert exit_status("stopped: no such file") == 1
    assert "stopped: no such file" in capsys.readouterr().err
