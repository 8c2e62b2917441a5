"""The console in a real browser, end to end on the real stack: the journeys of issue 27.

Each journey runs in its own browser context (its own cookies, its own language), by keyboard,
with axe-core on every page it reaches. They share one case, in order: the coordinator opens it,
the FUSCC reviewer reviews it in Chinese, the coordinator books the treatment; then a patient
asks for a quote and a request, and a reviewer of another centre tries the case's URL. A failed
journey leaves a screenshot and the HTML under .run/test/failures/. The README's two screenshots
(docs/console-*.png) are taken here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from demo.documents import report_pdf
from infra.directory import console_base
from infra.stack import ROOT, Stack
from tests.integration.browser import Journey, browser, choose, chromium_path, press, recorded, tick, type_into
from tests.integration.conftest import CT_DICOM, RUN_DIR, Api, make_ready, open_case, wait_for

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(chromium_path() is None, reason="no Chromium (infra/install-chromium.sh)")]
FAILURES = RUN_DIR / "failures"
DOCS = ROOT / "docs"
# Screenshots for the README are written only when asked (make screenshots), so a test run leaves
# the committed files alone.
SHOOT = os.environ.get("CONSOLE_SCREENSHOTS") == "1"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser() as b:
        yield b


@pytest.fixture(scope="module")
def shared() -> dict[str, Any]:
    return {}


@pytest.fixture(scope="module")
def passwords(stack: Stack) -> dict[str, str]:
    return stack.provider.passwords()


def journey(chromium: Any, stack: Stack, name: str, locale: str = "en-GB") -> tuple[Journey, Any]:
    context = chromium.new_context(locale=locale, extra_http_headers={"Accept-Language": locale},
                                   viewport={"width": 1280, "height": 900}, accept_downloads=True)
    return Journey(context.new_page(), console_base(stack.port_base)), context


def test_coordinator_opens_a_case_consents_uploads_and_sees_it_routed(chromium, stack, passwords, shared, tmp_path):
    j, context = journey(chromium, stack, "coordinator")
    page = j.page
    with recorded(page, "coordinator_opens", FAILURES):
        j.sign_in("coordinator", passwords["coordinator"])
        assert page.url.endswith("/worklist")
        press(page.get_by_role("link", name="New case"))
        j.check()
        type_into(page.locator("#f-patient-name"), "Nadia Browser-Testpatient")
        type_into(page.locator("#f-patient-date_of_birth"), "1962-03-14")
        type_into(page.locator("#f-patient_country"), "GB")
        type_into(page.locator("#f-question"), "Is surgery first the right order for me?")
        choose(page.locator("#f-tumour_site"), "breast")
        choose(page.locator("#f-stage_group"), "II")
        tick(page.locator("#f-referral_reasons-stage_borderline"))
        choose(page.locator("#f-preferred_centre"), "fuscc")
        press(page.get_by_role("button", name="Open the case"))
        page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}$"))
        case_id = UUID(page.url.rsplit("/", 1)[1])
        shared["case_id"] = case_id
        j.check()
        for button in ("Record this consent", "Record this consent"):
            press(page.get_by_role("button", name=button).first)
            page.wait_for_url(re.compile(r"done=consent"))
        j.check()
        assert page.get_by_text("Given", exact=True).count() == 2
        files = {"pathology_report": ["pathology.pdf"], "pathology_slides": ["slides.pdf"],
                 "treatment_history": ["history.pdf"], "oncologist_letter": ["letter1.pdf", "letter2.pdf"],
                 "imaging": ["ct.dcm"]}
        for kind, names in files.items():
            paths = []
            for n in names:
                p = tmp_path / n
                p.write_bytes(CT_DICOM if n.endswith(".dcm") else f"%PDF-1.4 {n} {uuid4()}".encode())
                paths.append(str(p))
            page.locator(f"#f-file-{kind}").set_input_files(paths)
        press(page.get_by_role("button", name="Upload", exact=True))
        page.wait_for_url(re.compile(r"done=records"), timeout=60_000)
        j.check()
        assert page.get_by_text("Complete", exact=True).count() >= 1
        # The status panel refreshes itself (htmx) until routing has placed the case.
        page.locator("#case-centre").get_by_text("Fudan University Shanghai Cancer Centre").wait_for(timeout=60_000)
        j.check()
        j.goto("/worklist")
        assert page.locator(f"a[href='/cases/{case_id}']").count() == 1
    context.close()


def test_fuscc_reviewer_in_chinese_accepts_sees_ct_reports_delivers_and_answers(
        chromium, stack, passwords, shared, api: Api, tmp_path):
    case_id = shared["case_id"]
    elsewhere = open_case(api, preferred_centre="sysucc")
    make_ready(api, elsewhere, ["sysucc"])
    j, context = journey(chromium, stack, "reviewer", locale="zh-CN")
    page = j.page
    with recorded(page, "reviewer_fuscc", FAILURES):
        j.sign_in("reviewer-fuscc", passwords["reviewer-fuscc"])
        assert page.url.endswith("/inbox")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.get_by_role("heading", name=re.compile("收件箱")).count() == 1
        link = page.locator(f"a[href='/cases/{case_id}']")
        wait_for(lambda: (page.reload(), link.count())[1], 60, "the case in FUSCC's inbox")
        assert page.locator(f"a[href='/cases/{elsewhere}']").count() == 0
        press(link.first)
        j.check()
        press(page.get_by_role("button", name="接受病例"))
        page.wait_for_url(re.compile(r"done=accept"))
        j.check()
        image = page.locator("img.slice").first
        image.wait_for()
        assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", image.element_handle())
        # The heaviest page: the reviewer's, with its CT slice, scripts and styles, under 200 KB.
        weight = page.evaluate("""() => performance.getEntriesByType('navigation').concat(
            performance.getEntriesByType('resource')).reduce((n, e) => n + e.encodedBodySize, 0)""")
        assert 0 < weight <= 200 * 1024, weight
        viewer = page.get_by_role("link", name="浏览各层面").first.get_attribute("href")
        press(page.get_by_role("link", name="浏览各层面").first)
        page.locator("input[type=range]").first.wait_for()
        j.check()
        # The same viewer without JavaScript is a page of its own, its form a plain GET.
        j.goto(f"{viewer}?index=0")
        assert page.locator("input[type=range]").input_value() == "0"
        j.goto(f"/cases/{case_id}")
        report = tmp_path / "report.pdf"
        report.write_bytes(report_pdf(6))
        shared["report"] = report.read_bytes()
        page.locator("#f-file").set_input_files(str(report))
        press(page.get_by_role("button", name="上传报告"))
        page.wait_for_url(re.compile(r"done=report"), timeout=60_000)
        j.check()
        assert page.get_by_text("已上传 6 页的报告").count() == 1
        choose(page.locator("#f-pathology-verdict"), "agree")
        choose(page.locator("#f-imaging-verdict"), "stage_confirmed")
        choose(page.locator("#f-recommended_pathway"), "surgery")
        choose(page.locator("#f-question_answer"), "answered")
        choose(page.locator("#f-diagnosis_change"), "concordant")
        choose(page.locator("#f-treatment_change"), "refined")
        if SHOOT:
            page.screenshot(path=str(DOCS / "console-reviewer-case.png"), full_page=True)
        press(page.get_by_role("button", name="交付意见"))
        page.wait_for_url(re.compile(r"done=delivery"))
        j.check()
        wait_for(lambda: api.call("intake", "GET", f"/cases/{case_id}").json()["review_delivered"], 60,
                 "intake to learn of the delivery")
        r = api.call("review", "POST", f"/cases/{case_id}/follow-ups",
                     json={"question": "Would neoadjuvant therapy change it?"})
        assert r.status_code == 201, r.text
        page.reload()
        j.check()
        addendum = tmp_path / "addendum.pdf"
        addendum.write_bytes(report_pdf(1))
        page.locator("#f-addendum-1").set_input_files(str(addendum))
        press(page.get_by_role("button", name="上传补充报告"))
        page.wait_for_url(re.compile(r"done=addendum"), timeout=60_000)
        j.check()
        assert page.get_by_text("按时回答").count() + page.get_by_text("逾期回答").count() == 1
        # The switch at the top keeps English for this browser, whatever it asks for.
        press(page.get_by_role("link", name="English"))
        page.wait_for_load_state("load")
        assert page.locator("html").get_attribute("lang") == "en"
        j.goto("/inbox")
        assert page.get_by_role("heading", name=re.compile("^Inbox")).count() == 1
    context.close()


def test_coordinator_downloads_the_report_books_treatment_and_sees_the_fee_credit(chromium, stack, passwords, shared):
    case_id = shared["case_id"]
    j, context = journey(chromium, stack, "coordinator-books")
    page = j.page
    with recorded(page, "coordinator_books", FAILURES):
        j.sign_in("coordinator", passwords["coordinator"])
        j.goto(f"/cases/{case_id}")
        with page.expect_download() as got:
            press(page.get_by_role("link", name="Report, version 1"))
        assert Path(got.value.path()).read_bytes() == shared["report"]
        choose(page.locator("#f-treatment_type"), "surgery")
        choose(page.locator("#f-travel_reason"), "one_programme")
        type_into(page.locator("#f-estimated_cost"), "25000")
        press(page.get_by_role("button", name="Book the treatment"))
        page.wait_for_url(re.compile(r"done=booking"))
        j.check()

        def credited() -> bool:
            page.reload()
            return "applied" in page.locator("#fee-credit").inner_text()

        # The SLA clock as review counts it: the days used and what is left of the 10-day limit.
        used, left = (int(page.locator(f"#sla-{k}").inner_text()) for k in ("used", "left"))
        assert used + left == 10
        wait_for(credited, 60, "the fee credit on the account")
        assert not page.locator("#fee-credit").inner_text().startswith("USD 0.00")
    context.close()


def test_patients_quote_equals_the_apis_and_the_request_reaches_the_worklist(chromium, stack, passwords, api: Api):
    j, context = journey(chromium, stack, "patient")
    page = j.page
    with recorded(page, "patient_quote", FAILURES):
        j.goto("/quote")
        answers = {"tumour_site": "sarcoma", "histology": "soft_tissue_sarcoma", "stage_group": "III"}
        for name, value in answers.items():
            choose(page.locator(f"#f-{name}"), value)
            press(page.get_by_role("button", name="Continue"))
            j.check()
        type_into(page.locator("#f-imaging_studies"), "3")
        press(page.get_by_role("button", name="Continue"))
        j.check()
        for name in ("rare_tumour", "wants_video"):
            page.locator(f"#f-{name}-yes").focus()
            page.locator(f"#f-{name}-yes").press("Space")
            press(page.get_by_role("button", name="Continue"))
            j.check()
        press(page.get_by_role("button", name="See the price"))
        j.check()
        shown = page.locator("#quote-amount").inner_text()
        # The same answers to the quote API (the stage prices nothing: the API does not take it).
        r = api.call("billing", "POST", "/quotes", json={
            "tumour_site": "sarcoma", "histology": "soft_tissue_sarcoma", "imaging_studies": 3,
            "rare_tumour": True, "wants_video": True, "referral_reasons": ["rare_tumour"]})
        assert r.status_code == 201, r.text
        assert shown == f"{r.json()['total_cents'] / 100:.2f}"
        press(page.get_by_role("link", name="Request this second opinion"))
        j.check()
        name = f"Patient Wizard-{uuid4().hex[:6]}"
        type_into(page.locator("#f-patient-name"), name)
        type_into(page.locator("#f-patient-email"), "wizard@example.org")
        type_into(page.locator("#f-patient-date_of_birth"), "1970-05-06")
        type_into(page.locator("#f-patient_country"), "DE")
        type_into(page.locator("#f-question"), "Is limb-sparing surgery possible?")
        press(page.get_by_role("button", name="Send the request"))
        page.get_by_role("heading", name="Your request is sent").wait_for()
        j.check()
        reference = page.locator("#reference").inner_text()
    context.close()
    # The identity and the question are in intake's vault, as for a case a coordinator opens.
    held = api.call("intake", "GET", f"/cases/{reference}/patient").json()
    assert (held["identity"]["name"], held["question"]) == (name, "Is limb-sparing surgery possible?")
    j, context = journey(chromium, stack, "coordinator-sees-request")
    page = j.page
    with recorded(page, "coordinator_sees_request", FAILURES):
        j.sign_in("coordinator", passwords["coordinator"])
        j.goto("/worklist?status=collecting_records")
        row = page.locator("tr", has=page.locator(f"a[href='/cases/{reference}']"))
        for _ in range(40):  # the walk's pages, by the Next link, until the request's row
            if row.count() or not page.get_by_role("link", name="Next page").count():
                break
            press(page.get_by_role("link", name="Next page"))
            page.wait_for_load_state("load")
        assert row.get_by_text("Requested by the patient").count() == 1
        j.check()
        if SHOOT:
            j.goto("/worklist")
            page.screenshot(path=str(DOCS / "console-worklist.png"))
    context.close()


def test_the_analyst_sees_the_figures_drawn_and_every_consumer(chromium, stack, passwords):
    """After the journeys above: a delivered, booked case is in every figure."""
    j, context = journey(chromium, stack, "analyst")
    page = j.page
    with recorded(page, "analyst", FAILURES):
        j.sign_in("analyst", passwords["analyst"])
        assert page.url.endswith("/operations")

        def drawn() -> int:
            page.reload()
            return page.locator("svg.chart").count()

        # Travel share with its Wilson whiskers, diagnosis and treatment change, SLA on time by month.
        wait_for(lambda: drawn() >= 4, 60, "the analyst's four charts")
        j.check()
        consumers = page.locator("section[aria-labelledby=h-consumers] tbody tr")
        assert consumers.count() >= 5
    context.close()


def test_another_centres_reviewer_gets_the_same_not_found_page(chromium, stack, passwords, shared):
    j, context = journey(chromium, stack, "other-centre")
    page = j.page
    with recorded(page, "other_centre", FAILURES):
        j.sign_in("reviewer-cams", passwords["reviewer-cams"])
        theirs = page.goto(f"{j.base}/cases/{shared['case_id']}")
        j.check()
        theirs_text = page.locator("main").inner_text()
        missing = page.goto(f"{j.base}/cases/{uuid4()}")
        j.check()
        assert theirs is not None and missing is not None
        assert theirs.status == missing.status == 404
        assert page.locator("main").inner_text() == theirs_text
    context.close()


def test_the_public_request_is_rate_limited_per_client_address(stack):
    """One address over its allowance gets 429s; another address is still served."""
    from tests.integration.test_console import csrf_of, from_address

    base = console_base(stack.port_base)

    def posts(address: str, n: int) -> list[int]:
        with from_address(address) as bot:
            token = csrf_of(bot.get(base + "/quote/request").text)
            return [bot.post(base + "/quote/request", data={"csrf": token}).status_code for _ in range(n)]

    statuses = posts("127.0.0.9", 8)
    assert set(statuses) <= {422, 429} and 429 in statuses, statuses
    assert statuses.index(429) == 5  # CONSOLE_REQUEST_RATE: 5 an hour from one address
    assert posts("127.0.0.10", 1) == [422]  # an empty request, refused for what it lacks, not limited


def test_a_failed_journey_leaves_its_page_behind(chromium, stack, tmp_path):
    j, context = journey(chromium, stack, "failing")
    with pytest.raises(AssertionError), recorded(j.page, "failing", tmp_path):
        j.goto("/quote")
        raise AssertionError("a step that fails")
    context.close()
    assert (tmp_path / "failing.png").read_bytes().startswith(b"\x89PNG")
    assert "<form" in (tmp_path / "failing.html").read_text()  # the wizard's first step, as the page was
