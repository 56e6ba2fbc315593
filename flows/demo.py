"""`ppg demo`: the platform's main job end to end on the embedded defaults.

At this stage: simulate labeled batches from every source into PPG_HOME, run the DSP baselines on
them and print a per-task table. Later stages (ingest, train, register, gate) join the same command.
"""

from __future__ import annotations

import shutil
from typing import Annotated

import typer

from flows.output import print_json, stdout


def demo(
    windows: Annotated[int, typer.Option(min=50, help="Windows per simulated batch.")] = 400,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 7,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Run the main job end to end on simulated data and print the per-task results."""
    from ppg_models.baselines.report import markdown_table, score_baselines
    from ppg_models.data.batch_io import read_batch
    from ppg_models.home import home_path
    from ppg_models.sim.catalog import SOURCES
    from ppg_models.sim.simulate import write_simulated

    out = home_path("demo", "batches")
    shutil.rmtree(out)
    out.mkdir()
    say = (lambda *_: None) if json_out else stdout.print
    say(f"[bold]1. simulate[/bold] {len(SOURCES)} batches x {windows} windows into {out}")
    paths = write_simulated(out, len(SOURCES), windows, seed)
    tables = [read_batch(p) for p in paths]
    for p, t in zip(paths, tables, strict=True):
        labeled = [c for c in ("hr", "spo2", "rr", "sbp", "dbp", "af") if t.column(c).null_count < t.num_rows]
        say(f"   {p.name}: {t.num_rows} windows, labels {', '.join(labeled)}")
    say("[bold]2. DSP baselines[/bold] per task and motion level (MAE, or AUROC for AF; n = windows)")
    scores, _ = score_baselines(tables)
    if json_out:
        print_json({"batches": [str(p) for p in paths], "baselines": [s.to_dict() for s in scores]})
    else:
        stdout.print(markdown_table(scores), highlight=False)
        stdout.print("BP has no DSP baseline; the multi-task model estimates it.")
