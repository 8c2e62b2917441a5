"""Fakes for unit tests of the application layers: the event store, the pool, each read model.

They keep the behaviour the application relies on (versions, first-delivery-wins, what a query
would return) in dictionaries. The connection they are handed is a `FakeConn` and is ignored.
A test builds its runtime with the service's own bootstrap(), handing these in.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from pydantic import SecretStr

from events import lifecycle
from events.codes import CentreId
from events.consumer import Consumer
from events.contract import Event
from events.db import Conn
from events.lifecycle import Life
from events.memory import InMemoryEventStore
from events.registry import Decoded
from events.store import Pending
from services.billing.books import CreditFacts
from services.billing.provider import Operation, ProviderDeclined
from services.common.object_store import ObjectMissing
from services.common.vault import KeyShredded
from services.intake.application import IntakeRuntime
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.settings import IntakeSettings


class FakeConn:
    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield


CONN = cast(Conn, FakeConn())


class FakePool:
    def __init__(self) -> None:
        self.connections = 0

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Conn]:
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


def in_memory(store: object) -> InMemoryEventStore:
    """The in-memory store a test's runtime or kernel runs on, for what only the fake keeps."""
    assert isinstance(store, InMemoryEventStore)
    return store


def master_key() -> SecretStr:
    """A fresh master key, as a service's settings hold one."""
    return SecretStr(base64.b64encode(os.urandom(32)).decode())


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
    if decoded.envelope.event_type in consumer.event_types:
        consumer.apply(CONN, [decoded])


# ------------------------------------------------------------------ review

