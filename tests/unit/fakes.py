"""Fakes for unit tests of the application layers: the event store, the pool, each read model.

They keep the behaviour the application relies on (versions, first-delivery-wins, what a query
would return) in dictionaries. The connection they are handed is a `FakeConn` and is ignored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from events.consumer import Consumer
from events.contract import Event
from events.db import Conn
from events.memory import InMemoryEventStore
from events.registry import Decoded
from events.store import Pending
from services.billing.books import Fact
from services.billing.domain import ReviewFacts
from services.billing.provider import Operation, ProviderDeclined
from services.common.objects import ObjectMissing
from services.common.vault import PatientErased


class FakeConn:
    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield


CONN = cast(Conn, FakeConn())


class FakePool:
    def __init__(self) -> None:
        self.connections = 0

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        self.connections += 1
        yield CONN

    def close(self) -> None:
        pass


class Clock:
    """A settable clock: unit tests decide what 'now' is."""

    def __init__(self, now: datetime = datetime(2026, 3, 2, 9, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def memory_store(producer: str, clock: Clock | None = None) -> InMemoryEventStore:
    return InMemoryEventStore(producer, clock or Clock())


class Upstream:
    """Another service's stream: what it appends is delivered to the consumer under test."""

    def __init__(self, producer: str) -> None:
        self.store = memory_store(producer)

    def emit(self, case_id: UUID, event: Event, at: datetime) -> Decoded:
        stream = f"case-{case_id}"
        [envelope] = self.store.append(CONN, stream_id=stream, case_id=case_id,
                                       expected_version=self.store.version(CONN, stream), events=[Pending(event, at)])
        return self.store.decoded(envelope)


def deliver(consumer: Consumer, decoded: Decoded) -> None:
    """What the consumer runtime does with a message, minus the broker and the tracking row."""
    handler = consumer.handlers.get(decoded.envelope.event_type)
    if handler is not None:
        handler(CONN, decoded)


# ------------------------------------------------------------------ review

class FakeAssignments:
    def __init__(self) -> None:
        self.rows: dict[UUID, dict[str, Any]] = {}

    def get(self, conn: Conn, case_id: UUID) -> dict[str, Any] | None:
        row = self.rows.get(case_id)
        return dict(row) if row else None

    def of_centre(self, conn: Conn, centre_id: str) -> list[dict[str, Any]]:
        return sorted((dict(r) for r in self.rows.values() if r["centre_id"] == centre_id),
                      key=lambda r: r["routed_at"])

    def with_running_clock(self, conn: Conn) -> list[UUID]:
        return sorted(c for c, r in self.rows.items()
                      if r["phase"] in ("accepted", "awaiting_information", "answering_follow_up")
                      and r["stopped_by"] is None)

    def assign(self, conn: Conn, case_id: UUID, centre_id: str, routed_at: datetime, attempt: int) -> None:
        row = self.rows.get(case_id)
        if row is None:
            self.rows[case_id] = {"case_id": case_id, "centre_id": centre_id, "routed_at": routed_at,
                                  "stopped_by": None, "phase": "assigned", "attempt": attempt}
        elif row["attempt"] < attempt:
            row.update(centre_id=centre_id, routed_at=routed_at, attempt=attempt, phase="assigned")

    def stop(self, conn: Conn, case_id: UUID, event_type: str) -> None:
        row = self.rows.get(case_id)
        if row is not None and (row["stopped_by"] is None or event_type == "PatientDataErased"):
            row["stopped_by"] = event_type

    def set_phase(self, conn: Conn, case_id: UUID, phase: str) -> None:
        self.rows[case_id]["phase"] = phase


class FakeCaseFiles:
    """Review's files in memory; a shredded case reads as erased, as with the real vault."""

    def __init__(self) -> None:
        self.blobs: dict[tuple[UUID, str], bytes] = {}
        self.questions: dict[UUID, dict[UUID, str]] = {}
        self.shredded: set[UUID] = set()

    def store(self, conn: Conn, case_id: UUID, sha256: str, content: bytes) -> None:
        self.blobs[(case_id, sha256)] = content

    def read(self, conn: Conn, case_id: UUID, sha256: str) -> bytes:
        if case_id in self.shredded:
            raise PatientErased(str(case_id))
        return self.blobs[(case_id, sha256)]

    def keep_text(self, conn: Conn, case_id: UUID, follow_up_id: UUID, text: str) -> None:
        self.questions.setdefault(case_id, {})[follow_up_id] = text

    def texts(self, conn: Conn, case_id: UUID) -> dict[UUID, str]:
        return dict(self.questions.get(case_id, {}))

    def shred(self, conn: Conn, case_id: UUID, at: datetime) -> None:
        self.shredded.add(case_id)
        self.questions.pop(case_id, None)


# ------------------------------------------------------------------ billing

