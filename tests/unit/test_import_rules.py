"""DESIGN.md's import rules as allow-lists: each package imports the standard library, the packages of
the platform below it and the third-party libraries listed for it, nothing else. A new third-party
import in any layer fails here until someone decides it belongs there."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = {"numpy", "pandas", "pyarrow", "pydantic", "yaml"}
ALLOWED = {
    "ppg_models": DATA | {"ppg_models", "scipy", "torch", "torchjd", "wfdb"},
    # matplotlib: the Bland-Altman and ROC evidence plots logged with each run (MLflow artifacts)
    "registry": DATA | {"registry", "ppg_models", "mlflow", "sqlalchemy", "matplotlib"},
    "flows": DATA
    | {"flows", "ppg_models", "registry", "prefect", "ray", "optuna", "great_expectations", "typer", "rich"},
    "dashboard": DATA | {"dashboard", "registry", "ppg_models", "streamlit", "altair"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def offences(package_dir: Path, allowed: set[str]) -> list[str]:
    return [
        f"{f.relative_to(package_dir.parent)} imports {name}"
        for f in sorted(package_dir.rglob("*.py"))
        for name in sorted(_imports(f) - allowed - set(sys.stdlib_module_names))
    ]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package):
    assert list((ROOT / package).rglob("*.py")), f"{package}/ has Python files"
    assert offences(ROOT / package, ALLOWED[package]) == []


def test_a_new_third_party_import_in_the_wrong_layer_is_caught(tmp_path):
    package = tmp_path / "ppg_models"
    package.mkdir()
    (package / "plots.py").write_text("import os\nimport numpy\nfrom matplotlib import pyplot\n")
    (package / "flow.py").write_text("from registry.tracking import client\n")
    assert offences(package, ALLOWED["ppg_models"]) == [
        "ppg_models/flow.py imports registry",
        "ppg_models/plots.py imports matplotlib",
    ]


def test_infra_holds_no_importable_python():
    assert not list((ROOT / "infra").rglob("*.py"))
