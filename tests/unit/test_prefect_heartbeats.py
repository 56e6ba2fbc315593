"""Flow runs on the command's own temporary server send no heartbeats; a chosen setting or a server with
services keeps them."""

from __future__ import annotations

import pytest
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

from flows.prefect_env import HEARTBEAT_VARIABLES, _quiet_runs


@pytest.fixture(autouse=True)
def _unset(monkeypatch):
    for name in HEARTBEAT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_a_temporary_server_without_services_gets_no_heartbeats():
    assert _quiet_runs(services=False) == {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}


def test_a_server_with_services_keeps_them():
    assert _quiet_runs(services=True) == {}


@pytest.mark.parametrize("name", HEARTBEAT_VARIABLES)
def test_a_setting_in_the_environment_wins(monkeypatch, name):
    monkeypatch.setenv(name, "60")
    assert _quiet_runs(services=False) == {}