class FakeBooks:
    def __init__(self) -> None:
        self.review_facts: dict[UUID, dict[str, Any]] = {}
        self.lines: list[tuple[UUID, UUID, str, int]] = []

    def ensure(self, conn: Conn, case_id: UUID) -> None:
        self.review_facts.setdefault(case_id, {"accepted": False, "delivered": False, "video_held": False})

    def note(self, conn: Conn, case_id: UUID, fact: Fact, centre_id: str | None = None) -> None:
        self.ensure(conn, case_id)
        row = self.review_facts[case_id]
        if fact == "declined":
            row["accepted"] = False
        else:
            row[fact] = True

    def facts(self, conn: Conn, case_id: UUID) -> ReviewFacts:
        row = self.review_facts.get(case_id)
        return ReviewFacts(**row) if row else ReviewFacts()

    def journal(self, conn: Conn, event_id: UUID, case_id: UUID, account: str, cents: int,
                occurred_at: datetime) -> None:
        self.lines.append((event_id, case_id, account, cents))

    def balances(self, conn: Conn, case_id: UUID) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, case, account, cents in self.lines:
            if case == case_id:
                out[account] = out.get(account, 0) + cents
        return {a: c for a, c in sorted(out.items()) if c}

    def total(self, conn: Conn) -> dict[str, int]:
        return {"total_cents": sum(line[3] for line in self.lines), "cases": len({line[1] for line in self.lines})}


class FakeProvider:
    """Answers once per idempotency key, like a real provider; declines the operations it is told to."""

    def __init__(self) -> None:
        self.done: dict[str, tuple[Operation, int]] = {}
        self.declining: set[Operation] = set()

    def perform(self, operation: Operation, key: str, amount_cents: int, reference: str | None = None) -> str:
        if key not in self.done:
            if operation in self.declining:
                raise ProviderDeclined(operation)
            self.done[key] = (operation, amount_cents)
        return f"ref_{key}"


# ------------------------------------------------------------------ intake

class FakeIntakeRows:
    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.erasures: dict[str, datetime] = {}
        self.cases: dict[UUID, dict[str, Any]] = {}
        self.patients: dict[str, bytes] = {}
        self.files: dict[UUID, dict[str, Any]] = {}
        self.deliveries: dict[UUID, dict[str, Any]] = {}
        self.assignments: dict[UUID, tuple[str | None, int]] = {}
        self.access_log: list[dict[str, Any]] = []

    def insert_key(self, conn: Conn, patient_ref: str, wrapped_key: bytes) -> None:
        self.keys.setdefault(patient_ref, wrapped_key)

    def wrapped_key(self, conn: Conn, patient_ref: str) -> bytes | None:
        return self.keys.get(patient_ref)

    def shred_key(self, conn: Conn, patient_ref: str, at: datetime) -> None:
        self.keys.pop(patient_ref, None)
        self.erasures.setdefault(patient_ref, at)

    def case(self, conn: Conn, case_id: UUID) -> dict[str, Any] | None:
        row = self.cases.get(case_id)
        return dict(row) if row else None

    def insert_case(self, conn: Conn, case_id: UUID, patient_ref: str, question: bytes | None, status: str,
                    at: datetime) -> None:
        assert case_id not in self.cases
        self.cases[case_id] = {"case_id": case_id, "patient_ref": patient_ref, "question": question,
                               "status": status, "updated_at": at}

    def set_question(self, conn: Conn, case_id: UUID, question: bytes) -> None:
        self.cases[case_id]["question"] = question

    def set_status(self, conn: Conn, case_id: UUID, status: str, at: datetime,
                   only_from: str | None = None) -> None:
        row = self.cases.get(case_id)
        if row is not None and (only_from is None or row["status"] == only_from):
            row.update(status=status, updated_at=at)

    def cases_of(self, conn: Conn, patient_ref: str) -> list[UUID]:
        return sorted(c for c, r in self.cases.items() if r["patient_ref"] == patient_ref)

    def collecting(self, conn: Conn) -> list[UUID]:
        return sorted(c for c, r in self.cases.items() if r["status"] == "collecting_records")

    def identity(self, conn: Conn, patient_ref: str) -> bytes | None:
        return self.patients.get(patient_ref)

    def save_identity(self, conn: Conn, patient_ref: str, identity: bytes) -> None:
        self.patients[patient_ref] = identity

    def erased(self, conn: Conn, patient_ref: str) -> bool:
        return patient_ref in self.erasures

    def add_record_file(self, conn: Conn, record_id: UUID, case_id: UUID, kind: str, sha256: str,
                        size_bytes: int, path: str) -> None:
        self.files[record_id] = {"case_id": case_id, "kind": kind, "sha256": sha256, "size_bytes": size_bytes,
                                 "path": path}

    def delivery(self, conn: Conn, case_id: UUID) -> dict[str, Any] | None:
        row = self.deliveries.get(case_id)
        return row["payload"] if row else None

    def record_delivery(self, conn: Conn, case_id: UUID, event_id: UUID, at: datetime,
                        payload: dict[str, Any]) -> None:
        self.deliveries.setdefault(case_id, {"event_id": event_id, "payload": payload})

    def record_file(self, conn: Conn, case_id: UUID, record_id: UUID) -> dict[str, Any] | None:
        row = self.files.get(record_id)
        return {"record_id": record_id, **row} if row and row["case_id"] == case_id else None

    def assign_centre(self, conn: Conn, case_id: UUID, centre_id: str, attempt: int) -> None:
        current = self.assignments.get(case_id)
        if current is None or current[1] < attempt:
            self.assignments[case_id] = (centre_id, attempt)

    def release_centre(self, conn: Conn, case_id: UUID, centre_id: str | None) -> None:
        current = self.assignments.get(case_id)
        if current is not None and centre_id in (None, current[0]):
            self.assignments[case_id] = (None, current[1])

    def assigned_centre(self, conn: Conn, case_id: UUID) -> str | None:
        current = self.assignments.get(case_id)
        return current[0] if current else None

    def record_access(self, conn: Conn, case_id: UUID, record_id: UUID | None, centre_id: str, at: datetime,
                      subject: str | None = None) -> None:
        self.access_log.append({"case_id": case_id, "record_id": record_id, "centre_id": centre_id, "subject": subject,
                                "what": "package" if record_id is None else "record", "accessed_at": at})

    def accesses(self, conn: Conn, case_id: UUID) -> list[dict[str, Any]]:
        return [{k: v for k, v in a.items() if k != "case_id"} for a in self.access_log if a["case_id"] == case_id]


