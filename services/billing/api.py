"""Billing's HTTP API: instant quotes, the per-case account, provider callbacks."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from events.codes import Histology, ReferralReason, TumourSite, is_rare
from events.contract import MAX_CENTS, ProviderRef
from events.db import Conn
from services.billing import application
from services.billing.bootstrap import SERVICE, bootstrap
from services.billing.pricing import TURNAROUND, CaseComplexity
from services.billing.provider import SimulatedProvider
from services.common.app_factory import create_service_app
from services.common.auth import Principal, require
from services.common.dependencies import IdempotencyKey, event_time, get_runtime
from services.common.errors import Rejected
from services.common.idempotency import Outcome, fingerprint, run_command
from services.common.inputs import EventTime, WholeNumber

Billing = Annotated[Principal, Depends(require("billing"))]
Reader = Annotated[Principal, Depends(require("billing", "coordinator"))]
# The portal: the console's public quote wizard (docs/console.md).
Quoter = Annotated[Principal, Depends(require("coordinator", "billing", "portal"))]
router = APIRouter(tags=["billing"])


# The composition root's runtime, typed as this service's.
BillingDep = Annotated[application.BillingRuntime, Depends(get_runtime)]


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tumour_site: TumourSite
    histology: Histology = Histology.OTHER
    rare_tumour: StrictBool = False
    glass_slides: StrictBool = False
    imaging_studies: WholeNumber = Field(1, ge=0, le=50)
    referral_reasons: list[ReferralReason] = Field(default_factory=list, max_length=len(ReferralReason))
    wants_video: StrictBool = False
    occurred_at: EventTime | None = None


class Callback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["capture.succeeded"]
    case_id: UUID
    provider_ref: ProviderRef
    occurred_at: EventTime | None = None


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operation: Literal["authorise", "capture", "refund", "void"]
    mode: Literal["fail", "timeout"]
    times: WholeNumber = Field(1, ge=1, le=100)
    amount_cents: WholeNumber | None = Field(None, ge=0, le=MAX_CENTS,
                                             description="only operations of this amount fail")


class At(BaseModel):
    model_config = ConfigDict(extra="forbid")
    occurred_at: EventTime | None = None


@router.post("/quotes", status_code=201, description="An instant quote; quotes are events too (the funnel).")
def quote(body: QuoteRequest, rt: BillingDep, who: Quoter, key: IdempotencyKey, request: Request) -> JSONResponse:
    rare = body.rare_tumour or is_rare(body.tumour_site, body.histology, body.referral_reasons)
    case = CaseComplexity(rare_tumour=rare,
                          glass_slides=body.glass_slides, imaging_studies=body.imaging_studies,
                          genomic_guided=ReferralReason.GENOMIC_GUIDED in body.referral_reasons,
                          wants_video=body.wants_video)

    def command(conn: Conn) -> Outcome:
        quote_id, q = application.issue_quote(rt, conn, body.tumour_site, case, event_time(body.occurred_at, rt))
        turnaround = TURNAROUND
        return Outcome(201, {
            "quote_id": quote_id, "currency": rt.price_book.currency, "review_cents": q.review_cents,
            "video_cents": q.video_cents, "total_cents": q.total_cents,
            "breakdown": [{"component": c, "cents": n} for c, n in q.breakdown],
            "price_book_version": q.price_book_version,
            "turnaround": {"business_days_target": turnaround.target, "business_days_limit": turnaround.limit,
                           "text": f"{turnaround.target}-{turnaround.limit} business days"},
        })

    return run_command(rt, key=key, principal=who.role, command=command,
                       request_fingerprint=fingerprint(request.method, request.url.path, body))


@router.get("/price-book")
def price_book(rt: BillingDep, _: Reader) -> dict[str, Any]:
    # The turnaround is the facilitator's promise, not a price: it is shown beside the book.
    return {**rt.price_book.model_dump(mode="json"), "turnaround_business_days": TURNAROUND.model_dump()}


@router.get("/cases/{case_id}/account")
def account(case_id: UUID, rt: BillingDep, _: Reader) -> JSONResponse:
    with rt.pool.connection() as conn:
        return JSONResponse(jsonable_encoder(application.case_summary(rt, conn, case_id)))


@router.post("/cases/{case_id}/payments/capture", description="Retry a capture the provider declined.")
def retry_capture(case_id: UUID, body: At, rt: BillingDep, who: Billing, key: IdempotencyKey,
                  request: Request) -> JSONResponse:
    def command(conn: Conn) -> Outcome:
        done = application.retry_capture(rt, conn, case_id, event_time(body.occurred_at, rt))
        return Outcome(200, application.case_summary(rt, conn, case_id, done.state))

    return run_command(rt, key=key, principal=who.role, command=command,
                       request_fingerprint=fingerprint(request.method, request.url.path, body))


@router.post("/provider/callbacks", description="The payment provider's notices; duplicates change nothing.")
def callback(body: Callback, rt: BillingDep, _: Billing) -> JSONResponse:
    with rt.pool.connection() as conn, conn.transaction():
        applied = application.provider_callback(rt, conn, body.case_id, body.provider_ref,
                                                event_time(body.occurred_at, rt))
    return JSONResponse({"applied": applied})


class Redemption(BaseModel):
    model_config = ConfigDict(extra="forbid")
    treatment_invoice_ref: ProviderRef
    occurred_at: EventTime | None = None


@router.post("/cases/{case_id}/fee-credit/redemption",
             description="The treating centre billed the treatment: deduct the fee credit from it, once.")
def redeem(case_id: UUID, body: Redemption, rt: BillingDep, who: Billing, key: IdempotencyKey,
           request: Request) -> JSONResponse:
    def command(conn: Conn) -> Outcome:
        done = application.redeem(rt, conn, case_id, body.treatment_invoice_ref, event_time(body.occurred_at, rt))
        return Outcome(200, application.case_summary(rt, conn, case_id, done.state))

    return run_command(rt, key=key, principal=who.role, command=command,
                       request_fingerprint=fingerprint(request.method, request.url.path, body))


@router.get("/ledger", description="The whole journal's balance: it must be zero.")
def ledger(rt: BillingDep, _: Billing) -> dict[str, int]:
    with rt.pool.connection() as conn:
        return application.ledger_total(rt, conn)


@router.post("/admin/provider/faults", tags=["admin"], description="Makes the simulated provider fail or time out.")
def inject_fault(body: Fault, rt: BillingDep, _: Annotated[Principal, Depends(require("admin"))]) -> dict[str, str]:
    if not isinstance(rt.provider, SimulatedProvider):
        raise Rejected("faults can be injected into the simulated provider only", "not_simulated")
    rt.provider.inject(body.operation, body.mode, body.times, body.amount_cents)
    return {"injected": f"{body.operation}:{body.mode}x{body.times}"}


def create_app() -> FastAPI:
    return create_service_app(service=SERVICE, build_runtime=bootstrap, routers=[router],
                              description="Quotes, invoices, payments, refunds and the fee credit; a balanced ledger.")
