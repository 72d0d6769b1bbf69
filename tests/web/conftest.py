"""Fixtures of the browser tests: the real app served by uvicorn (``live_server``),
Debian's chromium driven by Playwright, one user per role, and screenshots of every page
under test-artifacts/web/.

The browser tests skip (with the reason) only when /usr/bin/chromium is not installed;
``.ci/run`` installs it. Playwright never downloads a browser here: it drives the system
one through ``executable_path``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from duban.config import Settings
from duban.web import sessions
from tests.factories.accounts import PASSWORD
from tests.factories.world import World

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
EXPECTED_REFUSAL = re.compile(r"Failed to load resource: .* status of (401|403|409|422)\b")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, once per test session."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright  # in the test extra: missing is an error

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


class Shots:
    """Screenshots of a test, numbered in the order taken."""

    def __init__(self, name: str) -> None:
        self.dir = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.count = 0

    def take(self, page: Any, label: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.dir / f"{self.count:02d}-{label}.png"), full_page=True)


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


class Browse:
    """Opens browser contexts on the test server, signed in as a world user or not.

    ``signed_in`` goes through the sign-in form when asked to; otherwise it hands the
    browser a session cookie made with the app's own signing code (an Argon2 check per
    sign-in costs most of a second here, and the form itself is tested on its own).
    """

    def __init__(self, browser: Any, base: str, world: World, secret: str) -> None:
        self.browser = browser
        self.base = base
        self.world = world
        self.secret = secret
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    def context(self, *, phone: bool = False, **extra: Any) -> Any:
        options = {**(PHONE if phone else DESKTOP), "locale": "zh-CN", **extra}
        ctx = self.browser.new_context(base_url=self.base, **options)
        ctx.set_default_timeout(10_000)
        self.contexts.append(ctx)
        return ctx

    def page(self, *, phone: bool = False, **extra: Any) -> Any:
        page = self.context(phone=phone, **extra).new_page()
        page.on("pageerror", lambda err: self.errors.append(str(err)))
        page.on("console", self._console)
        return page

    def _console(self, msg: Any) -> None:
        # A refused form answers 401/403/409/422 on purpose; anything else (a missing
        # asset, a Content-Security-Policy violation, a script error) fails the test.
        if msg.type == "error" and not EXPECTED_REFUSAL.search(msg.text):
            self.errors.append(msg.text)

    def signed_in(self, username: str, *, phone: bool = False, via_form: bool = False) -> Any:
        page = self.page(phone=phone)
        if via_form:
            page.goto("/login")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_load_state()
            assert "/login" not in page.url, f"{username} could not sign in"
            return page
        user = self.world.users[username]
        now = int(self.world.clock.now().timestamp())
        session = sessions.WebSession.fresh(now=now).signed_in(
            user.id, sessions.user_fingerprint(user.password_hash), now
        )
        page.context.add_cookies(
            [
                {
                    "name": sessions.COOKIE_NAME,
                    "value": sessions.encode(session, self.secret),
                    "url": self.base,
                }
            ]
        )
        page.goto("/")
        return page

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


@pytest.fixture
def browse(browser: Any, live_server: str, world: World, settings: Settings) -> Iterator[Browse]:
    assert settings.secret_key is not None
    b = Browse(browser, live_server, world, settings.secret_key)
    yield b
    b.close()
    assert not b.errors, f"JavaScript errors on the pages: {b.errors}"
