"""Where benchmark scripts write their results: benchmarks/results/NAME.json and NAME.md.

Every result records the code that produced it: the commit checked out when the benchmark *started*
(this module is imported at start-up) and the project files that differed from it, so a figure can be
traced to the code it measured, and a result kept from an earlier run can be told apart from one
measured on the code of today.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parent.parent
CODE_PATHS = ("ppg_models", "flows", "registry", "dashboard", "benchmarks", "pyproject.toml")
#: what trains and scores the benchmarks' models: ppg_models less the ingest checks and the device-export
#: importers, which no training benchmark imports (tests/unit/test_results_provenance.py checks that)
MODEL_CODE = ("ppg_models", ":(exclude)ppg_models/ingest", ":(exclude)ppg_models/importers")


def cpu_model() -> str | None:
    """The CPU's model name and vector extensions (Linux): training is bit-for-bit repeatable on one
    machine, not across CPUs whose kernels round differently, so a result names the CPU it ran on."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    vector = sorted({f for f in fields.get("flags", "").split() if f.startswith(("avx", "amx"))})
    name = fields.get("model name")
    return f"{name} ({' '.join(vector) or 'no AVX'})" if name else None


def machine() -> dict[str, object]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus_visible": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
    }


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def code_version() -> dict[str, object]:
    """The commit and the uncommitted project files (results excluded); commit None outside git."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--", *CODE_PATHS, ":(exclude)benchmarks/results") or ""
    changed = sorted(line[3:] for line in status.splitlines() if line.strip())
    return {"commit": commit.strip() if commit else None, "uncommitted": changed}


CODE = code_version()  # taken when the benchmark starts, not when it ends


def same_model_code(commit: object) -> bool:
    """Whether ``commit`` trained the same models as this checkout: no change to the model code
    (``MODEL_CODE``) between it and the working tree, committed or not, and no untracked file in it.
    False when that cannot be told."""
    if not commit or not CODE["commit"]:
        return False
    unchanged = _git("diff", "--quiet", str(commit), "--", *MODEL_CODE) is not None  # None: differs or fails
    return unchanged and _git("ls-files", "--others", "--exclude-standard", "--", *MODEL_CODE) == ""


def short(commit: object, missing: str = "not recorded") -> str:
    """A commit as results print it (10 characters), or ``missing``."""
    return str(commit)[:10] if commit else missing


def code_line(code: dict[str, object] | None = None) -> str:
    code = code or CODE
    if "per_seed" in code:  # summarised from kept seeds measured on different code
        commits = [(c or {}).get("commit") for c in code["per_seed"]]
        same = all(same_model_code(c) for c in commits)
        return (
            f"Code: the seeds were measured at different commits: {', '.join(short(c) for c in commits)}; "
            + (
                "their model code (ppg_models) is the same as this checkout's."
                if same
                else "their model code differs."
            )
        )
    commit = short(code.get("commit"), "unknown (not a git checkout)")
    changed = code.get("uncommitted") or []
    extra = f", with uncommitted changes to {', '.join(changed)}" if changed else ""
    return f"Code: commit {commit}{extra}."


def write_results(name: str, payload: dict, markdown: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    payload = {"machine": machine(), "code": CODE, **payload}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    text = markdown.rstrip() + "\n\n" + code_line(payload["code"])
    (RESULTS / f"{name}.md").write_text(text + "\n")
    print(text)
    return RESULTS / f"{name}.json"
