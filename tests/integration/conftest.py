"""Fixtures of the registry test modules (a lake with two trained runs, fresh stores, logged-in people)."""

from registry_world import mlflow_template, people, registry_home, world  # noqa: F401 (fixtures, used by name)
