"""A centre's review of a case, and its SLA clock. Pure: the calendar and times are passed in.

The SLA figures are computed here at the moment of each fact and carried by events
(SlaClockStarted, SlaClockResumed, SlaClockStopped, SlaAtRisk, SlaBreached, SlaClockBlocked), so
projections record what the clock said then and never need the calendar themselves.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from events.codes import SYSTEM_DECLINE_REASONS, CentreId, DeclineReason, InformationTopic
from events.contract import (
    CaseDeclined,
    Event,
    FollowUpAnswered,
    FollowUpAsked,
    FollowUpAtRisk,
    FollowUpBreached,
    InformationReceived,
    InformationRequested,
    ReportAmended,
    ReportUploaded,
    ReviewAccepted,
    ReviewDelivered,
    ReviewEnded,
    SlaAtRisk,
    SlaBreached,
    SlaClockBlocked,
    SlaClockResumed,
    SlaClockStarted,
    SlaClockStopped,
    VideoConsultationHeld,
    VideoConsultationMissed,
    VideoConsultationRequested,
    VideoConsultationScheduled,
)
from services.common.calendar import BusinessCalendar
from services.common.errors import InvalidInput, Rejected, not_dated_before
from services.review.sla import AT_RISK_REMAINING, TARGET_DAYS, Pause, due_events, sla_state

EXPECTED_PAGES = range(5, 9)
# The video consultation's state after each of its events (services/review/video.py decides them).
VIDEO_STEPS: dict[type[Event], str] = {VideoConsultationRequested: "requested", VideoConsultationScheduled: "scheduled",
                                       VideoConsultationHeld: "held", VideoConsultationMissed: "missed"}


@dataclass(frozen=True)
class Document:
    """A stored PDF: the report (and its amendments) or a follow-up's addendum."""

    document_id: UUID
    kind: Literal["report", "addendum"]
    sha256: str
    size_bytes: int
    page_count: int
    page_count_reason: str | None
    uploaded_at: datetime
    version: int | None = None  # the report's version once delivered (1) or amended (2, 3, ...)
    follow_up_id: UUID | None = None
    centre: CentreId | None = None  # whose acceptance was in force when it was uploaded


@dataclass
class FollowUp:
    follow_up_id: UUID
    number: int
    asked_at: datetime
    business_days: int
    due: date | None
    at_risk_sent: bool = False
    breached_sent: bool = False
    answered_at: datetime | None = None
    document_id: UUID | None = None
    within_limit: bool | None = None

    @property
    def state(self) -> str:
        if self.answered_at is not None:
            return "answered_on_time" if self.within_limit else "answered_late"
        return "breached" if self.breached_sent else "at_risk" if self.at_risk_sent else "open"


@dataclass
class Acceptance:
    """A centre's acceptance, from its moment until the centre declined (None: still in force)."""

    centre: CentreId
    accepted_at: datetime
    released_at: datetime | None = None


