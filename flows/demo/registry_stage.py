"""The registry half of `ppg demo`: two models with different balancers, registered, gated, compared.

Demo users (admin, trainer, approver) share one password: ``PPG_DEMO_PASSWORD`` when it is set, else
a random one held only in memory for this run. The demo never prints a password or writes one to a
file; a later run in the same PPG_HOME can log them in again only with ``PPG_DEMO_PASSWORD``, and
otherwise skips this stage (saying so). The relaxed demo gate policy (docs/examples/gates-demo.yaml)
is activated by demo-admin, as an audited decision, only while the built-in policy is in force. When
there is no champion yet, the demo approver approves the first model, so that the second is judged
against it (AF not degraded, paired on the same windows); the second is left for a person to approve.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from ppg_models.home import home_dir

DEMO_USERS = {"demo-admin": "admin", "demo-trainer": "trainer", "demo-approver": "approver"}
DEMO_POLICY = Path(__file__).resolve().parents[2] / "docs" / "examples" / "gates-demo.yaml"
MODELS = (("pcgrad", "af"), ("famo", None))  # (balancer, protected task)


PASSWORD_ENV = "PPG_DEMO_PASSWORD"


class DemoSkippedError(RuntimeError):
    """The registry stage cannot log the demo users in; the message says what to do."""


def demo_users() -> dict:
    """Log the demo users in, creating them on first use."""
    from registry.users import MIN_PASSWORD, AuthError, add_user, authenticate, list_users

    chosen = os.environ.get(PASSWORD_ENV)
    if chosen is not None and len(chosen) < MIN_PASSWORD:
        raise DemoSkippedError(f"{PASSWORD_ENV} is too short: at least {MIN_PASSWORD} characters")
    existing = {u["name"] for u in list_users()}
    if existing - set(DEMO_USERS):
        raise DemoSkippedError(
            "this PPG_HOME has registry users of its own; run the demo in another PPG_HOME"
        )
    if existing and chosen is None:
        raise DemoSkippedError(
            "the demo users exist from an earlier run and their password was not kept (the demo never"
            f" stores one); set {PASSWORD_ENV} to the password chosen then, or use a fresh PPG_HOME"
        )
    password = chosen or secrets.token_urlsafe(18)
    admin = None
    try:
        for name, role in DEMO_USERS.items():
            if name not in existing:
                add_user(name, role, password, admin)
            if role == "admin":
                admin = authenticate(name, password)
        return {name: authenticate(name, password) for name in DEMO_USERS}
    except AuthError as exc:
        raise DemoSkippedError(f"the demo users could not log in: {exc} (check {PASSWORD_ENV})") from None


def activate_demo_policy(admin) -> str | None:
    """Put the relaxed demo policy in force while the built-in one is; returns its label if it did."""
    from registry import policies
    from registry.gates.policy import GatePolicy

    if policies.current().version != policies.BUILT_IN:
        return None
    reason = "ppg demo: relaxed policy for a few epochs on simulated data; never for real models"
    return policies.activate(GatePolicy.from_yaml(DEMO_POLICY), admin, reason).label


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
    from registry.promotion import approve
    from registry.registration import register_run
    from registry.tracking import alias_version, client

    try:
        users = demo_users()
    except DemoSkippedError as exc:
        say(f"   skipped: {exc}")
        return {"skipped": str(exc)}
    label = activate_demo_policy(users["demo-admin"])
    if label:
        say(f"   demo-admin activated the demo gate {label} (relaxed: never use it for real models)")
    results, tests = [], {}
    for index, (balancer, protected) in enumerate(MODELS):
        name = f"{balancer}" + (f", {protected} protected" if protected else "")
        say(f"   training ({name}, {epochs} epochs) on {dataset}, registering as demo-trainer")
        run, config = _train(dataset, balancer, protected, epochs, seed)
        result = register_run(run, config, users["demo-trainer"])
        results.append(result)
        tests[result.version] = _metrics(run.report)
        for line in result.summary_lines():
            say(line)
        first_champion = index == 0 and alias_version(client(), "champion") is None
        if first_champion and result.status == "challenger":  # the last model is left for a person
            approve(result.version, users["demo-approver"])
            say(f"   no champion yet: demo-approver approved v{result.version} as the first champion")
    return {
        "versions": [r.version for r in results],
        "statuses": [r.status for r in results],
        "verdicts": [r.verdict.to_dict() for r in results],
        "test": tests,
        "password_kept": PASSWORD_ENV in os.environ,
    }


def _metrics(report) -> dict[str, dict[str, float]]:
    return {t: {m: iv.value for m, iv in r.metrics.items()} for t, r in report.tasks.items()}


def approval_hint(stage: dict[str, Any]) -> list[str]:
    """What the demo prints last: how a person approves the challenger, or why there is none."""
    second, status = stage["versions"][1], stage["statuses"][1]
    if status != "challenger":
        return [
            f"v{second} is {status}: it cannot be approved (reasons above; `ppg gate {second} --user NAME`"
            " re-judges it)"
        ]
    command = f'  PPG_PASSWORD="${PASSWORD_ENV}" .venv/bin/ppg approve {second} --user demo-approver'
    if stage["password_kept"]:
        return [
            f"v{second} is the challenger, approval pending. A person who did not train it approves it:",
            command,
        ]
    return [
        f"v{second} is the challenger, approval pending. The demo users' password was random and was",
        "not kept (the demo never prints or stores passwords). To approve as a person, run the demo in a",
        f"fresh PPG_HOME with {PASSWORD_ENV} set to a password of your choice, then:",
        command,
    ]
