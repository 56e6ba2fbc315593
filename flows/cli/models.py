"""`ppg train` and `ppg predict`: thin wrappers over ppg_models.training and ppg_models.inference."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.options import ChannelOpt, JsonOpt, TimeOpt, TimeUnitOpt, batch_files, channel_map
from flows.cli.options import time_unit as time_unit_option
from flows.cli.output import fail, print_json, progress_bar, stderr, stdout
from flows.cli.recordings import recording_table, split_inputs

LOG_EVERY_S = 10.0


@contextmanager
def _training_progress(quiet: bool) -> Iterator[Callable[[dict], None]]:
    """A bar over each epoch's steps and one line per finished epoch, on stderr. Not on a terminal (logs,
    CI), a plain line when training starts and then every ``LOG_EVERY_S`` seconds instead of the bar."""
    import time

    bar = progress_bar("epoch {task.fields[epoch]}", quiet)
    task = bar.add_task("train", total=None, epoch=0)
    plain = not quiet and not bar.console.is_terminal
    last = [0.0]

    def on_progress(event: dict) -> None:
        if event["event"] == "step":
            bar.update(task, completed=event["step"], total=event["steps"], epoch=event["epoch"])
            now = time.monotonic()
            if plain and (event["step"] == 1 or now - last[0] >= LOG_EVERY_S):
                last[0] = now
                bar.console.print(
                    f"epoch {event['epoch']:3d}  step {event['step']}/{event['steps']}", highlight=False
                )
        elif event["event"] == "head_tuning" and not quiet:
            for head, h in ((k, v) for k, v in event.items() if isinstance(v, dict)):
                bar.console.print(
                    f"head {head} ({'+'.join(h['tasks'])}) fine-tuned: validation loss {h['val_before']:.3f}"
                    f" -> {h['val_after']:.3f} (kept epoch {h['kept_epoch']})",
                    highlight=False,
                )
        elif event["event"] == "epoch" and not quiet:
            val = " ".join(f"{t}={v:.3f}" for t, v in event["val_loss"].items())
            mark = "*" if event["improved"] else " "
            bar.console.print(f"epoch {event['epoch']:3d}{mark} validation loss {val}", highlight=False)

    with bar:
        yield on_progress


def train_cmd(
    config: Annotated[Path, typer.Option("--config", "-c", help="Training configuration (YAML).")],
    resume: Annotated[
        bool, typer.Option(help="Continue from the run's last checkpoint if there is one.")
    ] = True,
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="Trainer who registers the model (else: logged only).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Train a multi-task model, log it to MLflow and, with --user, register and gate it."""
    from ppg_models.data.schema import BatchFormatError
    from ppg_models.lake.dataset import DatasetError
    from ppg_models.training.config import ConfigError, TrainConfig
    from ppg_models.training.data import SplitError
    from ppg_models.training.run import run_training

    trainer = _trainer(user)
    try:
        cfg = TrainConfig.from_yaml(config)
        if not json_out:
            origin = cfg.data.dataset or ", ".join(cfg.data.paths)
            stderr.print(
                f"loading and splitting {origin} (augmenting {cfg.data.augment:.0%} of training windows;"
                f" {cfg.data.channel_drop:.0%} reduced to one channel at each step)"
            )
        with _training_progress(quiet=json_out) as on_progress:
            run = run_training(cfg, on_progress=on_progress, resume=resume)
    except (
        ConfigError,
        BatchFormatError,
        DatasetError,
        SplitError,
        FileNotFoundError,
        ValueError,
        KeyError,
    ) as exc:
        raise fail(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from None
    registered = _log_and_register(run, run.config, trainer, quiet=json_out)
    summary = {
        "run_dir": str(run.out_dir),
        "model": str(run.out_dir / "model"),
        "weights_sha256": run.weights_sha256,
        "dataset_version": run.dataset_version,
        "splits": run.splits,
        "best_epoch": run.training.best_epoch,
        "train_windows_per_s": round(run.training.windows_per_second, 1),
        "threads": run.training.threads,
        "test": {t: {m: iv.value for m, iv in r.metrics.items()} for t, r in run.report.tasks.items()},
        **registered,
    }
    if json_out:
        print_json(summary)
        return
    origin = f"dataset {run.dataset_version}, " if run.dataset_version else ""
    stdout.print(f"run {run.out_dir}  ({origin}windows train/val/test {run.splits})")
    stdout.print(run.report.markdown(), highlight=False)


def _trainer(user: str | None):
    """The authenticated trainer, checked before any training starts (None: log without registering)."""
    if user is None:
        return None
    from flows.cli.credentials import login
    from registry.users import AuthError

    try:
        return login(user).require("register")
    except AuthError as exc:
        raise fail(str(exc), 4) from None


def _log_and_register(run, cfg, trainer, quiet: bool) -> dict:
    """Log the run to MLflow; with a trainer, register it and judge it under the gate policy in force."""
    import getpass

    from registry.registration import register_run
    from registry.run_logging import log_run

    if trainer is None:
        run_id = log_run(run, cfg, f"unregistered:{getpass.getuser()}")
        if not quiet:
            stdout.print(f"logged to MLflow as run {run_id}; not registered (pass --user to register)")
        return {"mlflow_run_id": run_id, "version": None}
    result = register_run(run, cfg, trainer)
    if not quiet:
        for line in result.summary_lines():
            stdout.print(line, highlight=False, markup=False)
    return {"version": result.version, "status": result.status, "gate": result.verdict.to_dict()}


def _registered_model(ref: str):
    from registry.versions import VersionNotFoundError, load_model

    try:
        model, mv = load_model(ref)
    except VersionNotFoundError as exc:
        raise fail(str(exc)) from None
    stdout.print(f"model: registered version {mv.version} (weights SHA-256 verified)", highlight=False)
    return model


def predict_cmd(
    inputs: Annotated[
        list[Path], typer.Argument(help="Batch files or directories of them, or CSV recordings (time + PPG).")
    ],
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Model bundle directory (run_dir/model).")
    ] = None,
    registered: Annotated[
        str | None, typer.Option(help="A registered version instead: champion, challenger or a number.")
    ] = None,
    window: Annotated[float, typer.Option(min=2.0, help="Recordings: window length in seconds.")] = 10.0,
    hop: Annotated[
        float | None, typer.Option(min=0.1, help="Recordings: seconds between window starts (overlap).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write estimates (.csv or .parquet).")
    ] = None,
    channel: ChannelOpt = [],  # noqa: B006 (typer needs a literal)
    time: TimeOpt = None,
    time_unit: TimeUnitOpt = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Estimate every task for every window, with start and end times, a quality score and, for each
    estimate withheld (missing channels, no physical level, outside the valid range, poor signal), why."""
    import pandas as pd

    from ppg_models.data.batch_io import read_batch
    from ppg_models.data.schema import BatchFormatError
    from ppg_models.importers.csv_records import ImportFormatError
    from ppg_models.inference import predict_table
    from ppg_models.training.checkpoint import ModelIntegrityError, load_bundle

    if (model is None) == (registered is None):
        raise fail("give --model PATH or --registered REF (one of them)", 2)
    recordings, batches = split_inputs(inputs)
    unit = time_unit_option(time_unit)
    if hop is not None and not recordings:
        raise fail("--hop cuts recordings (.csv) into windows; batch files are already cut", 2)
    frames, summaries, notes = [], [], []
    try:
        net = load_bundle(model) if model is not None else _registered_model(registered)
        for path in recordings:
            table, offsets, found = recording_table(path, window, hop, time, unit, channel_map(channel))
            result = predict_table(net, table)
            frames.append(result.estimates.assign(recording=path.name, offset_s=offsets))
            summaries.append(result.not_estimated)
            notes += [f"{path.name}: {n}" for n in found]
        for path in batch_files(batches) if batches else []:
            result = predict_table(net, read_batch(path))
            frames.append(result.estimates.assign(recording=path.name, offset_s=float("nan")))
            summaries.append(result.not_estimated)
    except (BatchFormatError, ModelIntegrityError, ImportFormatError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    estimates = pd.concat(frames, ignore_index=True)
    first = ["recording", "window_id", "start", "end", "offset_s", "quality"]
    estimates = estimates[first + [c for c in estimates.columns if c not in first]]
    reasons = {t: "; ".join(s[t] for s in summaries if t in s) for t in net.tasks}
    reasons = {t: v for t, v in reasons.items() if v}
    if out is not None:
        estimates.to_parquet(out) if out.suffix == ".parquet" else estimates.to_csv(out, index=False)
    if json_out:
        records = estimates.astype({"start": str, "end": str}).to_dict(orient="records")
        print_json({"estimates": records, "not_estimated": reasons, "notes": notes})
        return
    for note in notes:
        stdout.print(f"note: {note}", highlight=False)
    if out is None:
        numbers = estimates.select_dtypes("number").columns  # rounding the time columns warns (pandas 3)
        stdout.print(estimates.round(dict.fromkeys(numbers, 2)).to_string(index=False), highlight=False)
    else:
        stdout.print(f"wrote {len(estimates)} windows to {out}")
    for task, why in reasons.items():
        stdout.print(f"{task} not estimated for {why}", highlight=False)


def groupings_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A training run folder with affinity.json.")],
    groups: Annotated[int, typer.Option("--groups", "-k", min=1, help="Number of task groups.")] = 2,
    top: Annotated[int, typer.Option(min=1, help="How many proposals.")] = 5,
    json_out: JsonOpt = False,
) -> None:
    """Propose task groupings from the task affinity a run measured (TAG)."""
    import json

    import numpy as np

    from ppg_models.training.grouping import propose_groupings

    path = run_dir / "affinity.json"
    if not path.is_file():
        raise fail(f"{path}: no affinity measured in this run; train with affinity_every > 0")
    raw = json.loads(path.read_text())
    matrix = np.array([[np.nan if v is None else v for v in row] for row in raw["matrix"]], dtype=float)
    try:
        proposals = propose_groupings(matrix, raw["tasks"], groups, top)
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    if json_out:
        print_json([{"groups": p, "score": s} for p, s in proposals])
        return
    for p, s in proposals:
        stdout.print(f"{s:+.4f}  " + " | ".join(", ".join(g) for g in p), highlight=False)
