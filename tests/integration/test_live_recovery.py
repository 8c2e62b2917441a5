"""The live app's tables after it or the broker restarts: recovery reads the changelog from its first
readable record to its last, whatever the broker's ListOffsets says, and the windows then equal the
recomputation from the event stores (tests/integration/test_live.py).

Seen before: after two clean restarts `/windows` counted 26 of 63 events (recovery began at Tansu's
ListOffsets(earliest), offset 81 of 82, while 0-81 were readable); after a SIGKILL, recovery waited
11 minutes for offsets past the last readable record.
"""

from __future__ import annotations

import threading

import pytest

from chaos.driver import CaseDriver, Outcome, drive_many
from demo.api import Api as DemoApi
from infra.stack import LIVE, SERVICES, Stack
from tests.integration.conftest import wait_for
from tests.integration.test_live import assert_equal_to_the_stores, progress

pytestmark = pytest.mark.integration


def drive(stack: Stack, tokens: dict[str, str], n: int) -> None:
    api = DemoApi({s: stack.url(s) for s in SERVICES}, tokens)
    outcomes: list[Outcome] = []
    try:
        driver = threading.Thread(target=lambda: outcomes.extend(drive_many(CaseDriver(api), n, threads=2)))
        driver.start()
        driver.join(timeout=600)
    finally:
        api.close()
    assert len(outcomes) == n and all(o.finished for o in outcomes), [o.error for o in outcomes if o.error]


def ready(stack: Stack) -> bool:
    p = progress(stack)
    return bool(p and p["ready"])


def test_the_live_windows_survive_two_clean_restarts(stack: Stack, db_url: str, tokens: dict[str, str]):
    stack.wait_ready()
    drive(stack, tokens, 4)
    assert_equal_to_the_stores(stack, db_url)
    for _ in range(2):
        stack.supervisor.stop(LIVE)
        stack.supervisor.start(LIVE)
        wait_for(lambda: ready(stack), 120, "the restarted live app to be ready")
        assert_equal_to_the_stores(stack, db_url)
        drive(stack, tokens, 2)  # the next restart has changelog writes of this run to recover


def test_the_live_windows_survive_a_broker_kill(stack: Stack, db_url: str, tokens: dict[str, str]):
    stack.wait_ready()
    drive(stack, tokens, 3)
    old = stack.kill("broker")
    stack.wait_restarted("broker", old, timeout=60)
    drive(stack, tokens, 3)
    # And the app restarted after the broker's: its tables come back from the changelog the
    # restarted broker serves.
    stack.supervisor.stop(LIVE)
    stack.supervisor.start(LIVE)
    wait_for(lambda: ready(stack), 120, "the restarted live app to be ready")
    assert_equal_to_the_stores(stack, db_url)


def test_the_live_app_publishes_an_openapi_that_describes_its_windows(stack: Stack, db_url: str):
    import httpx

    stack.wait_ready()
    spec = httpx.get(stack.url(LIVE) + "/openapi.json", timeout=10).json()
    assert spec["openapi"].startswith("3.") and {"/windows", "/progress", "/readyz", "/metrics"} <= set(spec["paths"])
    windows = httpx.get(stack.url(LIVE) + "/windows", timeout=10).json()
    schema = spec["components"]["schemas"]["Windows"]
    assert set(schema["required"]) <= set(windows)
    for hour in windows["hours"][:5]:
        assert set(hour) == set(schema["properties"]["hours"]["items"]["properties"])