@dataclass
class Review:
    version: int = 0
    # When routing assigned the case to the centre now holding it: routing's fact, which review
    # keeps in its read model (seeded from it, not folded). A centre's answer is dated after it.
    routed_at: datetime | None = None
    centre: CentreId | None = None  # the centre whose acceptance is in force
    accepted_at: datetime | None = None
    acceptances: list[Acceptance] = field(default_factory=list)
    declined_by: list[CentreId] = field(default_factory=list)
    open_request: InformationRequested | None = None
    pauses: list[Pause] = field(default_factory=list)
    delivered_at: datetime | None = None
    at_risk_sent: bool = False
    breached_sent: bool = False
    clock_blocked: bool = False
    video: str | None = None
    video_held_at: datetime | None = None
    video_at: datetime | None = None  # the latest step of the video consultation
    ended: ReviewEnded | None = None
    last_at: datetime | None = None  # event time of the latest event in the stream
    documents: dict[UUID, Document] = field(default_factory=dict)
    report_versions: list[UUID] = field(default_factory=list)  # delivered first, then each amendment
    follow_ups: dict[UUID, FollowUp] = field(default_factory=dict)

    @property
    def open_follow_ups(self) -> list[FollowUp]:
        return [f for f in self.follow_ups.values() if f.answered_at is None]

    @property
    def state(self) -> str:
        if self.delivered_at:
            return "answering_follow_up" if self.open_follow_ups else "delivered"
        if self.open_request:
            return "awaiting_information"
        return "accepted" if self.centre else "assigned"

    def apply(self, event: Event, at: datetime) -> None:
        self.version += 1
        self.last_at = at if self.last_at is None else max(self.last_at, at)
        if (step := VIDEO_STEPS.get(type(event))) is not None:
            self.video, self.video_at = step, at
            self.video_held_at = at if step == "held" else self.video_held_at
        match event:
            case ReviewAccepted():
                self.centre, self.accepted_at = event.centre_id, at
                self.acceptances.append(Acceptance(event.centre_id, at))
                self.pauses, self.at_risk_sent, self.breached_sent, self.clock_blocked = [], False, False, False
            case CaseDeclined():
                self.declined_by.append(event.centre_id)
                if self.acceptances and self.acceptances[-1].released_at is None:
                    # A decline recorded for routing's withdrawal means the acceptance lost to it
                    # (it came after the withdrawal): it never stood, not even until now.
                    if event.reason in SYSTEM_DECLINE_REASONS:
                        self.acceptances.pop()
                    else:
                        self.acceptances[-1].released_at = at
                self.centre, self.accepted_at, self.open_request = None, None, None
            case InformationRequested():
                self.open_request = event
                self.pauses.append(Pause(started_at=at, ended_at=None))
            case InformationReceived():
                self.open_request = None
                self.pauses[-1] = Pause(started_at=self.pauses[-1].started_at, ended_at=at)
            case SlaAtRisk():
                self.at_risk_sent = True
            case SlaBreached():
                self.breached_sent = True
            case SlaClockBlocked():
                self.clock_blocked = True
            case ReviewEnded():
                self.ended = event
            case _:
                self._apply_documents(event, at)

    def _apply_documents(self, event: Event, at: datetime) -> None:
        """The report, its delivery and versions, the follow-up questions and their addenda."""
        match event:
            case ReportUploaded():
                self.documents[event.document_id] = Document(
                    event.document_id, "report", event.sha256, event.size_bytes, event.page_count,
                    event.page_count_reason, at, centre=self.centre)
            case ReviewDelivered():
                self.delivered_at = at
                if (doc := self.documents.get(event.report_ref)) is not None:
                    self.documents[doc.document_id] = dataclasses.replace(doc, version=1)
                    self.report_versions.append(doc.document_id)
            case ReportAmended():
                self.documents[event.document_id] = Document(
                    event.document_id, "report", event.sha256, event.size_bytes, event.page_count,
                    event.page_count_reason, at, version=event.version)
                self.report_versions.append(event.document_id)
            case FollowUpAsked():
                self.follow_ups[event.follow_up_id] = FollowUp(event.follow_up_id, event.number, at,
                                                               event.business_days, event.due)
            case FollowUpAtRisk():
                self.follow_ups[event.follow_up_id].at_risk_sent = True
            case FollowUpBreached():
                self.follow_ups[event.follow_up_id].breached_sent = True
            case FollowUpAnswered():
                f = self.follow_ups[event.follow_up_id]
                f.answered_at, f.document_id, f.within_limit = at, event.document_id, event.within_limit
                self.documents[event.document_id] = Document(
                    event.document_id, "addendum", event.sha256, event.size_bytes, event.page_count, None, at,
                    follow_up_id=event.follow_up_id)


def state_seen_by(review: Review, assigned: CentreId) -> str:
    """The review's state for the centre the case is assigned to: `declined` once it declined."""
    if review.centre is None and assigned in review.declined_by:
        return "declined"
    return review.state


def clock_now(review: Review, wall: datetime) -> datetime:
    """The moment a view of the clock is taken at: now, or later if the history already is.

    In simulated time a case's events may lie ahead of the wall clock; a view taken before its
    own last event would ignore that event (a delivery, a breach) and show a clock still running.
    """
    return wall if review.last_at is None else max(wall, review.last_at)


def fold(history: list[tuple[Event, datetime]]) -> Review:
    review = Review()
    for event, at in history:
        review.apply(event, at)
    return review


def _clock_or_blocked(cal: BusinessCalendar, at: datetime, make: type[SlaClockStarted] | type[SlaClockResumed],
                      accepted_at: datetime, pauses: list[Pause]) -> Event:
    state = sla_state(cal, accepted_at, pauses, None, at)
    if state.target_due is None or state.limit_due is None:
        return SlaClockBlocked(year=state.unknown_year or at.year, target_due=state.target_due)
    if make is SlaClockResumed:
        return SlaClockResumed(target_due=state.target_due, limit_due=state.limit_due,
                               paused_business_days=state.paused_business_days or 0)
    return SlaClockStarted(target_due=state.target_due, limit_due=state.limit_due)


