"""Model bundles: exact round trip, hash verification, and no code execution on load."""

import json
import pickle

import numpy as np
import pytest
import torch

from ppg_models.models.inputs import prepare_inputs
from ppg_models.training.checkpoint import (
    MANIFEST,
    WEIGHTS,
    ModelIntegrityError,
    load_bundle,
    save_bundle,
    sha256_file,
)


@pytest.fixture
def bundle(tmp_path, small_model):
    model = small_model([["hr", "af"], ["spo2"]], label_mean={"hr": 70}, label_std={"hr": 10})
    digest = save_bundle(model, tmp_path / "model", {"run": "t"})
    return model.eval(), tmp_path / "model", digest


def test_round_trip_gives_identical_predictions(bundle, icu_batch):
    model, path, digest = bundle
    assert (
        json.loads((path / MANIFEST).read_text())["weights_sha256"] == digest == sha256_file(path / WEIGHTS)
    )
    loaded = load_bundle(path)
    inputs = prepare_inputs(icu_batch.slice(0, 8))
    a, b = model.predict(inputs), loaded.predict(inputs)
    for task in a:
        np.testing.assert_array_equal(a[task], b[task])


def test_tampered_weights_are_refused(bundle):
    _, path, _ = bundle
    data = bytearray((path / WEIGHTS).read_bytes())
    data[-100] ^= 0xFF
    (path / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="does not match the manifest"):
        load_bundle(path)


class _Payload:
    def __reduce__(self):
        return (print, ("arbitrary code ran",))


def test_weights_holding_pickled_code_are_not_executed(bundle):
    _, path, _ = bundle
    torch.save({"evil": _Payload()}, path / WEIGHTS)
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["weights_sha256"] = sha256_file(path / WEIGHTS)  # even with a matching hash
    (path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(pickle.UnpicklingError):
        load_bundle(path)


def test_weights_of_another_architecture_are_refused_with_a_reason(bundle):
    """A bundle from a release whose heads differ (here: a head's weights renamed) is refused by name,
    not with PyTorch's key listing."""
    _, path, _ = bundle
    state = torch.load(path / WEIGHTS, weights_only=True)
    key = next(k for k in state if k.startswith("heads.hr"))
    state[key.replace("heads.hr", "heads.old_hr")] = state.pop(key)
    torch.save(state, path / WEIGHTS)
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["weights_sha256"] = sha256_file(path / WEIGHTS)
    (path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelIntegrityError, match=r"do not fit this release's architecture.*retrain it"):
        load_bundle(path)


def test_a_folder_that_is_not_a_bundle(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a model bundle"):
        load_bundle(tmp_path)


def test_weights_are_plain_tensors_that_load_without_any_pickled_object(bundle):
    import torch

    _, path, _ = bundle
    state = torch.load(path / WEIGHTS, weights_only=True)  # refuses any pickled class or function
    assert state
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_a_bundle_saved_before_the_counted_rate_mix_keeps_the_hr_readout_it_was_gated_on(bundle, icu_batch):
    """New models read HR as the spectral rate mixed with the counted one; a bundle whose spec predates
    ``hr_counted_rate`` is rebuilt without the mix, so a registered model never changes its answers."""
    model, path, _ = bundle
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["spec"]["hr_counted_rate"] is True
    assert load_bundle(path).heads["hr_g0"].counted_rate
    del manifest["spec"]["hr_counted_rate"]
    (path / MANIFEST).write_text(json.dumps(manifest))
    older = load_bundle(path)
    assert not older.heads["hr_g0"].counted_rate
    model.heads["hr_g0"].counted_rate = False  # what the older release computed with these weights
    inputs = prepare_inputs(icu_batch.slice(0, 8))
    np.testing.assert_array_equal(older.predict(inputs)["hr"], model.predict(inputs)["hr"])
