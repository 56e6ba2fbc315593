"""DESIGN.md's import rules: which package may import which, checked on the source tree."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = {"ppg_models", "registry", "flows", "dashboard"}
FORBIDDEN = {
    "ppg_models": {
        "mlflow",
        "prefect",
        "ray",
        "streamlit",
        "great_expectations",
        "registry",
        "flows",
        "dashboard",
    },
    "registry": {"prefect", "ray", "streamlit", "great_expectations", "flows", "dashboard"},
    "dashboard": {"flows", "prefect", "ray", "great_expectations", "mlflow", "sqlalchemy"},
    "flows": {"streamlit", "dashboard", "mlflow", "sqlalchemy"},  # MLflow I/O goes through registry
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


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_it_may(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has Python files"
    offences = [
        f"{f.relative_to(ROOT)} imports {name}"
        for f in files
        for name in sorted(_imports(f) & FORBIDDEN[package])
    ]
    assert offences == []


def test_infra_holds_no_importable_python():
    assert not list((ROOT / "infra").rglob("*.py"))
