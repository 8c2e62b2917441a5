"""An error line means something is wrong: a healthy stack, started fresh and taking a case from
opening to the fee credit, writes no ERROR, CRIT, traceback or error of its servers to its logs."""

from __future__ import annotations

import re

import pytest

from tests.integration.conftest import (
    BOOKING,
    LOGS_AT_START,
    RUN_DIR,
    Api,
    delivered_case,
    wait_for,
    wait_until_projected,
)

# Python's and supervisord's levels, PostgreSQL's, and glog's (SeaweedFS: E1207 12:00:00.000 ...).
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL|CRIT|FATAL|PANIC)\b|Traceback \(most recent call last\)"
                        r"|^[EF]\d{4} \d\d:\d\d:\d\d")


def sizes() -> dict[str, int]:
    return {p.name: p.stat().st_size for p in (RUN_DIR / "logs").glob("*.log")}


def error_lines(since: dict[str, int], until: dict[str, int] | None = None) -> list[str]:
    found = []
    for path in sorted((RUN_DIR / "logs").glob("*.log")):
        with path.open("rb") as f:
            f.seek(since.get(path.name, 0))
            chunk = f.read(None if until is None else max(0, until.get(path.name, 0) - since.get(path.name, 0)))
        found += [f"{path.name}: {line[:300]}" for line in chunk.decode(errors="replace").splitlines()
                  if ERROR_LINE.search(line)]
    return found


def test_a_fresh_stack_starts_without_an_error_line(stack):
    if not LOGS_AT_START:
        pytest.skip("the stack's run directory was not made anew (DATABASE_URL set): its logs hold older runs")
    assert error_lines({}, LOGS_AT_START) == []


def test_a_case_from_opening_to_the_fee_credit_writes_no_error_line(api: Api, db):
    before = sizes()
    case_id = delivered_case(api)
    r = api.call("intake", "POST", f"/cases/{case_id}/treatment-booking", json=BOOKING)
    assert r.status_code == 201, r.text
    wait_for(lambda: api.call("billing", "GET", f"/cases/{case_id}/account", token="BILLING_TOKEN")
             .json().get("fee_credit_cents"), 45, "the fee credit")
    wait_until_projected(db)
    assert error_lines(before) == []
