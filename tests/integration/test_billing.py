"""Billing over the real stack: quotes, capture at completeness, provider faults, refunds, the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from kafka import KafkaConsumer, TopicPartition

from events.contract import TOPIC
from infra.stack import Stack
from tests.integration.conftest import BOOKING, Api, delivered_case, make_ready, open_case, wait_for


def account(api: Api, case_id: UUID) -> dict[str, Any]:
    r = api.call("billing", "GET", f"/cases/{case_id}/account", token="BILLING_TOKEN")
    return r.json() if r.status_code == 200 else {}


def wait_account(api: Api, case_id: UUID, ready: Any, what: str) -> dict[str, Any]:
    return wait_for(lambda: (a := account(api, case_id)) and ready(a) and a, timeout=45, what=what)


# Fault tests use cases of this total (review + video) so no other test's payment meets the fault:
# NEW_CASE (base fee and its one imaging study) with the video consultation.
FAULTED_TOTAL = 80_000 + 5_000 + 40_000


def fault(api: Api, operation: str, mode: str, times: int = 1) -> None:
    r = api.call("billing", "POST", "/admin/provider/faults", token="ADMIN_TOKEN",
                 json={"operation": operation, "mode": mode, "times": times, "amount_cents": FAULTED_TOTAL})
    assert r.status_code == 200, r.text


def provider_ops(db, case_id: UUID) -> list[dict[str, Any]]:
    return db.execute("SELECT o.operation, o.amount_cents FROM payment_sim.operations o "
                      "WHERE o.ref IN (SELECT envelope->'payload'->>'provider_ref' FROM billing.events "
                      "WHERE case_id = %s)", (case_id,)).fetchall()


def test_a_quote_answers_instantly_and_the_case_is_invoiced_at_the_quoted_price(api: Api):
    r = api.call("billing", "POST", "/quotes", json={"tumour_site": "sarcoma", "glass_slides": True,
                                                      "imaging_studies": 3, "wants_video": True})
    assert r.status_code == 201, r.text
    quote = r.json()
    assert quote["review_cents"] == 80_000 + 30_000 + 15_000 + 3 * 5_000  # base, rare, slides, 3 studies
    assert quote["turnaround"]["text"] == "7-10 business days"
    assert sum(line["cents"] for line in quote["breakdown"]) == quote["total_cents"]
    case_id = open_case(api, tumour_site="sarcoma", quote_id=quote["quote_id"], wants_video=True)
    invoiced = wait_account(api, case_id, lambda a: a["review_fee_cents"], "the invoice")
    assert (invoiced["review_fee_cents"], invoiced["video_fee_cents"]) == (quote["review_cents"], quote["video_cents"])
    assert invoiced["authorised"] is True and invoiced["paid_review_cents"] == 0  # no charge before records


def test_capture_happens_when_records_are_complete_and_the_ledger_balances(api: Api, db):
    case_id = open_case(api)
    make_ready(api, case_id)
    paid = wait_account(api, case_id, lambda a: a["paid_review_cents"], "the capture")
    assert paid["ledger"]["cash"] == paid["review_fee_cents"] + paid["video_fee_cents"]
    assert paid["ledger_balance"] == 0
    total = api.call("billing", "GET", "/ledger", token="BILLING_TOKEN").json()
    assert total["total_cents"] == 0 and total["cases"] > 0


def test_a_declined_capture_charges_nothing_and_a_retry_captures_once(api: Api, db):
    fault(api, "capture", "fail")
    case_id = open_case(api, wants_video=True)
    make_ready(api, case_id)
    failed = wait_account(api, case_id, lambda a: a["payment_failures"], "the failed capture")
    assert failed["paid_review_cents"] == 0 and "cash" not in failed["ledger"]
    r = api.call("billing", "POST", f"/cases/{case_id}/payments/capture", token="BILLING_TOKEN", json={})
    assert r.status_code == 200, r.text
    assert r.json()["paid_review_cents"] + r.json()["paid_video_cents"] == FAULTED_TOTAL
    again = api.call("billing", "POST", f"/cases/{case_id}/payments/capture", token="BILLING_TOKEN", json={})
    assert (again.status_code, again.json()["code"]) == (409, "not_capturable")
    assert [o["operation"] for o in provider_ops(db, case_id)].count("capture") == 1


def test_a_capture_that_times_out_after_charging_is_recorded_once(api: Api, db):
    # The provider charges, then the answer is lost: the handler's retry with the same key gets
    # the first answer back instead of charging twice.
    fault(api, "capture", "timeout")
    case_id = open_case(api, wants_video=True)
    make_ready(api, case_id)
    paid = wait_account(api, case_id, lambda a: a["paid_review_cents"], "the capture after the timeout")
    assert paid["paid_review_cents"] + paid["paid_video_cents"] == FAULTED_TOTAL
    captures = db.execute("SELECT count(*) AS n FROM billing.events WHERE case_id = %s AND "
                          "event_type = 'PaymentCaptured'", (case_id,)).fetchone()["n"]
    assert captures == 1
    assert [o["operation"] for o in provider_ops(db, case_id)].count("capture") == 1


def test_a_doubled_provider_callback_changes_nothing(api: Api, db):
    case_id = open_case(api)
    make_ready(api, case_id)
    paid = wait_account(api, case_id, lambda a: a["paid_review_cents"], "the capture")
    ref = db.execute("SELECT envelope->'payload'->>'provider_ref' AS ref FROM billing.events WHERE case_id = %s "
                     "AND event_type = 'PaymentCaptured'", (case_id,)).fetchone()["ref"]
    for _ in range(2):
        r = api.call("billing", "POST", "/provider/callbacks", token="BILLING_TOKEN",
                     json={"kind": "capture.succeeded", "case_id": str(case_id), "provider_ref": ref})
        assert r.status_code == 200 and r.json() == {"applied": False}
    assert account(api, case_id) == paid


def test_a_cancellation_before_acceptance_refunds_in_full_once(api: Api, db):
    case_id = open_case(api, tumour_site="breast", preferred_centre="pkuch")
    make_ready(api, case_id, ["pkuch"])
    wait_account(api, case_id, lambda a: a["paid_review_cents"], "the capture")
    r = api.call("intake", "POST", f"/cases/{case_id}/cancellation", json={"reason": "financial"})
    assert r.status_code == 200, r.text
    refunded = wait_account(api, case_id, lambda a: a["refunds"], "the refund")
    [refund] = refunded["refunds"]
    assert refund["reason"] == "cancelled_before_acceptance"
    assert refund["review_cents"] == refunded["paid_review_cents"]
    assert refunded["ledger"].get("cash", 0) == 0 and refunded["ledger_balance"] == 0
    # A cancelled case cannot be cancelled again, and the refund is not repeated.
    assert api.call("intake", "POST", f"/cases/{case_id}/cancellation", json={"reason": "other"}).status_code == 409
    assert len(account(api, case_id)["refunds"]) == 1


def test_a_case_cancelled_before_its_records_were_complete_is_voided_not_charged(api: Api):
    case_id = open_case(api)
    wait_account(api, case_id, lambda a: a["authorised"], "the authorisation")
    api.call("intake", "POST", f"/cases/{case_id}/cancellation", json={"reason": "treated_elsewhere"})
    voided = wait_account(api, case_id, lambda a: a["invoice_voided"], "the void")
    assert voided["paid_review_cents"] == 0 and voided["refunds"] == []
    assert voided["ledger"] == {} and voided["ledger_balance"] == 0


def test_the_fee_credit_is_redeemed_once_against_the_treatment_bill(api: Api):
    case_id = delivered_case(api)
    assert api.call("intake", "POST", f"/cases/{case_id}/treatment-booking", json=BOOKING).status_code == 201
    credited = wait_account(api, case_id, lambda a: a["fee_credit_cents"], "the fee credit")
    assert credited["fee_credit_cents"] == credited["paid_review_cents"]
    body = {"treatment_invoice_ref": f"fuscc-inv-{uuid4().hex[:8]}"}
    first = api.call("billing", "POST", f"/cases/{case_id}/fee-credit/redemption", token="BILLING_TOKEN", json=body)
    assert first.status_code == 200 and first.json()["fee_credit_redeemed"] is True
    assert first.json()["ledger"].get("treatment_credit_liability", 0) == 0
    other = api.call("billing", "POST", f"/cases/{case_id}/fee-credit/redemption", token="BILLING_TOKEN",
                     json={"treatment_invoice_ref": "another-bill"})
    assert (other.status_code, other.json()["code"]) == (409, "already_redeemed")


def read_past(db: Any, group: KafkaConsumer, case_id: UUID, event_type: str) -> bool:
    """Whether `group` has committed past the case's intake event of `event_type`: it has read it."""
    row = db.execute("SELECT o.kafka_partition AS partition, o.kafka_offset AS kafka_offset FROM intake.outbox o "
                     "JOIN intake.events e USING (event_id) WHERE e.case_id = %s AND e.event_type = %s "
                     "AND o.kafka_offset IS NOT NULL", (case_id, event_type)).fetchone()
    if row is None:
        return False  # not published yet
    committed = group.committed(TopicPartition(TOPIC, row["partition"]))
    return committed is not None and committed > row["kafka_offset"]


