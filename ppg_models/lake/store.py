"""The lake on disk, and the one atomic step that moves a batch into it.

```
lake/incoming/                  files waiting (the ingest flow's default input)
lake/accepted/<batch_id>/       batch.parquet (the original bytes), record.json, validation.json,
                                windows.parquet (scalars and quality per window)
lake/quarantine/<batch_id>/     the original file (safe name), reason.json, validation.json
lake/staging/                   directories being assembled; never read
lake/versions/<version>.json    the accepted batches that make up a dataset version
lake/manifest.json              every accepted batch's record, rewritten after each commit
```

A batch id is the first 16 hex digits of the file's SHA-256. ``commit`` assembles the batch directory
in staging (the original is hard-linked, or copied and synced across file systems), renames it into
place in one step, and only then removes the incoming name: a kill at any point leaves the file
incoming, or accepted/quarantined (perhaps still also incoming, which the next run recognises by its
hash and finishes).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ppg_models.files import atomic_write_json, fsync_dir, sha256_file
from ppg_models.home import home_path
from ppg_models.lake.locks import claim, commit_lock, is_claimed

ACCEPTED, QUARANTINED = "accepted", "quarantine"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial")


def batch_id_of(sha256: str) -> str:
    return sha256[:16]


def is_safe_name(name: str) -> bool:
    return SAFE_NAME.fullmatch(name) is not None


def waiting(name: str) -> bool:
    """Names that are still being written by an uploader: hidden files and temporary suffixes."""
    return name.startswith(".") or name.endswith(IN_PROGRESS_SUFFIXES)


class Lake:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else home_path("lake")
        for part in ("incoming", ACCEPTED, QUARANTINED, "staging", "versions", "locks"):
            (self.root / part).mkdir(parents=True, exist_ok=True)

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
        files = [p for p in directory.iterdir() if _regular(p) and not waiting(p.name)]
        return sorted(files, key=lambda p: (p.lstat().st_mtime, p.name))

    def others(self, directory: Path | None = None) -> list[Path]:
        """Entries of ``directory`` that ingest leaves alone: uploads in progress, links, directories."""
        directory = directory or self.incoming
        return sorted(p for p in directory.iterdir() if not _regular(p) or waiting(p.name))

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

    def commit(
        self,
        source: Path,
        sha256: str,
        place: str,
        stored_name: str,
        record: dict[str, Any],
        writers: dict[str, Callable[[Path], object]],
    ) -> Path:
        """Move ``source`` into ``place`` with its record and extra files; return the batch directory."""
        target = self.batch_dir(batch_id_of(sha256), place)
        staging = self.root / "staging" / f"{sha256}.{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            _link_or_copy(source, staging / stored_name)
            for name, write in writers.items():
                write(staging / name)
            atomic_write_json(staging / "record.json", record)
            fsync_dir(staging)
            os.rename(staging, target)  # the one step that makes the batch appear, whole
            fsync_dir(target.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.forget_incoming(source, target / stored_name)
        return target

    @staticmethod
    def forget_incoming(source: Path, stored: Path) -> None:
        """Remove the incoming name once the same bytes are stored (never otherwise)."""
        with contextlib.suppress(FileNotFoundError):
            if os.path.samefile(source, stored) or _same_bytes(source, stored):
                source.unlink()
                fsync_dir(source.parent)

    def clean_staging(self) -> list[Path]:
        """Remove staging left by runs that died (their claim lock is gone); returns what was removed."""
        removed = []
        for path in (self.root / "staging").iterdir():
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

    def accepted_windows(self, source: str | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """The per-window scalar frames of accepted batches (dropped windows left out).

        Always has ``window_id`` and ``batch_id``; ``columns`` limits the rest (None: all of them).
        """
        wanted = None if columns is None else ["window_id", *[c for c in columns if c != "window_id"]]
        frames = []
        for record in self.records(ACCEPTED):
            if source is not None and record.get("source") != source:
                continue
            path = self.batch_dir(record["batch_id"], ACCEPTED) / "windows.parquet"
            frame = pd.read_parquet(path, columns=wanted)
            dropped = set(record.get("dropped", {}))
            if dropped:
                frame = frame[~frame["window_id"].isin(dropped)]
            frames.append(frame.assign(batch_id=record["batch_id"]))
        if not frames:
            return pd.DataFrame(columns=[*(wanted or ["window_id"]), "batch_id"])
        return pd.concat(frames, ignore_index=True)


def _regular(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _same_bytes(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and sha256_file(a) == sha256_file(b)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: copy the bytes and make them durable
        shutil.copyfile(source, target)
        with open(target, "rb+") as f:
            os.fsync(f.fileno())
