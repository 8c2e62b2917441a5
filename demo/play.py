"""Plays each planned case over the services' public HTTP APIs, several cases at a time.

The simulated clock: every command carries the step's business time as `occurred_at`; the services'
reactions (routing, billing, review assignments) take the business time of the event they react to.
Asynchronous reactions are awaited by polling for as long as the stack makes progress (demo/progress.py).

The SLA timers are global: POST /admin/timers on review emits at-risk/breach events for *every*
running clock as of `now`. Cases are played concurrently and out of business-time order, so a
timer run for one case could otherwise fire for another case accepted earlier in business time
but not yet delivered in real time. Hence one lock: a case holds it from its acceptance to its
delivery (or the withdrawal that stops its clock), and runs the timers only while holding it. At
that moment every other case is either not yet accepted or already stopped, so the timers see one
running clock: this case's, and emit its events at their business-time moments.

The workers' own timer sweeps are the one thing this cannot order: intake's and review's workers
run the same timers every 60 s at the wall-clock time, which is after every simulated date. A
case caught by intake's sweep between two of its uploads is expired (the attempt is abandoned and
the case replayed, see CasePlayer.expired_by_sweep); a case caught by review's sweep between its
acceptance and delivery gets at-risk/breach events it should not have (the plan-against-ledger
check reports it). Both windows are kept short in real time: a case's intake and its review each
run as one quick burst of requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from demo.api import Api, StepFailed, problem_code
from demo.documents import dicom_study, document, report_pdf
from demo.plan import CasePlan, QuotePlan, Step, YearPlan, quote_body
from demo.progress import Patience, ProgressBar

PREFERENCE = ("sysucc", "fuscc", "cams", "pkuch", "wch")  # a coordinator's fallback order


@dataclass
class CaseResult:
    number: int
    case_id: str | None = None
    quote_id: str | None = None
    centres: list[str] = field(default_factory=list)  # assigned, in order
    abandoned: list[str] = field(default_factory=list)  # attempts the wall-clock sweep expired, replayed
    error: StepFailed | None = None
    failed_step: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class PlayResult:
    cases: list[CaseResult]
    quote_ids: list[str]
    quote_errors: list[StepFailed]
    seconds: float
    requests: int


class CasePlayer:
    def __init__(self, api: Api, plan: CasePlan, run_id: str, review_lock: threading.Lock,
                 centres: dict[str, dict[str, Any]], patience: Patience, stop: threading.Event | None = None) -> None:
        self.api, self.plan, self.run_id, self.lock = api, plan, run_id, review_lock
        self.stop = stop or threading.Event()
        self.centres, self.patience = centres, patience
        self.result = CaseResult(plan.number)
        self.case_id = ""
        self.centre: str | None = None
        self.declined: list[str] = []
        self.holding = False
        self.request_id: str | None = None
        self.shipment = ""
        self.patient_ref: str | None = None
        self._keys = 0

    # -------------------------------------------------------------- plumbing
    def key(self) -> str:
        self._keys += 1
        return f"demo-{self.run_id}-{self.plan.number}-{self._keys}"

    def intake(self, method: str, path: str, **kw: Any) -> Any:
        return self.api.call("intake", method, path, key=self.key() if method == "POST" else None, **kw).json()

    def reviewer(self, path: str, body: dict[str, Any], centre: str | None = None, **kw: Any) -> Any:
        token = f"CENTRE_{(centre or self.centre or '').upper()}_TOKEN"
        return self.api.call("review", "POST", f"/cases/{self.case_id}{path}", token=token, key=self.key(),
                             json=body, **kw)

    def play(self) -> CaseResult:
        step: Step | None = None
        steps = self.plan.steps
        try:
            while True:
                try:
                    for step in steps:
                        if self.stop.is_set():
                            raise StepFailed("interrupted")
                        getattr(self, f"do_{step.action}")(step)
                    break
                except StepFailed as exc:
                    if not self.expired_by_sweep(exc):
                        raise
                    steps = tuple(s for s in self.plan.steps if s.action != "quote")
        except Exception as exc:  # one case's failure is reported, the others go on
            self.result.error = exc if isinstance(exc, StepFailed) else StepFailed(f"{type(exc).__name__}: {exc}")
            self.result.failed_step = f"{step.action} at {step.at.isoformat()}" if step else None
        finally:
            self.release()
        return self.result

    def expired_by_sweep(self, exc: StepFailed) -> bool:
        """Intake's worker sweeps reminders and expiry every 60 s at the wall-clock time, which is months
        after a simulated case's records arrive: a case caught between two of its uploads is expired. Such an
        attempt is abandoned and the case played again from its opening, for the same patient (twice at most)."""
        if exc.code != "case_expired" or self.plan.fate == "expired" or len(self.result.abandoned) >= 2:
            return False
        self.result.abandoned.append(self.case_id)
        self.result.notes.append("intake's wall-clock timer sweep expired the case between two uploads; "
                                 "the attempt was abandoned and the case replayed")
        self.case_id, self.centre, self.declined, self.request_id, self.shipment = "", None, [], None, ""
        self.result.centres = []
        return True

    def release(self) -> None:
        if self.holding:
            self.holding = False
            self.lock.release()

    # -------------------------------------------------------------- intake
    def do_quote(self, step: Step) -> None:
        # Dated like every other step: a quote on the wall clock came months after its case opened.
        r = self.api.call("billing", "POST", "/quotes", key=self.key(),
                          json={**quote_body(self.plan.profile), "occurred_at": step.at.isoformat()})
        self.result.quote_id = r.json()["quote_id"]

    def do_open(self, step: Step) -> None:
        p, patient = self.plan.profile, self.plan.patient
        identity: dict[str, Any] = {"name": patient.name, "date_of_birth": patient.date_of_birth.isoformat()}
        for name in ("email", "phone", "passport_number"):
            if getattr(patient, name):
                identity[name] = getattr(patient, name)
        who: dict[str, Any] = {"patient_ref": self.patient_ref} if self.patient_ref else {"patient": identity}
        body = {
            **who, "question": self.plan.question, "tumour_site": p.tumour_site.value,
            "histology": p.histology.value, "stage_group": p.stage_group.value,
            "referral_reasons": [r.value for r in p.referral_reasons], "patient_country": p.country,
            "language": p.language, "preferred_centre": p.preferred_centre.value if p.preferred_centre else None,
            "wants_video": p.wants_video, "question_topics": [t.value for t in p.question_topics],
            "imaging_studies": p.imaging_studies, "glass_slides": p.glass_slides,
            "quote_id": self.result.quote_id, "occurred_at": step.at.isoformat(),
        }
        opened = self.intake("POST", "/cases", json=body, expect=(201,))
        self.case_id = self.result.case_id = opened["case_id"]
        self.patient_ref = opened["patient_ref"]

    def do_consent(self, step: Step) -> None:
        self.intake("POST", f"/cases/{self.case_id}/consents",
                    json={**step.data, "text_version": "v2026_1", "occurred_at": step.at.isoformat()})

    def upload(self, kind: str, at: datetime) -> Any:
        if kind == "imaging":
            modality = "CT" if self.plan.number % 3 else "MR"
            content = dicom_study(modality, (at - timedelta(days=7 + self.plan.number % 40)).date())
        else:
            content = document(kind, self.plan, at)
        r = self.api.call("intake", "POST", f"/cases/{self.case_id}/records", key=self.key(), expect=(201,),
                          data={"kind": kind, "occurred_at": at.isoformat()},
                          files={"file": (f"{kind}.{'dcm' if kind == 'imaging' else 'pdf'}", content,
                                          "application/dicom" if kind == "imaging" else "application/pdf")})
        return r.json()

    def do_upload(self, step: Step) -> None:
        self.upload(step.data["kind"], step.at)

    def do_ship_slides(self, step: Step) -> None:
        self.shipment = str(uuid4())
        # The route declares 201 but answers 200 (it does not set the status as records/booking do).
        self.intake("POST", f"/cases/{self.case_id}/slide-shipments", expect=(200, 201),
                    json={"shipment_id": self.shipment, **step.data, "occurred_at": step.at.isoformat()})

    def do_receive_slides(self, step: Step) -> None:
        self.intake("POST", f"/cases/{self.case_id}/slide-shipments/{self.shipment}/receipt",
                    json={"occurred_at": step.at.isoformat()})

    def do_request_records(self, step: Step) -> None:
        self.intake("POST", f"/cases/{self.case_id}/records-requests", json={"occurred_at": step.at.isoformat()})

    def do_cancel(self, step: Step) -> None:
        self.intake("POST", f"/cases/{self.case_id}/cancellation", json={**step.data,
                                                                         "occurred_at": step.at.isoformat()})

    def do_withdraw_consent(self, step: Step) -> None:
        self.intake("POST", f"/cases/{self.case_id}/consents/{step.data['consent']}/withdrawal",
                    json={"occurred_at": step.at.isoformat()})
        if self.holding:
            # The review's clock runs until review's worker learns of the withdrawal: wait for that
            # before letting another case run the timers.
            self.wait("the review to stop after the withdrawal",
                      lambda: self.review_view().get("stopped_by"))
            self.release()

    # -------------------------------------------------------------- routing
    def routing(self) -> list[dict[str, Any]]:
        r = self.api.call("routing", "GET", f"/cases/{self.case_id}/routing", expect=(200, 404))
        return r.json()["decisions"] if r.status_code == 200 else []

    def wait(self, what: str, probe: Callable[[], Any]) -> Any:
        return self.patience.wait(probe, f"{what} (case {self.plan.number} {self.case_id})")

    def review_view(self, centre: str | None = None) -> dict[str, Any]:
        r = self.api.call("review", "GET", f"/cases/{self.case_id}",
                          token=f"CENTRE_{(centre or self.centre or '').upper()}_TOKEN", expect=(200, 404))
        return r.json() if r.status_code == 200 else {}

    def follow_routing(self, seen: int, at: datetime) -> None:
        """Waits for routing's next decision and for review to know the assignment; a case routing
        could not place goes to a centre the coordinator picks from the queue."""
        decisions = self.wait("a routing decision", lambda: (d := self.routing()) and len(d) > seen and d)
        last = decisions[-1]
        if last["event_type"] == "CaseRoutingBlocked":
            self.result.notes.append(f"routing blocked ({', '.join(last.get('reason_codes', []))}); "
                                     "coordinator assigned from the queue")
            centre = self.coordinator_pick()
            if centre is None:
                self.api.call("routing", "POST", f"/queue/{self.case_id}/final-decline", key=self.key(),
                              json={"occurred_at": (at + timedelta(minutes=10)).isoformat()})
                raise StepFailed("no consented centre left to review the case: finally declined")
            self.api.call("routing", "POST", f"/queue/{self.case_id}/assignment", key=self.key(),
                          json={"centre_id": centre, "occurred_at": (at + timedelta(minutes=10)).isoformat()})
            decisions = self.wait("the coordinator's assignment", lambda: (d := self.routing()) and
                                  len(d) > len(decisions) and d)
            last = decisions[-1]
        if last["event_type"] != "CaseRouted":
            raise StepFailed(f"routing ended the case: {last}")
        self.centre = last["centre_id"]
        self.result.centres.append(last["centre_id"])
        self.wait(f"review to learn the assignment to {self.centre}", lambda: self.review_view())

    def coordinator_pick(self) -> str | None:
        consented = set(self.plan.profile.consented_centres)
        site = self.plan.profile.tumour_site.value
        options = [c for c in PREFERENCE if c in consented and c not in self.declined]
        fitting = [c for c in options if site in self.centres.get(c, {}).get("specialties", [])]
        return (fitting or options or [None])[0]  # type: ignore[list-item]

    def do_await_routing(self, step: Step) -> None:
        self.follow_routing(0, step.at)

    def do_decline(self, step: Step) -> None:
        assert self.centre is not None
        seen = len(self.routing())
        self.reviewer("/decline", {**step.data, "occurred_at": step.at.isoformat()})
        self.declined.append(self.centre)
        self.follow_routing(seen, step.at)

    # -------------------------------------------------------------- review (under the lock)
    def do_accept(self, step: Step) -> None:
        self.lock.acquire()
        self.holding = True
        self.reviewer("/acceptance", {"occurred_at": step.at.isoformat()})

    def do_request_information(self, step: Step) -> None:
        r = self.reviewer("/information-requests", {**step.data, "occurred_at": step.at.isoformat()})
        self.request_id = (r.json().get("open_information_request") or {}).get("request_id")

    def do_supply_information(self, step: Step) -> None:
        # The patient sends what was asked for through intake, and the reviewer marks the request answered
        # at the upload's business time. Review's worker would resume the clock from the upload as well;
        # whichever comes first wins and the other is a no-op (409 no_open_request). Not waiting for the
        # worker keeps this case's running clock short in real time (see the module docstring).
        self.upload(step.data["kind"], step.at)
        r = self.reviewer(f"/information-requests/{self.request_id}/resolution",
                          {"occurred_at": step.at.isoformat()}, check=False)
        if r.status_code != 200 and problem_code(r) != "no_open_request":
            raise StepFailed(f"unexpected HTTP {r.status_code} marking the information received",
                             f"POST /cases/{self.case_id}/information-requests/{self.request_id}/resolution",
                             r.text[:600], problem_code(r))

    def do_timers(self, step: Step) -> None:
        assert self.holding, "the SLA timers run only under the review lock"
        self.api.call("review", "POST", "/admin/timers", token="ADMIN_TOKEN", json={"now": step.at.isoformat()})

    def do_deliver(self, step: Step) -> None:
        # The centre uploads the signed PDF first; the delivery references the stored document.
        pages, reason = step.data["page_count"], step.data.get("page_count_reason")
        token = f"CENTRE_{(self.centre or '').upper()}_TOKEN"
        report = self.api.call("review", "POST", f"/cases/{self.case_id}/report", token=token, key=self.key(),
                               expect=(201,), data={"occurred_at": step.at.isoformat(),
                                                    **({"page_count_reason": reason} if reason else {})},
                               files={"file": ("report.pdf", report_pdf(pages, f"case {self.plan.number}"),
                                               "application/pdf")}).json()
        self.reviewer("/delivery", {**step.data, "report_ref": report["document_id"],
                                    "occurred_at": step.at.isoformat()})
        self.release()

    def do_video(self, step: Step) -> None:
        self.reviewer("/video-consultation", {**step.data, "occurred_at": step.at.isoformat()})

    # -------------------------------------------------------------- the patient's decision, the credit
    def delivered_at_intake(self) -> None:
        self.wait("intake to learn of the delivery",
                  lambda: self.api.call("intake", "GET", f"/cases/{self.case_id}").json()["review_delivered"])

    def do_book(self, step: Step) -> None:
        self.delivered_at_intake()
        body = {k: v for k, v in step.data.items() if k != "centre_id"}
        body["centre_id"] = step.data["centre_id"] or self.centre
        self.intake("POST", f"/cases/{self.case_id}/treatment-booking", expect=(201,),
                    json={**body, "occurred_at": step.at.isoformat()})

    def do_close(self, step: Step) -> None:
        self.delivered_at_intake()
        self.intake("POST", f"/cases/{self.case_id}/closure", json={"occurred_at": step.at.isoformat()})

    def do_redeem(self, step: Step) -> None:
        # Billing keeps its accounts from the stream: just after a restart its worker may still be
        # catching up, and the account is not there yet (404) rather than gone.
        self.wait("billing to apply the fee credit", lambda: (r := self.api.call(
            "billing", "GET", f"/cases/{self.case_id}/account", token="BILLING_TOKEN", expect=(200, 404)))
            .status_code == 200 and r.json()["fee_credit_cents"])
        self.api.call("billing", "POST", f"/cases/{self.case_id}/fee-credit/redemption", token="BILLING_TOKEN",
                      key=self.key(), json={**step.data, "occurred_at": step.at.isoformat()})


def play_quote(api: Api, quote: QuotePlan, run_id: str) -> str:
    r = api.call("billing", "POST", "/quotes", key=f"demo-{run_id}-quote-{quote.number}", expect=(201,),
                 json={**quote_body(quote.profile), "occurred_at": quote.at.isoformat()})
    return str(r.json()["quote_id"])


def play_year(api: Api, year: YearPlan, workers: int, patience: Patience,
              bar: ProgressBar | None = None) -> PlayResult:
    run_id = uuid4().hex[:12]
    lock = threading.Lock()
    centres = {c["id"]: c for c in api.call("routing", "GET", "/centres").json()["centres"]}
    start = time.monotonic()
    results: list[CaseResult] = []
    quote_ids: list[str] = []
    quote_errors: list[StepFailed] = []
    # Cases start in business-time order, so the year fills roughly month by month.
    items: list[tuple[datetime, CasePlan | QuotePlan]] = [(c.steps[0].at, c) for c in year.cases]
    items += [(q.at, q) for q in year.extra_quotes]
    items.sort(key=lambda item: item[0])
    bar = bar or ProgressBar(len(year.cases))
    stop = threading.Event()
    bar.run_ticker(stop)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="demo")
    futures: dict[Future[Any], CasePlan | QuotePlan] = {}
    for _, item in items:
        if isinstance(item, CasePlan):
            player = CasePlayer(api, item, run_id, lock, centres, patience, stop)
            futures[pool.submit(player.play)] = item
        else:
            futures[pool.submit(play_quote, api, item, run_id)] = item
    try:
        for future in as_completed(futures):
            if isinstance(futures[future], QuotePlan):
                try:
                    quote_ids.append(future.result())
                except StepFailed as exc:
                    quote_errors.append(exc)
                continue
            results.append(future.result())
            bar.case_done(failed=results[-1].error is not None)
    except BaseException:  # e.g. Ctrl-C: cases in flight stop after their current step, queued ones never start
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    stop.set()
    pool.shutdown()
    results.sort(key=lambda r: r.number)
    return PlayResult(results, quote_ids, quote_errors, time.monotonic() - start, api.requests)


def finish_expiries(api: Api, year: YearPlan, results: list[CaseResult]) -> int:
    """Cases whose records never came: run intake's timers once, after everything else, at the latest
    planned expiry (the workers' own wall-clock sweep may have expired them already)."""
    by_number = {r.number: r for r in results}
    pending = []
    for plan in year.cases:
        result = by_number.get(plan.number)
        if plan.expires_at is None or result is None or result.case_id is None or result.error:
            continue
        status = api.call("intake", "GET", f"/cases/{result.case_id}").json()["status"]
        if status == "collecting_records":
            pending.append(plan.expires_at)
    if not pending:
        return 0
    now = max(pending) + timedelta(minutes=1)
    r = api.call("intake", "POST", "/admin/timers", token="ADMIN_TOKEN", json={"now": now.isoformat()})
    return int(r.json()["appended"])