def test_a_withdrawal_billing_sees_before_the_acceptance_is_refunded_as_after_acceptance(api: Api, db, env,
                                                                                       stack: Stack):
    # The reported defect: accepted, then withdrawn two days later, but review's relay was behind,
    # so billing saw the withdrawal first and refunded everything as "before acceptance".
    case_id = open_case(api, tumour_site="breast", preferred_centre="pkuch")
    make_ready(api, case_id, ["pkuch"])
    paid = wait_account(api, case_id, lambda a: a["paid_review_cents"], "the capture")
    token = "CENTRE_PKUCH_TOKEN"
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token=token).status_code == 200,
             what="the assignment")
    accepted_at = datetime.now(UTC) + timedelta(days=1)
    stack.stop("review-worker")
    try:
        r = api.call("review", "POST", f"/cases/{case_id}/acceptance", token=token,
                     json={"occurred_at": accepted_at.isoformat()})
        assert r.status_code == 200, r.text
        r = api.call("intake", "POST", f"/cases/{case_id}/withdrawal",
                     json={"reason": "patient_request", "occurred_at": (accepted_at + timedelta(days=2)).isoformat()})
        assert r.status_code == 200, r.text
        # Billing waits for the centre's answer: no money moves on the withdrawal alone. Billing
        # handles no withdrawal any more, so nothing of its own marks that it has seen it; its
        # group's committed offset past the withdrawal's says it has read it (a refund it decided
        # on it would be in its store by then), instead of ten quiet seconds.
        watcher = KafkaConsumer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], group_id="billing.billing",
                                enable_auto_commit=False)
        try:
            wait_for(lambda: read_past(db, watcher, case_id, "CaseWithdrawn"), 60, "billing to read the withdrawal")
        finally:
            watcher.close()
        assert account(api, case_id)["refunds"] == []
    finally:
        stack.start("review-worker")
    refunded = wait_account(api, case_id, lambda a: a["refunds"], "the refund")
    [refund] = refunded["refunds"]
    assert refund["reason"] == "withdrawn_after_acceptance"
    assert refund["review_cents"] == paid["paid_review_cents"] // 2
    assert refunded["ledger_balance"] == 0


def test_a_booking_at_another_centre_than_the_reviewing_one_earns_no_fee_credit(api: Api, db):
    case_id = delivered_case(api)  # reviewed at FUSCC
    r = api.call("intake", "POST", f"/cases/{case_id}/treatment-booking", json={**BOOKING, "centre_id": "wch"})
    assert r.status_code == 201, r.text
    settled = wait_account(api, case_id, lambda a: a["fee_credit_status"], "billing to see the booking")
    assert (settled["fee_credit_status"], settled["fee_credit_cents"]) == ("not_owed_booked_at_another_centre", 0)
    assert "fee_credits" not in settled["ledger"]
