"""Intake's case: the record checklist, consent and the legal transitions. Pure: no I/O here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from events.codes import ConsentKind, RecordKind, ReferralReason, WithdrawalReason
from events.contract import (
    CaseCancelled,
    CaseClosed,
    CaseExpired,
    CaseOpened,
    CaseWithdrawn,
    ConsentGiven,
    ConsentWithdrawn,
    Event,
    GlassSlidesReceived,
    GlassSlidesShipped,
    PatientDataErased,
    QuestionRecorded,
    RecordsCompleted,
    RecordsReceived,
    RecordsReminderSent,
    RecordsRequested,
    ReviewDelivered,
    TreatmentBooked,
)
from events.lifecycle import Life, Status
from services.common.errors import Rejected, not_dated_before

Missing = RecordKind | Literal["question"]

# The required set: one of each, two oncologist letters, at least one imaging study, the question.
REQUIRED_COUNTS: dict[RecordKind, int] = {
    RecordKind.PATHOLOGY_REPORT: 1,
    RecordKind.PATHOLOGY_SLIDES: 1,
    RecordKind.IMAGING: 1,
    RecordKind.TREATMENT_HISTORY: 1,
    RecordKind.ONCOLOGIST_LETTER: 2,
}
# Dormant cases: a reminder every REMIND_AFTER without new records, expiry after EXPIRE_AFTER.
REMIND_AFTER = timedelta(days=3)
MAX_REMINDERS = 3
EXPIRE_AFTER = timedelta(days=30)


def missing_records(kinds: Sequence[RecordKind], reasons: Sequence[ReferralReason],
                    has_question: bool = True) -> dict[Missing, int]:
    required = dict(REQUIRED_COUNTS)
    if ReferralReason.GENOMIC_GUIDED in reasons:
        required[RecordKind.GENOMIC_REPORT] = 1
    have = Counter(kinds)
    missing: dict[Missing, int] = {kind: n - have[kind] for kind, n in required.items() if have[kind] < n}
    if not has_question:
        missing["question"] = 1
    return missing


@dataclass
class Case:
    case_id: UUID
    version: int = 0
    opened: CaseOpened | None = None
    has_question: bool = False
    records: list[RecordsReceived] = field(default_factory=list)
    shipments: dict[UUID, bool] = field(default_factory=dict)  # shipment id -> received
    shipped_at: dict[UUID, datetime] = field(default_factory=dict)
    consents: dict[ConsentKind, ConsentGiven] = field(default_factory=dict)
    completed: bool = False
    ending: Event | None = None  # the event of intake's stream that ended the case, if any
    open_request: RecordsRequested | None = None
    reminders_sent: int = 0
    last_activity: datetime | None = None
    last_nudge: datetime | None = None  # the request or latest reminder
    opened_at: datetime | None = None
    # Each consent as last given, when, and when withdrawn (None: in force): the FHIR Consents.
    consent_log: dict[ConsentKind, tuple[ConsentGiven, datetime | None, datetime | None]] = field(default_factory=dict)
    # The case as every service's events tell it (events.lifecycle): its status, its ending (the
    # first by event time, routing's final decline included). The application seeds it from the
    # worklist, which folds the other services' events, and folds intake's own in as they come.
    life: Life = field(default_factory=Life)
    # When review delivered (intake's deliveries table, seeded like `life`): a booking or a
    # closure as returned home is dated after it.
    delivered_at: datetime | None = None

    @property
    def reasons(self) -> list[ReferralReason]:
        return list(self.opened.referral_reasons) if self.opened else []

    def record_kinds(self) -> list[RecordKind]:
        kinds = [r.kind for r in self.records]
        # Glass slides count once they have arrived at the centre's pathology lab.
        kinds += [RecordKind.PATHOLOGY_SLIDES for received in self.shipments.values() if received]
        return kinds

    def missing(self) -> dict[Missing, int]:
        return missing_records(self.record_kinds(), self.reasons, self.has_question)

    @property
    def consented(self) -> bool:
        return set(self.consents) == set(ConsentKind)

    @property
    def ended(self) -> bool:
        return self.ending is not None or self.life.ended

    @property
    def ending_type(self) -> str | None:
        first = self.life.ending
        return first[0] if first else (self.ending.event_type if self.ending else None)

    @property
    def status(self) -> Status:
        return self.life.status

    def apply(self, event: Event, occurred_at: datetime | None = None) -> None:
        self.version += 1
        match event:
            case CaseOpened():
                self.opened, self.opened_at = event, occurred_at
            case QuestionRecorded():
                self.has_question = True
            case ConsentGiven():
                self.consents[event.consent] = event
                self.consent_log[event.consent] = (event, occurred_at, None)
            case ConsentWithdrawn():
                self.consents.pop(event.consent, None)
                if (logged := self.consent_log.get(event.consent)) is not None:
                    self.consent_log[event.consent] = (logged[0], logged[1], occurred_at)
            case RecordsReceived():
                self.records.append(event)
                self.open_request = None
            case GlassSlidesShipped():
                self.shipments[event.shipment_id] = False
                if occurred_at is not None:
                    self.shipped_at[event.shipment_id] = occurred_at
            case GlassSlidesReceived():
                self.shipments[event.shipment_id] = True
                self.open_request = None
            case RecordsCompleted():
                self.completed = True
                self.open_request = None
            case RecordsRequested():
                self.open_request = event
                self.reminders_sent = 0
                self.last_nudge = occurred_at
            case RecordsReminderSent():
                self.reminders_sent = event.reminder_number
                self.last_nudge = occurred_at
            case TreatmentBooked() | CaseClosed() | CaseCancelled() | CaseWithdrawn() | CaseExpired():
                self.ending = event
            case PatientDataErased():
                self.ending = self.ending or event
        # Reminders and expiry measure dormancy: only the patient's side counts as activity.
        if occurred_at is not None and not isinstance(event, RecordsReminderSent | RecordsRequested):
            self.last_activity = occurred_at


def fold(case_id: UUID, history: Sequence[tuple[Event, datetime]]) -> Case:
    case = Case(case_id)
    for event, occurred_at in history:
        case.apply(event, occurred_at)
    return case


def _must_be_open(case: Case, what: str, at: datetime) -> None:
    """Open, and `at` (the command's event time) not before the opening: every fact of a case
    follows its opening."""
    if case.opened is None:
        raise Rejected("case is not open", "case_not_open")
    if case.ended:
        state = case.status.value
        raise Rejected(f"the case is {state}: {what} is not possible", f"case_{state}")
    not_dated_before(at, case.opened_at, "the case's opening")


def _completion(case: Case, new: list[Event]) -> list[Event]:
    """Appends RecordsCompleted, once, when `new` makes the required set present."""
    if case.completed:
        return new
    probe = Case(case.case_id, opened=case.opened, has_question=case.has_question,
                 records=list(case.records), shipments=dict(case.shipments))
    for e in new:
        probe.apply(e)
    if not probe.missing():
        return [*new, RecordsCompleted(record_count=len(probe.record_kinds()))]
    return new


def open_case(opened: CaseOpened, with_question: bool) -> list[Event]:
    return [opened, QuestionRecorded()] if with_question else [opened]


def record_question(case: Case, at: datetime) -> list[Event]:
    _must_be_open(case, "recording the question", at)
    return _completion(case, [QuestionRecorded()])


def receive_record(case: Case, record: RecordsReceived, at: datetime) -> list[Event]:
    _must_be_open(case, "adding records", at)
    if any(r.record_id == record.record_id for r in case.records):
        raise Rejected("this record was already registered", "duplicate_record")
    return _completion(case, [record])


def ship_slides(case: Case, shipped: GlassSlidesShipped, at: datetime) -> list[Event]:
    _must_be_open(case, "shipping slides", at)
    if shipped.shipment_id in case.shipments:
        raise Rejected("this shipment is already registered", "duplicate_shipment")
    return [shipped]


def receive_slides(case: Case, shipment_id: UUID, at: datetime) -> list[Event]:
    _must_be_open(case, "receiving slides", at)
    if shipment_id not in case.shipments:
        raise Rejected("no such shipment was sent for this case", "unknown_shipment")
    if case.shipments[shipment_id]:
        raise Rejected("this shipment was already received", "already_received")
    not_dated_before(at, case.shipped_at.get(shipment_id), "the shipment")
    return _completion(case, [GlassSlidesReceived(shipment_id=shipment_id)])


def give_consent(case: Case, consent: ConsentGiven, at: datetime) -> list[Event]:
    _must_be_open(case, "giving consent", at)
    if consent.consent is ConsentKind.TRANSFER_ABROAD and not consent.centre_ids:
        raise Rejected("consent to transfer abroad must name the receiving centres", "centre_required")
    if consent.consent is ConsentKind.HEALTH_DATA_PROCESSING and consent.centre_ids:
        raise Rejected("consent to processing names no centre", "centre_not_expected")
    return [consent]


def withdraw_consent(case: Case, kind: ConsentKind, at: datetime) -> list[Event]:
    if case.opened is None:
        raise Rejected("case is not open", "case_not_open")
    if kind not in case.consents:
        raise Rejected(f"no {kind.value} consent is in force", "no_consent")
    given = case.consent_log.get(kind)
    not_dated_before(at, given[1] if given else None, "the consent it withdraws")
    out: list[Event] = [ConsentWithdrawn(consent=kind)]
    # Without consent nothing more may be processed: an open case ends here.
    if not case.ended:
        out.append(CaseWithdrawn(reason=WithdrawalReason.CONSENT_WITHDRAWN))
    return out


def request_records(case: Case, request_id: UUID, at: datetime) -> list[Event]:
    _must_be_open(case, "requesting records", at)
    missing = case.missing()
    if not missing:
        raise Rejected("nothing is missing", "nothing_missing")
    return [RecordsRequested(request_id=request_id, missing=list(missing))]


def due_timers(case: Case, now: datetime) -> list[tuple[Event, datetime]]:
    """Reminders and expiry that are due by `now` (event time), each stamped with its due moment."""
    if case.opened is None or case.ended or case.completed or case.last_activity is None:
        return []
    expires_at = case.last_activity + EXPIRE_AFTER
    out: list[tuple[Event, datetime]] = []
    request, sent, nudge = case.open_request, case.reminders_sent, case.last_nudge
    while request is not None and nudge is not None and sent < MAX_REMINDERS:
        due = nudge + REMIND_AFTER
        if due > now or due >= expires_at:
            break
        sent += 1
        out.append((RecordsReminderSent(request_id=request.request_id, reminder_number=sent), due))
        nudge = due
    if expires_at <= now:
        out.append((CaseExpired(dormant_days=EXPIRE_AFTER.days), expires_at))
    return out


def book_treatment(case: Case, delivered: ReviewDelivered | None, booking: TreatmentBooked,
                   at: datetime) -> list[Event]:
    if isinstance(case.ending, TreatmentBooked):
        raise Rejected("treatment is already booked for this case", "already_booked")
    _must_be_open(case, "booking treatment", at)
    if delivered is None:
        raise Rejected("treatment can be booked only after the review is delivered", "review_not_delivered")
    not_dated_before(at, case.delivered_at, "the review's delivery")
    return [booking]


def close_returned_home(case: Case, delivered: ReviewDelivered | None, closed: CaseClosed,
                        at: datetime) -> list[Event]:
    _must_be_open(case, "closing", at)
    if delivered is None:
        raise Rejected("a case closes as returned home only after the review is delivered", "review_not_delivered")
    not_dated_before(at, case.delivered_at, "the review's delivery")
    return [closed]


def cancel(case: Case, cancelled: CaseCancelled, at: datetime) -> list[Event]:
    # Allowed until the case ends; billing's refund policy depends on how far the review got.
    _must_be_open(case, "cancelling", at)
    return [cancelled]


def withdraw(case: Case, withdrawn: CaseWithdrawn, at: datetime) -> list[Event]:
    _must_be_open(case, "withdrawing", at)
    return [withdrawn]


def erase(case: Case, patient_ref: str, at: datetime) -> list[Event]:
    if case.opened is None:
        raise Rejected("case is not open", "case_not_open")
    if isinstance(case.ending, PatientDataErased):
        return []
    not_dated_before(at, case.opened_at, "the opening of one of the patient's cases")
    return [PatientDataErased(patient_ref=patient_ref)]