class FakeAssignments:
    def __init__(self) -> None:
        self.rows: dict[UUID, dict[str, Any]] = {}

    def get(self, conn: Conn, case_id: UUID) -> dict[str, Any] | None:
        row = self.rows.get(case_id)
        return dict(row) if row else None

    def of_centre(self, conn: Conn, centre_id: str) -> list[dict[str, Any]]:
        return sorted((dict(r) for r in self.rows.values() if r["centre_id"] == centre_id and r["centre_id"]),
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
        elif (row["attempt"] or 0) < attempt:
            row.update(centre_id=centre_id, routed_at=routed_at, attempt=attempt, phase="assigned")

    def stop(self, conn: Conn, case_id: UUID, event_type: str) -> None:
        # As the SQL: a stop before any routing makes the row, which the routing then keeps stopped.
        row = self.rows.setdefault(case_id, {"case_id": case_id, "centre_id": None, "routed_at": None,
                                             "stopped_by": None, "phase": "assigned", "attempt": None})
        if row["stopped_by"] is None or event_type == "PatientDataErased":
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
            raise KeyShredded(str(case_id))
        return self.blobs[(case_id, sha256)]

    def keep_text(self, conn: Conn, case_id: UUID, follow_up_id: UUID, text: str) -> None:
        self.questions.setdefault(case_id, {})[follow_up_id] = text

    def texts(self, conn: Conn, case_id: UUID) -> dict[UUID, str]:
        return dict(self.questions.get(case_id, {}))

    def shred(self, conn: Conn, case_id: UUID) -> None:
        self.shredded.add(case_id)
        self.questions.pop(case_id, None)


# ------------------------------------------------------------------ billing

class FakeBooks:
    def __init__(self) -> None:
        self.credit: dict[UUID, CreditFacts] = {}
        self.lines: list[tuple[UUID, UUID, str, int]] = []

    def ensure(self, conn: Conn, case_id: UUID) -> None:
        self.credit.setdefault(case_id, CreditFacts())

    def reviewed(self, conn: Conn, case_id: UUID, centre_id: CentreId) -> None:
        self.ensure(conn, case_id)
        self.credit[case_id] = dataclasses.replace(self.credit[case_id], reviewed_by=centre_id)

    def booked(self, conn: Conn, case_id: UUID, centre_id: CentreId, booking_event_id: UUID,
               booked_at: datetime) -> None:
        self.ensure(conn, case_id)
        if self.credit[case_id].booking_event_id is None:
            self.credit[case_id] = dataclasses.replace(self.credit[case_id], booked_centre=centre_id,
                                                       booking_event_id=booking_event_id, booked_at=booked_at)

    def credit_facts(self, conn: Conn, case_id: UUID) -> CreditFacts:
        return self.credit.get(case_id, CreditFacts())

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

class FakeOwnerKeys:
    """The vault's key table in memory: the first key of an owner stays until it is shredded."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}

    def insert(self, conn: Conn, owner: str, wrapped_key: bytes) -> None:
        self.keys.setdefault(owner, wrapped_key)

    def get(self, conn: Conn, owner: str) -> bytes | None:
        return self.keys.get(owner)

    def shred(self, conn: Conn, owner: str) -> None:
        self.keys.pop(owner, None)


class FakeIntakeRows:
    def __init__(self) -> None:
        self.erasures: dict[str, datetime] = {}
        self.cases: dict[UUID, dict[str, Any]] = {}
        self.patients: dict[str, bytes] = {}
        self.files: dict[UUID, dict[str, Any]] = {}
        self.deliveries: dict[UUID, dict[str, Any]] = {}
        self.access_log: list[dict[str, Any]] = []
        self.served: dict[UUID, dict[str, Any]] = {}

    def case(self, conn: Conn, case_id: UUID) -> dict[str, Any] | None:
        row = self.cases.get(case_id)
        return dict(row) if row else None

    def insert_case(self, conn: Conn, case_id: UUID, patient_ref: str, question: bytes | None,
                    at: datetime, requested_by: str = "coordinator") -> None:
        assert case_id not in self.cases
        self.cases[case_id] = {"case_id": case_id, "patient_ref": patient_ref, "question": question,
                               "updated_at": at, "requested_by": requested_by}

    def set_question(self, conn: Conn, case_id: UUID, question: bytes) -> None:
        self.cases[case_id]["question"] = question

    def cases_of(self, conn: Conn, patient_ref: str) -> list[UUID]:
        return sorted(c for c, r in self.cases.items() if r["patient_ref"] == patient_ref)

    def identity(self, conn: Conn, patient_ref: str) -> bytes | None:
        return self.patients.get(patient_ref)

    def save_identity(self, conn: Conn, patient_ref: str, identity: bytes) -> None:
        self.patients[patient_ref] = identity

    def record_erasure(self, conn: Conn, patient_ref: str, at: datetime) -> None:
        self.erasures.setdefault(patient_ref, at)

    def erased(self, conn: Conn, patient_ref: str) -> bool:
        return patient_ref in self.erasures

    def add_record_file(self, conn: Conn, record_id: UUID, case_id: UUID, kind: str, sha256: str,
                        size_bytes: int, path: str) -> None:
        self.files[record_id] = {"case_id": case_id, "kind": kind, "sha256": sha256, "size_bytes": size_bytes,
                                 "path": path}

    def delivery(self, conn: Conn, case_id: UUID) -> dict[str, Any] | None:
        row = self.deliveries.get(case_id)
        return {"payload": row["payload"], "occurred_at": row["occurred_at"]} if row else None

    def record_delivery(self, conn: Conn, case_id: UUID, event_id: UUID, at: datetime,
                        payload: dict[str, Any]) -> None:
        self.deliveries.setdefault(case_id, {"event_id": event_id, "payload": payload, "occurred_at": at})

    def record_file(self, conn: Conn, case_id: UUID, record_id: UUID) -> dict[str, Any] | None:
        row = self.files.get(record_id)
        return {"record_id": record_id, **row} if row and row["case_id"] == case_id else None

    def record_access(self, conn: Conn, case_id: UUID, record_id: UUID | None, centre_id: str, at: datetime,
                      subject: str | None = None) -> None:
        self.access_log.append({"case_id": case_id, "record_id": record_id, "centre_id": centre_id, "subject": subject,
                                "what": "package" if record_id is None else "record", "accessed_at": at})

    def accesses(self, conn: Conn, case_id: UUID) -> list[dict[str, Any]]:
        return [{k: v for k, v in a.items() if k != "case_id"} for a in self.access_log if a["case_id"] == case_id]

    def served_file(self, conn: Conn, record_id: UUID, recipe: str) -> dict[str, Any] | None:
        row = self.served.get(record_id)
        return {k: v for k, v in row.items() if k != "recipe"} if row and row["recipe"] == recipe else None

    def save_served_file(self, conn: Conn, record_id: UUID, recipe: str, media_type: str, sha256: str | None,
                         size_bytes: int | None, held: str | None) -> None:
        self.served[record_id] = {"recipe": recipe, "media_type": media_type, "sha256": sha256,
                                  "size_bytes": size_bytes, "held": held}


class FakeWorklist:
    """The worklist's lives in memory, stored as the real one stores them (JSON) so a life that does
    not survive storage fails here too; its consumer folds as the real one does."""

    def __init__(self) -> None:
        self.stored: dict[UUID, dict[str, Any]] = {}

    def lives(self, conn: Conn, case_ids: Iterable[UUID]) -> dict[UUID, Life]:
        return {c: lifecycle.load(self.stored.get(c)) for c in case_ids}

    def save(self, conn: Conn, lives: dict[UUID, Life]) -> None:
        for case_id, life in lives.items():
            self.stored[case_id] = lifecycle.dump(life)

    def life(self, case_id: UUID) -> Life:
        return lifecycle.load(self.stored.get(case_id))

    def collecting(self, conn: Conn) -> list[UUID]:
        return sorted(c for c in self.stored if self.life(c).status is lifecycle.Status.COLLECTING_RECORDS)

    def item(self, conn: Conn, case_id: UUID, now: datetime) -> dict[str, Any] | None:
        return {"case_id": case_id, **self.life(case_id).summary()} if case_id in self.stored else None

    def documents(self, conn: Conn, case_id: UUID) -> list[dict[str, Any]]:
        return []

    def page(self, conn: Conn, filters: Any, after: Any, limit: int, now: datetime) -> tuple[list[Any], None]:
        raise NotImplementedError("the list's paging is SQL: tests/integration/test_worklist.py")

    def consumer(self) -> Consumer:
        def fold(conn: Conn, decoded: Decoded) -> None:
            life = self.lives(conn, [decoded.envelope.case_id])[decoded.envelope.case_id]
            if lifecycle.apply(life, decoded):
                self.save(conn, {decoded.envelope.case_id: life})

        return Consumer("worklist_life", {t: fold for t in lifecycle.FOLDED})


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


def intake_runtime(now: datetime) -> IntakeRuntime:
    """Intake's runtime on these fakes, built by its own composition root, its clock at `now`."""
    return intake_bootstrap(IntakeSettings.model_construct(master_key=master_key()), pool=FakePool(),
                            store=memory_store("intake", Clock(now)), objects=FakeObjects(), rows=FakeIntakeRows(),
                            keys=FakeOwnerKeys(), worklist=FakeWorklist())
