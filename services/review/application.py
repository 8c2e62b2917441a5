"""Review's application layer. A centre acts on its own cases only; others do not exist for it.

Where the SLA deadline is decided: `domain.accept` starts the clock on the next business day, and
`domain.due_sla_events` (timers) and `domain.deliver` decide at-risk, breach and the verdict. A
follow-up question's own clock: `follow_ups.ask_follow_up` and `follow_ups.due_follow_up_events`.
What the centre had done when the case ended (for billing's refund): `endings.end`.

The coordinator reads reports and asks follow-up questions here too; reports, addenda and the
questions' text are in `files` (encrypted with the case's key, shredded at erasure).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast
from uuid import UUID, uuid4

from events.codes import CentreId, DeclineReason, InformationTopic
from events.consumer import Consumer
from events.contract import AssignmentWithdrawn, CaseRouted, acceptance_stands
from events.db import Conn
from events.registry import Decoded
from services.common.calendar import BusinessCalendar
from services.common.errors import NotFound, Rejected
from services.common.kernel import Decision, Handled, Kernel
from services.common.object_store import ObjectMissing
from services.common.runtime import Runtime
from services.common.sweeps import sweep
from services.common.vault import KeyShredded
from services.review import domain, endings, metrics
from services.review import follow_ups as questions
from services.review import video as consultation
from services.review.assignments import AssignmentBook, Row
from services.review.files import CaseFiles
from services.review.settings import ReviewSettings
from services.review.sla import LIMIT_DAYS, sla_state

# Who acts: a centre (CentreId), the coordinator, or None for a reaction of the service itself.
Reader = CentreId | Literal["coordinator"]
Actor = Reader | None


@dataclass
class CaseReview:
    """A case as review sees it: routing's assignment (read model) and the review's own history."""

    assignment: Row | None
    review: domain.Review


Decide = Callable[[domain.Review], Decision]


@dataclass
class ReviewRuntime(Runtime[ReviewSettings]):
    calendar: BusinessCalendar
    assignments: AssignmentBook
    files: CaseFiles

    @functools.cached_property
    def kernel(self) -> Kernel[CaseReview]:
        def start(conn: Conn, case_id: UUID) -> CaseReview:
            row = self.assignments.get(conn, case_id)
            # The routing the centre answers: what its answers are dated after (domain.accept).
            return CaseReview(row, domain.Review(routed_at=row["routed_at"] if row else None))

        return Kernel(self.store, start, lambda s, event, at: s.review.apply(event, at), self._on_appended)

    def _on_appended(self, conn: Conn, state: CaseReview, appended: list[Decoded]) -> None:
        assert state.assignment is not None
        for d in appended:
            if d.envelope.event_type.startswith(("Sla", "FollowUpAtRisk", "FollowUpBreached")):
                metrics.SLA_EVENTS.labels(d.envelope.event_type).inc()
        if state.assignment["centre_id"] is None:
            return  # ended before its routing reached review: no centre, no phase
        phase = domain.state_seen_by(state.review, CentreId(state.assignment["centre_id"]))
        self.assignments.set_phase(conn, appended[0].envelope.case_id, phase)
        state.assignment = {**state.assignment, "phase": phase}  # the state answers as the row now reads


# ------------------------------------------------------------------ reading

def _visible(row: Row | None, case_id: UUID, who: Actor) -> Row:
    # Another centre's case answers 404, not 403: a reviewer must not learn that it exists.
    if row is None or (isinstance(who, CentreId) and row["centre_id"] != who.value):
        raise NotFound(f"case {case_id} not found")
    return row


def document_view(doc: domain.Document) -> dict[str, Any]:
    return {"document_id": doc.document_id, "kind": doc.kind, "version": doc.version, "sha256": doc.sha256,
            "size_bytes": doc.size_bytes, "page_count": doc.page_count, "page_count_reason": doc.page_count_reason,
            "uploaded_at": doc.uploaded_at, "follow_up_id": doc.follow_up_id}


def follow_up_view(f: domain.FollowUp) -> dict[str, Any]:
    return {"follow_up_id": f.follow_up_id, "number": f.number, "asked_at": f.asked_at, "due": f.due,
            "business_days": f.business_days, "state": f.state, "answered_at": f.answered_at,
            "document_id": f.document_id}


def describe(rt: ReviewRuntime, state: CaseReview, now: datetime) -> dict[str, Any]:
    row, review = state.assignment, state.review
    assert row is not None
    sla = None
    if review.accepted_at is not None:
        clock = sla_state(rt.calendar, review.accepted_at, review.pauses, review.delivered_at,
                          domain.clock_now(review, now))
        sla = dataclasses.asdict(clock)
        # What the console shows beside the days used, said here where the limit is kept.
        used = clock.business_days_used
        sla["business_days_left"] = None if used is None else max(0, LIMIT_DAYS - used)
        sla["paused"] = clock.state == "paused"
        if row["stopped_by"] and clock.state not in ("delivered_on_time", "delivered_late"):
            # The case ended (withdrawn, cancelled, erased) before a verdict: its clock stopped
            # there, as the worklist and analytics.sla_cases say; no breach is owed any more.
            sla["state"] = "stopped"
    return {**row, "state": domain.state_seen_by(review, CentreId(row["centre_id"])), "version": review.version,
            "video": review.video,
            "open_information_request": review.open_request.model_dump(mode="json") if review.open_request else None,
            "sla": sla,
            "report_versions": list(review.report_versions),
            "documents": [document_view(d) for d in review.documents.values()],
            "follow_ups": [follow_up_view(f) for f in review.follow_ups.values()]}


def list_cases(rt: ReviewRuntime, centre: CentreId) -> list[dict[str, Any]]:
    with rt.pool.connection() as conn:
        rows = rt.assignments.of_centre(conn, centre.value)
        return [describe(rt, rt.kernel.load(conn, r["case_id"]).state, rt.store.clock()) for r in rows]


def get_case(rt: ReviewRuntime, conn: Conn, case_id: UUID, who: Reader) -> dict[str, Any]:
    state = rt.kernel.load(conn, case_id).state
    _visible(state.assignment, case_id, who)
    return describe(rt, state, rt.store.clock())


# ------------------------------------------------------------------ commands

def command(rt: ReviewRuntime, conn: Conn, case_id: UUID, who: Actor, decide: Decide, at: datetime,
            expected_version: int | None = None, cause: Decoded | None = None) -> Handled[CaseReview]:
    def guarded(state: CaseReview) -> Decision:
        row = _visible(state.assignment, case_id, who)
        if row["stopped_by"] and who is not None:
            raise Rejected(f"processing stopped: {row['stopped_by']}", "processing_stopped")
        return decide(state.review)

    return rt.kernel.handle(conn, case_id, guarded, occurred_at=at, expected_version=expected_version, cause=cause)


def accept(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId, at: datetime,
           expected: int | None = None) -> Handled[CaseReview]:
    return command(rt, conn, case_id, centre, lambda r: domain.accept(r, centre, rt.calendar, at), at, expected)


def decline(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId, reason: DeclineReason, at: datetime,
            expected: int | None = None) -> Handled[CaseReview]:
    return command(rt, conn, case_id, centre, lambda r: domain.decline(r, centre, reason, at), at, expected)


def request_information(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId,
                        topics: Sequence[InformationTopic], at: datetime,
                        expected: int | None = None) -> Handled[CaseReview]:
    return command(rt, conn, case_id, centre, lambda r: domain.request_information(r, uuid4(), list(topics), at), at,
                   expected)


def resolve_information(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId, request_id: UUID,
                        at: datetime, expected: int | None = None) -> Handled[CaseReview]:
    return command(rt, conn, case_id, centre, lambda r: domain.receive_information(r, request_id, rt.calendar, at),
                   at, expected)


def deliver(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId, delivery: dict[str, Any],
            at: datetime, expected: int | None = None) -> Handled[CaseReview]:
    """`delivery`: ReviewDelivered's fields but the centre's; `report_ref` names an uploaded report."""
    return command(rt, conn, case_id, centre,
                   lambda r: domain.deliver(r, domain.delivery_of(r, centre, delivery), rt.calendar, at), at, expected)


def upload_report(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId, content: bytes, sha256: str,
                  page_count: int, reason: str | None, at: datetime,
                  expected: int | None = None) -> tuple[Handled[CaseReview], UUID]:
    """Stores the PDF and records it: the report before delivery, a new version after it."""
    document_id = uuid4()

    def decide(r: domain.Review) -> Decision:
        events = domain.upload_report(r, document_id, sha256, len(content), page_count, reason, at)
        # Stored only once the case allows it, before the event commits: an event never names a
        # missing object. A transaction that fails after it leaves an unreferenced object behind.
        rt.files.store(conn, case_id, sha256, content)
        return events

    return command(rt, conn, case_id, centre, decide, at, expected), document_id


def ask_follow_up(rt: ReviewRuntime, conn: Conn, case_id: UUID, question: str, at: datetime,
                  expected: int | None = None) -> tuple[Handled[CaseReview], UUID]:
    follow_up_id = uuid4()
    settings = rt.settings

    def decide(r: domain.Review) -> Decision:
        events = questions.ask_follow_up(r, follow_up_id, settings.follow_up_limit, settings.follow_up_business_days,
                                      rt.calendar, at)
        rt.files.keep_text(conn, case_id, follow_up_id, question)
        return events

    return command(rt, conn, case_id, "coordinator", decide, at, expected), follow_up_id


def answer_follow_up(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId, follow_up_id: UUID,
                     content: bytes, sha256: str, page_count: int, at: datetime,
                     expected: int | None = None) -> tuple[Handled[CaseReview], UUID]:
    document_id = uuid4()

    def decide(r: domain.Review) -> Decision:
        events = questions.answer_follow_up(r, follow_up_id, document_id, sha256, len(content), page_count,
                                            rt.calendar, at)
        rt.files.store(conn, case_id, sha256, content)
        return events

    return command(rt, conn, case_id, centre, decide, at, expected), document_id


def _readable(rt: ReviewRuntime, conn: Conn, case_id: UUID, who: Reader) -> CaseReview:
    """The case for a reader: the coordinator, or the assigned centre while the case goes on."""
    state = rt.kernel.load(conn, case_id).state
    row = _visible(state.assignment, case_id, who)
    if isinstance(who, CentreId) and row["stopped_by"]:
        raise NotFound(f"case {case_id} not found")
    if row["stopped_by"] == "PatientDataErased":
        # As at intake: the coordinator learns why, a centre learns nothing.
        raise Rejected("the patient's data was erased", "erased")
    return state


def follow_ups(rt: ReviewRuntime, conn: Conn, case_id: UUID,
               who: Reader) -> list[dict[str, Any]]:
    state = _readable(rt, conn, case_id, who)
    texts = rt.files.texts(conn, case_id) if state.review.follow_ups else {}
    return [{**follow_up_view(f), "question": texts.get(f.follow_up_id)} for f in state.review.follow_ups.values()]


def document(rt: ReviewRuntime, conn: Conn, case_id: UUID, who: Reader,
             document_id: UUID | None = None, version: int | None = None) -> tuple[domain.Document, bytes]:
    """A stored document's bytes; without an id, the delivered report (its latest version, or `version`)."""
    review = _readable(rt, conn, case_id, who).review
    if document_id is None:
        if not review.report_versions:
            raise NotFound(f"case {case_id} has no delivered report")
        if version is not None and not 1 <= version <= len(review.report_versions):
            raise NotFound(f"case {case_id} has no report version {version}")
        document_id = review.report_versions[(version or len(review.report_versions)) - 1]
    doc = review.documents.get(document_id)
    if doc is None:
        raise NotFound(f"case {case_id} has no document {document_id}")
    try:
        return doc, rt.files.read(conn, case_id, doc.sha256)
    except KeyShredded:
        raise Rejected("the patient's data was erased", "erased") from None
    except ObjectMissing:
        raise NotFound(f"document {document_id} is missing from the object store") from None


