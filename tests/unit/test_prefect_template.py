"""The migrated empty Prefect database a command's own server starts from (flows/prefect_template.py)."""

from __future__ import annotations

import sqlite3

import pytest

from flows import prefect_template


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PPG_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _database(path, rows):
    with sqlite3.connect(path) as db:
        db.execute("create table alembic_version (version_num text)")
        db.executemany("insert into alembic_version values (?)", [(r,) for r in rows])


def test_only_sqlite_databases_of_a_home_are_templated(tmp_path):
    home = tmp_path / "prefect"
    assert prefect_template.server_database({"PREFECT_HOME": str(home)}) == home / "prefect.db"
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    env = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": url}
    assert prefect_template.server_database(env) == tmp_path / "x.db"
    for url in ("postgresql+asyncpg://u@127.0.0.1/prefect", "sqlite+aiosqlite:///:memory:"):
        assert prefect_template.server_database({"PREFECT_API_DATABASE_CONNECTION_URL": url}) is None


def test_the_first_new_database_becomes_the_template_and_later_ones_start_from_it(tmp_path, cache):
    first = tmp_path / "a" / "prefect.db"
    assert not prefect_template.seed(first), "no template yet: migrated from scratch"
    first.parent.mkdir()
    _database(first, ["head-1"])
    prefect_template.save(first)
    with sqlite3.connect(first) as db:
        db.execute("insert into alembic_version values ('a flow ran here')")
    prefect_template.save(first)  # an existing template is never replaced by a used database
    second = tmp_path / "b" / "prefect.db"
    assert prefect_template.seed(second)
    with sqlite3.connect(second) as db:
        assert db.execute("select version_num from alembic_version").fetchall() == [("head-1",)]
    assert not prefect_template.seed(second), "an existing database is never overwritten"
    prefect_template.forget(second)
    assert not second.exists()
    assert not prefect_template.template_path().exists()


def test_an_unwritable_cache_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("PPG_CACHE_DIR", str(blocker / "cache"))
    database = tmp_path / "prefect.db"
    _database(database, ["head-1"])
    prefect_template.save(database)
    assert not prefect_template.seed(tmp_path / "other.db")
