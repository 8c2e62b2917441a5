"""The centres' business-day calendar (mainland China). Pure data and arithmetic, plus one loader.

Shared by review (the SLA clock, services/review/sla.py) and routing (the acceptance deadline):
both count business days of the same centres in the same calendar, so neither imports the other.

A business day is a weekday that is not a statutory holiday, or an official make-up working day
(调休: a Saturday or Sunday that is worked). The calendar fails closed: asking about a day in a year
it does not know raises CalendarUnknown; it never falls back to "weekdays only".

The seed is the chinese-calendar package's own tables. An operator file adds years (e.g. next year's
schedule once the State Council publishes it) or replaces years of the seed. Its format, JSON:

    {
      "_comment": "any key starting with '_' is ignored, at any level",
      "years": {
        "2027": {
          "holidays": ["2027-01-01", "2027-01-02", ...],
          "workdays": ["2027-02-14", ...]
        }
      }
    }

Each year lists every day off of its official schedule that falls in that calendar year ("holidays",
weekend days inside a holiday block included or not, as you like) and every make-up working day
that falls in it ("workdays", always a Saturday or Sunday). A notice's days are filed under the
calendar year they fall in: a New Year bridge from 30 December belongs partly to the earlier year.
A year in the file replaces the seed's schedule for that year entirely.

`make calendar YEAR=2027 FILE=...` (infra/calendar.py) checks a year's file, cross-checks it with
the `holidays` package (services/review/calendar_check.py), and installs it where the review
service reads it (REVIEW_CALENDAR_FILE); the README's runbook says what to do each December.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

# The centres' days are local dates in Asia/Shanghai.
CENTRES_TZ = ZoneInfo("Asia/Shanghai")


def centre_date(t: datetime) -> date:
    """The centres' local date of an instant; a naive datetime has no place on their calendar."""
    if t.utcoffset() is None:
        raise ValueError(f"a naive datetime ({t}) has no place on the centres' calendar")
    return t.astimezone(CENTRES_TZ).date()


def end_of_centre_day(d: date) -> datetime:
    """The end of a centre's local day: the next local midnight."""
    return datetime.combine(d + timedelta(days=1), time(), CENTRES_TZ)


class CalendarUnknown(Exception):
    def __init__(self, year: int) -> None:
        super().__init__(f"the centres' calendar does not know the year {year}")
        self.year = year


