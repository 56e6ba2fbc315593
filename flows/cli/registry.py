"""`ppg users|policy|gate|approve|reject|rollback|audit|models`: the registry on the command line.

Acting users log in with ``--user NAME``; the password comes from ``PPG_PASSWORD``, one line of
standard input, or a hidden prompt (flows/credentials.py). Thin wrappers over ``registry``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.credentials import login, read_password
from flows.cli.options import JsonOpt, UserOpt
from flows.cli.output import fail, print_json, stdout


def _guard(fn, *args, **kwargs):
    """Run a registry call; its refusals become one clear error line and a non-zero exit."""
    from ppg_models.lake.dataset import DatasetError
    from registry.aliases import MirrorError
    from registry.gates.policy import GatePolicyError
    from registry.promotion import PromotionError
    from registry.tracking import TrackingError
    from registry.users import AuthError
    from registry.versions import VersionNotFoundError

    try:
        return fn(*args, **kwargs)
    except AuthError as exc:
        raise fail(str(exc), 4) from None
    except MirrorError as exc:
        raise fail(str(exc), 5) from None
    except (PromotionError, VersionNotFoundError, GatePolicyError, DatasetError, ValueError) as exc:
        raise fail(str(exc), 3) from None
    except TrackingError as exc:
        from registry.settings import tracking_uri

        first = str(exc.message).strip().splitlines()[0][:300] if str(exc.message).strip() else "error"
        raise fail(f"MLflow at {tracking_uri()}: {first}", 1) from None


def _registry_here() -> None:
    """Refuse a read when there is no registry at all (a wrong PPG_HOME), instead of creating one."""
    from registry.settings import missing_registry

    problem = missing_registry()
    if problem:
        raise fail(problem, 2)


def users_add(
    name: Annotated[str, typer.Argument(help="New user name (a-z, 0-9, . _ -).")],
    role: Annotated[str, typer.Option(help="trainer | approver | admin")],
    admin: Annotated[str | None, typer.Option(help="Admin adding the user (not for the first).")] = None,
) -> None:
    """Add a user. The new password: PPG_NEW_PASSWORD, else the first line of stdin, else a prompt."""
    from registry.users import add_user

    new = read_password(name, "new password", env="PPG_NEW_PASSWORD")
    acting = _guard(login, admin) if admin else None
    user = _guard(add_user, name, role, new, acting)
    stdout.print(f"added {user.name} ({user.role})")


def users_set_role(
    name: Annotated[str, typer.Argument(help="The user whose role changes.")],
    role: Annotated[str, typer.Option(help="trainer | approver | admin")],
    admin: Annotated[str, typer.Option(help="Admin making the change (not the user themself).")],
) -> None:
    """Change a user's role (an audited decision by another admin)."""
    from registry.users import set_role

    acting = _guard(login, admin)
    _guard(set_role, name, role, acting)
    stdout.print(f"{name} is now {role} (changed by {acting.name})")


def users_list(json_out: JsonOpt = False) -> None:
    """List users and their roles (never their password hashes)."""
    from registry.users import list_users

    rows = list_users()
    if json_out:
        print_json(rows)
        return
    for r in rows:
        stdout.print(f"{r['name']:20} {r['role']:9} added {r['created_at']} by {r['created_by']}")


def policy_show(
    version: Annotated[int | None, typer.Option(help="A stored version (default: the one in force).")] = None,
) -> None:
    """Print a gate policy as YAML, headed by its version, hash and who activated it."""
    import yaml

    from registry import policies

    found = _guard(policies.get, version) if version is not None else _guard(policies.current)
    stdout.print(f"# {found.label}; sha256 {found.sha256}", highlight=False, markup=False)
    if found.reason:
        stdout.print(f"# reason: {found.reason}", highlight=False, markup=False)
    stdout.print(yaml.safe_dump(found.policy.model_dump(mode="json"), sort_keys=False), highlight=False)


def policy_list(json_out: JsonOpt = False) -> None:
    """Every gate policy version; the last one is in force."""
    from registry import policies

    rows = [
        {"version": p.version, "sha256": p.sha256, "activated_by": p.activated_by,
         "activated_at": p.activated_at, "reason": p.reason}
        for p in _guard(policies.history)
    ]  # fmt: skip
    if json_out:
        print_json(rows)
        return
    for r in rows:
        who = f"by {r['activated_by']} at {r['activated_at']}: {r['reason']}" if r["version"] else "built in"
        stdout.print(f"v{r['version']:<3} {r['sha256'][:12]}  {who}", highlight=False, markup=False)


def policy_activate(
    file: Annotated[Path, typer.Argument(help="Gate policy YAML (docs/registry.md).")],
    user: UserOpt,
    reason: Annotated[str, typer.Option(help="Why, in words the audit log keeps.")],
) -> None:
    """Store a gate policy as the next version and put it in force (admins; audited)."""
    from registry import policies
    from registry.gates.policy import GatePolicy

    policy = _guard(GatePolicy.from_yaml, file)
    acting = _guard(login, user)
    stored = _guard(policies.activate, policy, acting, reason)
    stdout.print(f"{stored.label} is in force; versions judged before must be re-judged", highlight=False)


def gate_cmd(
    version: Annotated[str, typer.Argument(help="Version number, or champion / challenger.")],
    user: UserOpt,
    json_out: JsonOpt = False,
) -> None:
    """Re-judge a version under the gate policy in force and against the current champion (any role)."""
    from registry.gating import gate_version

    acting = _guard(login, user)
    result = _guard(gate_version, version, acting)
    print_verdict(result, json_out)


