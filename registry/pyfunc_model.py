"""The MLflow pyfunc flavour of a registered model, logged as code (MLflow "models from code").

MLflow runs this file to serve a registered version (``mlflow.pyfunc.load_model``): nothing is
unpickled. The bundle is loaded with ``load_bundle`` (tensors only, SHA-256 checked against its
manifest). Input: one row per window with ``fs`` and list columns ``red``, ``ir`` (and optionally
``green``); output: one column per task. Not imported by the platform itself.
"""

from __future__ import annotations

import mlflow
import pandas as pd
import pyarrow as pa


class PPGModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from ppg_models.training.checkpoint import load_bundle

        self.model = load_bundle(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from ppg_models.inference import predict_table
        from ppg_models.tasks import CHANNELS

        frame = model_input.copy()
        if "window_id" not in frame:
            frame["window_id"] = [str(i) for i in range(len(frame))]
        columns = {
            "window_id": pa.array(frame["window_id"].astype(str)),
            "fs": pa.array(frame["fs"], pa.float64()),
        }
        if "recorded_at" in frame:
            columns["recorded_at"] = pa.array(pd.to_datetime(frame["recorded_at"], utc=True))
        for channel in CHANNELS:
            values = frame[channel].tolist() if channel in frame else [None] * len(frame)
            columns[channel] = pa.array(values, pa.list_(pa.float32()))
        return predict_table(self.model, pa.table(columns)).estimates.reset_index(drop=True)


mlflow.models.set_model(PPGModel())
