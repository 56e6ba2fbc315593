"""`ppg retrain` (one run of the retraining flow) and `ppg serve` (the scheduled deployments)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.options import JsonOpt
from flows.cli.output import fail, print_json, stdout

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Retraining configuration (YAML); default: built-in.")
]


def _config(path: Path | None):
    from flows.retrain.config import RetrainConfig, RetrainConfigError

    try:
        return RetrainConfig.from_yaml(path) if path else RetrainConfig()
    except RetrainConfigError as exc:
        raise fail(str(exc), 2) from None


def retrain_cmd(
    config: ConfigOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Retrain whatever the lake says.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Ingest, decide whether to retrain, train, register and gate, then wait for an approval (see
    docs/retraining.md). The trainer account's password comes from PPG_RETRAIN_PASSWORD."""
    from flows.prefect_env import configure_prefect, owned_server

    cfg = _config(config)
    configure_prefect()
    try:
        with owned_server(meanwhile=_import_flow):
            from flows.retrain.flow import retrain

            state = retrain(config=cfg, force=force, return_state=True)
    except (RuntimeError, OSError) as exc:
        raise fail(f"the retrain flow could not run: {exc}") from None
    summary = state.result(raise_on_failure=False)
    if state.is_failed() or not isinstance(summary, dict):
        raise fail(f"the retrain flow failed: {state.message}")
    if json_out:
        print_json(summary)
    else:
        stdout.print(f"{summary['state']}: {summary['message']}", highlight=False, markup=False)
    if summary["state"] not in ("Completed", "NoRetrain"):
        raise typer.Exit(3)


def serve_cmd(config: ConfigOpt = None) -> None:
    """Serve the `ingest-batches` (interval) and `retrain` (cron) deployments from this process until it
    is stopped; schedules come from the configuration (`schedules`)."""
    from flows.prefect_env import configure_prefect, owned_server

    cfg = _config(config)
    configure_prefect()
    os.environ.setdefault("PREFECT_RUNNER_PROCESS_LIMIT", "2")
    from prefect import serve
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    from flows.ingest.flow import ingest_batches
    from flows.retrain.flow import retrain

    every = cfg.schedules.retrain_every_s
    with owned_server(services=True) as api:
        stdout.print(f"serving ingest-batches and retrain on {api or 'the Prefect server'}", highlight=False)
        serve(
            ingest_batches.to_deployment(name="ingest-batches", interval=cfg.schedules.ingest_every_s),
            retrain.to_deployment(
                name="retrain",
                # one retraining at a time (a run waiting for approval holds it); a run scheduled meanwhile
                # is cancelled, not queued: waiting runs would pile up behind a week-long approval
                concurrency_limit=ConcurrencyLimitConfig(
                    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
                ),
                parameters={"config": cfg.model_dump(mode="json")},
                **({"interval": every} if every else {"cron": cfg.schedules.retrain_cron}),
            ),
            print_starting_message=False,
        )


def _import_flow() -> None:
    import flows.retrain.flow  # noqa: F401  (torch, Great Expectations, MLflow: while Prefect starts)
