"""The gate policy in force: ``PPG_GATE_POLICY`` (a YAML path), else ``PPG_HOME/registry/gate-policy.yaml``
if present, else the built-in clinical defaults. Verdicts and approvals always use this one policy, so
an approval can never be judged under a policy the caller picked.
"""

from __future__ import annotations

import os
from pathlib import Path

from ppg_models.home import home_path
from registry.gates.policy import GatePolicy


def policy_path() -> Path | None:
    env = os.environ.get("PPG_GATE_POLICY")
    if env:
        return Path(env)
    local = home_path("registry") / "gate-policy.yaml"
    return local if local.is_file() else None


def current_policy() -> tuple[GatePolicy, str]:
    """The policy and where it came from (a path, or "built-in defaults")."""
    path = policy_path()
    if path is None:
        return GatePolicy(), "built-in defaults"
    return GatePolicy.from_yaml(path), str(path)
