"""What intake reads from a DICOM upload: it must be real DICOM, of a staging modality."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, cast

import pydicom
from pydicom.encaps import generate_fragments
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
        # The whole file is parsed, pixels included: a truncated upload must not pass as imaging.
        ds = pydicom.dcmread(io.BytesIO(data))
    except (InvalidDicomError, EOFError, ValueError, KeyError, OSError, TypeError, AttributeError) as exc:
        raise InvalidInput("file", f"not a readable DICOM file: {exc}") from None
    _check_pixels(ds)
    modality = str(ds.get("Modality", "")).upper()
    if modality not in STAGING_MODALITIES:
        raise InvalidInput("file", f"DICOM modality {modality or 'missing'} is not staging imaging (CT, MR, PT)")
    raw_date = str(ds.get("StudyDate", "")).strip()
    try:
        study_date = datetime.strptime(raw_date, "%Y%m%d").date()
    except ValueError:
        raise InvalidInput("file", f"DICOM study date {raw_date or 'missing'} is not a date") from None
    return DicomFacts(cast(Modality, modality), study_date)


def _check_pixels(ds: pydicom.Dataset) -> None:
    pixels = ds.get("PixelData")  # the element's value: bytes
    if not pixels:
        raise InvalidInput("file", "the DICOM file has no pixel data")
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples, bits = int(ds.get("SamplesPerPixel", 1)), int(ds.BitsAllocated)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError):
        raise InvalidInput("file", "the DICOM image lacks valid Rows, Columns or BitsAllocated") from None
    if min(rows, columns, samples, bits, frames) < 1:
        raise InvalidInput("file", "the DICOM image declares an empty size")
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is not None and syntax.is_compressed:
        # Encapsulated pixel data has no fixed size; it must at least hold one fragment per frame.
        try:
            fragments = sum(1 for _ in generate_fragments(pixels))
        except (ValueError, EOFError) as exc:
            raise InvalidInput("file", f"the DICOM pixel data is damaged: {exc}") from None
        if fragments < frames:
            raise InvalidInput("file", f"the DICOM pixel data holds {fragments} fragments for {frames} frames")
        return
    expected = (rows * columns * samples * frames * bits + 7) // 8
    actual = len(pixels)
    # The standard pads odd lengths to even.
    if actual not in (expected, expected + 1):
        raise InvalidInput("file", f"the DICOM pixel data is {actual} bytes, its header declares {expected}")
