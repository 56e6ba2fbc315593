"""The lake's index: the batches filed, the window ids the accepted ones hold, the dataset versions.

One SQLite file (``lake/index.sqlite``) updated incrementally inside the commit lock, so checking a new
batch costs the same whatever the lake's size: duplicate window ids are looked up by key, and the
accepted set is listed without opening any batch. Readers open it read-only (``mode=ro``) and never
create or change anything. The batch directories stay the truth: ``LakeIndex.reconcile`` indexes any
directory the index lacks (a run killed between filing a batch and indexing it), so the index can
always be rebuilt from them.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from ppg_models.data.batch_io import read_small

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id TEXT NOT NULL,
    place TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT,
    decided_at TEXT NOT NULL,
    windows INTEGER NOT NULL,
    dropped TEXT NOT NULL,
    UNIQUE (batch_id, place)
);
CREATE TABLE IF NOT EXISTS windows (
    window_id TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL,
    subject_id TEXT,
    recorded_ms INTEGER  -- start of the window, ms since the epoch (NULL: not known)
);
CREATE INDEX IF NOT EXISTS windows_moment ON windows (subject_id, recorded_ms);
CREATE TABLE IF NOT EXISTS versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    version TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
"""
LOOKUP_CHUNK = 500  # window ids per IN (...) query, under SQLite's parameter limit


