"""Per-window vital-sign estimates from a model bundle, for batches as they come."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from ppg_models.models.inputs import prepare_inputs
from ppg_models.models.multitask import MultiTaskModel
from ppg_models.tasks import get_task


@dataclass
class Prediction:
    estimates: pd.DataFrame  # window_id index; one column per task (AF: probability); NaN = not estimated
    not_estimated: dict[str, str]  # task -> why some windows got no estimate


def predict_table(model: MultiTaskModel, table: pa.Table) -> Prediction:
    inputs = prepare_inputs(table)
    preds = model.predict(inputs)
    index = pd.Index(table.column("window_id").to_pylist(), name="window_id")
    estimates = pd.DataFrame(preds, index=index)
    reasons = {}
    for task, values in preds.items():
        missing = int(np.isnan(values).sum())
        if missing:
            spec = get_task(task)
            need = " and ".join(spec.needs_all) if spec.needs_all else "any of " + "/".join(spec.needs_any)
            lacking = int((~spec.estimable(inputs.present)).sum())
            reasons[task] = f"{missing} of {len(values)} windows: {lacking} lack {need}"
    return Prediction(estimates, reasons)
