"""Benchmark results name the code they measured: the commit at the benchmark's start and any
uncommitted project files; a seed kept from an earlier run on other code is reported as such."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

_saved = list(sys.path)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import mtl  # noqa: E402
import mtl_report  # noqa: E402
import results_io  # noqa: E402
import tune_report  # noqa: E402

sys.path[:] = _saved


def test_code_version_names_the_commit_of_this_checkout():
    code = results_io.code_version()
    assert isinstance(code["commit"], str)
    assert len(code["commit"]) == 40
    assert all(not path.startswith("benchmarks/results/") for path in code["uncommitted"])


def test_written_results_carry_the_code_in_json_and_markdown(tmp_path, monkeypatch):
    monkeypatch.setattr(results_io, "RESULTS", tmp_path)
    code = {"commit": "a" * 40, "uncommitted": ["ppg_models/x.py"]}
    monkeypatch.setattr(results_io, "CODE", code)
    results_io.write_results("demo", {"value": 1}, "# Demo")
    saved = json.loads((tmp_path / "demo.json").read_text())
    assert saved["code"] == code
    assert saved["value"] == 1
    text = (tmp_path / "demo.md").read_text()
    assert "Code: commit aaaaaaaaaa, with uncommitted changes to ppg_models/x.py." in text


def test_results_summarised_from_kept_runs_keep_their_own_code(tmp_path, monkeypatch):
    monkeypatch.setattr(results_io, "RESULTS", tmp_path)
    kept = {"commit": "b" * 40, "uncommitted": []}
    results_io.write_results("demo", {"code": kept}, "# Demo")
    assert json.loads((tmp_path / "demo.json").read_text())["code"] == kept
    assert "Code: commit bbbbbbbbbb." in (tmp_path / "demo.md").read_text()


def test_tune_report_names_seeds_measured_on_other_code():
    payload = {
        "code": {"commit": "c" * 40},
        "seeds": [{"seed": 0, "code": {"commit": "c" * 40}}, {"seed": 1}],
    }
    (line,) = tune_report._provenance(payload)
    assert "seed 0: cccccccccc" in line
    assert "seed 1: not recorded" in line
    assert "--fresh" in line
    payload["seeds"][1]["code"] = {"commit": "c" * 40}
    assert tune_report._provenance(payload) == []


def test_tune_report_reads_an_unstamped_payload_as_this_run():
    """tune.py renders the Markdown before write_results adds ``code``: seeds measured on this
    checkout are not 'other code' then (the committed tune.md once said so of a fresh run)."""
    here = {"commit": tune_report.CODE["commit"]}
    payload = {"seeds": [{"seed": 0, "code": here}, {"seed": 1, "code": here}]}
    assert tune_report._provenance(payload) == []


def test_no_negative_zero_in_paired_differences():
    assert tune_report._signed(-0.0) == "+0.000"
    assert tune_report._signed(-0.0001) == "+0.000"
    assert tune_report._signed(-0.25) == "-0.250"


def test_seeds_from_different_code_are_named_each():
    line = results_io.code_line({"commit": None, "uncommitted": [], "per_seed": [{"commit": "d" * 40}, None]})
    assert line == (
        "Code: the seeds were measured at different commits: dddddddddd, not recorded;"
        " their model code differs."
    )


def test_seeds_at_commits_with_this_model_code_say_so(monkeypatch):
    monkeypatch.setattr(results_io, "same_model_code", lambda commit: commit == "c" * 40)
    line = results_io.code_line({"commit": None, "uncommitted": [], "per_seed": [{"commit": "c" * 40}] * 2})
    assert line.endswith("their model code (ppg_models) is the same as this checkout's.")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_same_model_code_compares_ppg_models_with_the_working_tree(tmp_path, monkeypatch):
    """A commit counts as this model code while nothing under ppg_models differs from it, committed or
    not; a change elsewhere does not matter; an unknown commit or none never counts."""
    _git(tmp_path, "init", "-q")
    for path in ("ppg_models/a.py", "ppg_models/ingest/b.py", "README.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("v1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    first = _git(tmp_path, "rev-parse", "HEAD")
    monkeypatch.setattr(results_io, "ROOT", tmp_path)
    monkeypatch.setattr(results_io, "CODE", {"commit": first, "uncommitted": []})
    assert results_io.same_model_code(first)
    (tmp_path / "README.md").write_text("v2\n")
    (tmp_path / "ppg_models" / "ingest" / "b.py").write_text("v2\n")  # no training benchmark imports it
    assert results_io.same_model_code(first)
    (tmp_path / "ppg_models" / "a.py").write_text("v2\n")  # uncommitted model change
    assert not results_io.same_model_code(first)
    (tmp_path / "ppg_models" / "a.py").write_text("v1\n")
    (tmp_path / "ppg_models" / "new.py").write_text("v1\n")  # untracked model file
    assert not results_io.same_model_code(first)
    assert not results_io.same_model_code("0" * 40)  # not a commit of this repository
    assert not results_io.same_model_code(None)


def _seed(seed: int, commit: str | None) -> dict:
    return {"seed": seed, "code": {"commit": commit, "uncommitted": []}, "rows": []}


def test_a_partial_run_takes_only_committed_seeds_of_the_same_model_code(tmp_path, monkeypatch):
    """--seed-ids 1 measures seed 1; seeds 0 and 2 come from the committed results only when they were
    measured on this model code, and the thread check only when it was."""
    head = "c" * 40
    monkeypatch.setattr(mtl, "same_model_code", lambda commit: commit == head)
    monkeypatch.setattr(mtl, "RESULTS", tmp_path)
    committed = {
        "settings": mtl.MODES["full"],
        "device": "cpu",
        "per_seed": [_seed(0, head), _seed(1, head), _seed(2, None)],
        "thread_check": {"threads": {"1": {"hr": 1.0, "af": 0.9}, "2": {"hr": 1.0, "af": 0.9}}},
        "thread_check_code": {"commit": head},
    }
    (tmp_path / "mtl.json").write_text(json.dumps(committed))
    seeds, check = mtl.published("full", "cpu", {1})
    assert [s["seed"] for s in seeds] == [0]  # 1 is being measured; 2 has no recorded code
    assert check == ({1: {"hr": 1.0, "af": 0.9}, 2: {"hr": 1.0, "af": 0.9}}, {"commit": head})
    committed["thread_check_code"] = None
    (tmp_path / "mtl.json").write_text(json.dumps(committed))
    assert mtl.published("full", "cpu", {1})[1] is None
    assert mtl.published("full", "cpu", {1}, rows=["single-hr"])[0] == []  # other rows than this run's
    assert mtl.published("quick", "cpu", set()) == ([], None)  # mtl-quick.json: none committed here
    assert mtl.published("full", "cuda", set()) == ([], None)  # another device's run


def test_an_incomplete_run_says_so_and_judges_nothing_final():
    payload = {"per_seed": [{"seed": 1}], "settings": {"seeds": 3}}
    line = mtl_report._seed_count(payload)
    assert line.startswith("**INCOMPLETE: 1 of the 3 seeds** (1)")
    payload["per_seed"] = [{"seed": 0}, {"seed": 1}, {"seed": 2}]
    assert mtl_report._seed_count(payload) == "3 seeds (0, 1, 2)."


def test_a_summary_of_kept_seeds_never_borrows_an_earlier_files_wall_time():
    """Stop 27 printed 'Wall time 116.1 min' from the previous results file for seeds that took ~3 h."""
    assert mtl.seed_seconds([{"wall_seconds": 60.0}, {"wall_seconds": 90.5}]) == 150.5
    assert mtl.seed_seconds([{"wall_seconds": 60.0}, {}]) is None


def _config(grouping: str, balancer: str, hr: float, af: float) -> dict:
    return {"grouping": grouping, "balancer": balancer, "val": {"val.hr.mae": hr, "val.af.auroc": af}}


def test_training_noise_compares_retrained_groups_not_repeats_of_one_run():
    """HR alone sits in two partitions; its two runs differ by 0.5 (a replicate) and a third repeats
    the first exactly (the same run again, not evidence of noise). hr+af differs by balancer: not
    replicates of each other."""
    configs = [
        _config("hr|af", "fixed", 5.0, 0.60),
        _config("hr|af", "upgrad", 5.0, 0.60),  # singletons: the balancer does nothing, an exact repeat
        _config("af|hr", "fixed", 5.5, 0.64),
        _config("hr+af", "fixed", 6.0, 0.70),
        _config("hr+af", "upgrad", 7.0, 0.50),
    ]
    noise = tune_report.training_noise([{"sweep": {"configs": configs}}])
    assert noise["hr"]["replicate_pairs"] == 1
    assert noise["hr"]["replicate_median_abs_diff"] == pytest.approx(0.5)
    assert noise["af"]["replicate_median_abs_diff"] == pytest.approx(0.04)
    assert noise["hr"]["config_iqr"] == pytest.approx(1.0)  # 5.0 5.0 5.5 6.0 7.0: 6.0 - 5.0
    line = "\n".join(tune_report._noise_lines(noise))
    assert "hr 0.500 (max 0.500; IQR over configurations 1.000)" in line


def test_the_training_benchmarks_never_load_the_code_left_out_of_model_code():
    """same_model_code ignores ppg_models/ingest and ppg_models/importers: honest only while the
    benchmarks that keep seeds never import them (checked in a fresh interpreter)."""
    bench = Path(__file__).resolve().parents[2] / "benchmarks"
    probe = (
        f"import sys; sys.path.insert(0, {str(bench)!r}); import mtl, tune; "
        "print(sorted(m for m in sys.modules if m.startswith(('ppg_models.ingest', 'ppg_models.importers'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
