"""Approvals: approve, reject with a reason, roll back. The page only collects the request; the registry
decides (four eyes, a passing verdict under the policy in force, against the current champion, the
signed-in session and role) and its refusal is shown word for word."""

from __future__ import annotations

import streamlit as st

from dashboard import fmt, reads, session
from registry.promotion import PromotionError, approve, reject, rollback
from registry.users import AuthError
from registry.versions import VersionNotFoundError

REFUSALS = (PromotionError, AuthError, VersionNotFoundError, RuntimeError)


def _act(label: str, fn, *args) -> None:
    try:
        after = fn(*args)
    except REFUSALS as exc:  # the registry's refusal, shown as it words it
        st.session_state["last_action"] = ("error", f"{label} refused: {exc}")
    else:
        reads.refresh()
        champion, challenger = after.get("champion"), after.get("challenger")
        st.session_state["last_action"] = (
            "success",
            f"{label} done. Champion: {'v' + champion if champion else 'none'};"
            f" challenger: {'v' + challenger if challenger else 'none'}. Recorded in the audit log.",
        )


def _show_last() -> None:
    kind, message = st.session_state.pop("last_action", (None, None))
    if kind == "error":
        st.error(message)
    elif kind == "success":
        st.success(message)


def _pending(requests: list[dict]) -> None:
    """The retraining runs waiting for a decision: approving or rejecting the version below resolves
    the run's request (it reads the registry every ``approval_poll_s`` seconds)."""
    if not requests:
        st.markdown("**Pending retraining requests:** none; no retraining run waits for a decision.")
        return
    st.markdown(f"**Pending retraining requests:** {len(requests)}. A decision below resolves the request;")
    st.caption("the waiting run reads the registry every `approval_poll_s` seconds and ends with it.")
    st.dataframe(
        [
            {
                "version": f"v{r['version']}",
                "flow run": r["flow_run"],
                "requested at": r["requested_at"],
                "waits (h)": round(r["timeout_s"] / 3600, 2) if r["timeout_s"] else None,
            }
            for r in requests
        ],
        hide_index=True,
    )


def render() -> None:
    place = reads.where()
    st.header("Approvals")
    _show_last()
    rows = reads.versions(place)
    aliases = reads.aliases(place)
    user = session.current()
    st.markdown(
        "Rules, enforced by the registry: an approver or admin decides; nobody approves a version they or an"
        " account in their line of creation trained; only a version whose gate passed under the policy in"
        " force, against the current champion, can be approved; rejected versions never serve again."
    )
    _pending(reads.pending_requests(place))
    if user is None:
        st.info("Sign in (sidebar) as an approver to approve, reject or roll back.")
        return
    if rows.empty:
        st.info("No registered versions yet.")
        return
    challengers = rows[rows["status"] == "challenger"]
    promotable = rows[~rows["status"].isin(["champion", "rejected", "rejected-by-gate"])]
    order = [
        *challengers["version"],
        *[v for v in promotable["version"] if v not in set(challengers["version"])],
    ]
    words = dict(zip(rows["version"], rows["status"], strict=True))
    label = {v: f"v{v} — {fmt.STATUS_WORDS.get(words[v], words[v])}" for v in rows["version"]}

    st.subheader("Approve")
    if order:
        v = st.selectbox(
            "Version to promote to champion", order, format_func=label.get, key="approve_version"
        )
        if st.button(f"Approve v{v}", type="primary", key="approve"):
            _act(f"Approving v{v}", approve, str(v), user)
            st.rerun()
    else:
        st.caption("No version can be promoted now.")

    st.subheader("Reject")
    rejectable = [v for v in rows["version"] if words[v] not in ("rejected",)]
    if rejectable:
        v = st.selectbox(
            "Version to reject for good", rejectable, format_func=label.get, key="reject_version"
        )
        reason = st.text_input("Reason (required, recorded in the audit log)", key="reject_reason")
        if st.button(f"Reject v{v}", key="reject"):
            _act(f"Rejecting v{v}", reject, str(v), user, reason)
            st.rerun()

    st.subheader("Roll back")
    champion = aliases.get("champion")
    st.caption(f"Champion now: {'v' + champion if champion else 'none'}. Rolling back puts back the previous"
               " champion that may still serve (never a rejected one).")  # fmt: skip
    reason = st.text_input("Reason for the rollback", key="rollback_reason")
    if st.button("Roll back the champion", key="rollback"):
        _act("Rollback", rollback, user, reason)
        st.rerun()