def print_verdict(result, json_out: bool) -> None:
    if json_out:
        print_json(
            {"version": result.version, "status": result.status, "policy": result.policy}
            | result.verdict.to_dict()
        )
        return
    for line in result.summary_lines():
        stdout.print(line, highlight=False, markup=False)


def approve_cmd(version: Annotated[str, typer.Argument()], user: UserOpt) -> None:
    """Promote a challenger to champion (an approver who did not train it; a passing current verdict)."""
    from registry.promotion import approve

    acting = _guard(login, user)
    after = _guard(approve, version, acting)
    stdout.print(f"version {version} approved by {acting.name}: champion is v{after['champion']}")


def reject_cmd(
    version: Annotated[str, typer.Argument()],
    user: UserOpt,
    reason: Annotated[str, typer.Option(help="Why, in words the audit log keeps.")],
) -> None:
    """Reject a version for good (it can never be promoted)."""
    from registry.promotion import reject

    acting = _guard(login, user)
    _guard(reject, version, acting, reason)
    stdout.print(f"version {version} rejected by {acting.name}: {reason}")


def rollback_cmd(user: UserOpt, reason: Annotated[str, typer.Option(help="Why.")] = "rollback") -> None:
    """Put the previous champion back."""
    from registry.promotion import rollback

    acting = _guard(login, user)
    after = _guard(rollback, acting, reason)
    stdout.print(f"rolled back by {acting.name}: champion is v{after['champion']}")


def audit_verify(
    expect_head: Annotated[
        str | None, typer.Option(help="A head (SEQ:HASH from `ppg audit head`) kept elsewhere earlier.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check the audit log (chain, anchors, heads, aliases continuity) and that MLflow mirrors the
    registry's decisions; exit 5 when anything was tampered with."""
    _registry_here()
    from registry import audit
    from registry.integrity import problems

    found = _guard(problems, expect_head)
    count = len(audit.entries())
    if json_out:
        print_json({"entries": count, "head": audit.head(), "ok": not found, "problems": found})
    elif found:
        for p in found:
            stdout.print(f"[red]TAMPERED[/red] {p}", highlight=False)
    else:
        stdout.print(
            f"audit log intact: {count} entries; chain, anchors, head, aliases and tags verified",
            highlight=False,
        )
    if found:
        raise typer.Exit(5)


def audit_head_cmd() -> None:
    """Print the audit log's head (SEQ:HASH): keep it outside the registry, compare with --expect-head."""
    _registry_here()
    from registry import audit

    head = audit.head()
    if head is None:
        raise fail("the audit log is empty", 2)
    print(head)


def audit_restore_aliases(
    user: UserOpt, reason: Annotated[str, typer.Option(help="Why, after checking who moved them.")]
) -> None:
    """Put MLflow's aliases and ppg.* tags back to the registry's decisions after a change (admins)."""
    from registry.promotion import restore_mirror

    acting = _guard(login, user)
    after = _guard(restore_mirror, acting, reason)
    stdout.print(
        f"aliases restored by {acting.name}: champion v{after['champion']}, challenger v{after['challenger']}"
    )


def audit_show(json_out: JsonOpt = False) -> None:
    """Print the audit log: who decided what, when, on which evidence."""
    _registry_here()
    from registry import audit

    found = audit.entries()
    if json_out:
        print_json([e.body | {"hash": e.hash, "prev_hash": e.prev_hash} for e in found])
        return
    for e in found:
        after = e.body.get("aliases_after", {})
        stdout.print(
            f"{e.seq:4} {e.at} {e.actor:12} {e.action:9} v{e.version or '-':4}"
            f" champion={after.get('champion')} challenger={after.get('challenger')}  {e.hash[:12]}",
            highlight=False,
        )


def models_list(json_out: JsonOpt = False) -> None:
    """Every registered version with its status, aliases and each task's primary metric (95% CI)."""
    _registry_here()
    from ppg_models.tasks import TASKS
    from registry.overview import fmt, list_versions

    rows = _guard(list_versions)
    if json_out:
        print_json(rows)
        return
    if not rows:
        stdout.print("no registered versions yet: `ppg train --config FILE --user NAME` registers one")
        return
    head = ["version", "alias", "status", "trained by", "dataset", "balancer"]
    head += [f"{t.name} {t.primary_metric}" for t in TASKS]
    stdout.print("| " + " | ".join(head) + " |", highlight=False, markup=False)
    stdout.print("|" + "---|" * len(head), highlight=False, markup=False)
    for r in rows:
        cells = [r["version"], r["alias"] or "", r["status"] or "", r["trained_by"] or "", r["dataset"] or ""]
        cells += [r["balancer"] or ""] + [fmt(r["primary"][t.name]) for t in TASKS]
        stdout.print("| " + " | ".join(cells) + " |", highlight=False, markup=False)


def models_compare(
    a: Annotated[str, typer.Argument(help="First version (number, champion or challenger).")],
    b: Annotated[str, typer.Argument(help="Second version.")],
    json_out: JsonOpt = False,
) -> None:
    """Per-task metrics of two versions side by side, with 95% confidence intervals."""
    from registry.overview import compare, comparison_lines

    result = _guard(compare, a, b)
    if json_out:
        print_json(result)
        return
    for line in comparison_lines(result):
        stdout.print(line, highlight=False, markup=False)
    if not result["same_windows"]:
        stdout.print(
            "note: the two versions were tested on different windows; `ppg gate` compares them paired."
        )
