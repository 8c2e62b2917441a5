"""`make calendar`: a year's file is checked for form and against the holidays package, then installed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import holidays
import pytest

from infra.calendar import Refused, checked_year, install
from services.common.calendar import YearSchedule, load_calendar, seed_calendar
from services.review.calendar_check import cross_check, public_holidays

EXAMPLE = Path(__file__).resolve().parents[2] / "services" / "review" / "calendar_override.example.json"


def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return data


def written(tmp_path: Path, data: dict[str, Any], name: str = "2027.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def schedule_of(year: int) -> YearSchedule:
    seed = seed_calendar()
    return YearSchedule(frozenset(d for d in seed.holidays if d.year == year),
                        frozenset(d for d in seed.workdays if d.year == year))


@pytest.mark.parametrize("year", sorted(seed_calendar().known_years))
def test_every_official_schedule_chinese_calendar_holds_passes_the_cross_check(year: int):
    # The rules are only as good as their fit to real notices: 2004-2026, every one.
    listed, source = public_holidays(year)
    assert cross_check(year, schedule_of(year), listed, source).problems == []


def test_the_cross_check_refuses_a_listed_weekday_left_as_a_working_day_and_a_make_up_day_on_a_holiday():
    listed = {date(2026, 10, 5): "National Day (observed)", date(2026, 10, 6): "Day off"}
    s = schedule_of(2026)
    changed = YearSchedule(s.holidays - {date(2026, 10, 5)}, s.workdays | {date(2026, 10, 3)})
    listed[date(2026, 10, 3)] = "National Day"
    problems = cross_check(2026, changed, listed, "holidays x").problems
    assert any(p.startswith("2026-10-05 (Mon) is a working day in the file") for p in problems)
    assert any(p.startswith("2026-10-03 (Sat) is a make-up working day in the file") for p in problems)


def test_the_cross_check_refuses_a_make_up_day_the_package_names_but_the_file_omits():
    listed, source = public_holidays(2026)
    s = schedule_of(2026)
    problems = cross_check(2026, YearSchedule(s.holidays, s.workdays - {date(2026, 1, 4)}), listed, source).problems
    assert problems == [f"{source} says 2026-01-02 (Fri) is off in exchange for working on 2026-01-04 (Sun), "
                        "which the file does not list in \"workdays\""]


def test_unlisted_weekdays_off_pass_as_swaps_only_while_make_up_days_pay_for_them():
    listed, source = public_holidays(2027)
    s = load_calendar(EXAMPLE)
    ok = YearSchedule(frozenset(d for d in s.holidays if d.year == 2027),
                      frozenset(d for d in s.workdays if d.year == 2027))
    check = cross_check(2027, ok, listed, source)
    assert check.problems == [] and "5 weekdays off" in check.notes[0]
    one_more = YearSchedule(ok.holidays | {date(2027, 3, 10)}, ok.workdays)
    assert "6 weekdays off" in cross_check(2027, one_more, listed, source).problems[0]
    # Where the package names the year's swaps itself, a weekday off it does not list is wrong.
    s26 = schedule_of(2026)
    assert cross_check(2026, YearSchedule(s26.holidays | {date(2026, 3, 10)}, s26.workdays),
                       *public_holidays(2026)).problems[0].startswith("weekdays off that")


def test_a_year_the_package_does_not_know_is_installed_with_a_note_not_a_silent_pass():
    check = cross_check(2031, YearSchedule(frozenset({date(2031, 1, 1)}), frozenset()), {}, "holidays x")
    assert check.problems == [] and "could not be cross-checked" in check.notes[0]


def test_a_valid_year_is_installed_and_review_s_loader_then_knows_it(tmp_path: Path):
    target = tmp_path / "run" / "review-calendar.json"
    file = written(tmp_path, example())
    schedule, said = checked_year(2027, file)
    assert said[-1].endswith("agrees with holidays " + holidays.__version__)
    lines = install(2027, schedule, target, file)
    assert lines[0] == "added 2027" and "review's calendar knows 2004-2027" in lines[-1]
    calendar = load_calendar(target)
    assert calendar.is_business_day(date(2027, 2, 14)) and not calendar.is_business_day(date(2027, 2, 11))
    # Again: the year is replaced, not added twice.
    assert install(2027, schedule, target, file)[0] == "replaced the 2027 schedule installed before"
    assert list(json.loads(target.read_text())["years"]) == ["2027"]


def refused(tmp_path: Path, data: dict[str, Any], year: int = 2027) -> str:
    # That a refusal changes nothing on a running stack: tests/integration/test_calendar_install.py.
    with pytest.raises(Refused) as exc:
        checked_year(year, written(tmp_path, data))
    return str(exc.value)


def test_a_bad_date_is_refused(tmp_path: Path):
    data = example()
    data["years"]["2027"]["holidays"].append("2027-02-30")
    assert "'2027-02-30' is not a YYYY-MM-DD date" in refused(tmp_path, data)


def test_a_make_up_working_day_on_a_weekday_is_refused(tmp_path: Path):
    data = example()
    data["years"]["2027"]["workdays"].append("2027-03-03")
    assert "2027-03-03 is a Wednesday; a make-up working day falls on a weekend" in refused(tmp_path, data)


def test_a_holiday_the_holidays_package_does_not_list_is_refused(tmp_path: Path):
    data = example()
    data["years"]["2027"]["holidays"].append("2027-03-10")
    message = refused(tmp_path, data)
    assert "disagrees with holidays" in message and "2027-03-10 (Wed)" in message


def test_a_public_holiday_missing_from_the_file_is_refused(tmp_path: Path):
    data = example()
    data["years"]["2027"]["holidays"].remove("2027-10-04")
    assert "2027-10-04 (Mon) is a working day in the file" in refused(tmp_path, data)


def test_the_wrong_year_is_refused(tmp_path: Path):
    assert "holds 2027, not 2028" in refused(tmp_path, example(), year=2028)
    data = example()
    data["years"]["2028"] = data["years"]["2027"]
    assert "holds 2027, 2028, not 2027" in refused(tmp_path, data)


def test_a_disagreement_installs_only_when_the_operator_overrides_the_cross_check(tmp_path: Path):
    data = example()
    data["years"]["2027"]["holidays"].remove("2027-10-04")
    schedule, said = checked_year(2027, written(tmp_path, data), override=True)
    assert date(2027, 10, 4) not in schedule.holidays
    assert any("WARNING, installed although it disagrees" in line for line in said)
