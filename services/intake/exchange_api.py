"""Intake's exchange with the centres over HTTP: the case package, record files, the FHIR export,
and the list of every centre read (services/intake/exchange.py decides what each reader gets)."""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from services.common.auth import Principal, require
from services.common.dependencies import get_runtime
from services.intake import application, exchange

Coordinator = Annotated[Principal, Depends(require("coordinator"))]
# The coordinator, or a centre: which centre may read a case is decided per case (else 404).
CaseReader = Annotated[Principal, Depends(require("coordinator", "centre"))]
IntakeDep = Annotated[application.IntakeRuntime, Depends(get_runtime)]
router = APIRouter(tags=["exchange"])


@router.get("/cases/{case_id}/package", tags=["exchange"],
            description="What the assigned centre reviews: the question, the clinical codes, the patient's age and "
                        "sex, and the record list. A centre reads it only while the case is assigned to it and the "
                        "transfer consent names it (any other centre: 404); each read by a centre is recorded. Each "
                        "record's `sha256` and `size_bytes` are those of the file the reader downloads: a centre's "
                        "are those of its de-identified copy, never the original's; `held` says why a file is not "
                        "served to a centre (burned_in_annotation).")
def get_package(case_id: UUID, rt: IntakeDep, who: CaseReader) -> JSONResponse:
    with rt.pool.connection() as conn, conn.transaction():
        body = exchange.package(rt, conn, case_id, who.centre_id)
    return JSONResponse(jsonable_encoder(body))


@router.get("/cases/{case_id}/records/{record_id}/content", tags=["exchange"], response_class=Response,
            responses={200: {"content": {"application/dicom": {"schema": {"type": "string", "format": "binary"}},
                                         "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                                         "application/octet-stream": {"schema": {"type": "string",
                                                                                 "format": "binary"}}}}},
            description="One record's file. DICOM leaving for a centre is de-identified (DICOM PS3.15 basic "
                        "profile, full dates retained; header X-Deidentified; docs/deidentification.md); each read "
                        "by a centre is recorded. A file whose pixels carry burned-in annotation is held for the "
                        "coordinator: a centre gets 409 with code `burned_in_annotation`.")
def get_record_content(case_id: UUID, record_id: UUID, rt: IntakeDep, who: CaseReader) -> Response:
    with rt.pool.connection() as conn, conn.transaction():
        content = exchange.record_content(rt, conn, case_id, record_id, who.centre_id)
    return Response(content.data, media_type=content.media_type,
                    headers={"X-Deidentified": str(content.deidentified).lower(),
                             "Content-Disposition": f'attachment; filename="{record_id}"'})


@router.get("/cases/{case_id}/fhir", tags=["exchange"], response_class=Response,
            responses={200: {"content": {"application/fhir+json": {"schema": {"type": "object"}}}}},
            description="The case as a FHIR R4B Bundle (validated with fhir.resources): the ServiceRequest (the "
                        "opinion order), a Task on it (owner: the centre; status mapped from our state, which is "
                        "in businessStatus), both Consents, DocumentReferences for the records and the reports. "
                        "The Patient resource only for the coordinator; the assigned centre's export names the "
                        "patient by the case pseudonym and is recorded as a package read.")
def get_fhir(case_id: UUID, rt: IntakeDep, who: CaseReader) -> Response:
    with rt.pool.connection() as conn, conn.transaction():
        bundle = exchange.fhir_bundle(rt, conn, case_id, who.centre_id)
    return Response(json.dumps(bundle), media_type="application/fhir+json")


@router.get("/cases/{case_id}/accesses", tags=["exchange"],
            description="Every read of this case's package or files by a centre: who, what, when.")
def get_accesses(case_id: UUID, rt: IntakeDep, _: Coordinator) -> list[dict[str, Any]]:
    with rt.pool.connection() as conn:
        return exchange.accesses(rt, conn, case_id)