def video(rt: ReviewRuntime, conn: Conn, case_id: UUID, centre: CentreId, step: consultation.Step,
          scheduled: datetime | None, at: datetime, expected: int | None = None) -> Handled[CaseReview]:
    return command(rt, conn, case_id, centre, lambda r: consultation.step(r, step, scheduled, at), at, expected)


def run_timers(rt: ReviewRuntime, now: datetime) -> int:
    """Emits the SLA events due by `now` (event time); one transaction per running clock."""
    blocked: set[UUID] = set()
    with rt.pool.connection() as conn:
        running = rt.assignments.with_running_clock(conn)

    def fire(conn: Conn, case_id: UUID) -> int:
        done = command(rt, conn, case_id, None, lambda r: [*domain.due_sla_events(r, rt.calendar, now),
                                                            *questions.due_follow_up_events(r, rt.calendar, now)], now)
        if done.state.review.clock_blocked:
            blocked.add(case_id)
        return len(done.appended)

    appended = sweep(rt.pool, running, fire, service="review")
    metrics.SLA_CALENDAR_UNKNOWN.set(len(blocked))
    return appended


# ------------------------------------------------------------------ reactions

def reactions(rt: ReviewRuntime) -> Consumer:
    def on_routed(conn: Conn, decoded: Decoded) -> None:
        routed = decoded.event
        assert isinstance(routed, CaseRouted)
        rt.assignments.assign(conn, decoded.envelope.case_id, routed.centre_id.value, decoded.envelope.occurred_at,
                              routed.attempt)

    def on_stopped(conn: Conn, decoded: Decoded) -> None:
        env = decoded.envelope
        rt.assignments.stop(conn, env.case_id, env.event_type)
        # Billing refunds on this answer, not on the ending itself: it comes after every event
        # review appended for the case, so the refund is decided on all of them.
        ending = cast(endings.Ending, env.event_type)
        command(rt, conn, env.case_id, None, lambda r: endings.end(r, ending, env.event_id, env.occurred_at),
                env.occurred_at, cause=decoded)
        if decoded.envelope.event_type == "PatientDataErased":
            # Whatever stopped the case first, erasure makes its reports and questions unreadable.
            rt.files.shred(conn, decoded.envelope.case_id)

    def on_records(conn: Conn, decoded: Decoded) -> None:
        # New records at intake answer an open information request: the SLA clock resumes.
        at = decoded.envelope.occurred_at

        def resume(r: domain.Review) -> Decision:
            if r.open_request is None or r.delivered_at is not None:
                return []
            if r.pauses and at < r.pauses[-1].started_at:
                return []  # sent before the centre asked (intake's relay was ahead): not the answer
            return domain.receive_information(r, None, rt.calendar, at)

        try:
            command(rt, conn, decoded.envelope.case_id, None, resume, at, cause=decoded)
        except NotFound:
            return  # records for a case not (yet) assigned: nothing waits on them here

    return Consumer("assignments", {
        "CaseRouted": on_routed,
        "AssignmentWithdrawn": functools.partial(on_withdrawn, rt),
        "RecordsReceived": on_records,
        "GlassSlidesReceived": on_records,
        **{t: on_stopped for t in endings.ENDINGS},
    }, scope=rt.kernel.batch)