def accept(review: Review, centre: CentreId, cal: BusinessCalendar, at: datetime) -> list[Event]:
    if review.delivered_at:
        raise Rejected("the review is already delivered", "already_delivered")
    if review.centre is centre:
        raise Rejected("the case is already accepted", "already_accepted")
    if centre in review.declined_by:
        raise Rejected("this centre declined the case", "declined")
    not_dated_before(at, review.routed_at, "the case's routing to this centre")
    return [ReviewAccepted(centre_id=centre), _clock_or_blocked(cal, at, SlaClockStarted, at, [])]


def decline(review: Review, centre: CentreId, reason: DeclineReason, at: datetime | None) -> list[Event]:
    """`at` None: review's own decline for routing's withdrawal, dated by that cause, not a centre."""
    if review.delivered_at:
        raise Rejected("the review is already delivered", "already_delivered")
    if centre in review.declined_by:
        raise Rejected("this centre already declined the case", "already_declined")
    if at is not None:
        not_dated_before(at, review.routed_at, "the case's routing to this centre")
    return [CaseDeclined(centre_id=centre, reason=reason)]


def _accepted(review: Review, what: str) -> None:
    if review.delivered_at:
        raise Rejected("the review is already delivered", "already_delivered")
    if review.centre is None or review.accepted_at is None:
        raise Rejected(f"accept the case before {what}", "not_accepted")


def _latest_clock_fact(review: Review) -> tuple[datetime | None, str]:
    """The acceptance, or the last information request or answer after it: the clock's latest fact."""
    if review.pauses:
        last = review.pauses[-1]
        return (last.ended_at, "the information received") if last.ended_at else (last.started_at,
                                                                                   "the information request")
    return review.accepted_at, "the acceptance"


def request_information(review: Review, request_id: UUID, topics: list[InformationTopic],
                        at: datetime) -> list[Event]:
    _accepted(review, "requesting information")
    if review.open_request is not None:
        raise Rejected("an information request is already open", "request_open")
    not_dated_before(at, *_latest_clock_fact(review))
    return [InformationRequested(request_id=request_id, topics=topics)]


def receive_information(review: Review, request_id: UUID | None, cal: BusinessCalendar, at: datetime) -> list[Event]:
    """`request_id` None: whatever request is open (information arrived through intake)."""
    if review.open_request is None or (request_id is not None and review.open_request.request_id != request_id):
        raise Rejected("no such information request is open", "no_open_request")
    assert review.accepted_at is not None
    not_dated_before(at, review.pauses[-1].started_at, "the information request")
    pauses = [*review.pauses[:-1], Pause(started_at=review.pauses[-1].started_at, ended_at=at)]
    return [InformationReceived(request_id=review.open_request.request_id),
            _clock_or_blocked(cal, at, SlaClockResumed, review.accepted_at, pauses)]


def _check_pages(page_count: int, reason: str | None) -> None:
    if page_count not in EXPECTED_PAGES and reason is None:
        raise InvalidInput("page_count_reason",
                           f"the report has {page_count} pages: outside 5-8 pages it needs a reason code")


def upload_report(review: Review, document_id: UUID, sha256: str, size_bytes: int, page_count: int,
                  reason: str | None, at: datetime) -> list[Event]:
    """Before delivery: a report a delivery can reference. After it: a new version of the report."""
    if review.delivered_at is None:
        _accepted(review, "uploading its report")
        not_dated_before(at, review.accepted_at, "the acceptance")
    elif not review.report_versions:
        raise Rejected("this delivery predates stored reports: there is no report to amend", "no_report")
    else:
        not_dated_before(at, review.delivered_at, "the delivery")
    _check_pages(page_count, reason)
    if review.delivered_at is None:
        return [ReportUploaded(document_id=document_id, sha256=sha256, size_bytes=size_bytes,
                               page_count=page_count, page_count_reason=reason)]
    return [ReportAmended(document_id=document_id, version=len(review.report_versions) + 1,
                          supersedes=review.report_versions[-1], sha256=sha256, size_bytes=size_bytes,
                          page_count=page_count, page_count_reason=reason)]


