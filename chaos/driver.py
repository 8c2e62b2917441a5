"""Drives cases end to end over HTTP, each step under an Idempotency-Key so a retry never appends twice."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom.examples

from demo.api import Api, StepFailed, wait_for
from demo.documents import report_pdf

CT_DICOM = Path(pydicom.examples.get_path("ct")).read_bytes()
RECORDS = ["pathology_report", "pathology_slides", "imaging", "treatment_history", "oncologist_letter",
           "oncologist_letter"]
DELIVERY = {"pathology": {"verdict": "agree"}, "imaging": {"verdict": "stage_confirmed"},
            "recommended_pathway": "surgery", "rationale_codes": ["guideline_concordant"],
            "question_answer": "answered", "diagnosis_change": "concordant", "treatment_change": "refined"}
REPORT_PDF = report_pdf(6)
BOOKING = {"centre_id": "fuscc", "treatment_type": "surgery", "travel_reason": "one_programme",
           "estimated_cost_cents": 2_000_000}


@dataclass
class Outcome:
    case_id: uuid.UUID | None = None
    booked: bool = False
    finished: bool = False
    error: str | None = None


@dataclass
class CaseDriver:
    api: Api
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    # How long a step waits for another service's reaction (routing, delivery reaching intake).
    reaction_timeout: float = 180.0

    def key(self, n: int, step: str) -> str:
        return f"chaos-{self.run_id}-{n}-{step}"

    def drive(self, n: int) -> Outcome:
        out = Outcome()
        try:
            self._drive(n, out)
            out.finished = True
        except StepFailed as exc:
            out.error = str(exc)
        return out

    def _drive(self, n: int, out: Outcome) -> None:
        api, key = self.api, self.key
        body = {"tumour_site": "breast", "stage_group": "II", "referral_reasons": ["stage_borderline"],
                "patient_country": "GB", "language": "en", "preferred_centre": "fuscc",
                "patient": {"name": f"Chaos Patient {n}", "date_of_birth": "1970-01-01"},
                "question": "Is surgery first the right path for this stage?"}
        case_id = uuid.UUID(api.call("intake", "POST", "/cases", key=key(n, "open"), json=body).json()["case_id"])
        out.case_id = case_id
        for i, consent in enumerate(({"consent": "health_data_processing", "text_version": "v2026_1"},
                                     {"consent": "transfer_abroad", "text_version": "v2026_1",
                                      "centre_ids": ["fuscc"]})):
            api.call("intake", "POST", f"/cases/{case_id}/consents", key=key(n, f"consent{i}"), json=consent)
        for i, kind in enumerate(RECORDS):
            content = CT_DICOM if kind == "imaging" else f"%PDF-1.4 {kind} {case_id} {i}".encode()
            api.call("intake", "POST", f"/cases/{case_id}/records", key=key(n, f"record{i}"), data={"kind": kind},
                     files={"file": (f"{kind}.bin", content, "application/octet-stream")})
        centre = "CENTRE_FUSCC_TOKEN"
        wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token=centre, check=False).status_code == 200,
                 "the assignment at FUSCC", self.reaction_timeout)
        api.call("review", "POST", f"/cases/{case_id}/acceptance", token=centre, key=key(n, "accept"), json={})
        report = api.call("review", "POST", f"/cases/{case_id}/report", token=centre, key=key(n, "report"),
                          files={"file": ("report.pdf", REPORT_PDF, "application/pdf")}).json()
        api.call("review", "POST", f"/cases/{case_id}/delivery", token=centre, key=key(n, "deliver"),
                 json={**DELIVERY, "report_ref": report["document_id"]})
        wait_for(lambda: api.call("intake", "GET", f"/cases/{case_id}").json().get("review_delivered"),
                 "intake to learn of the delivery", self.reaction_timeout)
        if n % 2 == 0:
            api.call("intake", "POST", f"/cases/{case_id}/treatment-booking", key=key(n, "book"), json=BOOKING)
            out.booked = True
        else:
            api.call("intake", "POST", f"/cases/{case_id}/closure", key=key(n, "close"), json={})


def drive_many(driver: CaseDriver, count: int, threads: int = 4,
               on_progress: Callable[[int], None] | None = None) -> list[Outcome]:
    """Drives `count` cases on `threads` threads; on_progress(done) after each case."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    counter = iter(range(count))

    def work() -> None:
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            result = driver.drive(n)
            with lock:
                outcomes.append(result)
                done = len(outcomes)
            if on_progress:
                on_progress(done)

    pool = [threading.Thread(target=work, name=f"chaos-driver-{i}") for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return outcomes
