"""Intake's HTTP API: coordinators open cases, register records and book treatment."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field

from events.codes import (
    CentreId,
    RecordKind,
    ReferralReason,
    StageGroup,
    TravelReason,
    TreatmentType,
    TumourSite,
)
from events.contract import CaseOpened, CountryCode, LanguageCode, RecordsReceived, Sha256, TreatmentBooked
from services.common.api import ExpectedVersion, RuntimeDep, event_time
from services.common.auth import Principal, require
from services.common.http import create_service_app
from services.intake import cases
from services.intake.bootstrap import SERVICE, bootstrap

Coordinator = Annotated[Principal, Depends(require("coordinator"))]
router = APIRouter(prefix="/cases", tags=["cases"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenCase(_Body):
    tumour_site: TumourSite
    rare_tumour: bool = False
    stage_group: StageGroup
    referral_reasons: list[ReferralReason] = Field(min_length=1)
    patient_country: CountryCode
    language: LanguageCode
    preferred_centre: CentreId | None = None
    wants_video: bool = False
    occurred_at: datetime | None = None


class AddRecord(_Body):
    kind: RecordKind
    record_id: UUID | None = None
    sha256: Sha256 | None = None
    size_bytes: int | None = Field(default=None, ge=0)
    modality: Literal["CT", "MR", "PT"] | None = None
    study_date: date | None = None
    slide_format: Literal["digital", "glass"] | None = None
    occurred_at: datetime | None = None


class BookTreatment(_Body):
    centre_id: CentreId
    treatment_type: TreatmentType
    travel_reason: TravelReason
    estimated_cost_cents: int = Field(ge=0)
    occurred_at: datetime | None = None


class CaseView(BaseModel):
    case_id: UUID
    version: int
    status: str
    tumour_site: TumourSite | None
    referral_reasons: list[ReferralReason]
    records: list[dict[str, object]]
    checklist_complete: bool
    missing_records: dict[str, int]


def _view(case_id: UUID, rt: RuntimeDep) -> CaseView:
    case, delivered = cases.get_case(rt, case_id)
    return CaseView(
        case_id=case_id, version=case.version, status=case.status(delivered),
        tumour_site=case.opened.tumour_site if case.opened else None,
        referral_reasons=case.reasons,
        records=[r.model_dump(mode="json", exclude_none=True) for r in case.records],
        checklist_complete=case.completed,
        missing_records={k.value: n for k, n in case.missing().items()},
    )


@router.post("", status_code=201, response_model=CaseView)
def open_case(body: OpenCase, rt: RuntimeDep, _: Coordinator, response: Response) -> CaseView:
    opened = CaseOpened(patient_ref=cases.new_patient_ref(),
                        **body.model_dump(exclude={"occurred_at"}))
    case_id, version = cases.open_case(rt, opened, event_time(body.occurred_at, rt))
    response.headers["ETag"] = str(version)
    response.headers["Location"] = f"/cases/{case_id}"
    return _view(case_id, rt)


@router.post("/{case_id}/records", status_code=201, response_model=CaseView)
def add_record(case_id: UUID, body: AddRecord, rt: RuntimeDep, _: Coordinator, expected: ExpectedVersion,
               response: Response) -> CaseView:
    record = RecordsReceived(record_id=body.record_id or uuid4(),
                             **body.model_dump(exclude={"occurred_at", "record_id"}))
    version = cases.add_record(rt, case_id, record, event_time(body.occurred_at, rt), expected)
    response.headers["ETag"] = str(version)
    return _view(case_id, rt)


@router.post("/{case_id}/treatment-booking", status_code=201, response_model=CaseView)
def book_treatment(case_id: UUID, body: BookTreatment, rt: RuntimeDep, _: Coordinator,
                   expected: ExpectedVersion, response: Response) -> CaseView:
    booking = TreatmentBooked(**body.model_dump(exclude={"occurred_at"}))
    version = cases.book_treatment(rt, case_id, booking, event_time(body.occurred_at, rt), expected)
    response.headers["ETag"] = str(version)
    return _view(case_id, rt)


@router.get("/{case_id}", response_model=CaseView)
def get_case(case_id: UUID, rt: RuntimeDep, _: Coordinator, response: Response) -> CaseView:
    view = _view(case_id, rt)
    response.headers["ETag"] = str(view.version)
    return view


def create_app() -> FastAPI:
    return create_service_app(service=SERVICE, build_runtime=bootstrap, routers=[router],
                              description="Cases, their records and the patient's decision.")
