"""The files a demo case uploads: real DICOM studies (pydicom's examples), stand-in PDFs, and reports."""

from __future__ import annotations

import io
from datetime import date, datetime
from functools import cache
from uuid import uuid4

import pydicom
import pydicom.examples
import pypdf

from demo.plan import CasePlan


@cache
def _dicom_template(name: str) -> pydicom.Dataset:
    return pydicom.dcmread(pydicom.examples.get_path(name))


def dicom_study(modality: str, study_date: date) -> bytes:
    """A real DICOM file (pydicom's CT or MR example) carrying the study's date and new UIDs."""
    ds = _dicom_template("ct" if modality == "CT" else "mr").copy()
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study_date.strftime("%Y%m%d")
    ds.StudyInstanceUID = pydicom.uid.generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def document(kind: str, plan: CasePlan, at: datetime) -> bytes:
    """A small stand-in PDF for a non-imaging record."""
    text = f"{kind} for case {plan.number} ({plan.profile.tumour_site.value}, stage {plan.profile.stage_group.value})"
    return f"%PDF-1.4\n% {text}, dated {at.date()}\n% {uuid4()}\n%%EOF\n".encode()


def report_pdf(pages: int, title: str = "Second opinion") -> bytes:
    """A real PDF of `pages` A4 pages (blank: the prose is not the ledger's business), as a centre signs it."""
    writer = pypdf.PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title, "/Producer": "case-ledger demo"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
