"""What the live app's table holds, summed for the exporter and `/windows`; business hours."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.live.fold import CENTRES, DAY, PARTIES, TRAVEL_WINDOW_DAYS, day_start


@dataclass(frozen=True)
class Views:
    """What the table holds, summed over partitions, as the exporter reports it."""

    flow_totals: dict[tuple[str, str], int]          # (centre, kind) -> count, every window
    sla_totals: dict[tuple[str, str], int]           # (centre, state) -> count
    hours: dict[tuple[str, str, int], int]           # (centre, "flow.kind"/"sla.state", hour start) -> count
    days: dict[tuple[str, str, int], int]            # (centre, decided/travelled, day start) -> count
    waiting: dict[str, tuple[int, float | None]]     # party -> (cases, oldest since)
    awaiting_acceptance: dict[str, tuple[int, float | None]]  # centre -> (cases, oldest routed at)
    last_acceptance: dict[str, float]                # centre -> event time of its last acceptance
    watermark: float | None                          # the newest event time the table holds


def views(items: Iterable[tuple[str, Any]]) -> Views:
    flow: dict[tuple[str, str], int] = {}
    sla: dict[tuple[str, str], int] = {}
    hours: dict[tuple[str, str, int], int] = {}
    days: dict[tuple[str, str, int], int] = {}
    waiting: dict[str, tuple[int, float | None]] = {p: (0, None) for p in PARTIES}
    awaiting: dict[str, tuple[int, float | None]] = {c: (0, None) for c in CENTRES}
    accepted: dict[str, float] = {}
    watermark: float | None = None
    for key, value in items:
        _, kind, rest = key.split(":", 2)
        if kind == "c":
            if value["t"] is not None:
                watermark = value["t"] if watermark is None else max(watermark, value["t"])
            if value["ac"] is not None and value["at"] is not None:
                accepted[value["ac"]] = max(accepted.get(value["ac"], value["at"]), value["at"])
            party = value["wo"]
            if party in waiting and value["since"] is not None:
                n, oldest = waiting[party]
                waiting[party] = (n + 1, value["since"] if oldest is None else min(oldest, value["since"]))
            centre = value["c"]
            if centre is not None and not value["acc"] and value["end"] is None and value["rt"] is not None:
                n, oldest = awaiting.get(centre, (0, None))
                awaiting[centre] = (n + 1, value["rt"] if oldest is None else min(oldest, value["rt"]))
            continue
        centre, start_text = rest.rsplit(":", 1)
        start = int(start_text)
        for name, n in value["n"].items():
            if kind == "d":
                days[(centre, name, start)] = days.get((centre, name, start), 0) + n
                continue
            hours[(centre, name, start)] = hours.get((centre, name, start), 0) + n
            family, what = name.split(".", 1)
            totals = flow if family == "flow" else sla
            totals[(centre, what)] = totals.get((centre, what), 0) + n
    return Views(flow, sla, hours, days, waiting, awaiting, accepted, watermark)


def travel_share(days: Mapping[tuple[str, str, int], int], centre: str, now: float,
                 window_days: int = TRAVEL_WINDOW_DAYS) -> tuple[int, int]:
    """(decided, travelled) of `centre` in the hopping window of `window_days` days that ends with the
    day of `now`: daily panes summed, so the window hops one day at a time."""
    last = day_start(now)
    first = last - (window_days - 1) * DAY
    decided = sum(n for (c, name, start), n in days.items() if c == centre and name == "decided"
                  and first <= start <= last)
    travelled = sum(n for (c, name, start), n in days.items() if c == centre and name == "travelled"
                    and first <= start <= last)
    return decided, travelled


# ---------------------------------------------------------------------------------------- business hours
SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE_OPENS, OFFICE_CLOSES = time(9, 0), time(18, 0)


class CalendarUnknown(Exception):
    """The mainland calendar does not know a year the count needs: no guess is made."""


def is_workday(day: date) -> bool:
    import chinese_calendar  # the official schedule, make-up working days (调休) included

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        raise CalendarUnknown(str(day.year)) from None


def business_hours(start: float, end: float) -> float:
    """Office hours (09:00-18:00 Asia/Shanghai, on mainland working days) between two event times.

    Raises CalendarUnknown when a day in between falls in a year the calendar does not know.
    """
    if end <= start:
        return 0.0
    a = datetime.fromtimestamp(start, UTC).astimezone(SHANGHAI)
    b = datetime.fromtimestamp(end, UTC).astimezone(SHANGHAI)
    total = 0.0
    day = a.date()
    while day <= b.date():
        if is_workday(day):
            opens = datetime.combine(day, OFFICE_OPENS, SHANGHAI)
            closes = datetime.combine(day, OFFICE_CLOSES, SHANGHAI)
            lo, hi = max(opens, a), min(closes, b)
            if hi > lo:
                total += (hi - lo).total_seconds() / 3600
        day += timedelta(days=1)
    return total
