"""A case as a FHIR R4B Bundle: the opinion order (ServiceRequest), the centre's Task on it, both
consents, and DocumentReferences for the records and the centre's reports. Pure: the caller loads.

The referral follows FHIR's workflow pattern as HL7 BSeR uses it: the ServiceRequest is the order,
the Task carries who holds it (`owner`, the centre) and where it stands (`status`, and our own
state in `businessStatus`). Task.status from our case, first match:

    ended: booked or closed -> completed; cancelled, withdrawn, expired or erased -> cancelled
    delivered -> completed
    no centre accepts it any more (finally declined) -> rejected
    the centre waits on the patient (information requested) -> on-hold
    accepted at the centre (its SLA clock started) -> in-progress
    routed to a centre that has not accepted yet -> requested
    records or consents still missing -> draft

fhir.resources checks structure and types but accepts any string where FHIR binds a required value
set (it takes Task.status="bogus"), so `check_terminology` checks those codes itself: a broken
mapping fails the export instead of sending a partner invalid FHIR.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from fhir.resources.R4B.bundle import Bundle

from events.codes import ConsentKind, RecordKind
from events.contract import ReviewDelivered
from events.lifecycle import Status
from services.intake.domain import Case

OURS = "urn:case-ledger"
LOINC = "http://loinc.org"
CONSULT_NOTE = "11488-4"  # LOINC: Consult note, the written second opinion
RECORD_LOINC = {RecordKind.PATHOLOGY_REPORT: ("11526-1", "Pathology study"),
                RecordKind.IMAGING: ("18748-4", "Diagnostic imaging study"),
                RecordKind.GENOMIC_REPORT: ("51969-4", "Genetic analysis report")}


class FhirMappingError(Exception):
    """Our mapping produced FHIR that is not valid: a defect of ours, never the caller's input."""


# The required bindings fhir.resources does not enforce: (resource type, path) -> allowed codes.
REQUIRED_CODES: dict[tuple[str, str], frozenset[str]] = {
    ("Bundle", "type"): frozenset({"document", "message", "transaction", "transaction-response", "batch",
                                   "batch-response", "history", "searchset", "collection"}),
    ("Task", "status"): frozenset({"draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
                                   "in-progress", "on-hold", "failed", "completed", "entered-in-error"}),
    ("Task", "intent"): frozenset({"unknown", "proposal", "plan", "order", "original-order", "reflex-order",
                                   "filler-order", "instance-order", "option"}),
    ("ServiceRequest", "status"): frozenset({"draft", "active", "on-hold", "revoked", "completed",
                                             "entered-in-error", "unknown"}),
    ("ServiceRequest", "intent"): frozenset({"proposal", "plan", "directive", "order", "original-order",
                                             "reflex-order", "filler-order", "instance-order", "option"}),
    ("ServiceRequest", "priority"): frozenset({"routine", "urgent", "asap", "stat"}),
    ("Consent", "status"): frozenset({"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"}),
    ("Consent", "provision.type"): frozenset({"deny", "permit"}),
    ("DocumentReference", "status"): frozenset({"current", "superseded", "entered-in-error"}),
    ("DocumentReference", "docStatus"): frozenset({"preliminary", "final", "amended", "entered-in-error"}),
    ("DocumentReference", "relatesTo.code"): frozenset({"replaces", "transforms", "signs", "appends"}),
    ("Patient", "gender"): frozenset({"male", "female", "other", "unknown"}),
}


@dataclass(frozen=True)
class RecordFile:
    """A record's file as the reader of the export receives it (a centre: the de-identified copy)."""

    media_type: str
    sha256: str | None
    size_bytes: int | None
    held: str | None  # why a centre may not have it; no URL then


