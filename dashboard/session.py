"""Signing in with the registry's users: the same salted scrypt hashes, roles and sessions as the CLI.

The page keeps only the registry's session (a ``User`` with its token); every action passes it to the
registry, which checks the session and the role inside the decision's own transaction."""

from __future__ import annotations

import streamlit as st

from registry.users import AuthError, User, authenticate

KEY = "user"


def current() -> User | None:
    return st.session_state.get(KEY)


def sign_in_box() -> None:
    user = current()
    if user is not None:
        st.markdown(f"Signed in as **{user.name}** ({user.role})")
        if st.button("Sign out"):
            del st.session_state[KEY]
            st.rerun()
        return
    with st.form("sign-in", clear_on_submit=True):
        st.markdown("**Sign in** (registry users)")
        name = st.text_input("User", key="sign_in_name")
        password = st.text_input("Password", type="password", key="sign_in_password")
        if st.form_submit_button("Sign in"):
            try:
                st.session_state[KEY] = authenticate(name.strip(), password)
                st.rerun()
            except AuthError as exc:
                st.error(str(exc))
