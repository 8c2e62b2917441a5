"""No patient identity or free clinical text ever reaches Kafka."""

from __future__ import annotations

from uuid import uuid4

from kafka import KafkaConsumer, TopicPartition

from demo.documents import report_pdf
from events.contract import DLQ_TOPIC, TOPIC
from tests.integration.conftest import (
    DELIVERY,
    NEW_CASE,
    SENSITIVE_NAMES,
    SENSITIVE_QUESTION,
    Api,
    make_ready,
    open_case,
    wait_for,
    wait_until_projected,
)

IDENTITY = {"name": SENSITIVE_NAMES[1], "date_of_birth": "1958-11-03", "email": "kwame.m@example.org",
            "phone": "+44 20 7946 0958", "passport_number": "GH9876543"}
QUESTION = "Should my father, born in Kumasi, have proton therapy or surgery for the clivus chordoma?"
FOLLOW_UP = "Could the hepatic lesion seen at Hospital Sao Joao in 2025 be a metastasis after all?"
FUSCC = "CENTRE_FUSCC_TOKEN"


def all_messages(bootstrap: str) -> list[bytes]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        out: list[bytes] = []
        for topic in (TOPIC, DLQ_TOPIC):
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            ends = consumer.end_offsets(parts)
            while any(consumer.position(tp) < ends[tp] for tp in parts):
                for batch in consumer.poll(timeout_ms=1000, max_records=5000).values():
                    out.extend((m.key or b"") + b"\n" + (m.value or b"") for m in batch)
        return out
    finally:
        consumer.close()


def test_no_message_on_the_topic_carries_identity_or_the_question(api: Api, db, env):
    case_id = open_case(api, patient=IDENTITY, question=QUESTION, tumour_site="head_neck",
                        histology="adenoid_cystic_carcinoma")
    api.call("intake", "PUT", f"/cases/{case_id}/question", json={"question": QUESTION + " (revised)"})
    make_ready(api, case_id)
    wait_for(lambda: api.call("routing", "GET", f"/cases/{case_id}/routing").status_code == 200, what="routing")
    ref = api.call("intake", "GET", f"/cases/{case_id}").json()["patient_ref"]
    api.call("intake", "POST", f"/patients/{ref}/erasure", token="ADMIN_TOKEN", json={"occurred_at": None})
    other = open_case(api, patient={**IDENTITY, "name": SENSITIVE_NAMES[2]}, question=f"Q {uuid4()} {QUESTION}",
                      preferred_centre="fuscc")
    # The second case goes through the exchange: a report, a follow-up question, an addendum.
    make_ready(api, other, ["fuscc"])
    wait_for(lambda: api.call("review", "GET", f"/cases/{other}", token=FUSCC).status_code == 200,
             what="the assignment at FUSCC")
    api.call("review", "POST", f"/cases/{other}/acceptance", token=FUSCC, json={})
    named = f"{SENSITIVE_NAMES[2]} second opinion.pdf"
    report = api.call("review", "POST", f"/cases/{other}/report", token=FUSCC,
                      files={"file": (named, report_pdf(6, SENSITIVE_NAMES[2]), "application/pdf")})
    assert report.status_code == 201, report.text
    assert api.call("review", "POST", f"/cases/{other}/delivery", token=FUSCC,
                    json={**DELIVERY, "report_ref": report.json()["document_id"]}).status_code == 200
    asked = api.call("review", "POST", f"/cases/{other}/follow-ups", json={"question": FOLLOW_UP})
    assert asked.status_code == 201, asked.text
    answered = api.call("review", "POST", f"/cases/{other}/follow-ups/{asked.json()['follow_up_id']}/addendum",
                        token=FUSCC, files={"file": (named, report_pdf(1, FOLLOW_UP), "application/pdf")})
    assert answered.status_code == 201, answered.text
    wait_until_projected(db)

    # The scan must cover this test's own cases: every event the stores hold for them is on the topic.
    ours = {str(r["event_id"]) for schema in ("intake", "routing", "review", "billing")
            for r in db.execute(f"SELECT event_id FROM {schema}.events WHERE case_id = ANY(%s)", ([case_id, other],))}
    messages = all_messages(env["KAFKA_BOOTSTRAP_SERVERS"])
    assert len(ours) > 15
    assert {e for e in ours if any(e.encode() in m for m in messages)} == ours
    kinds = {r["event_type"] for r in db.execute("SELECT event_type FROM review.events WHERE case_id = %s", (other,))}
    assert kinds >= {"ReportUploaded", "ReviewDelivered", "FollowUpAsked", "FollowUpAnswered"}
    forbidden = [*SENSITIVE_NAMES, SENSITIVE_QUESTION, QUESTION, "Kumasi", "chordoma", FOLLOW_UP, "Sao Joao",
                 "hepatic", "second opinion.pdf", IDENTITY["email"],
                 IDENTITY["phone"], IDENTITY["passport_number"], IDENTITY["date_of_birth"], "1961-04-17",
                 "P1234567", "amelia@example.org"]
    leaks = [(text, m[:200]) for m in messages for text in forbidden if text.encode() in m]
    assert leaks == []
    # The check can fail: the same strings are in intake's database, encrypted, not in clear.
    assert any(b"pr_" in m for m in messages)


def test_no_user_name_or_email_reaches_an_event_a_log_or_the_topic(api: Api, db, env, stack, tokens):
    from infra.directory import person
    from infra.signin import claims
    from tests.integration.conftest import delivered_case

    # People act: coordinators open and ask, a reviewer accepts, reports, delivers and reads.
    case_id = delivered_case(api)
    api.call("intake", "POST", "/cases", token="coordinator2", json={**NEW_CASE, "patient": IDENTITY})
    assert api.call("intake", "GET", f"/cases/{case_id}/package", token=FUSCC).status_code == 200
    assert api.call("intake", "GET", "/cases", token="reviewer2-fuscc").status_code == 403
    wait_until_projected(db)
    people = ("coordinator", "coordinator2", "reviewer-fuscc", "reviewer2-fuscc", "admin", "analyst", "billing")
    subjects = [claims(tokens[p])["sub"] for p in people]
    forbidden = [text for p in people for text in (person(p)["family_name"], person(p)["email"])]
    forbidden += ["coordinator2", "reviewer-fuscc", "reviewer2-fuscc", "case-ledger.test"]

    messages = all_messages(env["KAFKA_BOOTSTRAP_SERVERS"])
    stored = [r["e"].encode() for schema in ("intake", "routing", "review", "billing")
              for r in db.execute(f"SELECT envelope::text AS e FROM {schema}.events")]
    projected = [str(r).encode() for r in db.execute("SELECT * FROM analytics.case_timeline")]
    audited = [str(r).encode() for r in db.execute("SELECT * FROM intake.record_accesses")]
    # Every program's log but the provider's own: it is where identities live, like its database.
    logs = [p.read_bytes() for p in stack.logs.glob("*.log") if p.name != "identity.log"]
    for name, blobs in (("topic", messages), ("event stores", stored), ("analytics", projected),
                        ("access audit", audited), ("logs", logs)):
        leaks = [(text, name) for blob in blobs for text in forbidden if text.encode() in blob]
        assert leaks == [], leaks
    # The check can fail: the actors are there, as opaque subjects, and the names are at the provider.
    for subject in subjects[:3]:
        assert any(subject.encode() in m for m in messages), subject
    at_provider = str(db.execute('SELECT * FROM identity."user"').fetchall()).encode()
    assert person("reviewer-fuscc")["email"].encode() in at_provider and b"reviewer2-fuscc" in at_provider
