"""The production database is reachable and a fresh database per test run works (later: MLflow, Prefect)."""

import pytest
import sqlalchemy as sa


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
