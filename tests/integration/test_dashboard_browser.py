"""The dashboard in a real browser: `ppg dashboard` serving a registry with versions, Debian's Chromium
driven by Playwright (the system browser; Playwright's own download does not work offline). It clicks
through compare -> sign in -> approve -> audit and saves a screenshot of each step as a test artifact
(``PPG_TEST_ARTIFACTS``, default ``test-artifacts/``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from chromium import chromium_path

from registry.promotion import approve
from registry.registration import register_run

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip


@pytest.fixture(autouse=True)
def ppg_home(registry_home):
    return registry_home


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(world, people):
    """v1 champion (tina's, approved by alex), v2 challenger (tina's); the dashboard served on them."""
    run, config = world.runs["pcgrad"]
    approve(register_run(run, config, people["tina"]).version, people["alex"])
    run, config = world.runs["famo"]
    assert register_run(run, config, people["tina"]).status == "challenger"
    port = _free_port()
    command = [str(Path(sys.executable).parent / "ppg"), "dashboard", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the dashboard did not start: {server.stdout.read()}") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        with socket.socket() as probe:  # stopping `ppg dashboard` stops the server itself
            assert probe.connect_ex(("127.0.0.1", port)) != 0, "the Streamlit server outlived ppg dashboard"


@pytest.fixture
def artifacts() -> Path:
    out = Path(os.environ.get("PPG_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "dashboard-browser"
    out.mkdir(parents=True, exist_ok=True)
    return out


def settle(page) -> None:
    """Wait until the script run ends (Streamlit's running indicator gone) and charts have drawn."""
    page.wait_for_timeout(500)
    page.wait_for_selector("[data-testid=stStatusWidget]", state="detached", timeout=90_000)
    page.wait_for_timeout(1500)


def test_compare_then_approve_in_a_real_browser(served, artifacts):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.set_default_timeout(90_000)
        expect.set_options(timeout=90_000)  # the first page load imports MLflow and scores the evidence

        page.goto(f"{served}/?page=Models")
        expect(page.get_by_role("heading", name="Compare versions")).to_be_visible()
        expect(page.get_by_text("v1 (champion): gate evidence")).to_be_visible()
        expect(page.get_by_text("Value [95% interval, bootstrap over subjects")).to_be_visible()
        expect(page.locator("[data-testid=stDataFrame]").nth(1)).to_be_visible()  # the metrics table
        settle(page)
        page.screenshot(path=artifacts / "1-models-compare.png", full_page=True)
        page.get_by_text("Agreement", exact=True).click()
        expect(page.locator("[data-testid=stVegaLiteChart]:visible").first).to_be_visible()
        settle(page)
        page.screenshot(path=artifacts / "2-agreement.png", full_page=True)

        page.get_by_text("Verdicts", exact=True).click()
        expect(page.locator("[data-testid=stAlert]", has_text="version 2: gate pass")).to_be_visible()
        settle(page)
        page.screenshot(path=artifacts / "3-verdicts.png", full_page=True)

        page.get_by_text("Approvals", exact=True).click()
        expect(page.get_by_text("Sign in (sidebar) as an approver")).to_be_visible()
        page.get_by_role("textbox", name="User").fill("alex")
        page.get_by_role("textbox", name="Password").fill("wrong-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("wrong user name or password for 'alex'")).to_be_visible()
        page.get_by_role("textbox", name="User").fill("ana")
        page.get_by_role("textbox", name="Password").fill("ana-password-")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Signed in as")).to_be_visible()
        page.get_by_role("button", name="Approve v2").click()
        expect(page.get_by_text("Approving v2 done. Champion: v2")).to_be_visible()
        settle(page)
        page.screenshot(path=artifacts / "4-approved.png", full_page=True)

        page.get_by_text("Audit", exact=True).click()
        expect(page.get_by_text("Verified: the chain, its anchors")).to_be_visible()
        settle(page)
        page.screenshot(path=artifacts / "5-audit.png", full_page=True)
        browser.close()

    from registry.promotion import decided_aliases

    assert decided_aliases()["champion"] == "2"  # the click reached the registry
    assert sorted(p.name for p in artifacts.glob("*.png"))[:5] == [
        "1-models-compare.png", "2-agreement.png", "3-verdicts.png", "4-approved.png", "5-audit.png"
    ]  # fmt: skip
