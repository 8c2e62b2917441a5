"""De-identification on real DICOM (pydicom's CT sample): every attribute of PS3.15 Table E.1-1
is written, at top level and inside nested sequences, and no written value survives."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pydicom.examples
import pytest
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from services.intake.deidentify import Held, Patient, clean_descriptor, deidentify, dicom_age, effective_action
from services.intake.ps315 import Attribute, table

SECRET = b"s" * 32
PATIENT = Patient("CASE-1", age="064Y", sex="F")
# The Table E.1-1 rows with one tag (not a mask): the attributes a file can carry.
ROWS = [r for r in table() if "x" not in r.tag and r.tag != "private" and not r.tag.startswith("0002")]
# Dates and times the Full Dates option keeps get values of their own, so a kept one is never
# mistaken for a removed one.
KEPT_DATES = {"DA": "20240101", "DT": "20240101120000", "TM": "120000"}
GONE_DATES = {"DA": "19470817", "DT": "19470817093011", "TM": "093011"}


def action(row: Attribute) -> str:
    return effective_action(row.keyword, row.basic, row.options)


def marker(i: int) -> str:
    return f"ZQ{i:04d}Q"  # fits every text VR's length (AE and SH: 16) and CS's alphabet


def value(row: Attribute, i: int) -> Any:
    vr = dictionary_VR(int(row.tag, 16))
    if vr in ("DA", "DT", "TM"):
        return (KEPT_DATES if action(row) == "K" else GONE_DATES)[vr]
    if vr == "UI":
        return f"1.2.826.0.1.3680043.10.1047.{1000 + i}"
    if vr == "SQ":
        item = Dataset()
        if row.basic == "X/Z/U*":  # a reference sequence: kept, and the UIDs it holds replaced
            item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", value(ROWS[0], i)
        else:
            item.CodeMeaning = marker(i)
        return Sequence([item])
    return {"AS": "097Y", "DS": "7310.5123", "IS": "731051237", "US": 0x5A7E, "OB": marker(i).encode() + b"B",
            "UN": marker(i).encode() + b"N"}.get(vr, marker(i))


def searchable(row: Attribute, i: int) -> bytes | None:
    """The bytes of the written value that must not be in the output, if they can be searched for."""
    written = value(row, i)
    if isinstance(written, Sequence):
        item = written[0]
        return (item.ReferencedSOPInstanceUID if "ReferencedSOPInstanceUID" in item else item.CodeMeaning).encode()
    return written if isinstance(written, bytes) else None if isinstance(written, int) else str(written).encode()


def fill(ds: Dataset, top: bool = False) -> None:
    for i, row in enumerate(ROWS):
        if top and row.tag.startswith("0000"):
            continue  # pydicom writes no command group at the top of a file; inside items it does
        ds.add_new(int(row.tag, 16), dictionary_VR(int(row.tag, 16)), value(row, i))


def every_attribute_written() -> bytes:
    ds = pydicom.dcmread(pydicom.examples.get_path("ct"))
    fill(ds, top=True)
    shared, anatomy = Dataset(), Dataset()
    fill(shared)
    fill(anatomy)
    shared.AnatomicRegionSequence = [anatomy]  # two levels down, in sequences the table does not list
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.file_meta.SourceApplicationEntityTitle = "ZQSENDERAE"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def walk(ds: Dataset) -> Iterator[pydicom.DataElement]:
    for elem in ds:
        yield elem
        if elem.VR == "SQ":
            for item in elem.value:
                yield from walk(item)


def test_no_value_written_into_any_attribute_of_table_e1_1_survives_anywhere_in_the_file():
    assert len(ROWS) > 600  # the whole table, not the few attributes our modalities carry
    data = every_attribute_written()
    clean = deidentify(data, secret=SECRET, case_key="case-1", patient=PATIENT)
    kept, checked = 0, 0
    for i, row in enumerate(ROWS):
        needle = searchable(row, i)
        if action(row) == "K":
            kept += 1
        elif needle is not None:
            assert needle in data
            assert needle not in clean, f"{row.keyword} ({row.tag}, action {action(row)}) survived"
            checked += 1
    assert (kept, checked) == (sum(r.options.get("full_dates") == "K" for r in ROWS), len(ROWS) - kept - 2)
    assert b"ZQSENDERAE" not in clean
    # What cannot be searched for as bytes (a US value) must not be in its attribute at any depth.
    binary = {int(r.tag, 16) for i, r in enumerate(ROWS) if searchable(r, i) is None}
    out = pydicom.dcmread(io.BytesIO(clean))
    assert not [e for e in walk(out) if int(e.tag) in binary and e.value == 0x5A7E]
    # The dates the Full Dates option keeps are kept, at every depth.
    study_dates = [e.value for e in walk(out) if e.keyword == "StudyDate"]
    assert study_dates == [KEPT_DATES["DA"]] * 3


def test_the_identifying_text_the_audit_found_is_gone_and_descriptions_keep_their_safe_words():
    ds = pydicom.dcmread(pydicom.examples.get_path("ct"))
    ds.StudyDescription = "CT chest Jane Doe MRN-12345"
    ds.SeriesDescription, ds.ProtocolName = "AX T1 POST 5mm Doe", "Chest staging for J. Doe"
    ds.AdmittingDiagnosesDescription, ds.AdmissionID = "Jane Doe carcinoma", "ADM-55821"
    ds.CurrentPatientLocation, ds.MedicalAlerts, ds.Allergies = "Ward 7B bed 3", "Jane: pacemaker", "penicillin"
    ds.RequestedProcedureID, ds.PlacerOrderNumberImagingServiceRequest = "RP-99123", "ORD-77881"
    ds.DerivationDescription, ds.RequestingService, ds.TextValue = "Doe recon", "Oncology Ward 3", "Jane Doe"
    ds.GantryID, ds.DetectorID = "GANTRY-HOBART-2", "DET-8812"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "HPH-1", "L", "Hobart Private Hospital"
    ds.InstitutionCodeSequence = [code]
    referring = Dataset()
    referring.PersonAddress, referring.InstitutionName = "4 Elm St Hobart", "Hobart Private Hospital"
    referring.PersonIdentificationCodeSequence = [code]
    ds.ReferringPhysicianIdentificationSequence = [referring]
    patient = Dataset()
    patient.PersonAddress, patient.PersonTelephoneNumbers = "12 Harbour Road Hobart", "+61 3 5550 1234"
    ds.ReferencedPatientSequence = [patient]
    ds.add_new(0x00091001, "LO", "private note: Jane Doe")
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    clean = deidentify(out.getvalue(), secret=SECRET, case_key="c", patient=PATIENT)
    for word in ("Doe", "Jane", "12345", "55821", "Ward", "pacemaker", "penicillin", "99123", "77881", "Oncology",
                 "HOBART", "Hobart", "8812", "Harbour", "5550", "Elm"):
        assert word.encode() not in clean, f"{word!r} survived"
    seen = pydicom.dcmread(io.BytesIO(clean))
    assert (seen.StudyDescription, seen.SeriesDescription, seen.ProtocolName) == ("CT chest", "AX T1 POST 5mm",
                                                                                 "Chest staging for")
    assert "ReferencedPatientSequence" not in seen and "InstitutionCodeSequence" not in seen
    assert not any(elem.tag.is_private for elem in walk(seen))


@pytest.mark.parametrize(("text", "kept"), [
    ("CT chest Jane Doe MRN-12345", "CT chest"), ("MR PELVIS W/WO CONTRAST", "MR PELVIS W/WO CONTRAST"),
    ("PET/CT FDG whole body 1961", "PET/CT FDG whole body"), ("Smith 17/04", ""), ("3.75mm axial", "3.75mm axial"),
])
def test_cleaning_keeps_only_words_of_the_imaging_vocabulary(text: str, kept: str):
    assert clean_descriptor(text) == kept


def test_overlays_and_curves_go_whole_with_their_comments_and_labels():
    ds = pydicom.dcmread(pydicom.examples.get_path("ct"))
    for group in (0x6000, 0x6002):
        ds.add_new((group << 16) | 0x0010, "US", 128)  # OverlayRows
        ds.add_new((group << 16) | 0x0011, "US", 128)
        ds.add_new((group << 16) | 0x0040, "CS", "G")
        ds.add_new((group << 16) | 0x0050, "SS", [1, 1])
        ds.add_new((group << 16) | 0x0100, "US", 1)
        ds.add_new((group << 16) | 0x0102, "US", 0)
        ds.add_new((group << 16) | 0x1500, "LO", "OVERLAY LABEL JANE DOE")
        ds.add_new((group << 16) | 0x0022, "LO", "overlay description Jane Doe")
        ds.add_new((group << 16) | 0x4000, "LT", "overlay comment Jane Doe")
        ds.add_new((group << 16) | 0x3000, "OW", b"DOEJANE!" * 256)
    ds.add_new(0x50000010, "US", 1)
    ds.add_new(0x50003000, "OB", b"CURVEDOE")
    ds.add_new(0x50002500, "LO", "curve label Jane Doe")
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    clean = deidentify(out.getvalue(), secret=SECRET, case_key="c", patient=PATIENT)
    assert b"Doe" not in clean and b"DOE" not in clean
    assert not [e for e in pydicom.dcmread(io.BytesIO(clean)) if e.tag.group >> 8 in (0x50, 0x60)]


def test_a_file_with_burned_in_annotation_is_held_not_deidentified():
    ds = pydicom.dcmread(pydicom.examples.get_path("ct"))
    ds.BurnedInAnnotation = "YES"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    with pytest.raises(Held) as held:
        deidentify(out.getvalue(), secret=SECRET, case_key="c", patient=PATIENT)
    assert held.value.reason == "burned_in_annotation"
    ds.BurnedInAnnotation = "NO"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    assert deidentify(out.getvalue(), secret=SECRET, case_key="c", patient=PATIENT)


def test_the_age_and_sex_are_intakes_and_the_profile_and_options_are_declared():
    data = Path(pydicom.examples.get_path("ct")).read_bytes()
    original = pydicom.dcmread(io.BytesIO(data))
    out = pydicom.dcmread(io.BytesIO(deidentify(data, secret=SECRET, case_key="c", patient=PATIENT)))
    assert (original.PatientAge, original.PatientSex) == ("000Y", "O")
    assert (out.PatientAge, out.PatientSex, out.PatientName, out.PatientID) == ("064Y", "F", "CASE-1", "CASE-1")
    unknown = pydicom.dcmread(io.BytesIO(deidentify(data, secret=SECRET, case_key="c", patient=Patient("P"))))
    assert "PatientAge" not in unknown and unknown.PatientSex == ""
    assert out.PatientIdentityRemoved == "YES" and out.LongitudinalTemporalInformationModified == "UNMODIFIED"
    assert [c.CodeValue for c in out.DeidentificationMethodCodeSequence] == ["113100", "113105", "113106", "113108"]
    assert out.PixelData == original.PixelData
    assert out.StudyDate == original.StudyDate  # the Full Dates option keeps the study's dates
    assert out.preamble == b"\x00" * 128 and "SourceApplicationEntityTitle" not in out.file_meta


@pytest.mark.parametrize(("years", "months", "days", "age"), [(64, 0, 0, "064Y"), (0, 7, 3, "007M"), (0, 0, 9, "009D")])
def test_the_age_is_written_as_dicom_writes_ages(years: int, months: int, days: int, age: str):
    assert dicom_age(years, months, days) == age


def test_uids_are_replaced_consistently_within_a_case_and_differ_between_cases():
    data = Path(pydicom.examples.get_path("ct")).read_bytes()
    original = pydicom.dcmread(io.BytesIO(data))

    def seen(case: str) -> Dataset:
        return pydicom.dcmread(io.BytesIO(deidentify(data, secret=SECRET, case_key=case, patient=PATIENT)))

    first, again, other = seen("a"), seen("a"), seen("b")
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        assert getattr(first, keyword) != getattr(original, keyword)
        assert getattr(first, keyword) == getattr(again, keyword) != getattr(other, keyword)
    assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID
    assert first.SOPClassUID == original.SOPClassUID


def test_the_table_is_the_standards_whole_table():
    rows = {r.keyword: r for r in table() if r.keyword}
    assert len(table()) == 621
    assert (rows["StudyDescription"].basic, rows["StudyDescription"].options) == ("X", {"clean_descriptors": "C"})
    assert rows["ReferencedImageSequence"].basic == "X/Z/U*" and rows["PatientAge"].options == {
        "patient_characteristics": "K"}
    assert {r.tag for r in table() if not r.keyword} == {"50xxxxxx", "60xx3000", "60xx4000", "private"}
    assert tag_for_keyword("StudyDate") and action(rows["StudyDate"]) == "K"
