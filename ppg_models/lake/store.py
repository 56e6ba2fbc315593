"""The lake on disk, and the one atomic step that moves a batch into it.

```
lake/incoming/                  files waiting (the ingest flow's default input)
lake/accepted/<batch_id>/       batch.parquet (the original bytes), record.json, validation.json,
                                windows.parquet (scalars and quality per window)
lake/quarantine/<batch_id>/     the original file (safe name), reason.json, validation.json
lake/staging/                   directories being assembled; never read
lake/versions/<version>.json    the accepted batches that make up a dataset version
lake/index.sqlite               batches, accepted window ids and versions (``LakeIndex``), incremental
lake/reference/<source>.arrow   the source's newest accepted windows' scalars: the drift reference
```

A batch id is the first 16 hex digits of the file's SHA-256. ``commit`` assembles the batch directory
in staging (the original's bytes copied, synced and hash-checked: the stored file never shares an
inode with the incoming one; ``stage`` makes that copy in a thread while the caller validates the
file), renames it into place in one step, indexes it, and only then removes the incoming name: a kill
at any point leaves the file incoming, or accepted/quarantined (perhaps still also incoming, which the
next run recognises by its hash and finishes; an unindexed batch directory is indexed by
``reconcile``).

Reading never writes: ``Lake()`` only names the folder; ``Lake.create()`` makes it for writers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ppg_models.data.batch_io import read_small
from ppg_models.files import atomic_write_bytes, atomic_write_json, fsync_dir, sha256_file
from ppg_models.home import home_path
from ppg_models.lake.index import LakeIndex
from ppg_models.lake.locks import claim, commit_lock, is_claimed
from ppg_models.lake.staging import StagedCopy

ACCEPTED, QUARANTINED = "accepted", "quarantine"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
UPLOAD_MARKER = ".uploading"
IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial", UPLOAD_MARKER)
PARTS = ("incoming", ACCEPTED, QUARANTINED, "staging", "versions", "locks")
REFERENCE_WINDOWS = 20_000  # newest accepted windows per source kept as the drift reference


def batch_id_of(sha256: str) -> str:
    return sha256[:16]


def is_safe_name(name: str) -> bool:
    return SAFE_NAME.fullmatch(name) is not None


def waiting(path: Path) -> bool:
    """Files an uploader is still writing: hidden names, temporary suffixes, or a ``NAME.uploading``
    marker beside ``NAME`` (an uploader that writes under the final name creates it first)."""
    name = path.name
    marked = path.with_name(name + UPLOAD_MARKER).exists()
    return name.startswith(".") or name.endswith(IN_PROGRESS_SUFFIXES) or marked


def drop_windows(table: pa.Table, dropped: list[str] | set[str]) -> pa.Table:
    """``table`` without the windows a batch record lists as dropped (the one filter every reader uses)."""
    if not dropped:
        return table
    keep = pc.invert(pc.is_in(table.column("window_id"), pa.array(sorted(dropped), type=pa.string())))
    return table.filter(keep)


class Lake:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else home_path("lake")
        self.index = LakeIndex(self.root / "index.sqlite")

    @classmethod
    def create(cls, root: Path | None = None) -> Lake:
        """The lake with its folders made (for writers: ingest, simulators filling incoming/)."""
        lake = cls(root)
        for part in PARTS:
            (lake.root / part).mkdir(parents=True, exist_ok=True)
        return lake

    @property
    def incoming(self) -> Path:
        return self.root / "incoming"

    def batch_dir(self, batch_id: str, place: str) -> Path:
        return self.root / place / batch_id

    def pending(self, directory: Path | None = None) -> list[Path]:
        """Regular files waiting in ``directory`` (default: incoming), oldest first.

        Uploads in progress (``waiting``) and anything not a regular file (links, directories) are left
        where they are; ``others`` lists them.
        """
        directory = directory or self.incoming
        files = [p for p in directory.iterdir() if _regular(p) and not waiting(p)]
        return sorted(files, key=lambda p: (p.lstat().st_mtime, p.name))

    def others(self, directory: Path | None = None) -> list[Path]:
        """Entries of ``directory`` that ingest leaves alone: uploads in progress, links, directories."""
        directory = directory or self.incoming
        return sorted(p for p in directory.iterdir() if not _regular(p) or waiting(p))

    @contextlib.contextmanager
    def claim(self, sha256: str) -> Iterator[bool]:
        with claim(self.root / "locks", sha256) as owned:
            yield owned

    def commit_lock(self) -> contextlib.AbstractContextManager[None]:
        return commit_lock(self.root / "locks" / "commit.lock")

    def where(self, sha256: str) -> tuple[str, Path] | None:
        """Where a file with this hash already is: ("accepted" | "quarantine", its directory), or None."""
        for place in (ACCEPTED, QUARANTINED):
            directory = self.batch_dir(batch_id_of(sha256), place)
            if (directory / "record.json").is_file():
                record = json.loads((directory / "record.json").read_text())
                if record.get("sha256") == sha256:
                    return place, directory
        return None

    def stage(self, source: Path, sha256: str) -> StagedCopy:
        """Start copying ``source`` into staging now (call under its claim); ``commit`` takes the copy,
        and the caller ``discard``s it in any case (a no-op once committed)."""
        return StagedCopy(self.root / "staging", source, sha256)

    def commit(
        self,
        sha256: str,
        place: str,
        stored_name: str,
        record: dict[str, Any],
        writers: dict[str, Callable[[Path], object]],
        staged: StagedCopy,
    ) -> Path:
        """Store the bytes ``stage`` copied in ``place`` with their record and extra files; return the batch
        directory. Raises StoreError when the stored bytes do not hash to ``sha256`` (the file is still
        being written); on any failure nothing is left in staging.
        """
        target = self.batch_dir(batch_id_of(sha256), place)
        try:
            staging = staged.take(stored_name)
            for name, write in writers.items():
                write(staging / name)
            atomic_write_json(staging / "record.json", record)
            fsync_dir(staging)
            os.rename(staging, target)  # the one step that makes the batch appear, whole
            fsync_dir(target.parent)
        except BaseException:
            staged.discard()
            raise
        with self.index.writing() as conn:
            self.index.add_batch(conn, place, record, target)
        if place == ACCEPTED:
            self._add_to_reference(record.get("source"), target, sorted(record.get("dropped", {})))
        return target  # the caller removes the incoming name (forget_incoming)

    @staticmethod
    def forget_incoming(source: Path, sha256: str, stamp: tuple[int, int]) -> None:
        """Remove the incoming name once its bytes are stored (never otherwise).

        ``sha256`` is what the stored copy was verified against, and ``stamp`` the (size, mtime) of
        ``source`` when it was hashed: unchanged, the bytes are those; changed, they are hashed again.
        """
        with contextlib.suppress(FileNotFoundError):
            if file_stamp(source) == stamp or sha256_file(source) == sha256:
                source.unlink()
                fsync_dir(source.parent)

    def reconcile(self) -> int:
        """Index batch directories a killed run filed but did not index (call under the commit lock)."""
        added = self.index.reconcile(self.root, (ACCEPTED, QUARANTINED))
        for place, record in added:
            if place == ACCEPTED:
                directory = self.batch_dir(record["batch_id"], ACCEPTED)
                self._add_to_reference(record.get("source"), directory, sorted(record.get("dropped", {})))
        return len(added)

    def clean_staging(self) -> list[Path]:
        """Remove staging left by runs that died (their claim lock is gone); returns what was removed."""
        removed = []
        staging = self.root / "staging"
        for path in staging.iterdir() if staging.is_dir() else ():
            if not is_claimed(self.root / "locks", path.name.split(".")[0]):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        return removed

    def records(self, place: str = ACCEPTED) -> list[dict[str, Any]]:
        """Records of every batch in ``place``, oldest decision first."""
        out = []
        for path in (self.root / place).glob("*/record.json"):
            out.append(json.loads(path.read_text()))
        return sorted(out, key=lambda r: (r.get("decided_at", ""), r["batch_id"]))

    def reference(self, source: str, columns: list[str]) -> pd.DataFrame:
        """The given per-window scalars of the source's newest accepted windows (at most
        REFERENCE_WINDOWS); a column the reference lacks is left out.

        One uncompressed Arrow file per source, rewritten when a batch is accepted (a few ms, where
        Parquet took ~45 ms a batch): reading it costs the same however large the lake is. Drift is
        judged against recent accepted data.
        """
        table = self._reference_table(source)
        if table is None:
            return pd.DataFrame(columns=columns)
        return table.select([c for c in columns if c in table.column_names]).to_pandas()

    def _reference_path(self, source: str, suffix: str = ".arrow") -> Path:
        name = source if is_safe_name(source) else hashlib.sha256(source.encode()).hexdigest()[:16]
        return self.root / "reference" / f"{name}{suffix}"

    def _reference_table(self, source: str) -> pa.Table | None:
        path = self._reference_path(source)
        if path.is_file():
            with pa.OSFile(str(path)) as f:
                return pa.ipc.open_file(f).read_all()
        legacy = self._reference_path(source, ".parquet")  # lakes written before the Arrow file
        return pq.read_table(legacy) if legacy.is_file() else None

    def _add_to_reference(self, source: str | None, directory: Path, dropped: list[str]) -> None:
        """Put an accepted batch's windows first in its source's reference (call under the commit lock)."""
        if source is None:
            return
        path = self._reference_path(source)
        newest = drop_windows(read_small(directory / "windows.parquet"), dropped)
        older = self._reference_table(source)
        if older is not None:
            newest = pa.concat_tables([newest, older], promote_options="default")
        newest = newest.slice(0, REFERENCE_WINDOWS).combine_chunks()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, newest.schema) as writer:
            writer.write_table(newest)
        atomic_write_bytes(path, sink.getvalue().to_pybytes(), durable=False)  # derived: not synced
        self._reference_path(source, ".parquet").unlink(missing_ok=True)


def _regular(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def file_stamp(path: Path) -> tuple[int, int]:
    """(size, modification time in ns): a cheap sign that a file's bytes have not changed."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns
