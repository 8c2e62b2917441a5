import json
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.calendar import (
    BusinessCalendar,
    CalendarFileError,
    CalendarUnknown,
    YearSchedule,
    load_calendar,
    parse_operator_schedule,
)

CAL = load_calendar()
EXAMPLE = Path(__file__).resolve().parents[2] / "services" / "review" / "calendar_override.example.json"

# The State Council's 2026 schedule, as published; the package's tables must say the same.
SPRING_FESTIVAL_2026 = [date(2026, 2, 15) + timedelta(days=i) for i in range(9)]  # Sun 15 - Mon 23 Feb
SPRING_FESTIVAL_2026_MAKE_UP = [date(2026, 2, 14), date(2026, 2, 28)]  # both Saturdays
NATIONAL_DAY_2026 = [date(2026, 10, 1) + timedelta(days=i) for i in range(7)]  # Thu 1 - Wed 7 Oct
NATIONAL_DAY_2026_MAKE_UP = [date(2026, 9, 20), date(2026, 10, 10)]  # Sunday, Saturday
MID_AUTUMN_2026 = [date(2026, 9, 25), date(2026, 9, 26), date(2026, 9, 27)]  # Fri - Sun


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "calendar.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def year_2027(**overrides: object) -> dict[str, object]:
    return {"years": {"2027": {"holidays": ["2027-01-01"], "workdays": [], **overrides}}}


def test_the_package_knows_2004_to_2026_and_nothing_later():
    assert set(range(2004, 2027)) == CAL.known_years
    # The package itself refuses a year outside its tables rather than guessing.
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 3, 1))


def test_spring_festival_2026_is_15_to_23_february_with_make_up_saturdays_14_and_28_february():
    assert [d.weekday() for d in SPRING_FESTIVAL_2026_MAKE_UP] == [5, 5]
    for d in SPRING_FESTIVAL_2026:
        assert chinese_calendar.holidays[d] == "Spring Festival"
        assert not CAL.is_business_day(d)
    for d in SPRING_FESTIVAL_2026_MAKE_UP:
        assert chinese_calendar.workdays[d] == "Spring Festival"
        assert CAL.is_business_day(d)
    february = {d for d in chinese_calendar.holidays if (d.year, d.month) == (2026, 2)}
    assert february == set(SPRING_FESTIVAL_2026)


def test_national_day_2026_is_1_to_7_october_with_make_up_sunday_20_september_and_saturday_10_october():
    assert [d.weekday() for d in NATIONAL_DAY_2026_MAKE_UP] == [6, 5]
    for d in NATIONAL_DAY_2026:
        assert chinese_calendar.holidays[d] == "National Day"
        assert not CAL.is_business_day(d)
    for d in MID_AUTUMN_2026:
        assert chinese_calendar.holidays[d] == "Mid-autumn Festival"
    for d in NATIONAL_DAY_2026_MAKE_UP:
        assert chinese_calendar.workdays[d] == "National Day"
        assert CAL.is_business_day(d)


def test_a_make_up_saturday_counts_as_a_business_day():
    assert date(2026, 2, 28).weekday() == 5
    assert CAL.is_business_day(date(2026, 2, 28))


def test_an_ordinary_weekend_is_not_a_business_day():
    assert not CAL.is_business_day(date(2026, 3, 7))
    assert not CAL.is_business_day(date(2026, 3, 8))
    assert CAL.is_business_day(date(2026, 3, 9))


def test_a_weekday_of_a_holiday_block_is_not_a_business_day():
    assert date(2026, 2, 18).weekday() == 2
    assert not CAL.is_business_day(date(2026, 2, 18))


def test_the_calendar_agrees_with_the_package_on_every_day_it_knows():
    d = date(2004, 1, 1)
    while d <= date(2026, 12, 31):
        assert CAL.is_business_day(d) == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)


def test_every_make_up_day_of_the_seed_falls_on_a_weekend():
    assert all(d.weekday() >= 5 for d in CAL.workdays)
    assert not CAL.holidays & CAL.workdays


