"""What intake reads from a DICOM upload: it must be real DICOM, of a staging modality."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, cast

import pydicom
from pydicom.errors import InvalidDicomError

from services.common.errors import InvalidInput

Modality = Literal["CT", "MR", "PT"]
STAGING_MODALITIES = ("CT", "MR", "PT")


@dataclass(frozen=True)
class DicomFacts:
    modality: Modality
    study_date: date


def read_dicom(data: bytes) -> DicomFacts:
    try:
        # No force=True: a file without the DICM preamble and file meta is not accepted as DICOM.
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except (InvalidDicomError, EOFError, ValueError, KeyError, OSError) as exc:
        raise InvalidInput("file", f"not a readable DICOM file: {exc}") from None
    modality = str(ds.get("Modality", "")).upper()
    if modality not in STAGING_MODALITIES:
        raise InvalidInput("file", f"DICOM modality {modality or 'missing'} is not staging imaging (CT, MR, PT)")
    raw_date = str(ds.get("StudyDate", "")).strip()
    try:
        study_date = datetime.strptime(raw_date, "%Y%m%d").date()
    except ValueError:
        raise InvalidInput("file", f"DICOM study date {raw_date or 'missing'} is not a date") from None
    return DicomFacts(cast(Modality, modality), study_date)
