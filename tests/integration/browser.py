"""The browser tests' driver: Playwright (PyPI) on Debian's Chromium, keyboard first, axe-core on every page.

Playwright's own browser download cannot work here: `make test` installs Debian's
chromium-headless-shell (infra/install-chromium.sh) and Playwright launches that binary. Every
action goes through the keyboard (focus, then Enter, Space or typing), so a journey that passes is
a journey a keyboard-only person can make; file pickers are the exception (a browser opens its own
dialog there, which no page can drive). axe-core, vendored from npm beside this file, runs on every
page a journey visits: no serious or critical violation may be there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Locator, Page, sync_playwright

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core" / "axe.min.js"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium-headless-shell", "/usr/bin/chromium"):
        if candidate and shutil.which(candidate):
            return candidate
    return None


@contextmanager
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        raise RuntimeError("no Chromium: run infra/install-chromium.sh (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def press(target: Locator, key: str = "Enter") -> None:
    """Activates a link or button as a keyboard user would: focus it, press the key."""
    target.focus()
    target.press(key)


def type_into(target: Locator, text: str) -> None:
    """Types TEXT over what the field holds; typed again when a key was lost (a page still loading
    under load can drop one), so what is sent is what was meant."""
    for _ in range(3):
        target.focus()
        target.press("Control+a")
        target.press_sequentially(text)
        if target.input_value() == text:
            return
    raise AssertionError(f"typing did not fill the field: {target.input_value()!r}")


def choose(select: Locator, value: str) -> None:
    """A <select> by keyboard: focus it, then the arrow keys step to the option (a closed select
    moves its choice with them in Chromium on Linux)."""
    select.focus()
    values: list[str] = select.evaluate("(s) => Array.from(s.options, (o) => o.value)")
    steps = values.index(value) - select.evaluate("(s) => s.selectedIndex")
    for _ in range(abs(steps)):
        select.press("ArrowDown" if steps > 0 else "ArrowUp")
    assert select.input_value() == value, f"the arrow keys did not reach {value!r}"


def tick(checkbox: Locator, on: bool = True) -> None:
    checkbox.focus()
    if checkbox.is_checked() != on:
        checkbox.press("Space")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the page's CSP (no inline scripts) does not
        # govern: the policy under test stays as strict as it is in service.
        page.evaluate(AXE.read_text() + "\n;true")
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result if v["impact"] in ("serious", "critical")]


class Journey:
    """One person's browser tab; every page it lands on is checked with axe-core."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base
        self.checked: dict[str, list[dict[str, Any]]] = {}

    def check(self) -> None:
        self.page.wait_for_load_state("load")
        found = axe_violations(self.page)
        self.checked[self.page.url] = found
        assert not found, f"axe-core on {self.page.url}: {found}"

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.check()

    def sign_in(self, user: str, password: str) -> None:
        """From the console's front door through the provider's sign-in pages, by keyboard."""
        self.page.goto(self.base + "/")
        for _ in range(3):
            login = self.page.locator("input[name=login]")
            # Each Enter posts a form: wait for the page it leads to, not for the one still shown.
            if login.count():
                type_into(login, user)
                with self.page.expect_navigation():
                    login.press("Enter")
            password_box = self.page.locator("input[name=password]")
            if password_box.count():
                type_into(password_box, password)
                with self.page.expect_navigation():
                    password_box.press("Enter")
            if self.page.url.startswith(self.base):
                break
        assert self.page.url.startswith(self.base), f"the sign-in ended at {self.page.url}"
        self.check()


@contextmanager
def recorded(page: Page, name: str, where: Path) -> Iterator[None]:
    """A failed journey leaves its last page behind: a screenshot and the HTML, under where/."""
    try:
        yield
    except BaseException:
        where.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(where / f"{name}.png"), full_page=True)
            (where / f"{name}.html").write_text(page.content())
        except Exception:
            pass
        raise
