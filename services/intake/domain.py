"""Intake's case: the record checklist and the legal transitions. Pure: no I/O here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from events.codes import RecordKind, ReferralReason
from events.contract import (
    CaseOpened,
    Event,
    RecordsCompleted,
    RecordsReceived,
    ReviewDelivered,
    TreatmentBooked,
)
from services.common.errors import Rejected


class CaseStatus(StrEnum):
    NEW = "new"
    COLLECTING_RECORDS = "collecting_records"
    RECORDS_COMPLETE = "records_complete"
    REVIEW_DELIVERED = "review_delivered"
    TREATMENT_BOOKED = "treatment_booked"


# The required set: one of each, two oncologist letters, and at least one imaging study.
REQUIRED_COUNTS: dict[RecordKind, int] = {
    RecordKind.PATHOLOGY_REPORT: 1,
    RecordKind.PATHOLOGY_SLIDES: 1,
    RecordKind.IMAGING: 1,
    RecordKind.TREATMENT_HISTORY: 1,
    RecordKind.ONCOLOGIST_LETTER: 2,
}


def missing_records(kinds: Sequence[RecordKind], reasons: Sequence[ReferralReason]) -> dict[RecordKind, int]:
    required = dict(REQUIRED_COUNTS)
    if ReferralReason.GENOMIC_GUIDED in reasons:
        required[RecordKind.GENOMIC_REPORT] = 1
    have = Counter(kinds)
    return {kind: n - have[kind] for kind, n in required.items() if have[kind] < n}


@dataclass
class Case:
    case_id: UUID
    version: int = 0
    opened: CaseOpened | None = None
    records: list[RecordsReceived] = field(default_factory=list)
    completed: bool = False
    booked: bool = False

    @property
    def reasons(self) -> list[ReferralReason]:
        return list(self.opened.referral_reasons) if self.opened else []

    def missing(self) -> dict[RecordKind, int]:
        return missing_records([r.kind for r in self.records], self.reasons)

    def status(self, review_delivered: bool) -> CaseStatus:
        if self.booked:
            return CaseStatus.TREATMENT_BOOKED
        if review_delivered:
            return CaseStatus.REVIEW_DELIVERED
        if self.completed:
            return CaseStatus.RECORDS_COMPLETE
        return CaseStatus.COLLECTING_RECORDS if self.opened else CaseStatus.NEW

    def apply(self, event: Event) -> None:
        self.version += 1
        match event:
            case CaseOpened():
                self.opened = event
            case RecordsReceived():
                self.records.append(event)
            case RecordsCompleted():
                self.completed = True
            case TreatmentBooked():
                self.booked = True


def fold(case_id: UUID, events: list[Event]) -> Case:
    case = Case(case_id)
    for event in events:
        case.apply(event)
    return case


def receive_record(case: Case, record: RecordsReceived) -> list[Event]:
    if case.opened is None:
        raise Rejected("case is not open", "case_not_open")
    if case.booked:
        raise Rejected("treatment is already booked; the case takes no more records", "case_closed")
    if any(r.record_id == record.record_id for r in case.records):
        raise Rejected("this record was already registered", "duplicate_record")
    out: list[Event] = [record]
    if not case.completed:
        kinds = [r.kind for r in case.records] + [record.kind]
        if not missing_records(kinds, case.reasons):
            out.append(RecordsCompleted(record_count=len(kinds)))
    return out


def book_treatment(case: Case, delivered: ReviewDelivered | None, booking: TreatmentBooked) -> list[Event]:
    if case.opened is None:
        raise Rejected("case is not open", "case_not_open")
    if delivered is None:
        raise Rejected("treatment can be booked only after the review is delivered", "review_not_delivered")
    if case.booked:
        raise Rejected("treatment is already booked for this case", "already_booked")
    return [booking]