@dataclass(frozen=True)
class CaseForExport:
    case: Case
    status: Status
    centre_id: str | None  # the centre holding the case now
    accepted: bool  # the centre accepted (its SLA clock started)
    waiting_on_patient: bool  # an information request is open
    finally_declined: bool
    delivered: ReviewDelivered | None
    documents: Sequence[Mapping[str, Any]]  # review's stored PDFs: report versions and addenda
    identity: Mapping[str, Any] | None  # the patient's identity: the coordinator's export only
    question: str | None
    updated_at: datetime
    files: Mapping[UUID, RecordFile] = field(default_factory=dict)  # by record id, the records with a file
    exported_at: datetime | None = None  # when the bundle is assembled
    review_url: str = ""  # the review API's base URL: where the reports are read


def task_status(c: CaseForExport) -> str:
    if c.status in (Status.TREATMENT_BOOKED, Status.CLOSED):
        return "completed"
    if c.status in (Status.CANCELLED, Status.WITHDRAWN, Status.EXPIRED, Status.ERASED):
        return "cancelled"
    if c.status is Status.REVIEW_DELIVERED or c.delivered is not None:
        return "completed"
    if c.finally_declined:
        return "rejected"
    if c.waiting_on_patient:
        return "on-hold"
    if c.accepted:
        return "in-progress"
    if c.centre_id is not None:
        return "requested"
    return "draft" if c.status is Status.COLLECTING_RECORDS else "requested"


def _request_status(task: str) -> str:
    return {"completed": "completed", "cancelled": "revoked", "rejected": "revoked", "draft": "draft",
            "on-hold": "on-hold"}.get(task, "active")


def _ref(kind: str, uid: UUID) -> dict[str, str]:
    return {"reference": f"urn:uuid:{uid}", "type": kind}


def _code(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _organisation_id(centre_id: str) -> UUID:
    # The same for a centre in every case's bundle.
    return uuid5(NAMESPACE_URL, f"{OURS}:centre:{centre_id}")


def _centre(centre_id: str) -> dict[str, Any]:
    """A reference to the centre's Organization, which the bundle includes (`_organisations`)."""
    return {**_ref("Organization", _organisation_id(centre_id)),
            "identifier": {"system": f"{OURS}:centre", "value": centre_id}, "display": centre_id.upper()}


def _when(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


Add = Callable[[UUID, dict[str, Any]], None]


def build_bundle(c: CaseForExport) -> dict[str, Any]:
    cid = c.case.case_id
    # A centre's export names the patient only by the case's pseudonym, as its DICOM does.
    subject = _ref("Patient", uuid5(cid, "patient")) if c.identity is not None else \
        {"type": "Patient", "identifier": {"system": f"{OURS}:case-pseudonym", "value": f"CASE-{cid}"}}
    entries: list[dict[str, Any]] = []

    def add(uid: UUID, resource: dict[str, Any]) -> None:
        entries.append({"fullUrl": f"urn:uuid:{uid}", "resource": {"id": str(uid), **{
            k: v for k, v in resource.items() if v is not None}}})

    newest = _newest(c)
    if c.identity is not None:
        _patient(add, c, uuid5(cid, "patient"))
    _service_request(add, c, subject)
    _task(add, c, subject, newest)
    _consents(add, c, subject)
    _records(add, c, subject)
    _documents(add, c, subject)
    _organisations(add, c)
    # Assembled now, and never dated before the newest fact it holds (simulated time may run ahead).
    stamp = max(newest, c.exported_at) if c.exported_at else newest
    return {"resourceType": "Bundle", "type": "collection", "timestamp": _when(stamp), "entry": entries}


def _newest(c: CaseForExport) -> datetime:
    times = [c.updated_at, c.case.opened_at, *(d["stored_at"] for d in c.documents)]
    times += [t for _, given_at, withdrawn_at in c.case.consent_log.values() for t in (given_at, withdrawn_at)]
    return max(t for t in times if t is not None)


def _patient(add: Add, c: CaseForExport, patient_id: UUID) -> None:
    opened, identity = c.case.opened, c.identity
    assert opened is not None and identity is not None
    name = str(identity.get("name", "")).strip()
    add(patient_id, {"resourceType": "Patient",
                     "identifier": [{"system": f"{OURS}:patient-ref", "value": opened.patient_ref}],
                     "name": [{"text": name}] if name else None,
                     "gender": identity.get("sex"),
                     "birthDate": identity.get("date_of_birth"),
                     "address": [{"country": opened.patient_country}],
                     "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47",
                                                                 "code": opened.language}]}}]})