def test_the_business_day_after_13_february_2026_is_the_make_up_saturday_then_24_february():
    assert CAL.add_business_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert CAL.add_business_days(date(2026, 2, 14), 1) == date(2026, 2, 24)
    assert CAL.add_business_days(date(2026, 2, 11), 10) == date(2026, 3, 3)


def test_adding_no_business_days_stays_put_and_negative_counts_are_refused():
    assert CAL.add_business_days(date(2026, 2, 15), 0) == date(2026, 2, 15)
    with pytest.raises(ValueError):
        CAL.add_business_days(date(2026, 2, 15), -1)


def test_business_days_between_counts_after_start_up_to_and_including_end():
    # 12, 13, 14 (make-up Saturday) Feb; 24, 25, 26, 27, 28 (make-up Saturday) Feb.
    assert CAL.business_days_between(date(2026, 2, 11), date(2026, 2, 28)) == 8
    assert CAL.business_days_between(date(2026, 2, 11), date(2026, 2, 11)) == 0
    assert CAL.business_days_between(date(2026, 2, 28), date(2026, 2, 11)) == 0
    assert CAL.business_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3  # 8, 9, 10 Oct


def test_a_day_in_2027_is_calendar_unknown():
    with pytest.raises(CalendarUnknown) as exc:
        CAL.is_business_day(date(2027, 3, 1))
    assert exc.value.year == 2027


def test_a_year_before_the_package_data_is_calendar_unknown():
    with pytest.raises(CalendarUnknown) as exc:
        CAL.is_business_day(date(2003, 12, 31))
    assert exc.value.year == 2003


def test_counting_into_2027_fails_closed_instead_of_assuming_weekdays():
    with pytest.raises(CalendarUnknown) as exc:
        CAL.add_business_days(date(2026, 12, 28), 5)
    assert exc.value.year == 2027
    with pytest.raises(CalendarUnknown):
        CAL.business_days_between(date(2026, 12, 30), date(2027, 1, 4))


def test_the_example_operator_file_is_marked_as_an_example_and_adds_2027():
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert "EXAMPLE" in data["_comment"] and "NOT THE OFFICIAL" in data["_comment"]
    cal = load_calendar(EXAMPLE)
    assert cal.known_years == CAL.known_years | {2027}
    assert not cal.is_business_day(date(2027, 1, 1))
    assert cal.is_business_day(date(2027, 1, 4))
    assert cal.is_business_day(date(2027, 2, 14))  # a make-up Sunday of the example
    assert cal.add_business_days(date(2026, 12, 28), 5) == date(2027, 1, 5)
    # The seed's years are untouched.
    assert cal.is_business_day(date(2026, 2, 28)) and not cal.is_business_day(date(2026, 2, 18))


def test_an_operator_year_replaces_the_seed_for_that_year_only(tmp_path: Path):
    path = write(tmp_path, {"years": {"2026": {"holidays": ["2026-01-01"], "workdays": ["2026-03-07"]}}})
    cal = load_calendar(path)
    assert cal.known_years == CAL.known_years
    assert cal.is_business_day(date(2026, 2, 18))  # the seed's Spring Festival is gone
    assert not cal.is_business_day(date(2026, 2, 28))  # and so is its make-up Saturday
    assert cal.is_business_day(date(2026, 3, 7))
    assert not cal.is_business_day(date(2025, 1, 29))  # 2025's Spring Festival stays