# ------------------------------------------------------------------ routing

class FakeRoutingBoard:
    def __init__(self) -> None:
        self.cases: dict[UUID, dict[str, Any]] = {}
        self.active: dict[str, int] = {}

    def remember(self, conn: Conn, case_id: UUID, tumour_site: str, rare_tumour: bool, preferred_centre: str | None,
                 opened_at: datetime, question_topics: Sequence[str]) -> None:
        self.cases.setdefault(case_id, {
            "case_id": case_id, "tumour_site": tumour_site, "rare_tumour": rare_tumour,
            "preferred_centre": preferred_centre, "opened_at": opened_at, "question_topics": list(question_topics),
            "records_complete": False, "processing_consent": False, "transfer_centres": [], "ended": False,
            "assigned_centre": None, "declined": [], "queued": False, "coordinator_pick": False, "attempts": 0})

    def facts(self, conn: Conn, case_id: UUID) -> dict[str, Any] | None:
        row = self.cases.get(case_id)
        return dict(row) if row else None

    def records_complete(self, conn: Conn, case_id: UUID) -> None:
        self.cases[case_id]["records_complete"] = True

    def processing_consent(self, conn: Conn, case_id: UUID, given: bool) -> None:
        self.cases[case_id]["processing_consent"] = given

    def transfer_consent(self, conn: Conn, case_id: UUID, centres: Sequence[str]) -> None:
        self.cases[case_id]["transfer_centres"] = list(centres)

    def assigned(self, conn: Conn, case_id: UUID, centre_id: str, coordinator_pick: bool) -> None:
        row = self.cases[case_id]
        row.update(assigned_centre=centre_id, queued=False, attempts=row["attempts"] + 1,
                   coordinator_pick=coordinator_pick)

    def declined(self, conn: Conn, case_id: UUID, centre_id: str) -> None:
        row = self.cases[case_id]
        row.update(declined=[*row["declined"], centre_id], assigned_centre=None)

    def queued(self, conn: Conn, case_id: UUID, queued: bool) -> None:
        self.cases[case_id]["queued"] = queued

    def ended(self, conn: Conn, case_id: UUID) -> None:
        if case_id in self.cases:
            self.cases[case_id].update(ended=True, queued=False)

    def release(self, conn: Conn, case_id: UUID) -> str | None:
        row = self.cases.get(case_id)
        if row is None or row["assigned_centre"] is None:
            return None
        centre, row["assigned_centre"] = row["assigned_centre"], None
        return cast(str, centre)

    def load(self, conn: Conn) -> dict[str, int]:
        return dict(self.active)

    def add_load(self, conn: Conn, centre_id: str) -> None:
        self.active[centre_id] = self.active.get(centre_id, 0) + 1

    def drop_load(self, conn: Conn, centre_id: str) -> None:
        assert self.active.get(centre_id, 0) > 0, "load never goes below zero (a CHECK in PostgreSQL)"
        self.active[centre_id] -= 1

    def queue(self, conn: Conn) -> list[dict[str, Any]]:
        return sorted((dict(r) for r in self.cases.values() if r["queued"] and not r["ended"]),
                      key=lambda r: r["opened_at"])

    def in_queue(self, conn: Conn, case_id: UUID) -> bool:
        row = self.cases.get(case_id)
        return bool(row and row["queued"] and not row["ended"])


class FakeObjects:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, blob: bytes) -> None:
        self.objects[key] = blob

    def get(self, key: str) -> bytes:
        if key not in self.objects:
            raise ObjectMissing(key)
        return self.objects[key]

    def exists(self, key: str) -> bool:
        return key in self.objects
