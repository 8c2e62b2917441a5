from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from services.common.dependencies import event_time
from services.common.errors import InvalidInput

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def runtime(simulated: bool) -> Any:
    return SimpleNamespace(settings=SimpleNamespace(simulated_time=simulated), store=SimpleNamespace(clock=lambda: NOW))


def test_without_simulated_time_the_server_clock_dates_every_fact():
    assert event_time(None, runtime(False)) == NOW
    with pytest.raises(InvalidInput) as caught:
        event_time(datetime(2026, 1, 1, tzinfo=UTC), runtime(False))
    assert caught.value.field == "occurred_at"


def test_a_simulator_may_date_facts_within_the_plausible_years():
    assert event_time(datetime(2026, 1, 1, 8, tzinfo=UTC), runtime(True)) == datetime(2026, 1, 1, 8, tzinfo=UTC)
    for bad in (datetime(9999, 12, 31, tzinfo=UTC), datetime(1999, 12, 31, 23, 59, tzinfo=UTC),
                datetime(2100, 1, 1, tzinfo=UTC), datetime(2026, 1, 1)):
        with pytest.raises(InvalidInput):
            event_time(bad, runtime(True), "now")
