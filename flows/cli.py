"""The `ppg` command line: one command, a sub-command per job. Heavy imports happen inside commands."""

from __future__ import annotations

import typer

from flows import data_commands, demo, model_commands
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

if __name__ == "__main__":
    app()
