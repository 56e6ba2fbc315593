"""The production configuration for real: an MLflow tracking server on PostgreSQL, the registry database
on PostgreSQL, and train -> register -> gate -> approve -> rollback over HTTP, including races."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from registry_world import LENIENT, assert_consistent, race
from servers import mlflow_server as running_mlflow

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.mark.postgres
def test_fresh_database_through_sqlalchemy_and_psycopg3(postgres_database):
    engine = sa.create_engine(postgres_database)
    assert engine.dialect.driver == "psycopg"  # SQLAlchemy 2.1 reads postgresql:// as psycopg 3
    with engine.begin() as conn:
        conn.execute(sa.text("create table probe (id int primary key, note text)"))
        conn.execute(sa.text("insert into probe values (1, 'ppg')"))
        assert conn.execute(sa.text("select note from probe")).scalar_one() == "ppg"
        version = conn.execute(sa.text("show server_version_num")).scalar_one()
    assert int(version) >= 130000
    engine.dispose()


@pytest.fixture
def mlflow_server(postgres_database, tmp_path):
    with running_mlflow(postgres_database, tmp_path) as url:
        yield url, postgres_database


def test_train_register_gate_approve_rollback_over_http_with_races(mlflow_server, world, monkeypatch):
    url, database = mlflow_server
    monkeypatch.setenv("PPG_HOME", str(world.home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("PPG_REGISTRY_DB", database)

    from registry import policies
    from registry.gates.policy import GatePolicy
    from registry.promotion import PromotionError, approve, rollback
    from registry.registration import register_run
    from registry.tracking import alias_version, client
    from registry.users import add_user, authenticate
    from registry.versions import load_model, resolve

    assert client().tracking_uri == url
    add_user("root", "admin", "root-password", None)
    root = authenticate("root", "root-password")
    for name, role in (("tina", "trainer"), ("alex", "approver"), ("ana", "approver")):
        add_user(name, role, f"{name}-password-1", root)
    tina, alex, ana = (authenticate(n, f"{n}-password-1") for n in ("tina", "alex", "ana"))
    policies.activate(GatePolicy.from_dict(LENIENT), root, "integration test on PostgreSQL")

    def register(balancer: str):
        run, config = world.runs[balancer]
        return register_run(run, config, tina)

    first = register("pcgrad")
    assert first.status == "challenger"
    assert resolve(first.version).source.startswith("runs:/") or "models:/" in resolve(first.version).source
    run = client().get_run(resolve(first.version).run_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:"), "artifacts travel over HTTP"
    approve(first.version, alex)
    model, mv = load_model("champion")  # downloaded over HTTP, hash-checked
    assert mv.version == first.version
    assert model.tasks

    results, errors = race((register, "pcgrad"), (register, "famo"))
    assert not errors, errors
    racing = sorted(r.version for r in results)
    assert all(r.champion == first.version for r in results), "both judged against the champion"
    results, errors = race(*[(approve, v, who) for v, who in zip(racing, (alex, ana), strict=True)])
    assert len(results) == 1, "exactly one racing approval wins"
    assert len(errors) == 1
    assert isinstance(errors[0], PromotionError)
    winner = alias_version(client(), "champion")
    assert winner in racing
    after = rollback(alex, "field report")
    assert after["champion"] == first.version
    assert resolve(winner).tags["ppg.status"] == "rolled-back"
    assert_consistent()
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert {"ppg_users", "ppg_audit", "ppg_champions", "registered_models", "model_versions"} <= tables
    _trust_attacks(database, racing, {"root": root, "alex": alex, "ana": ana}, monkeypatch)


def _trust_attacks(database: str, versions: list[str], people: dict, monkeypatch) -> None:
    """The trust-chain attacks of the SQLite tests, on MLflow over HTTP and the registry on PostgreSQL."""
    import psycopg

    from registry import audit, policies, settings
    from registry.aliases import MirrorError
    from registry.integrity import problems
    from registry.promotion import PromotionError, approve, reject, restore_mirror
    from registry.tracking import client
    from registry.users import AuthError, User, add_user

    loser = next(v for v in versions if client().get_model_version(settings.model_name(), v).tags.get(
        "ppg.status") == "challenger")  # fmt: skip
    reject(loser, people["alex"], "attack test: rejected")
    with pytest.raises(AuthError, match="no valid login session"):
        approve(loser, User("ghost", "approver"))
    for key, value in {"ppg.status": "challenger", "ppg.gate.outcome": "pass"}.items():
        client().set_model_version_tag(settings.model_name(), loser, key, value)  # forged over HTTP
    with pytest.raises(MirrorError, match=r"ppg\.status is 'challenger' but the registry decided 'rejected'"):
        approve(loser, people["ana"])
    assert any("ppg.status" in p for p in problems())
    restore_mirror(people["root"], "attack test: tags forged")
    with pytest.raises(PromotionError, match="can never be promoted"):
        approve(loser, people["ana"])
    assert problems() == []
    with psycopg.connect(database, autocommit=True) as conn:  # the application's own connection rights
        for statement in ("UPDATE ppg_audit_anchor SET hash = 'x'", "DELETE FROM ppg_audit_anchor",
                          "TRUNCATE ppg_audit_anchor"):  # fmt: skip
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
        last = conn.execute("SELECT max(seq) FROM ppg_audit").fetchone()[0]
        conn.execute("DELETE FROM ppg_audit WHERE seq = %s", (last,))  # truncate the log's newest entry
    assert f"entry {last} is anchored but missing from the log (truncated or deleted)" in problems()
    with pytest.raises(audit.AuditIntegrityError, match="anchor remembers later entries"):
        reject(versions[0], people["alex"], "would hide the truncation")
    empty = f"ppg_empty_{last}_{os.getpid()}"
    admin_url = database.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{empty}"')
    try:
        monkeypatch.setenv("PPG_REGISTRY_DB", database.rsplit("/", 1)[0] + f"/{empty}")
        with pytest.raises(AuthError, match="refusing to create a first admin"):
            add_user("mallory", "admin", "mallory-password", None)
        monkeypatch.setenv("PPG_GATE_POLICY", "/tmp/anything-goes.yaml")
        with pytest.raises(Exception, match="PPG_GATE_POLICY is not read"):
            policies.current()
    finally:
        from registry.db import engine

        engine().dispose()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)')
