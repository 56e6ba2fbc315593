"""`ppg tune`: search task groupings and balancer settings with Ray Tune, constrained by AF (flows/tune)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.options import JsonOpt
from flows.cli.output import fail, print_json, stderr, stdout


def tune_cmd(
    config: Annotated[Path, typer.Option("--config", "-c", help="Search configuration (YAML).")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue the search of this name.")] = False,
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", help="Trainer who registers the chosen model (else: logged)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Search task groupings, balancers and their settings (Ray Tune + Optuna), AF as a hard constraint;
    log every trial to MLflow, retrain the chosen configuration and, with --user, register and gate it."""
    from flows.tune.config import TuneConfig, TuneConfigError
    from flows.tune.results import record, retrain_and_register
    from flows.tune.search import SearchError, run_search
    from ppg_models.lake.dataset import DatasetError

    trainer = None
    if user is not None:
        from flows.cli.credentials import login
        from registry.users import AuthError

        try:
            trainer = login(user).require("register")
        except AuthError as exc:
            raise fail(str(exc), 4) from None
    say = (lambda _m: None) if json_out else (lambda m: stderr.print(m, highlight=False))
    try:
        cfg = TuneConfig.from_yaml(config)
        outcome = run_search(cfg, resume, say, echo=not json_out)
    except (TuneConfigError, SearchError, DatasetError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    recorded = record(cfg, outcome)
    frame = outcome["frame"]
    summary = {
        "search": cfg.name,
        "mlflow_search_run": recorded["search_run"],
        "af_floor": outcome["plan"]["af_floor"],
        "candidates": outcome["plan"]["candidates"],
        "trials": frame.to_dict("records"),
        "completed": int((frame["status"] == "completed").sum()) if len(frame) else 0,
        "feasible": int(frame["feasible"].sum()) if len(frame) else 0,
        "chosen": recorded["chosen"],
    }
    if not json_out:
        stdout.print(frame.to_string(index=False), highlight=False, markup=False)
    if recorded["chosen"] is None:
        if json_out:
            print_json(summary)
        raise fail(
            f"no feasible trial (AF validation AUROC >= {summary['af_floor']:.3f}): nothing registered", 3
        )
    if not json_out:
        stdout.print(
            f"chosen: trial {recorded['chosen']['trial']} ({recorded['chosen'].get('param grouping')},"
            f" {recorded['chosen'].get('param balancer')}); retraining it",
            highlight=False,
        )
    summary["model"] = retrain_and_register(cfg, recorded["chosen"], trainer)
    if json_out:
        print_json(summary)
        return
    for line in summary["model"].get("summary", []):
        stdout.print(line, highlight=False, markup=False)
    if trainer is None:
        stdout.print(
            f"logged as MLflow run {summary['model']['mlflow_run_id']}; not registered (pass --user)"
        )