def _service_request(add: Add, c: CaseForExport, subject: dict[str, Any]) -> None:
    opened, cid = c.case.opened, c.case.case_id
    assert opened is not None
    add(cid, {
        "resourceType": "ServiceRequest", "status": _request_status(task_status(c)), "intent": "order",
        "identifier": [{"system": f"{OURS}:case", "value": str(cid)}],
        "code": {**_code(f"{OURS}:service", "remote-written-second-opinion", "Remote written second opinion"),
                 "text": "Remote written second opinion"},
        "subject": subject, "authoredOn": _when(c.case.opened_at),
        "reasonCode": [_code(f"{OURS}:tumour-site", opened.tumour_site.value),
                       _code(f"{OURS}:histology", opened.histology.value),
                       _code(f"{OURS}:stage-group", opened.stage_group.value)],
        "performer": [_centre(c.centre_id)] if c.centre_id else None,
        "note": [{"text": c.question}] if c.question else None,
        "supportingInfo": [_ref("DocumentReference", r.record_id) for r in c.case.records] or None,
    })


def _task(add: Add, c: CaseForExport, subject: dict[str, Any], newest: datetime) -> None:
    cid = c.case.case_id
    reports = [d for d in c.documents if d["kind"] == "report"]
    add(uuid5(cid, "task"), {
        "resourceType": "Task", "status": task_status(c), "intent": "order",
        "businessStatus": {**_code(f"{OURS}:case-status", c.status.value), "text": c.status.value},
        "focus": _ref("ServiceRequest", cid), "for": subject,
        "authoredOn": _when(c.case.opened_at), "lastModified": _when(newest),
        "owner": _centre(c.centre_id) if c.centre_id else None,
        "output": [{"type": _code(LOINC, CONSULT_NOTE, "Consult note"),
                    "valueReference": _ref("DocumentReference", d["document_id"])} for d in reports] or None,
    })


def _consents(add: Add, c: CaseForExport, subject: dict[str, Any]) -> None:
    for kind, (given, given_at, withdrawn_at) in sorted(c.case.consent_log.items()):
        provision: dict[str, Any] = {"type": "permit"}
        if kind is ConsentKind.TRANSFER_ABROAD:
            # PIPL Art. 39: the recipient abroad is named; each named centre is a recipient.
            provision["actor"] = [{"role": _code("http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                                 "IRCP", "information recipient"),
                                   "reference": _centre(centre.value)} for centre in given.centre_ids] or None
        add(uuid5(c.case.case_id, f"consent:{kind.value}"), {
            "resourceType": "Consent", "status": "inactive" if withdrawn_at else "active",
            "scope": _code("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
            "category": [_code(LOINC, "59284-0", "Patient Consent"), _code(f"{OURS}:consent", kind.value)],
            "patient": subject, "dateTime": _when(given_at),
            "policy": [{"uri": f"{OURS}:consent-text:{given.text_version}"}],
            "provision": {k: v for k, v in provision.items() if v is not None},
        })


def _records(add: Add, c: CaseForExport, subject: dict[str, Any]) -> None:
    cid = c.case.case_id
    for r in c.case.records:
        coding = [{"system": f"{OURS}:record-kind", "code": r.kind.value}]
        if r.kind in RECORD_LOINC:
            code, display = RECORD_LOINC[r.kind]
            coding.insert(0, {"system": LOINC, "code": code, "display": display})
        # The hash and size of what this bundle's reader receives: a centre's are its copy's.
        file = c.files.get(r.record_id)
        served = file is not None and file.held is None
        add(r.record_id, {
            "resourceType": "DocumentReference", "status": "current",
            "identifier": [{"system": f"{OURS}:record", "value": str(r.record_id)}]
            + ([{"system": f"{OURS}:sha256", "value": file.sha256}] if file and file.sha256 else []),
            "type": {"coding": coding}, "subject": subject,
            "description": f"held for the coordinator: {file.held}" if file and file.held else None,
            "content": [{"attachment": {k: v for k, v in {
                "contentType": file.media_type if file else None,
                "size": file.size_bytes if served and file else None,
                "url": f"/cases/{cid}/records/{r.record_id}/content" if served else None,
                "title": r.kind.value}.items() if v is not None}}],
        })


def _documents(add: Add, c: CaseForExport, subject: dict[str, Any]) -> None:
    cid = c.case.case_id
    reports = [d for d in c.documents if d["kind"] == "report"]
    latest = max((d["version"] or 0 for d in reports), default=0)
    by_version = {d["version"]: d for d in reports}
    for d in c.documents:
        version = d["version"]
        relates: list[dict[str, Any]] = []
        if d["kind"] == "report" and version and version > 1 and version - 1 in by_version:
            relates.append({"code": "replaces", "target": _ref("DocumentReference", by_version[version - 1]
                                                                ["document_id"])})
        if d["kind"] == "addendum" and 1 in by_version:
            relates.append({"code": "appends", "target": _ref("DocumentReference", by_version[1]["document_id"])})
        # Review serves them: a report by its version, an addendum by its document id.
        url = f"{c.review_url}/cases/{cid}/report?version={version}" if d["kind"] == "report" else \
            f"{c.review_url}/cases/{cid}/documents/{d['document_id']}"
        add(d["document_id"], {
            "resourceType": "DocumentReference",
            "status": "superseded" if d["kind"] == "report" and version != latest else "current",
            "docStatus": "amended" if version and version > 1 else "final",
            "identifier": [{"system": f"{OURS}:document", "value": str(d["document_id"])},
                           {"system": f"{OURS}:sha256", "value": d["sha256"]}],
            "type": _code(LOINC, CONSULT_NOTE, "Consult note"), "subject": subject,
            "date": _when(d["stored_at"]),
            "author": [_centre(c.centre_id)] if c.centre_id else None,
            "relatesTo": relates or None,
            "content": [{"attachment": {"contentType": "application/pdf", "size": d["size_bytes"], "url": url,
                                        "title": f"{d['kind']} v{version}" if version else d["kind"]}}],
        })


def _organisations(add: Add, c: CaseForExport) -> None:
    """Every centre the bundle refers to, so each reference to one resolves inside it."""
    named = {c.centre_id} if c.centre_id else set()
    for kind, (given, _, _) in c.case.consent_log.items():
        if kind is ConsentKind.TRANSFER_ABROAD:
            named |= {centre.value for centre in given.centre_ids}
    for centre_id in sorted(named):
        add(_organisation_id(centre_id), {
            "resourceType": "Organization", "active": True,
            "identifier": [{"system": f"{OURS}:centre", "value": centre_id}],
            "name": centre_id.upper(),
            "type": [_code("http://terminology.hl7.org/CodeSystem/organization-type", "prov", "Healthcare Provider")],
        })


def _values(node: Any, path: list[str]) -> Iterator[Any]:
    if not path:
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _values(item, path)
    elif isinstance(node, dict) and path[0] in node:
        yield from _values(node[path[0]], path[1:])


def check_terminology(bundle: Mapping[str, Any]) -> None:
    resources = [bundle, *(e["resource"] for e in bundle.get("entry", []))]
    for resource in resources:
        for (kind, path), allowed in REQUIRED_CODES.items():
            if resource.get("resourceType") != kind:
                continue
            for value in _values(resource, path.split(".")):
                if value not in allowed:
                    raise FhirMappingError(f"{kind}.{path} = {value!r} is not in its required value set")


def validated(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle as FHIR R4B JSON, once fhir.resources and our terminology checks accept it."""
    check_terminology(bundle)
    try:
        model = Bundle.model_validate(bundle)
    except ValueError as exc:
        raise FhirMappingError(f"the bundle is not valid FHIR R4B: {exc}") from exc
    return dict(json.loads(model.model_dump_json(exclude_none=True)))
