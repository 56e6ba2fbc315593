"""Dataset versions: the hash of a set of accepted batches, and the windows a version stands for.

A version lists each batch's SHA-256 and the windows dropped from it, so loading a version reads the
same bytes and yields the same windows every time; a batch whose bytes changed is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ppg_models.data.batch_io import check_rows, read_table
from ppg_models.files import atomic_write_json, sha256_file
from ppg_models.lake.store import ACCEPTED, Lake

LATEST = "latest"


class DatasetError(LookupError):
    """A dataset version that does not exist or whose files no longer match it."""


@dataclass(frozen=True)
class DatasetVersion:
    version: str
    created_at: str
    batches: tuple[dict[str, Any], ...]  # batch_id, sha256, source, windows, dropped
    windows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"batches": list(self.batches)}


def version_of(batches: list[dict[str, Any]]) -> str:
    lines = sorted(f"{b['sha256']}:{','.join(sorted(b['dropped']))}" for b in batches)
    return "ds-" + hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def _entry(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch_id": record["batch_id"],
        "sha256": record["sha256"],
        "source": record.get("source"),
        "windows": record["rows"]["accepted"],
        "dropped": sorted(record.get("dropped", {})),
    }


def refresh(lake: Lake) -> DatasetVersion | None:
    """Write the version of the accepted set and the manifest (idempotent; call under the commit lock)."""
    records = lake.records(ACCEPTED)
    atomic_write_json(lake.root / "manifest.json", {"batches": records})
    if not records:
        return None
    batches = [_entry(r) for r in records]
    version = version_of(batches)
    path = lake.root / "versions" / f"{version}.json"
    if path.is_file():
        return load_version(lake, version)
    made = DatasetVersion(
        version=version,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        batches=tuple(batches),
        windows=sum(b["windows"] for b in batches),
    )
    atomic_write_json(path, made.to_dict())
    return made


def versions(lake: Lake) -> list[DatasetVersion]:
    """Every version ever recorded, oldest first."""
    out = [load_version(lake, p.stem) for p in (lake.root / "versions").glob("ds-*.json")]
    return sorted(out, key=lambda v: (v.created_at, v.version))


def load_version(lake: Lake, version: str = LATEST) -> DatasetVersion:
    """A recorded version; ``latest`` is the version of what is accepted now."""
    if version == LATEST:
        with lake.commit_lock():
            current = refresh(lake)
        if current is None:
            raise DatasetError(f"the lake at {lake.root} has no accepted batches yet; run `ppg ingest` first")
        return current
    path = lake.root / "versions" / f"{version}.json"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted((lake.root / "versions").glob("ds-*.json"))) or "none"
        raise DatasetError(f"unknown dataset version {version!r} in {lake.root}; known: {known}")
    raw = json.loads(path.read_text())
    return DatasetVersion(raw["version"], raw["created_at"], tuple(raw["batches"]), raw["windows"])


def version_table(lake: Lake, version: str = LATEST) -> tuple[DatasetVersion, pa.Table]:
    """The windows of a version, checked against the contract, in batch order."""
    made = load_version(lake, version)
    tables = []
    for batch in made.batches:
        path = lake.batch_dir(batch["batch_id"], ACCEPTED) / "batch.parquet"
        if not path.is_file() or sha256_file(path) != batch["sha256"]:
            raise DatasetError(f"{path}: missing or changed since dataset {made.version} was recorded")
        table = read_table(path)
        if batch["dropped"]:
            keep = pc.invert(pc.is_in(table.column("window_id"), pa.array(batch["dropped"])))
            table = table.filter(keep)
        tables.append(check_rows(table, path))
    return made, pa.concat_tables(tables)
