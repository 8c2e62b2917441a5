"""`make calendar YEAR=2027 FILE=path`: checks a year's official schedule and installs it for review.

    python -m infra.calendar --year 2027 --file 2027.json [--run-dir .run] [--check-only]
                             [--override-cross-check]

1. Reads FILE in the operator format (services/common/calendar.py) and refuses it, changing
   nothing, unless it holds exactly YEAR, every day a real date of YEAR, make-up working days on
   weekends only, no day both off and worked.
2. Cross-checks its days off with the `holidays` package (services/review/calendar_check.py) and
   refuses it where they disagree (--override-cross-check installs it anyway, for the day the
   package is the one that is wrong: the State Council's notice is the source).
3. Installs it: the year joins (or replaces) the years installed before in the file the review
   service reads (REVIEW_CALENDAR_FILE when you set it, else RUN_DIR/review-calendar.json, which
   the embedded stack passes to review), written whole and then moved into place.
4. On a running embedded stack, restarts review's API and worker (they load the calendar at
   start) and reads back, from review's /metrics, the last year its calendar knows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from infra.stack import REVIEW_CALENDAR, ROOT, Stack
from services.common.calendar import (
    CalendarFileError,
    YearSchedule,
    load_calendar,
    read_operator_file,
    seed_calendar,
)
from services.review.calendar_check import cross_check, public_holidays

REVIEW_PROGRAMS = ("review-api", "review-worker")
LAST_KNOWN = "case_ledger_sla_calendar_last_known_year"


class Refused(Exception):
    """The file is not installed; every line says why."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def checked_year(year: int, file: Path, override: bool = False) -> tuple[YearSchedule, list[str]]:
    """FILE's schedule for `year`, and what to tell the operator; raises Refused."""
    named = _years_named(file)
    if named is not None and named != [str(year)]:
        raise Refused([f"{file} holds {', '.join(named) or 'no year'}, not {year}: a file installs one year, the "
                       "one YEAR names (a notice's days that fall in another year go in that year's file)"])
    try:
        years = read_operator_file(file)
    except CalendarFileError as exc:
        shown = [f"  - {p}" for p in exc.problems[:12]]
        more = [f"  ... and {len(exc.problems) - 12} more"] if len(exc.problems) > 12 else []
        raise Refused([f"{file} is not a valid calendar file:", *shown, *more]) from None
    schedule = years[year]
    listed, source = public_holidays(year)
    check = cross_check(year, schedule, listed, source)
    said = [f"{file}: {year} has {len(schedule.holidays)} days off and {len(schedule.workdays)} make-up "
            f"working days; {source} lists {check.listed} public holidays for {year}"]
    said += [f"  note: {n}" for n in check.notes]
    if check.problems:
        lines = [f"  - {p}" for p in check.problems]
        if not override:
            raise Refused([*said, f"{file} disagrees with {source}:", *lines,
                           "Check the file against the State Council's notice; if the notice says what the file "
                           "says, install it with --override-cross-check (CALENDAR_ARGS=--override-cross-check)."])
        said += [f"  WARNING, installed although it disagrees with {source} (--override-cross-check):", *lines]
    else:
        said.append(f"  agrees with {source}")
    return schedule, said


