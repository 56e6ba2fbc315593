"""The ingest-batches flow on Prefect: a directory of good and bad files, reruns, races and crashes."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lake_helpers import clean_batch, places_of, sha, small_batch, with_labels, write_good

from ppg_models.data.batch_io import write_batch
from ppg_models.lake.dataset import DatasetError, load_version, record_version, version_table, versions
from ppg_models.lake.store import Lake
from ppg_models.sim.defects import corrupt_batch


@pytest.fixture(scope="module")
def prefect_server():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


async def _artifacts(ids: dict[str, str]) -> dict[str, str]:
    from prefect.client.orchestration import get_client

    out = {}
    async with get_client() as client:
        for artifact_id in ids.values():
            response = await client._client.get(f"/artifacts/{artifact_id}")
            response.raise_for_status()
            out[response.json()["key"]] = str(response.json()["data"])
    return out


def _mixed_directory(directory: Path) -> dict[str, str]:
    """Good batches from every source, bad ones of several kinds; returns name -> sha256."""
    directory.mkdir(parents=True, exist_ok=True)
    write_batch(small_batch("icu", 0), directory / "icu.parquet")
    write_batch(small_batch("wearable", 1), directory / "wearable.parquet")
    write_batch(small_batch("sleep-lab", 2), directory / "sleep.parquet")
    write_batch(corrupt_batch(small_batch("icu", 3)), directory / "site-fault.parquet")
    (directory / "zero.parquet").write_bytes(b"")
    (directory / "notes.csv").write_text("not,a,batch\n")
    (directory / ".upload-in-progress.parquet").write_bytes(b"PAR1")
    finished = time.time() - 3600  # uploads that ended an hour ago (a young unreadable file would wait)
    for p in directory.iterdir():
        os.utime(p, (finished, finished))
    return {p.name: sha(p) for p in directory.iterdir() if not p.name.startswith(".")}


def test_directory_of_good_and_bad_files(prefect_server, tmp_path):
    from flows.ingest.flow import ingest_batches

    digests = _mixed_directory(tmp_path / "drop")
    summary = ingest_batches(directory=str(tmp_path / "drop"))
    lake = Lake.create()
    outcomes = {f["file"]: f for f in summary["files"]}
    assert set(outcomes) == set(digests), "every waiting file was processed once"
    for name, digest in digests.items():
        expected = "quarantine" if outcomes[name]["outcome"] == "quarantined" else "accepted"
        assert places_of(lake, digest) == [expected], name
    assert {n for n, o in outcomes.items() if o["outcome"] == "quarantined"} == {
        "site-fault.parquet",
        "zero.parquet",
        "notes.csv",
    }
    for name in ("site-fault.parquet", "zero.parquet", "notes.csv"):
        reason = json.loads((Path(outcomes[name]["location"]) / "reason.json").read_text())
        assert reason["reasons"], name
    accepted_rows = sum(o["accepted_windows"] for o in outcomes.values())
    _, table = version_table(lake, summary["dataset_version"])
    assert table.num_rows == accepted_rows == summary["lake_windows"]
    assert sorted(p.name for p in (tmp_path / "drop").iterdir()) == [".upload-in-progress.parquet"]
    assert summary["left_in_place"] == [str(tmp_path / "drop" / ".upload-in-progress.parquet")]
    assert Path(summary["data_docs"]).is_file()
    assert "ppg-batch" in Path(summary["data_docs"]).read_text()
    assert [v.version for v in versions(lake)] == [summary["dataset_version"]], "one version per run"
    assert summary["summary_line"].startswith("6 files: ")
    assert "3 quarantined" in summary["summary_line"]

    artifacts = asyncio.run(_artifacts(summary["artifacts"]))
    assert {"ingest-summary", "ingest-report"} <= set(artifacts)
    assert "site-fault.parquet" in artifacts["ingest-report"]
    assert "quarantined" in artifacts["ingest-summary"]

    again = ingest_batches(directory=str(tmp_path / "drop"))
    assert again["files"] == []
    assert again["dataset_version"] == summary["dataset_version"], "a second run changes nothing"


def test_resending_the_same_bytes_is_recognised(prefect_server, tmp_path):
    from flows.ingest.flow import ingest_batches

    lake = Lake.create()
    path = write_batch(clean_batch(), lake.incoming / "a.parquet")
    first = ingest_batches()
    shutil.copy(
        lake.batch_dir(first["files"][0]["batch_id"], "accepted") / "batch.parquet",
        lake.incoming / "b.parquet",
    )
    second = ingest_batches()
    assert [f["outcome"] for f in second["files"]] == ["already_processed"]
    assert not path.exists()
    assert not (lake.incoming / "b.parquet").exists()
    assert second["dataset_version"] == first["dataset_version"]


def _run_lake_loop(home: str, directory: str, out: str) -> None:
    os.environ["PPG_HOME"] = home
    from flows.ingest.gx_validator import GxValidator
    from ppg_models.ingest.intake import process_file
    from ppg_models.ingest.policy import IngestPolicy

    lake, policy = Lake.create(), IngestPolicy()
    validator = GxValidator(lake.root / "gx", policy)
    results = [process_file(p, lake, policy, validator).to_dict() for p in lake.pending(Path(directory))]
    with lake.commit_lock():
        record_version(lake)  # as the flow does at the end of a run
    Path(out).write_text(json.dumps(results))


def test_two_runs_at_once_on_one_directory(tmp_path, ppg_home):
    drop = tmp_path / "drop"
    for i in range(6):
        write_batch(small_batch(("icu", "wearable", "sleep-lab")[i % 3], i), drop / f"b{i}.parquet")
    write_batch(small_batch("icu", 0), drop / "b0-again.parquet")  # same windows as b0, new name, same bytes
    digests = {p.name: sha(p) for p in drop.iterdir()}
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_run_lake_loop, args=(str(ppg_home), str(drop), str(tmp_path / f"out{i}.json")))
        for i in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
        assert p.exitcode == 0
    lake = Lake.create()
    for name, digest in digests.items():
        assert places_of(lake, digest) == ["accepted"], name
    results = [r for i in range(2) for r in json.loads((tmp_path / f"out{i}.json").read_text())]
    decided = [r["batch_id"] for r in results if r["outcome"].startswith("accepted")]
    assert len(decided) == len(set(decided)) == 6, "no batch was accepted twice"
    _, table = version_table(lake)
    ids = table.column("window_id").to_pylist()
    assert len(ids) == len(set(ids)), "no window is in the lake twice"
    assert list(drop.iterdir()) == []


def test_a_crash_after_the_move_is_finished_by_the_next_run(tmp_path):
    from flows.ingest.gx_validator import GxValidator
    from ppg_models.ingest.intake import process_file
    from ppg_models.ingest.policy import IngestPolicy

    lake, policy = Lake.create(), IngestPolicy()
    path = write_batch(clean_batch(), lake.incoming / "a.parquet")
    digest = sha(path)
    keep = tmp_path / "keep.parquet"
    os.link(path, keep)  # the incoming name survives commit, as if the process died before unlinking it
    process_file(path, lake, policy, GxValidator(lake.root / "gx", policy))
    os.link(keep, path)
    (lake.root / "staging" / f"{digest}.dead0000").mkdir()  # a half-built directory of a killed run
    assert places_of(lake, digest) == ["accepted", "incoming"]
    lake.clean_staging()
    outcome = process_file(path, lake, policy, GxValidator(lake.root / "gx", policy))
    assert outcome.outcome == "already_processed"
    assert places_of(lake, digest) == ["accepted"]
    assert list((lake.root / "staging").iterdir()) == []


def test_a_lock_left_by_a_dead_process_is_broken(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    lake = Lake.create()
    path = write_batch(clean_batch(), lake.incoming / "a.parquet")
    lock = lake.root / "locks" / f"{sha(path)}.lock"
    import socket

    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout), "since": 0}))
    with lake.claim(sha(path)) as owned:
        assert owned
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": 0}))
    with lake.claim(sha(path)) as owned:
        assert not owned, "a live owner keeps its claim"


def test_dataset_versions_are_reproducible_and_tamper_evident(tmp_path):
    from flows.ingest.gx_validator import GxValidator
    from ppg_models.ingest.intake import process_file
    from ppg_models.ingest.policy import IngestPolicy

    lake, policy = Lake.create(), IngestPolicy()
    validator = GxValidator(lake.root / "gx", policy)
    process_file(write_good(clean_batch(index=0), lake.incoming / "a.parquet"), lake, policy, validator)
    first = record_version(lake)
    assert load_version(lake) == first, "latest is the newest recorded version"
    bad = with_labels(clean_batch(index=1), "hr", [0], 400.0)
    process_file(write_good(bad, lake.incoming / "b.parquet"), lake, policy, validator)
    second = record_version(lake)
    assert first.version != second.version
    assert second.seq > first.seq
    assert [v.version for v in versions(lake)] == [first.version, second.version]
    _, old = version_table(lake, first.version)
    _, again = version_table(lake, first.version)
    assert old.equals(again)
    assert old.num_rows == 60
    assert version_table(lake, second.version)[1].num_rows == 119, "the dropped window stays out"
    stored = lake.batch_dir(first.batches[0]["batch_id"], "accepted") / "batch.parquet"
    stored.chmod(0o644)
    with open(stored, "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01")
    with pytest.raises(DatasetError, match="changed since dataset"):
        version_table(lake, first.version)
    with pytest.raises(DatasetError, match="unknown dataset version"):
        load_version(lake, "ds-0000")


def test_a_transient_error_is_retried_by_the_task(prefect_server, monkeypatch):
    import flows.ingest.flow as flow_module

    real, calls = flow_module.process_file, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("NFS hiccup")
        return real(*args, **kwargs)

    monkeypatch.setattr(flow_module, "process_file", flaky)
    write_batch(clean_batch(), Lake.create().incoming / "a.parquet")
    summary = flow_module.ingest_batches()
    assert len(calls) == 2
    assert [f["outcome"] for f in summary["files"]] == ["accepted"]


def test_a_file_that_keeps_failing_stays_incoming_and_is_reported(prefect_server, monkeypatch):
    import flows.ingest.flow as flow_module

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(flow_module, "process_file", broken)
    path = write_batch(clean_batch(), Lake.create().incoming / "a.parquet")
    summary = flow_module.ingest_batches()
    assert summary["counts"]["error"] == 1
    assert "disk full" in summary["files"][0]["reasons"][0]
    assert path.is_file(), "nothing is lost: the file waits for the next run"
