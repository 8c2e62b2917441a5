"""`make calendar` on the real stack: a valid year reaches the running review service, an invalid
file changes nothing; afterwards the stack is put back as the other tests expect it (2027 unknown)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.calendar import LAST_KNOWN, REVIEW_PROGRAMS, main
from infra.stack import REVIEW_CALENDAR, Stack
from tests.integration.conftest import DELIVERY, RUN_DIR, Api, make_ready, open_case, uploaded_report, wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "services" / "review" / "calendar_override.example.json"
PKUCH = "CENTRE_PKUCH_TOKEN"


def last_known_year(stack: Stack) -> int | None:
    try:
        text = httpx.get(stack.url("review") + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    values = [line.split()[1] for line in text.splitlines() if line.startswith(LAST_KNOWN + " ")]
    return int(float(values[0])) if values else None


def review_ready(stack: Stack) -> bool:
    try:
        return httpx.get(stack.url("review") + "/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture()
def installed(stack: Stack) -> Iterator[Path]:
    target = RUN_DIR / REVIEW_CALENDAR
    yield target
    # Other tests count on the seed calendar (2027 unknown): the file goes, and review restarts without it.
    target.unlink(missing_ok=True)
    for name in REVIEW_PROGRAMS:
        env_file = RUN_DIR / "env" / f"{name}.env"
        env_file.write_text("".join(f"{line}\n" for line in env_file.read_text().splitlines()
                                    if not line.startswith("REVIEW_CALENDAR_FILE=")))
    stack.supervisor.stop(*REVIEW_PROGRAMS)
    for name in REVIEW_PROGRAMS:
        stack.supervisor.start(name)
    wait_for(lambda: last_known_year(stack) == 2026 and review_ready(stack), 60, "review back on the seed calendar")


def run(year: int, file: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--year", str(year), "--file", str(file), "--run-dir", str(RUN_DIR)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_valid_year_reaches_review_and_an_invalid_file_changes_nothing(
        stack: Stack, api: Api, installed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert last_known_year(stack) == 2026
    code, said = run(2027, EXAMPLE, capsys)
    assert code == 0, said
    assert f"installed at {installed}" in said and "reports case_ledger_sla_calendar_last_known_year 2027" in said
    wait_for(lambda: review_ready(stack), 60, "review ready after the restart")

    # Review's clock now counts 2027's business days: accepted Monday 1 March 2027, the limit is
    # the 10th business day after it, Monday 15 March (no day off in between).
    case_id = open_case(api, tumour_site="breast", preferred_centre="pkuch")
    make_ready(api, case_id, ["pkuch"])
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token=PKUCH).status_code == 200,
             45, "the assignment to pkuch")
    r = api.call("review", "POST", f"/cases/{case_id}/acceptance", token=PKUCH,
                 json={"occurred_at": "2027-03-01T10:00:00+08:00"})
    assert r.status_code == 200, r.text
    view = api.call("review", "GET", f"/cases/{case_id}", token=PKUCH).json()
    assert view["sla"]["limit_due"] == "2027-03-15", view["sla"]
    # Its clock stops before the calendar is taken away again.
    report = uploaded_report(api, case_id, PKUCH, occurred_at="2027-03-05T09:00:00+08:00")
    r = api.call("review", "POST", f"/cases/{case_id}/delivery", token=PKUCH,
                 json={**DELIVERY, "report_ref": report,
                       "occurred_at": "2027-03-05T10:00:00+08:00"})
    assert r.status_code == 200, r.text

    before, pid = installed.read_bytes(), stack.pid_of("review-api")
    data = json.loads(EXAMPLE.read_text())
    data["years"]["2027"]["holidays"].append("2027-03-10")  # a day off no list knows
    cases = {"unlisted": data}
    for bad, value in (("bad_date", "2027-02-30"), ("weekday_workday", "2027-03-03")):
        changed = json.loads(EXAMPLE.read_text())
        changed["years"]["2027"]["workdays" if bad == "weekday_workday" else "holidays"].append(value)
        cases[bad] = changed
    for name, content in cases.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(content))
        code, said = run(2027, tmp_path / f"{name}.json", capsys)
        assert (code, said.splitlines()[-1]) == (1, "REFUSED: nothing was installed or changed"), (name, said)
    code, said = run(2028, EXAMPLE, capsys)
    assert code == 1 and "holds 2027, not 2028" in said
    assert installed.read_bytes() == before and stack.pid_of("review-api") == pid
    assert last_known_year(stack) == 2027
