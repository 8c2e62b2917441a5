"""The events billing emits: quotes, invoices, payments, refunds, the fee credit."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from events.codes import (
    TumourSite,
)
from events.contract.base import (
    MAX_PRICE_LINES,
    Cents,
    Code,
    Event,
)

ProviderRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_:-]{1,80}$")]
Version = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z._-]{1,32}$")]


class PriceLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    component: Code
    cents: Cents


class QuoteIssued(Event):
    """A prospective patient's instant quote; its stream and key are the quote id."""

    event_type = "QuoteIssued"

    review_cents: Cents
    video_cents: Cents
    breakdown: list[PriceLine] = Field(min_length=1, max_length=MAX_PRICE_LINES)
    price_book_version: Version
    tumour_site: TumourSite
    rare_tumour: bool
    glass_slides: bool
    imaging_studies: int = Field(ge=0, le=50)
    genomic_guided: bool
    wants_video: bool


class FeeInvoiced(Event):
    event_type = "FeeInvoiced"

    invoice_id: UUID
    review_fee_cents: Cents
    video_fee_cents: Cents = 0
    breakdown: list[PriceLine] = Field(default_factory=list, max_length=MAX_PRICE_LINES)
    price_book_version: Version | None = None
    quote_id: UUID | None = None


class PaymentAuthorised(Event):
    event_type = "PaymentAuthorised"

    payment_id: UUID
    provider_ref: ProviderRef
    amount_cents: Cents


class PaymentFailed(Event):
    event_type = "PaymentFailed"

    payment_id: UUID
    stage: Literal["authorise", "capture"]
    reason: Code


class PaymentCaptured(Event):
    event_type = "PaymentCaptured"

    payment_id: UUID
    review_fee_cents: Cents
    video_fee_cents: Cents = 0
    provider_ref: ProviderRef | None = None


class PaymentVoided(Event):
    """An authorisation released without capture: the patient was never charged."""

    event_type = "PaymentVoided"

    payment_id: UUID


class InvoiceVoided(Event):
    """The uncaptured part of an invoice written off (e.g. cancelled before records were complete)."""

    event_type = "InvoiceVoided"

    invoice_id: UUID
    review_cents: Cents
    video_cents: Cents


class RefundIssued(Event):
    event_type = "RefundIssued"

    refund_id: UUID
    payment_id: UUID
    review_cents: Cents
    video_cents: Cents
    reason: Literal["cancelled_before_acceptance", "cancelled_after_acceptance", "withdrawn_before_acceptance",
                    "withdrawn_after_acceptance", "declined_by_all_centres", "sla_breach"]
    provider_ref: ProviderRef | None = None


class FeeCreditApplied(Event):
    event_type = "FeeCreditApplied"

    credit_id: UUID
    treatment_booking_id: UUID
    amount_cents: Cents


class FeeCreditRedeemed(Event):
    """The treating centre billed the treatment and the fee credit was deducted from it."""

    event_type = "FeeCreditRedeemed"

    credit_id: UUID
    amount_cents: Cents
    treatment_invoice_ref: ProviderRef
