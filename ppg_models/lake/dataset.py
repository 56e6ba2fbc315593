"""Dataset versions: the hash of a set of accepted batches, and the windows a version stands for.

A version lists each batch's SHA-256 and the windows dropped from it, so loading a version reads the
same bytes and yields the same windows every time; a batch whose bytes changed is refused. Versions
carry a sequence number that orders them; ``latest`` is the newest recorded one. Reading a version
never writes: only ``record_version`` (once per ingest run, under the commit lock) does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ppg_models.data.batch_io import check_rows, read_table
from ppg_models.files import atomic_write_json, sha256_file
from ppg_models.lake.store import ACCEPTED, Lake, drop_windows

LATEST = "latest"


class DatasetError(LookupError):
    """A dataset version that does not exist or whose files no longer match it."""


@dataclass(frozen=True)
class DatasetVersion:
    version: str
    created_at: str
    batches: tuple[dict[str, Any], ...]  # batch_id, sha256, source, windows, dropped
    windows: int
    seq: int = 0  # order of recording: a later version has a larger number

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"batches": list(self.batches)}


def version_of(batches: list[dict[str, Any]]) -> str:
    lines = sorted(f"{b['sha256']}:{','.join(sorted(b['dropped']))}" for b in batches)
    return "ds-" + hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def record_version(lake: Lake) -> DatasetVersion | None:
    """Record the version of what is accepted now, unless it is the newest already (under the commit lock)."""
    batches = [
        {k: b[k] for k in ("batch_id", "sha256", "source", "windows", "dropped")}
        for b in lake.index.batches(ACCEPTED)
    ]
    if not batches:
        return None
    version = version_of(batches)
    recorded = lake.index.versions()
    if recorded and recorded[-1] == version:
        return load_version(lake, version)
    created_at = datetime.now(UTC).isoformat(timespec="microseconds")
    with lake.index.writing() as conn:
        seq = lake.index.add_version(conn, version, created_at)
        made = DatasetVersion(version, created_at, tuple(batches), sum(b["windows"] for b in batches), seq)
        atomic_write_json(lake.root / "versions" / f"{version}.json", made.to_dict())
    return made


def versions(lake: Lake) -> list[DatasetVersion]:
    """Every version ever recorded, oldest first (by sequence number)."""
    return [load_version(lake, v) for v in lake.index.versions()]


def load_version(lake: Lake, version: str = LATEST) -> DatasetVersion:
    """A recorded version; ``latest`` is the newest one recorded. Reads only."""
    if version == LATEST:
        recorded = lake.index.versions()
        if not recorded:
            raise DatasetError(f"the lake at {lake.root} has no dataset version yet; run `ppg ingest` first")
        version = recorded[-1]
    path = lake.root / "versions" / f"{version}.json"
    if not path.is_file():
        known = ", ".join(lake.index.versions()) or "none"
        raise DatasetError(f"unknown dataset version {version!r} in {lake.root}; known: {known}")
    raw = json.loads(path.read_text())
    seq = raw.get("seq") or lake.index.version_seq(version) or 0
    return DatasetVersion(raw["version"], raw["created_at"], tuple(raw["batches"]), raw["windows"], seq)


def version_table(lake: Lake, version: str = LATEST) -> tuple[DatasetVersion, pa.Table]:
    """The windows of a version, checked against the contract, in batch order."""
    made = load_version(lake, version)
    tables = []
    for batch in made.batches:
        path = lake.batch_dir(batch["batch_id"], ACCEPTED) / "batch.parquet"
        if not path.is_file() or sha256_file(path) != batch["sha256"]:
            raise DatasetError(f"{path}: missing or changed since dataset {made.version} was recorded")
        tables.append(check_rows(drop_windows(read_table(path), batch["dropped"]), path))
    return made, pa.concat_tables(tables)


def windows_by_id(lake: Lake, version: str, window_ids: list[str]) -> pa.Table:
    """The windows ``window_ids`` of a recorded version (hash-checked), in the order given.

    Raises DatasetError naming how many ids the version lacks: an evaluation set is exactly its windows.
    """
    _, table = version_table(lake, version)
    position = {w: i for i, w in enumerate(table.column("window_id").to_pylist())}
    missing = [w for w in window_ids if w not in position]
    if missing:
        raise DatasetError(
            f"dataset {version} lacks {len(missing)} of the {len(window_ids)} windows asked for"
            f" (e.g. {missing[0]!r})"
        )
    return table.take(pa.array([position[w] for w in window_ids], type=pa.int64()))
