"""The registry's commands as a user runs them: passwords from the environment or stdin, exit codes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


def _ppg(*args: str, stdin: str | None = None, **env: str):
    return runner.invoke(app, list(args), input=stdin, env=env)


def test_users_passwords_and_audit_from_the_command_line():
    first = _ppg("users", "add", "root", "--role", "admin", stdin="root-password\n")
    assert first.exit_code == 0, first.output
    refused = _ppg("users", "add", "tina", "--role", "trainer", stdin="tina-password\n")
    assert refused.exit_code == 4
    assert "needs an authenticated admin" in refused.output
    wrong = _ppg(
        "users", "add", "tina", "--role", "trainer", "--admin", "root",
        PPG_PASSWORD="not-the-password", PPG_NEW_PASSWORD="tina-password",
    )  # fmt: skip
    assert wrong.exit_code == 4
    assert "wrong user name or password" in wrong.output
    added = _ppg(
        "users", "add", "tina", "--role", "trainer", "--admin", "root",
        PPG_PASSWORD="root-password", PPG_NEW_PASSWORD="tina-password",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = json.loads(_ppg("users", "list", "--json").stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("root", "admin"), ("tina", "trainer")]
    assert "password" not in json.dumps(listed)
    not_allowed = _ppg("rollback", "--user", "tina", "--reason", "x", PPG_PASSWORD="tina-password")
    assert not_allowed.exit_code == 4
    assert "may not rollback" in not_allowed.output
    missing = _ppg("approve", "7", "--user", "root", PPG_PASSWORD="root-password")
    assert missing.exit_code == 3
    assert "no version '7'" in missing.output
    assert _ppg("models", "list").exit_code == 0


def test_audit_verify_exit_codes(ppg_home):
    from registry.db import exclusive

    ppg_home.mkdir()  # a new home: an empty registry is intact (a missing home is an error, tested below)
    ok = _ppg("audit", "verify", "--json")
    assert ok.exit_code == 0
    assert json.loads(ok.stdout)["ok"]
    from registry import audit

    with exclusive() as conn:
        audit.append(conn, "alex", "approve", "1", {"verdict_sha256": "0" * 64})
        audit.append(conn, "alex", "approve", "2", {"verdict_sha256": "1" * 64})
    from sqlalchemy import update

    from registry.db import audit as table

    with exclusive() as conn:
        conn.execute(update(table).where(table.c.seq == 1).values(version="9"))
    bad = _ppg("audit", "verify")
    assert bad.exit_code == 5
    assert "TAMPERED" in bad.output
    assert "entry 1" in bad.output


def test_a_missing_ppg_home_is_an_error_and_stays_missing(tmp_path, monkeypatch):
    home = tmp_path / "nonexistent"
    monkeypatch.setenv("PPG_HOME", str(home))
    for command in (["audit", "verify"], ["audit", "show"], ["models", "list"]):
        result = _ppg(*command)
        assert result.exit_code == 2, (command, result.output)
        assert "does not exist" in result.output
    assert not home.exists(), "reading a registry never creates one"


def test_an_unreachable_mlflow_server_is_one_line_within_seconds(monkeypatch):
    import time

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    started = time.monotonic()
    result = _ppg("models", "list")
    assert time.monotonic() - started < 30
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "MLflow at http://127.0.0.1:9" in lines[0]
    assert "no registered versions" not in result.output


def test_policies_roles_and_audit_heads_from_the_command_line(tmp_path):
    import yaml
    from registry_world import LENIENT

    assert _ppg("users", "add", "root", "--role", "admin", stdin="root-password\n").exit_code == 0
    admin = {"PPG_PASSWORD": "root-password"}
    anything_goes = tmp_path / "anything-goes.yaml"
    anything_goes.write_text("tasks: {}\n")
    refused = _ppg("policy", "activate", str(anything_goes), "--user", "root", "--reason", "x", **admin)
    assert refused.exit_code == 3
    assert "'af' is safety-critical" in refused.output
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(yaml.safe_dump(LENIENT))
    ok = _ppg("policy", "activate", str(lenient), "--user", "root", "--reason", "pilot study", **admin)
    assert ok.exit_code == 0, ok.output
    assert "policy v1 (activated by root" in ok.output
    listed = json.loads(_ppg("policy", "list", "--json").stdout)
    assert [(p["version"], p["activated_by"]) for p in listed] == [(0, None), (1, "root")]
    assert _ppg("policy", "show").output.startswith("# policy v1 (activated by root")
    assert "min_subjects: 2" in _ppg("policy", "show").output
    added = _ppg(
        "users",
        "add",
        "tina",
        "--role",
        "trainer",
        "--admin",
        "root",
        PPG_NEW_PASSWORD="tina-password",
        **admin,
    )
    assert added.exit_code == 0
    assert _ppg("users", "set-role", "tina", "--role", "approver", "--admin", "root", **admin).exit_code == 0
    assert json.loads(_ppg("users", "list", "--json").stdout)[1]["role"] == "approver"
    assert _ppg("gate", "1").exit_code == 2, "re-judging needs a login (--user)"
    head = _ppg("audit", "head").stdout.strip()
    assert head.startswith("4:")  # add root, activate, add tina, set-role
    assert _ppg("audit", "verify", "--expect-head", head).exit_code == 0
    forged = _ppg("audit", "verify", "--expect-head", "4:" + "0" * 64)
    assert forged.exit_code == 5
    assert "the exported head is 4:000000000000" in forged.output
