"""Checkpoints that resume training, and model bundles that load safely.

Everything is saved with ``torch.save`` of tensors and plain Python values and loaded with
``weights_only=True``: loading never runs pickled code. A bundle's weights carry a SHA-256 that loading
verifies.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from ppg_models.files import sha256_file
from ppg_models.models.multitask import MultiTaskModel
from ppg_models.models.spec import ModelSpec

WEIGHTS = "weights.pt"
MANIFEST = "model.json"


class ModelIntegrityError(ValueError):
    """Weights whose hash does not match the bundle's manifest."""


def atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_state(path: Path, map_location: str | torch.device = "cpu") -> Any:
    return torch.load(path, map_location=map_location, weights_only=True)


def save_bundle(model: MultiTaskModel, directory: Path, extra: dict[str, Any] | None = None) -> str:
    """Write spec + weights (+ extra manifest fields) to ``directory``; returns the weights' SHA-256."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_save(state, directory / WEIGHTS)
    digest = sha256_file(directory / WEIGHTS)
    manifest = {"spec": model.spec.model_dump(), "weights_sha256": digest, **(extra or {})}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return digest


def bundle_digest(directory: str | Path) -> str:
    """SHA-256 over every file of a bundle (name and content): any edit of any file changes it."""
    directory = Path(directory)
    lines = [
        f"{p.relative_to(directory).as_posix()}:{sha256_file(p)}"
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def load_bundle(directory: str | Path, device: str | torch.device = "cpu") -> MultiTaskModel:
    """Rebuild a model from its bundle, refusing weights whose hash differs from the manifest."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{directory}: not a model bundle (no {MANIFEST})")
    manifest = json.loads(manifest_path.read_text())
    actual = sha256_file(directory / WEIGHTS)
    if actual != manifest["weights_sha256"]:
        expected = manifest["weights_sha256"]
        raise ModelIntegrityError(
            f"{directory / WEIGHTS}: SHA-256 {actual} does not match the manifest's {expected}"
        )
    saved = {"hr_counted_rate": False, **manifest["spec"]}  # older bundles: the HR readout they were gated on
    try:
        spec = ModelSpec.model_validate(saved)
    except ValidationError as exc:  # e.g. inputs of a release before the export-invariant channels
        why = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise ModelIntegrityError(f"{directory}: {why}; retrain it") from None
    model = MultiTaskModel(spec)
    try:
        model.load_state_dict(load_state(directory / WEIGHTS))
    except RuntimeError as exc:  # missing or unexpected weights: another release's architecture
        first = str(exc).splitlines()[0]
        raise ModelIntegrityError(
            f"{directory}: the weights do not fit this release's architecture ({first}); retrain it"
        ) from None
    return model.to(device).eval()