def delivery_of(review: Review, centre: CentreId, fields: dict[str, Any]) -> ReviewDelivered:
    """The delivery the centre asked for, on the report it uploaded: its page count is the PDF's."""
    _accepted(review, "delivering its review")
    doc = review.documents.get(fields["report_ref"])
    # A centre delivers on its own upload: not on one a centre that declined the case left behind.
    if doc is None or doc.kind != "report" or doc.centre is not centre:
        raise InvalidInput("report_ref", "no report uploaded for this case has this document id "
                                         "(upload the PDF at POST /cases/{case_id}/report first)")
    pages = fields.get("page_count")
    if pages is not None and pages != doc.page_count:
        raise InvalidInput("page_count", f"the uploaded report has {doc.page_count} pages, not {pages}")
    reason = fields.get("page_count_reason") or doc.page_count_reason
    return ReviewDelivered(centre_id=centre, **{**fields, "page_count": doc.page_count, "page_count_reason": reason})


def deliver(review: Review, delivery: ReviewDelivered, cal: BusinessCalendar,
            at: datetime) -> list[tuple[Event, datetime]]:
    """The delivery and the clock's verdict, after any at-risk or breach moment that came before it
    and that no timer recorded (a sweep runs every minute at best; a simulated history may have
    none in between): dated when they were due, once each, so a late delivery always carries its
    breach, and the credit the breach earns."""
    _accepted(review, "delivering its review")
    if review.centre is not delivery.centre_id:
        raise Rejected("another centre holds this case", "not_your_case")
    _check_pages(delivery.page_count, delivery.page_count_reason)
    if delivery.pathology.verdict == "revised_histology" and delivery.pathology.revised_histology is None:
        raise InvalidInput("pathology.revised_histology", "give the revised histology")
    if delivery.pathology.verdict == "revised_grade" and delivery.pathology.revised_grade is None:
        raise InvalidInput("pathology.revised_grade", "give the revised grade")
    if delivery.imaging.verdict == "stage_revised" and delivery.imaging.revised_stage_group is None:
        raise InvalidInput("imaging.revised_stage_group", "give the revised stage group")
    assert review.accepted_at is not None
    # After the clock's latest fact (sla.py would raise ValueError before the acceptance: a 500
    # where the input is wrong) and after the report it delivers was uploaded.
    not_dated_before(at, *_latest_clock_fact(review))
    report = review.documents.get(delivery.report_ref)
    not_dated_before(at, report.uploaded_at if report else None, "the report's upload")
    # Delivering while information is awaited closes that pause at delivery.
    pauses = list(review.pauses)
    if pauses and pauses[-1].ended_at is None:
        pauses[-1] = Pause(started_at=pauses[-1].started_at, ended_at=at)
    missed = [(e, moment) for e, moment in due_sla_events(review, cal, at) if isinstance(e, SlaAtRisk | SlaBreached)]
    out: list[tuple[Event, datetime]] = [*missed, (delivery, at)]
    state = sla_state(cal, review.accepted_at, pauses, at, at)
    if state.state in ("delivered_on_time", "delivered_late"):
        # The clock's own verdict: a delivery on a non-business day after day 10 is late although
        # it used no more business days. A late delivery in a year the calendar does not know
        # still has its verdict; only its day counts are unknown (None).
        used = state.business_days_used
        out.append((SlaClockStopped(business_days_used=used, paused_business_days=state.paused_business_days,
                                    within_target=state.state == "delivered_on_time" and used is not None
                                    and used <= TARGET_DAYS,
                                    within_limit=state.state == "delivered_on_time"), at))
    elif not review.clock_blocked:
        out.append((SlaClockBlocked(year=state.unknown_year or at.year), at))
    return out


def due_sla_events(review: Review, cal: BusinessCalendar, now: datetime) -> list[tuple[Event, datetime]]:
    """SlaAtRisk and SlaBreached that are due by `now` (event time), once each, at their moment."""
    if review.accepted_at is None or review.delivered_at is not None:
        return []
    due = due_events(cal, review.accepted_at, review.pauses, None, now)
    out: list[tuple[Event, datetime]] = []
    for kind, moment in due.moments:
        if kind == "at_risk" and not review.at_risk_sent:
            out.append((SlaAtRisk(business_days_left=AT_RISK_REMAINING, limit_due=due.limit_due), moment))
        elif kind == "breached" and not review.breached_sent and due.limit_due is not None:
            out.append((SlaBreached(limit_due=due.limit_due), moment))
    if due.unknown_year is not None and not review.clock_blocked:
        out.append((SlaClockBlocked(year=due.unknown_year), now))
    return out
