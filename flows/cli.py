"""The `ppg` command line: one command, a sub-command per job. Heavy imports happen inside commands."""

from __future__ import annotations

import typer

from flows import data_commands, demo, model_commands
from flows import registry_commands as reg
from flows.ingest import command as ingest_command

app = typer.Typer(
    name="ppg",
    help="Train, validate, register and promote multi-task PPG models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(help="Import recordings from other formats into batch files.", no_args_is_help=True)
lake_app = typer.Typer(
    help="What the data lake holds: dataset versions and quarantined files.", no_args_is_help=True
)

app.command("tasks")(data_commands.tasks)
app.command("simulate")(data_commands.simulate)
app.command("baselines")(data_commands.baselines)
app.command("train")(model_commands.train_cmd)
app.command("predict")(model_commands.predict_cmd)
app.command("groupings")(model_commands.groupings_cmd)
app.command("ingest")(ingest_command.ingest_cmd)
app.command("demo")(demo.demo)
import_app.command("csv")(data_commands.import_csv)
import_app.command("wfdb")(data_commands.import_wfdb)
app.add_typer(import_app, name="import")
lake_app.command("versions")(ingest_command.versions_cmd)
lake_app.command("quarantine")(ingest_command.quarantine_cmd)
app.add_typer(lake_app, name="lake")

users_app = typer.Typer(help="Registry users and roles.", no_args_is_help=True)
users_app.command("add")(reg.users_add)
users_app.command("list")(reg.users_list)
app.add_typer(users_app, name="users")
audit_app = typer.Typer(help="The hash-chained audit log of registry decisions.", no_args_is_help=True)
audit_app.command("verify")(reg.audit_verify)
audit_app.command("show")(reg.audit_show)
app.add_typer(audit_app, name="audit")
models_app = typer.Typer(help="Registered model versions.", no_args_is_help=True)
models_app.command("list")(reg.models_list)
models_app.command("compare")(reg.models_compare)
app.add_typer(models_app, name="models")
app.command("gate")(reg.gate_cmd)
app.command("approve")(reg.approve_cmd)
app.command("reject")(reg.reject_cmd)
app.command("rollback")(reg.rollback_cmd)

if __name__ == "__main__":
    app()
