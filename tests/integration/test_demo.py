"""A small simulated year played against the real stack: every fact is dated by the plan."""

from __future__ import annotations

import psycopg

from demo.api import Api as DemoApi
from demo.plan import plan_year
from demo.play import play_year
from demo.progress import Patience, Pulse
from infra.stack import SERVICES, Stack


def test_a_played_year_dates_its_quotes_before_the_cases_opened_from_them(stack: Stack, db_url: str,
                                                                          tokens: dict[str, str]):
    # Reported: quotes were dated on the wall clock, so every quote-to-case gap was negative.
    year = plan_year(cases=12, seed=11)
    api = DemoApi({s: stack.url(s) for s in SERVICES}, tokens)
    pulse = Pulse.of_database(db_url)
    try:
        played = play_year(api, year, workers=3, patience=Patience(pulse, 60))
    finally:
        pulse.close()
    assert not played.quote_errors
    quoted = [r for r in played.cases if r.quote_id]
    assert quoted, "the plan has cases opened from a quote"


    with psycopg.connect(db_url) as conn:
        for r in quoted:
            row = conn.execute(
                "SELECT (SELECT occurred_at FROM billing.events WHERE stream_id = 'case-' || %s::text), "
                "(SELECT occurred_at FROM intake.events WHERE case_id = %s AND event_type = 'CaseOpened')",
                (r.quote_id, r.case_id)).fetchone()
            assert row is not None
            issued, opened = row
            assert issued.year == year.year and issued <= opened, (r.case_id, issued, opened)
