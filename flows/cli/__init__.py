"""The `ppg` command line: one command, a sub-command per job. Heavy imports happen inside commands.

Each module holds the commands of one area and imports only the shared helpers (``output``,
``options``, ``credentials``), never another command module.
"""

from __future__ import annotations

import typer

from flows.cli import dashboard, data, demo, ingest, models, registry, retrain, tune

app = typer.Typer(
    name="ppg",
    help="Train, validate, register and promote multi-task PPG models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _group(name: str, help_text: str, commands: dict) -> None:
    sub = typer.Typer(help=help_text, no_args_is_help=True)
    for command, fn in commands.items():
        sub.command(command)(fn)
    app.add_typer(sub, name=name)


for _name, _fn in {
    "tasks": data.tasks,
    "simulate": data.simulate,
    "baselines": data.baselines,
    "train": models.train_cmd,
    "predict": models.predict_cmd,
    "groupings": models.groupings_cmd,
    "tune": tune.tune_cmd,
    "retrain": retrain.retrain_cmd,
    "serve": retrain.serve_cmd,
    "ingest": ingest.ingest_cmd,
    "demo": demo.demo,
    "dashboard": dashboard.dashboard_cmd,
    "gate": registry.gate_cmd,
    "approve": registry.approve_cmd,
    "reject": registry.reject_cmd,
    "rollback": registry.rollback_cmd,
}.items():
    app.command(_name)(_fn)

_group(
    "import",
    "Import recordings from other formats into batch files.",
    {"csv": data.import_csv, "wfdb": data.import_wfdb},
)
_group(
    "lake",
    "What the data lake holds: dataset versions and quarantined files.",
    {"versions": ingest.versions_cmd, "quarantine": ingest.quarantine_cmd},
)
_group(
    "users",
    "Registry users and roles.",
    {"add": registry.users_add, "set-role": registry.users_set_role, "list": registry.users_list},
)
_group(
    "policy",
    "Gate policies: versioned in the registry, activated by an admin.",
    {"show": registry.policy_show, "list": registry.policy_list, "activate": registry.policy_activate},
)
_group(
    "audit",
    "The hash-chained audit log of registry decisions.",
    {
        "verify": registry.audit_verify,
        "show": registry.audit_show,
        "head": registry.audit_head_cmd,
        "restore-aliases": registry.audit_restore_aliases,
    },
)
_group(
    "models",
    "Registered model versions.",
    {"list": registry.models_list, "compare": registry.models_compare},
)

if __name__ == "__main__":
    app()


def main() -> None:
    """The ``ppg`` executable: the app, then ``fast_exit.leave`` (skips ~1 s of module teardown)."""
    from flows.cli.fast_exit import leave

    try:
        app()
    except SystemExit as exc:
        leave(exc.code)
    leave(0)
