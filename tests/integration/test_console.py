"""The console over plain HTTP on the real stack: sign-in, the cookie, CSRF, bounds, the portal's reach, weight."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import psycopg
import pytest

from infra.directory import console_base
from infra.signin import Tokens, console_session
from infra.stack import Stack

pytestmark = pytest.mark.integration
PAGE_LIMIT = 200 * 1024


def from_address(address: str, **kwargs: Any) -> httpx.Client:
    """A client whose connections leave from ADDRESS of the loopback range (127.0.0.0/8): the console's
    per-address limits count it apart from the browser journeys, which all come from 127.0.0.1."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), **kwargs)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


@pytest.fixture(scope="module")
def base(stack: Stack) -> str:
    return console_base(stack.port_base)


@pytest.fixture(scope="module")
def coordinator(stack: Stack, base: str) -> Iterator[httpx.Client]:
    client = console_session(base, "coordinator", stack.provider.passwords()["coordinator"])
    yield client
    client.close()


def test_an_unsigned_person_is_sent_to_the_providers_sign_in_with_pkce(stack: Stack, base: str):
    with httpx.Client(follow_redirects=False) as browser:
        r = browser.get(base + "/")
        assert r.status_code == 303 and r.headers["location"] == "/auth/login?next=%2F"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert re.match(r"cl_session=[A-Za-z0-9_-]{43};", cookie)
        r = browser.get(base + "/auth/login?next=%2Fworklist")
        authorize = urlparse(r.headers["location"])
        assert f"{authorize.scheme}://{authorize.netloc}" == stack.issuer()
        q = parse_qs(authorize.query)
        assert q["client_id"] == ["console"] and q["code_challenge_method"] == ["S256"]
        assert q["redirect_uri"] == [f"{base}/auth/callback"] and q["scope"] == ["openid groups"]
        assert len(q["code_challenge"][0]) == 43 and q["state"] and q["nonce"]
        # A callback that is not this browser's sign-in opens nothing.
        r = browser.get(base + "/auth/callback", params={"code": "made-up", "state": "another"})
        assert r.status_code == 400
        assert browser.get(base + "/worklist").status_code == 303


def test_the_tokens_stay_on_the_server(coordinator: httpx.Client, db_url: str):
    cookie = coordinator.cookies["cl_session"]
    assert len(cookie) == 43 and "." not in cookie  # a random id, not a token
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT id_hash, sealed FROM console.sessions").fetchall()
    assert rows and all(b"eyJ" not in bytes(sealed) for _, sealed in rows)  # no JWT in the clear
    assert all(cookie not in h for h, _ in rows)


def test_every_form_post_needs_its_csrf_token(coordinator: httpx.Client, base: str):
    page = coordinator.get(base + "/cases/new")
    token = csrf_of(page.text)
    r = coordinator.post(base + "/cases/new", data={"tumour_site": "breast"})
    assert r.status_code == 403
    r = coordinator.post(base + "/cases/new", data={"tumour_site": "breast", "csrf": "0" * 64})
    assert r.status_code == 403
    # With its token the form reaches intake, whose refusal is shown beside the fields it names.
    r = coordinator.post(base + "/cases/new", data={"csrf": token, "tumour_site": "nowhere", "stage_group": "II"})
    assert r.status_code == 422
    assert 'id="e-tumour_site"' in r.text and 'aria-invalid="true"' in r.text
    # Another browser's token is not this one's.
    with httpx.Client() as other:
        other.get(base + "/quote")
        assert other.post(base + "/quote", data={"csrf": token}).status_code == 403