class CalendarFileError(ValueError):
    """An operator calendar file that cannot be used; `problems` lists every one found."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


@dataclass(frozen=True)
class YearSchedule:
    holidays: frozenset[date]
    workdays: frozenset[date]


@dataclass(frozen=True)
class BusinessCalendar:
    known_years: frozenset[int]
    holidays: frozenset[date]
    workdays: frozenset[date]  # official make-up working days, all on weekends

    def __post_init__(self) -> None:
        if both := self.holidays & self.workdays:
            raise ValueError(f"days both off and make-up working days: {sorted(both)}")
        if stray := sorted(d for d in self.holidays | self.workdays if d.year not in self.known_years):
            raise ValueError(f"days in years the calendar does not claim to know: {stray[:5]}")
        if weekdays := sorted(d for d in self.workdays if d.weekday() < 5):
            raise ValueError(f"make-up working days must fall on a weekend: {weekdays[:5]}")

    def is_business_day(self, d: date) -> bool:
        if d.year not in self.known_years:
            raise CalendarUnknown(d.year)
        if d in self.workdays:
            return True
        return d.weekday() < 5 and d not in self.holidays

    def add_business_days(self, start: date, n: int) -> date:
        """The n-th business day strictly after `start` (`start` itself for n == 0)."""
        if n < 0:
            raise ValueError("n must not be negative")
        d = start
        while n:
            d += timedelta(days=1)
            n -= self.is_business_day(d)
        return d

    def business_days_between(self, start: date, end: date) -> int:
        """Business days d with start < d <= end (0 when end <= start)."""
        return sum(self.is_business_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))

    def with_years(self, years: Mapping[int, YearSchedule]) -> BusinessCalendar:
        """This calendar with each of `years` added, or replacing the schedule it had."""
        return BusinessCalendar(
            known_years=self.known_years | frozenset(years),
            holidays=frozenset(d for d in self.holidays if d.year not in years).union(
                *(s.holidays for s in years.values())),
            workdays=frozenset(d for d in self.workdays if d.year not in years).union(
                *(s.workdays for s in years.values())),
        )


def seed_calendar() -> BusinessCalendar:
    """The chinese-calendar package's tables (2004-2026 in version 1.11.0).

    Known years are read from the tables, not from chinese_calendar.is_workday(): that function
    raises NotImplementedError only outside [first, last] year of its holiday table and would answer
    any year inside that range from the weekday alone, schedule or not. A year counts as known only
    if its table has that year's Spring Festival, which every official schedule has; stray days (the
    December end of a New Year bridge) do not make a year known.
    """
    spring_festival = chinese_calendar.Holiday.spring_festival.value
    known = frozenset(d.year for d, name in chinese_calendar.holidays.items() if name == spring_festival)
    return BusinessCalendar(
        known_years=known,
        holidays=frozenset(d for d in chinese_calendar.holidays if d.year in known),
        workdays=frozenset(d for d in chinese_calendar.workdays if d.year in known),
    )


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR = re.compile(r"\d{4}")


def _dates(year: int, key: str, raw: object, problems: list[str]) -> frozenset[date]:
    where = f"years.{year}.{key}"
    if not isinstance(raw, list):
        problems.append(f"{where} must be a list of YYYY-MM-DD dates")
        return frozenset()
    out: set[date] = set()
    for item in raw:
        # date.fromisoformat alone would also take "20270101" or "2027-W01-1".
        try:
            if not isinstance(item, str) or not _ISO_DATE.fullmatch(item):
                raise ValueError
            d = date.fromisoformat(item)
        except ValueError:
            problems.append(f"{where}: {item!r} is not a YYYY-MM-DD date")
            continue
        if d.year != year:
            problems.append(f"{where}: {item} is outside {year}")
        elif d in out:
            problems.append(f"{where}: {item} is listed twice")
        elif key == "workdays" and d.weekday() < 5:
            problems.append(f"{where}: {item} is a {d:%A}; a make-up working day falls on a weekend")
        out.add(d)
    return frozenset(out)


def _year(year: int, raw: object, problems: list[str]) -> YearSchedule:
    if not isinstance(raw, dict):
        problems.append(f"years.{year} must be an object with \"holidays\" and \"workdays\"")
        return YearSchedule(frozenset(), frozenset())
    unknown = sorted(k for k in raw if not k.startswith("_") and k not in ("holidays", "workdays"))
    if unknown:
        problems.append(f"years.{year}: unknown keys {unknown} (expected \"holidays\" and \"workdays\")")
    missing = [k for k in ("holidays", "workdays") if k not in raw]
    if missing:
        problems.append(f"years.{year}: missing {missing} (an empty list is allowed for \"workdays\")")
    schedule = YearSchedule(holidays=_dates(year, "holidays", raw.get("holidays", []), problems),
                            workdays=_dates(year, "workdays", raw.get("workdays", []), problems))
    if "holidays" in raw and not schedule.holidays:
        problems.append(f"years.{year}.holidays is empty; every official schedule has statutory holidays")
    for d in sorted(schedule.holidays & schedule.workdays):
        problems.append(f"years.{year}: {d} is both a holiday and a make-up working day")
    return schedule


def parse_operator_schedule(data: Any, source: str = "operator calendar") -> dict[int, YearSchedule]:
    """The years of an operator file's parsed JSON; raises CalendarFileError listing every problem."""
    problems: list[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("years"), dict):
        raise CalendarFileError(source, ["expected an object with a \"years\" object"])
    if unknown := sorted(k for k in data if not k.startswith("_") and k != "years"):
        problems.append(f"unknown top-level keys {unknown}")
    years: dict[int, YearSchedule] = {}
    for key, raw in data["years"].items():
        if key.startswith("_"):
            continue
        if not _YEAR.fullmatch(key):
            problems.append(f"years: {key!r} is not a year")
            continue
        years[int(key)] = _year(int(key), raw, problems)
    if not years and not problems:
        problems.append("\"years\" lists no year")
    if problems:
        raise CalendarFileError(source, problems)
    return years


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # JSON silently keeps the last of two "2027" keys; a calendar must not lose a schedule that way.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def read_operator_file(operator_file: Path) -> dict[int, YearSchedule]:
    """The years of an operator file; raises CalendarFileError listing every problem found."""
    try:
        data = json.loads(operator_file.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicate_keys)
    except OSError as exc:
        raise CalendarFileError(str(operator_file), [f"cannot read: {exc.strerror or exc}"]) from exc
    except ValueError as exc:
        raise CalendarFileError(str(operator_file), [f"not valid JSON: {exc}"]) from exc
    return parse_operator_schedule(data, str(operator_file))


def load_calendar(operator_file: Path | None = None) -> BusinessCalendar:
    """The package's seed, with the operator file's years added or replacing the seed's."""
    seed = seed_calendar()
    if operator_file is None:
        return seed
    return seed.with_years(read_operator_file(operator_file))