@pytest.mark.parametrize(("data", "problem"), [
    (year_2027(holidays=["2027-02-30"]), "'2027-02-30' is not a YYYY-MM-DD date"),
    (year_2027(holidays=["20270101"]), "'20270101' is not a YYYY-MM-DD date"),
    (year_2027(holidays=[20270101]), "20270101 is not a YYYY-MM-DD date"),
    (year_2027(holidays=["2027-01-01", "2028-01-01"]), "2028-01-01 is outside 2027"),
    (year_2027(holidays=["2027-01-01", "2027-02-06"], workdays=["2027-02-06"]),
     "2027-02-06 is both a holiday and a make-up working day"),
    (year_2027(workdays=["2027-02-08"]), "2027-02-08 is a Monday; a make-up working day falls on a weekend"),
    (year_2027(holidays=["2027-01-01", "2027-01-01"]), "2027-01-01 is listed twice"),
    (year_2027(holidays=[]), "holidays is empty"),
    (year_2027(holidays="2027-01-01"), "must be a list"),
    (year_2027(workday=["2027-02-06"]), "unknown keys ['workday']"),
    ({"years": {"2027": {"holidays": ["2027-01-01"]}}}, "missing ['workdays']"),
    ({"years": {"next": {"holidays": ["2027-01-01"], "workdays": []}}}, "'next' is not a year"),
    ({"years": {"2027": ["2027-01-01"]}}, "must be an object"),
    ({"years": {}}, "lists no year"),
    ({"2027": {"holidays": ["2027-01-01"], "workdays": []}}, "expected an object with a \"years\" object"),
    ({"years": {"2027": {"holidays": ["2027-01-01"], "workdays": []}}, "yaers": {}}, "unknown top-level keys"),
])
def test_an_invalid_operator_file_is_refused_at_load_with_the_problem(tmp_path: Path, data: object, problem: str):
    with pytest.raises(CalendarFileError) as exc:
        load_calendar(write(tmp_path, data))
    assert problem in str(exc.value)
    assert str(tmp_path) in str(exc.value)


def test_a_year_given_twice_in_the_operator_file_is_refused(tmp_path: Path):
    text = '{"years": {"2027": {"holidays": ["2027-01-01"], "workdays": []}, ' \
           '"2027": {"holidays": ["2027-01-02"], "workdays": []}}}'
    with pytest.raises(CalendarFileError, match="'2027' appears twice"):
        load_calendar(write(tmp_path, text))


def test_an_operator_file_that_is_not_json_or_missing_is_refused(tmp_path: Path):
    with pytest.raises(CalendarFileError, match="not valid JSON"):
        load_calendar(write(tmp_path, "{years: 2027"))
    with pytest.raises(CalendarFileError, match="cannot read"):
        load_calendar(tmp_path / "absent.json")


def test_every_problem_of_an_operator_file_is_reported_at_once():
    with pytest.raises(CalendarFileError) as exc:
        parse_operator_schedule(year_2027(holidays=["2027-13-01", "2026-12-31"], workdays=["2027-01-04"]))
    assert len(exc.value.problems) == 3


def test_comment_keys_are_ignored_at_every_level():
    years = parse_operator_schedule({"_comment": "x", "years": {"_note": "y", "2027": {
        "_comment": "z", "holidays": ["2027-01-01"], "workdays": ["2027-02-06"]}}})
    assert years == {2027: YearSchedule(frozenset({date(2027, 1, 1)}), frozenset({date(2027, 2, 6)}))}


def test_a_calendar_cannot_hold_a_day_both_off_and_worked_or_outside_its_years():
    with pytest.raises(ValueError):
        BusinessCalendar(frozenset({2026}), frozenset({date(2026, 2, 14)}), frozenset({date(2026, 2, 14)}))
    with pytest.raises(ValueError):
        BusinessCalendar(frozenset({2026}), frozenset({date(2027, 1, 1)}), frozenset())
    with pytest.raises(ValueError):
        BusinessCalendar(frozenset({2026}), frozenset(), frozenset({date(2026, 3, 9)}))


known_dates = st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 9, 30))


@given(start=known_dates, n=st.integers(min_value=0, max_value=60))
def test_counting_back_the_business_days_added_gives_n(start: date, n: int):
    end = CAL.add_business_days(start, n)
    assert CAL.business_days_between(start, end) == n
    if n:
        assert CAL.is_business_day(end)
        assert CAL.business_days_between(start, end - timedelta(days=1)) == n - 1


@given(a=known_dates, b=known_dates, c=known_dates)
def test_business_days_between_adds_up_over_consecutive_spans(a: date, b: date, c: date):
    a, b, c = sorted((a, b, c))
    assert CAL.business_days_between(a, c) == CAL.business_days_between(a, b) + CAL.business_days_between(b, c)
