"""Checks an operator's calendar file for one new year before it is installed (`make calendar`).

The source of a year's schedule is the State Council's notice (国务院办公厅关于YYYY年部分节假日安排的
通知): its days off and its make-up working days (调休). The operator types it into the file
format of services/common/calendar.py; this module checks that file two ways:

- its form: a JSON object holding exactly the asked-for year, every day a real date of that
  year, make-up working days on weekends only, no day both off and worked
  (calendar.parse_operator_schedule, the review service's own loader);
- against the `holidays` package's list of China's public holidays for the year. That list is
  a cross-check, never the source: it names the statutory days (and the observed ones it
  derives), but for a year just announced not the make-up working days, nor the weekdays given
  off in exchange for them. Its entries named "Day off (substituted from MM/DD/YYYY)" state a
  swap when it knows one.

The rules, each one true of every year chinese-calendar's tables hold (2004-2026; a unit test
keeps it so):
1. every weekday the package lists is a day off in the file;
2. no make-up working day falls on a day the package lists;
3. every make-up working day the package names ("substituted from") is one in the file;
4. a weekday off that the package does not list is a swapped day, paid back by a make-up working
   day: there are no more of them than make-up working days, and none at all where the package
   names the year's swaps itself. A day off in the first days of January may be paid back in
   the December before (a New Year bridge), so those are not counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from services.common.calendar import YearSchedule

_SUBSTITUTED = re.compile(r"substituted from (\d{2})/(\d{2})/(\d{4})")
BRIDGE_DAYS = 7  # how far into January a day off may have been paid for in December


@dataclass(frozen=True)
class CrossCheck:
    """What the package says about the file's year: problems refuse the file, notes are printed."""

    source: str
    listed: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def public_holidays(year: int) -> tuple[dict[date, str], str]:
    """The `holidays` package's public holidays of mainland China for `year`, and its version."""
    import holidays

    return dict(holidays.country_holidays("CN", years=year).items()), f"holidays {holidays.__version__}"


def _day(d: date) -> str:
    return f"{d.isoformat()} ({d:%a})"


def cross_check(year: int, schedule: YearSchedule, listed: dict[date, str], source: str) -> CrossCheck:
    """The file's `schedule` for `year` against the package's `listed` public holidays (date -> name)."""
    listed = {d: n for d, n in listed.items() if d.year == year}
    check = CrossCheck(source, len(listed))
    if not listed:
        check.notes.append(f"{source} lists no public holiday of China in {year}: the file could not be "
                           "cross-checked; compare it with the State Council's notice by hand")
        return check
    off, worked = schedule.holidays, schedule.workdays
    for d in sorted(d for d in listed if d.weekday() < 5 and d not in off):
        check.problems.append(f"{_day(d)} is a working day in the file, but {source} lists it as "
                              f"{listed[d]!r}: add it to \"holidays\"")
    for d in sorted(worked & listed.keys()):
        check.problems.append(f"{_day(d)} is a make-up working day in the file, but {source} lists it as "
                              f"{listed[d]!r}")
    swaps = {date(int(m[3]), int(m[1]), int(m[2])): d for d, n in listed.items() if (m := _SUBSTITUTED.search(n))}
    for made_up, day_off in sorted(swaps.items()):
        if made_up.year == year and made_up not in worked:
            check.problems.append(f"{source} says {_day(day_off)} is off in exchange for working on "
                                  f"{_day(made_up)}, which the file does not list in \"workdays\"")
    unlisted = sorted(d for d in off if d.weekday() < 5 and d not in listed)
    counted = [d for d in unlisted if not (d.month == 1 and d.day <= BRIDGE_DAYS)]
    if unlisted and swaps:
        check.problems.append(f"weekdays off that {source} does not list, although it names {year}'s swaps: "
                              + ", ".join(map(_day, unlisted)))
    elif len(counted) > len(worked):
        check.problems.append(
            f"{len(counted)} weekdays off that {source} does not list ({', '.join(map(_day, counted))}) but "
            f"only {len(worked)} make-up working days to pay them back: a day off that is not a public "
            "holiday must be a swapped weekend")
    elif unlisted:
        check.notes.append(f"{len(unlisted)} weekdays off that {source} does not list, taken as days swapped "
                           f"for the file's {len(worked)} make-up working days: " + ", ".join(map(_day, unlisted)))
    return check
