"""The registry half of `ppg demo`: two models with different balancers, registered, gated, compared.

Demo users (admin, trainer, approver) get random passwords kept in ``PPG_HOME/registry/demo-credentials.json``
(mode 0600) so that a second demo run can log in again. The relaxed demo gate policy
(docs/examples/gates-demo.yaml) is installed only when the home has no gate policy of its own. When
there is no champion yet, the demo approver approves the first model, so that the second is judged
against it (AF not degraded, paired on the same windows); the second is left for a person to approve.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from ppg_models.home import home_dir

DEMO_USERS = {"demo-admin": "admin", "demo-trainer": "trainer", "demo-approver": "approver"}
DEMO_POLICY = Path(__file__).resolve().parents[2] / "docs" / "examples" / "gates-demo.yaml"
MODELS = (("pcgrad", "af"), ("famo", None))  # (balancer, protected task)


def demo_users():
    """Log the demo users in, creating them (and their credentials file) on first use."""
    from registry.users import add_user, authenticate, list_users

    path = home_dir("registry") / "demo-credentials.json"
    creds = json.loads(path.read_text()) if path.is_file() else {}
    existing = {u["name"] for u in list_users()}
    if not creds and existing - set(DEMO_USERS):
        raise RuntimeError("this PPG_HOME has registry users of its own; run the demo in another PPG_HOME")
    for name in DEMO_USERS:
        creds.setdefault(name, secrets.token_urlsafe(12))
    path.write_text(json.dumps(creds, indent=1))
    os.chmod(path, 0o600)
    admin = None
    for name, role in DEMO_USERS.items():
        if name not in existing:
            add_user(name, role, creds[name], admin)
        if role == "admin":
            admin = authenticate(name, creds[name])
    return {name: authenticate(name, creds[name]) for name in DEMO_USERS}, creds, path


def install_demo_policy() -> tuple[Path, bool]:
    target = home_dir("registry") / "gate-policy.yaml"
    if target.is_file():
        return target, False
    shutil.copyfile(DEMO_POLICY, target)
    return target, True


def _train(dataset: str, balancer: str, protected: str | None, epochs: int, seed: int):
    from ppg_models.training.config import TrainConfig
    from ppg_models.training.run import run_training

    name = f"demo-{balancer}"
    config = TrainConfig.from_dict(
        {
            "data": {"dataset": dataset},
            "balancer": {"name": balancer, "protected": protected},
            "optim": {"epochs": epochs, "batch_size": 32},
            "seed": seed,
            "name": name,
            "out_dir": str(home_dir("runs", name)),
        }
    )
    return run_training(config, resume=False), config


def registry_stage(dataset: str, epochs: int, seed: int, say) -> dict[str, Any]:
    from registry.current_policy import current_policy
    from registry.promotion import approve
    from registry.registration import register_run
    from registry.tracking import alias_version, client

    users, creds, creds_path = demo_users()
    policy_file, installed = install_demo_policy()
    policy, source = current_policy()
    if installed:
        say(f"   demo gate policy installed at {policy_file} (relaxed: never use it for real models)")
    results, tests = [], {}
    for index, (balancer, protected) in enumerate(MODELS):
        label = f"{balancer}" + (f", {protected} protected" if protected else "")
        say(f"   training ({label}, {epochs} epochs) on {dataset}, registering as demo-trainer")
        run, config = _train(dataset, balancer, protected, epochs, seed)
        result = register_run(run, config, users["demo-trainer"], policy)
        results.append(result)
        tests[result.version] = _metrics(run.report)
        for line in result.summary_lines(source):
            say(line)
        first_champion = index == 0 and alias_version(client(), "champion") is None
        if first_champion and result.status == "challenger":  # the last model is left for a person
            approve(result.version, users["demo-approver"], policy)
            say(f"   no champion yet: demo-approver approved v{result.version} as the first champion")
    return {
        "versions": [r.version for r in results],
        "statuses": [r.status for r in results],
        "verdicts": [r.verdict.to_dict() for r in results],
        "test": tests,
        "credentials_file": str(creds_path),
        "approver_password": creds["demo-approver"],
    }


def _metrics(report) -> dict[str, dict[str, float]]:
    return {t: {m: iv.value for m, iv in r.metrics.items()} for t, r in report.tasks.items()}


def approval_hint(stage: dict[str, Any]) -> list[str]:
    """What the demo prints last: the command that approves the challenger, or why there is none."""
    second, status = stage["versions"][1], stage["statuses"][1]
    if status != "challenger":
        return [
            f"v{second} is {status}: it cannot be approved (reasons above; `ppg gate {second}` re-judges it)"
        ]
    return [
        f"v{second} is the challenger, approval pending. A person who did not train it approves it with:",
        f"  .venv/bin/ppg approve {second} --user demo-approver",
        f"  (demo-approver's password: {stage['approver_password']}, kept in {stage['credentials_file']})",
    ]
