"""Billing's HTTP API: payments and the per-case account."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field

from events.contract import PaymentCaptured
from services.billing import accounts
from services.billing.bootstrap import SERVICE, bootstrap
from services.common.api import RuntimeDep, event_time
from services.common.auth import Principal, require
from services.common.http import create_service_app

Billing = Annotated[Principal, Depends(require("billing"))]
Reader = Annotated[Principal, Depends(require("billing", "coordinator"))]
router = APIRouter(prefix="/cases", tags=["billing"])


class Payment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payment_id: UUID | None = None
    review_fee_cents: int = Field(ge=0)
    video_fee_cents: int = Field(0, ge=0)
    occurred_at: datetime | None = None


@router.post("/{case_id}/payments", status_code=201)
def capture(case_id: UUID, body: Payment, rt: RuntimeDep, _: Billing) -> dict[str, Any]:
    payment = PaymentCaptured(payment_id=body.payment_id or uuid4(), review_fee_cents=body.review_fee_cents,
                              video_fee_cents=body.video_fee_cents)
    version = accounts.capture_payment(rt, case_id, payment, event_time(body.occurred_at, rt))
    return {"case_id": case_id, "payment_id": payment.payment_id, "version": version}


@router.get("/{case_id}/account")
def account(case_id: UUID, rt: RuntimeDep, _: Reader) -> dict[str, Any]:
    acc = accounts.account(rt, case_id)
    return {
        "case_id": case_id,
        "version": acc.version,
        "review_fee_cents": acc.invoice.review_fee_cents if acc.invoice else None,
        "video_fee_cents": acc.invoice.video_fee_cents if acc.invoice else None,
        "paid_review_cents": acc.paid_review_cents,
        "paid_video_cents": acc.paid_video_cents,
        "fee_credit_cents": acc.credit.amount_cents if acc.credit else 0,
    }


def create_app() -> FastAPI:
    return create_service_app(service=SERVICE, build_runtime=bootstrap, routers=[router],
                              description="Invoices, payments and the fee credit against treatment.")