class LakeIndex:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        """A read-only connection, or None when there is no index yet (nothing filed)."""
        if not self.path.is_file():
            yield None
            return
        conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """One transaction (call under the lake's commit lock: there is one writer at a time)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.executescript(SCHEMA)
            with conn:
                yield conn
        finally:
            conn.close()

    # ---- reads ----------------------------------------------------------------------------------------

    def batches(self, place: str, source: str | None = None, newest_first: bool = False) -> list[dict]:
        """Indexed batches in ``place`` in filing order: batch_id, sha256, source, windows, dropped."""
        query = "SELECT batch_id, sha256, source, windows, dropped FROM batches WHERE place = ?"
        args: list[Any] = [place]
        if source is not None:
            query += " AND source = ?"
            args.append(source)
        query += " ORDER BY seq DESC" if newest_first else " ORDER BY seq"
        with self._read() as conn:
            rows = [] if conn is None else conn.execute(query, args).fetchall()
        keys = ("batch_id", "sha256", "source", "windows")
        return [dict(zip(keys, r[:4], strict=True)) | {"dropped": json.loads(r[4])} for r in rows]

    def clashes(self, window_ids: Iterable[str]) -> dict[str, str]:
        """Of ``window_ids``, those already accepted: window_id -> the batch holding it."""
        ids = list(dict.fromkeys(window_ids))
        found: dict[str, str] = {}
        with self._read() as conn:
            if conn is None:
                return found
            for start in range(0, len(ids), LOOKUP_CHUNK):
                chunk = ids[start : start + LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT window_id, batch_id FROM windows WHERE window_id IN ({marks})"
                found.update(conn.execute(query, chunk).fetchall())
        return found

    def same_moment(self, pairs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], tuple[str, str]]:
        """Of (subject_id, recorded_ms) pairs, those already accepted: pair -> (window_id, batch_id)."""
        wanted = list(dict.fromkeys(pairs))
        found: dict[tuple[str, int], tuple[str, str]] = {}
        with self._read() as conn:
            if conn is None:
                return found
            for start in range(0, len(wanted), LOOKUP_CHUNK // 2):
                chunk = wanted[start : start + LOOKUP_CHUNK // 2]
                for subject, ms, window, batch in conn.execute(
                    _moment_query(len(chunk)), [v for pair in chunk for v in pair]
                ):
                    found[(subject, ms)] = (window, batch)
        return found

    def moment_plan(self, pairs: int = 2) -> list[str]:
        """How SQLite answers ``same_moment`` (its query plan), for tests."""
        with self._read() as conn:
            query = "EXPLAIN QUERY PLAN " + _moment_query(pairs)
            return [] if conn is None else [row[-1] for row in conn.execute(query, ["s", 0] * pairs)]

    def versions(self) -> list[str]:
        """Recorded dataset versions, oldest first (by sequence number)."""
        with self._read() as conn:
            rows = (
                [] if conn is None else conn.execute("SELECT version FROM versions ORDER BY seq").fetchall()
            )
        return [r[0] for r in rows]

    def version_seq(self, version: str) -> int | None:
        with self._read() as conn:
            row = (
                None
                if conn is None
                else conn.execute("SELECT seq FROM versions WHERE version = ?", (version,)).fetchone()
            )
        return None if row is None else int(row[0])

    # ---- writes (under the commit lock) -----------------------------------------------------------------

    @staticmethod
    def add_batch(conn: sqlite3.Connection, place: str, record: dict[str, Any], directory: Path) -> None:
        """Index a filed batch; an accepted one also indexes its window ids (dropped ones left out)."""
        dropped = sorted(record.get("dropped", {}))
        accepted = place == "accepted"
        conn.execute(
            "INSERT OR IGNORE INTO batches (batch_id, place, sha256, source, decided_at, windows, dropped)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record["batch_id"],
                place,
                record["sha256"],
                record.get("source"),
                record.get("decided_at", ""),
                record["rows"]["accepted"] if accepted else 0,
                json.dumps(dropped),
            ),
        )
        if accepted:
            conn.executemany(
                "INSERT OR IGNORE INTO windows (window_id, batch_id, subject_id, recorded_ms)"
                " VALUES (?, ?, ?, ?)",
                _window_rows(directory / "windows.parquet", record["batch_id"], set(dropped)),
            )

    @staticmethod
    def add_version(conn: sqlite3.Connection, version: str, created_at: str) -> int:
        conn.execute(
            "INSERT OR IGNORE INTO versions (version, created_at) VALUES (?, ?)", (version, created_at)
        )
        return int(conn.execute("SELECT seq FROM versions WHERE version = ?", (version,)).fetchone()[0])

    def reconcile(self, root: Path, places: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
        """Index batch directories the index lacks (oldest decision first); returns (place, record)s."""
        with self.writing() as conn:
            known = {tuple(r) for r in conn.execute("SELECT place, batch_id FROM batches").fetchall()}
            missing = []
            for place in places:
                base = root / place
                names = sorted(p.name for p in base.iterdir()) if base.is_dir() else []
                for name in names:
                    record_path = base / name / "record.json"
                    if (place, name) not in known and record_path.is_file():
                        missing.append((json.loads(record_path.read_text()), place, base / name))
            missing.sort(key=lambda m: m[0].get("decided_at", ""))
            for record, place, directory in missing:
                self.add_batch(conn, place, record, directory)
        return [(place, record) for record, place, _ in missing]


def _window_rows(path: Path, batch_id: str, dropped: set[str]) -> list[tuple]:
    """(window_id, batch_id, subject_id, recorded_ms) of a batch's accepted windows."""
    table = read_small(path, ["window_id", "subject_id", "recorded_at"])
    names = set(table.column_names)
    ids = table.column("window_id").to_pylist()
    subjects = table.column("subject_id").to_pylist() if "subject_id" in names else [None] * len(ids)
    if "recorded_at" in names:
        moments = table.column("recorded_at").cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_pylist()
    else:
        moments = [None] * len(ids)
    return [(w, batch_id, s, m) for w, s, m in zip(ids, subjects, moments, strict=True) if w not in dropped]


def _moment_query(pairs: int) -> str:
    """Accepted windows at given (subject, start) pairs, looked up through the ``windows_moment`` index:
    a join from the pairs, since ``(subject_id, recorded_ms) IN (VALUES ...)`` scans the whole table
    (59 ms per 250 pairs at 200k windows, growing with the lake)."""
    values = ",".join("(?, ?)" for _ in range(pairs))
    return (
        "SELECT w.subject_id, w.recorded_ms, w.window_id, w.batch_id"
        f" FROM (VALUES {values}) AS v CROSS JOIN windows AS w"
        " ON w.subject_id = v.column1 AND w.recorded_ms = v.column2"
    )