def on_withdrawn(rt: ReviewRuntime, conn: Conn, decoded: Decoded) -> None:
    """Routing withdrew the case from a centre that had not accepted it (its deadline passed, or the
    coordinator re-routed it): review, where acceptances are recorded, decides which came first.

    The centre's acceptance dated before the withdrawal stands; otherwise (none, or one dated at or
    after it) the centre's decline is recorded with the withdrawal's reason, and routing re-routes
    on it as on any decline. A later acceptance by that centre is then refused (it declined)."""
    withdrawn = decoded.event
    assert isinstance(withdrawn, AssignmentWithdrawn)
    centre, at = withdrawn.centre_id, decoded.envelope.occurred_at

    def confirm(r: domain.Review) -> Decision:
        if r.delivered_at is not None or centre in r.declined_by:
            return []
        if r.centre is centre and r.accepted_at is not None and acceptance_stands(r.accepted_at, at):
            return []
        # Dated at the withdrawal, or at a losing acceptance after it: a stream's times never go back.
        return [(e, max(at, r.last_at or at)) for e in domain.decline(r, centre, DeclineReason(withdrawn.reason),
                                                                      None)]

    row = rt.assignments.get(conn, decoded.envelope.case_id)
    if row is None or row["centre_id"] != centre.value or row["stopped_by"]:
        return  # another centre holds it by now, or the case ended: nothing to withdraw here
    command(rt, conn, decoded.envelope.case_id, None, confirm, at, cause=decoded)
