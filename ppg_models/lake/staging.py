"""A file's bytes copied into the lake's staging area, verified, while the file is being validated.

Copying, syncing and re-hashing a 450 MB batch takes 1-1.5 s of mostly kernel and hashing time, which
releases the GIL. ``StagedCopy`` starts that work in a thread as soon as a file is claimed, so it
overlaps reading and validating the same file; ``Lake.commit`` then takes the finished directory. The
stored file never shares an inode with the incoming one (the incoming name may be written again), and
its hash is checked against the one the decision was made on.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from pathlib import Path

from ppg_models.files import sha256_file

STAGED_NAME = ".bytes"  # the copy's name inside its staging directory until commit names it


class StoreError(OSError):
    """The stored copy of a file does not hold the bytes that were hashed (the source changed)."""


def _copy_verified(source: Path, target: Path, sha256: str) -> None:
    """Copy the bytes (never a link), sync, and check the hash of what was stored."""
    shutil.copyfile(source, target)
    with open(target, "rb+") as f:
        os.fsync(f.fileno())
    if sha256_file(target) != sha256:
        raise StoreError(f"{source}: its bytes changed while it was being filed (still being written?)")


def _new_staging_dir(staging: Path, sha256: str) -> Path:
    """A fresh directory in staging, named by the hash so that ``clean_staging`` knows its claim."""
    directory = staging / f"{sha256}.{uuid.uuid4().hex[:8]}"
    directory.mkdir(parents=True)
    return directory


class StagedCopy:
    """``source`` being copied into a new staging directory by a background thread."""

    def __init__(self, staging: Path, source: Path, sha256: str) -> None:
        self.source, self.sha256 = source, sha256
        self.directory = _new_staging_dir(staging, sha256)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._copy, name=f"stage {source.name[:40]}", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        try:
            _copy_verified(self.source, self.directory / STAGED_NAME, self.sha256)
        except BaseException as exc:  # handed to whoever takes the copy
            self._error = exc

    def take(self, stored_name: str) -> Path:
        """Wait for the copy; return its directory with the bytes under ``stored_name``. Raises the copy's
        error (StoreError when the bytes changed, OSError when they could not be read or written)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        os.rename(self.directory / STAGED_NAME, self.directory / stored_name)
        return self.directory

    def discard(self) -> None:
        """Wait for the copy and remove what is left of it in staging: all of it when the file was not
        filed, nothing once ``Lake.commit`` moved the directory into place (safe to call again)."""
        self._thread.join()
        shutil.rmtree(self.directory, ignore_errors=True)
