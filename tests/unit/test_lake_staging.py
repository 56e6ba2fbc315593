"""A file's bytes copied into staging while it is validated (ppg_models/lake/staging.py)."""

from __future__ import annotations

import hashlib

import pytest

from ppg_models.lake.staging import STAGED_NAME, StagedCopy, StoreError


def _file(tmp_path, data: bytes = b"x" * 100_000):
    path = tmp_path / "incoming" / "batch.parquet"
    path.parent.mkdir()
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_the_staged_copy_holds_the_bytes_in_its_own_inode(tmp_path):
    path, sha = _file(tmp_path)
    staged = StagedCopy(tmp_path / "staging", path, sha)
    directory = staged.take("batch.parquet")
    stored = directory / "batch.parquet"
    assert stored.read_bytes() == path.read_bytes()
    assert stored.stat().st_ino != path.stat().st_ino
    assert directory.name.startswith(sha), "named by the hash: clean_staging finds its claim"
    assert not (directory / STAGED_NAME).exists()


def test_bytes_that_changed_after_they_were_hashed_are_refused(tmp_path):
    path, sha = _file(tmp_path)
    path.write_bytes(b"y" * 100_000)  # the writer went on after the hash was taken
    staged = StagedCopy(tmp_path / "staging", path, sha)
    with pytest.raises(StoreError, match="changed while it was being filed"):
        staged.take("batch.parquet")


def test_an_unreadable_file_raises_its_error_when_taken(tmp_path):
    path, sha = _file(tmp_path)
    path.unlink()
    staged = StagedCopy(tmp_path / "staging", path, sha)
    with pytest.raises(FileNotFoundError):
        staged.take("batch.parquet")


def test_a_copy_not_taken_is_removed(tmp_path):
    path, sha = _file(tmp_path)
    staged = StagedCopy(tmp_path / "staging", path, sha)
    staged.discard()
    assert list((tmp_path / "staging").iterdir()) == []
    assert path.exists(), "the incoming file is untouched"