def test_the_public_wizard_refuses_junk_with_clear_4xx(base: str):
    with from_address("127.0.0.3", follow_redirects=False) as bot:
        page = bot.get(base + "/quote")
        assert page.status_code == 200 and "/auth/" not in page.text
        token = csrf_of(bot.get(base + "/quote?tumour_site=lung&histology=other&stage_group=I&imaging_studies=1"
                                       "&rare_tumour=no&wants_video=no").text)
        assert bot.post(base + "/quote", data={"csrf": token}).status_code == 422  # answers missing
        junk = {"csrf": token, "tumour_site": "moon", "histology": "other", "stage_group": "I",
                "imaging_studies": "-4", "rare_tumour": "no", "wants_video": "no"}
        r = bot.post(base + "/quote", data=junk)
        assert r.status_code == 422 and "cannot be priced" in r.text
        r = bot.post(base + "/quote", content=b"x" * 100_000,
                     headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413
        r = bot.post(base + "/quote/request", data={"csrf": token, "quote_id": "x" * 5000})
        assert r.status_code == 422


def test_the_portal_identity_may_quote_and_open_requests_only(tokens: Tokens, api: Any):
    portal = {"Authorization": f"Bearer {tokens['portal']}"}
    for service, path in (("intake", "/cases"), ("billing", "/ledger"), ("analytics", "/figures")):
        r = api._clients[service].get(path, headers=portal)
        assert r.status_code == 403, (service, path, r.text)
    # Not another patient's case: a request names its own patient and question.
    r = api._clients["intake"].post("/cases", headers=portal, json={
        "tumour_site": "lung", "stage_group": "I", "referral_reasons": ["other"], "patient_country": "GB",
        "language": "en", "patient_ref": "pr_" + "0" * 32})
    assert r.status_code == 422


def test_pages_are_light(coordinator: httpx.Client, base: str, api: Any):
    from tests.integration.conftest import open_case

    case_id = open_case(api)
    assets = sum(len(coordinator.get(base + p).content) for p in
                 ("/static/console.css", "/static/console.js", "/static/htmx/htmx.min.js"))
    for path in ("/worklist", f"/cases/{case_id}", "/cases/new", "/operations", "/quote"):
        r = coordinator.get(base + path)
        assert r.status_code == 200, (path, r.status_code)
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert len(r.content) + assets <= PAGE_LIMIT, (path, len(r.content), assets)


def test_several_records_go_up_in_one_plain_form_post(coordinator: httpx.Client, base: str, api: Any):
    """Without JavaScript: the case page's upload form, several files in one multipart post."""
    from tests.integration.conftest import open_case

    case_id = open_case(api)
    token = csrf_of(coordinator.get(f"{base}/cases/{case_id}").text)
    files = [("file.oncologist_letter", ("letter1.pdf", b"%PDF-1.4 first letter", "application/pdf")),
             ("file.oncologist_letter", ("letter2.pdf", b"%PDF-1.4 second letter", "application/pdf")),
             ("file.treatment_history", ("history.pdf", b"%PDF-1.4 the history", "application/pdf"))]
    r = coordinator.post(f"{base}/cases/{case_id}/records", data={"csrf": token}, files=files)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=records#records"), r.text
    kinds = sorted(rec["kind"] for rec in api.call("intake", "GET", f"/cases/{case_id}").json()["checklist"]["records"])
    assert kinds == ["oncologist_letter", "oncologist_letter", "treatment_history"]
    # No file chosen: the form comes back with the message beside the file inputs.
    r = coordinator.post(f"{base}/cases/{case_id}/records", data={"csrf": token},
                         files=[("file.imaging", ("", b"", "application/octet-stream"))])
    assert r.status_code == 422 and 'id="e-file"' in r.text


def test_an_actions_refusal_is_shown_beside_its_field_in_the_persons_language(coordinator: httpx.Client, base: str,
                                                                               api: Any):
    from tests.integration.conftest import open_case

    case_id = open_case(api)
    token = csrf_of(coordinator.get(f"{base}/cases/{case_id}").text)
    r = coordinator.post(f"{base}/cases/{case_id}/consents",
                         data={"csrf": token, "consent": "transfer_abroad", "centre_ids": "atlantis"})
    assert r.status_code == 422 and 'id="e-centre_ids"' in r.text
    cancel = {"csrf": token, "reason": "patient_request"}
    assert coordinator.post(f"{base}/cases/{case_id}/cancel", data=cancel).status_code == 303
    r = coordinator.post(f"{base}/cases/{case_id}/cancel", data=cancel, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 409 and "此操作已无法进行" in r.text, r.text[-2000:]


def test_the_coordinator_requests_records_and_reroutes_after_the_declines(coordinator: httpx.Client, base: str,
                                                                         api: Any):
    from tests.integration.conftest import make_ready, open_case
    from tests.integration.test_routing_review import assigned_to, decisions, token

    fresh = open_case(api)
    token_of_page = csrf_of(coordinator.get(f"{base}/cases/{fresh}").text)
    r = coordinator.post(f"{base}/cases/{fresh}/records-request", data={"csrf": token_of_page})
    assert r.status_code == 303 and "done=records_request" in r.headers["location"]

    case_id = open_case(api, tumour_site="gastric")
    make_ready(api, case_id, ["pkuch", "fuscc", "sysucc"])
    declined = []
    for n in (1, 2):  # two centres decline: routing leaves the case to the coordinator
        centre = decisions(api, case_id, n)[n - 1]["centre_id"]
        assigned_to(api, case_id, centre)
        api.call("review", "POST", f"/cases/{case_id}/decline", token=token(centre), json={"reason": "at_capacity"})
        declined.append(centre)
    assert decisions(api, case_id, 3)[2]["event_type"] == "CaseRoutingBlocked"
    page = coordinator.get(f"{base}/cases/{case_id}")
    assert 'action="/cases/' + str(case_id) + '/reroute"' in page.text
    csrf = csrf_of(page.text)
    refused = coordinator.post(f"{base}/cases/{case_id}/reroute", data={"csrf": csrf, "centre_id": declined[0]})
    assert refused.status_code == 409 and "That centre declined the case." in refused.text
    third = next(c for c in ("pkuch", "fuscc", "sysucc") if c not in declined)
    r = coordinator.post(f"{base}/cases/{case_id}/reroute", data={"csrf": csrf, "centre_id": third})
    assert r.status_code == 303 and "done=reroute" in r.headers["location"]
    assert decisions(api, case_id, 4)[3]["centre_id"] == third


def test_every_worklist_filter_goes_to_the_api_and_a_wrong_one_is_named(coordinator: httpx.Client, base: str,
                                                                        api: Any):
    from tests.integration.conftest import open_case

    case_id = open_case(api, preferred_centre="wch")
    link = f'href="/cases/{case_id}"'
    every = {"status": "collecting_records", "sla_state": "not_started", "waiting_on": "patient", "scope": "open"}
    page = coordinator.get(f"{base}/worklist", params=every)
    assert page.status_code == 200 and link in page.text
    for name, other in (("status", "review_delivered"), ("waiting_on", "centre"), ("scope", "ended"),
                        ("sla_state", "breached"), ("centre", "wch")):
        shown = coordinator.get(f"{base}/worklist", params={**every, name: other})
        assert shown.status_code == 200 and link not in shown.text, name  # each filter is applied
        assert f'<option value="{other}" selected' in shown.text, name  # and kept in the form
    r = coordinator.get(f"{base}/worklist", params={"status": "nonsense"})
    assert 'id="e-status"' in r.text