def _years_named(file: Path) -> list[str] | None:
    """The year keys of a file that is at least JSON with a "years" object; None otherwise (the
    loader then says what is wrong with it)."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    years = data.get("years") if isinstance(data, dict) else None
    return sorted(k for k in years if not k.startswith("_")) if isinstance(years, dict) else None


def target_path(run_dir: Path) -> Path:
    own = os.environ.get("REVIEW_CALENDAR_FILE")
    return Path(own) if own else run_dir / REVIEW_CALENDAR


def document(years: dict[int, YearSchedule], note: str) -> str:
    return json.dumps({"_comment": note, "years": {
        str(y): {"holidays": sorted(d.isoformat() for d in s.holidays),
                 "workdays": sorted(d.isoformat() for d in s.workdays)} for y, s in sorted(years.items())}},
        indent=2) + "\n"


def install(year: int, schedule: YearSchedule, target: Path, file: Path) -> list[str]:
    """Adds the year to the installed file; returns what it did. The review service's own loader
    reads the new file before it replaces the old one."""
    try:
        years = read_operator_file(target) if target.exists() else {}
    except CalendarFileError as exc:
        raise Refused([f"the installed calendar {target} is itself invalid; fix or remove it first:",
                       *(f"  - {p}" for p in exc.problems)]) from None
    said = [f"replaced the {year} schedule installed before" if year in years else f"added {year}"]
    if year in seed_calendar().known_years:
        said.append(f"{year} is in chinese-calendar's own tables: the installed file's schedule replaces them")
    years[year] = schedule
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".new")
    staging.write_text(document(years, f"Installed by make calendar from {file.resolve()} on "
                                       f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Format: services/common/calendar.py."))
    known = load_calendar(staging).known_years
    if year not in known:  # the loader itself must agree, or nothing moves
        staging.unlink()
        raise Refused([f"review's loader read {staging} but does not know {year}"])
    os.replace(staging, target)
    said.append(f"installed at {target}: operator years {', '.join(map(str, sorted(years)))}; "
                f"review's calendar knows {min(known)}-{max(known)}" + ("" if max(known) == year else
                                                                        f" (the last is {max(known)})"))
    return said


def point_review_at(stack: Stack, target: Path) -> list[str]:
    """Restarts a running stack's review with REVIEW_CALENDAR_FILE set; reads back its calendar's last year."""
    if not stack.supervisor.running():
        return ["the stack is not running: review loads the calendar when it starts (make up)"]
    for name in REVIEW_PROGRAMS:
        env_file = stack.run_dir / "env" / f"{name}.env"
        if env_file.exists():
            lines = [line for line in env_file.read_text().splitlines() if not line.startswith("REVIEW_CALENDAR_FILE=")]
            env_file.write_text("\n".join([*lines, f"REVIEW_CALENDAR_FILE={target}"]) + "\n")
    stack.supervisor.stop(*REVIEW_PROGRAMS)
    for name in REVIEW_PROGRAMS:
        stack.supervisor.start(name)
    url = _stack_env(stack).get("REVIEW_URL", stack.url("review"))
    year = _last_known_year(url)
    return [f"restarted {' and '.join(REVIEW_PROGRAMS)}; review at {url} reports {LAST_KNOWN} {year}"]


def _stack_env(stack: Stack) -> dict[str, str]:
    path = stack.run_dir / "stack.env"
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _last_known_year(url: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith(LAST_KNOWN + " "):
                        return str(int(float(line.split()[1])))
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"review at {url} did not come back within {timeout:.0f}s: see make logs")
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.calendar", description=__doc__.split("\n")[0])
    parser.add_argument("--year", type=int, required=True, help="the year the file is for, e.g. 2027")
    parser.add_argument("--file", type=Path, required=True, help="the year's schedule in the operator format")
    parser.add_argument("--run-dir", type=Path, default=ROOT / ".run", help="the embedded stack's run directory")
    parser.add_argument("--check-only", action="store_true", help="check the file; install nothing")
    parser.add_argument("--override-cross-check", action="store_true",
                        help="install although the file disagrees with the holidays package")
    args = parser.parse_args(argv)
    try:
        schedule, said = checked_year(args.year, args.file, args.override_cross_check)
        print("\n".join(said))
        if args.check_only:
            print("checked only (--check-only): nothing installed")
            return 0
        target = target_path(args.run_dir.resolve())
        print("\n".join(install(args.year, schedule, target, args.file)))
    except Refused as exc:
        print("\n".join(exc.lines), file=sys.stderr)
        print("REFUSED: nothing was installed or changed", file=sys.stderr)
        return 1
    print("\n".join(point_review_at(Stack(args.run_dir.resolve()), target)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
