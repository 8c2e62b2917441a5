"""De-identification of a real DICOM sample (pydicom's CT): nothing identifying survives."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pydicom.examples

from services.intake.deidentify import deidentify

SECRET = b"s" * 32
IDENTITY = {
    "PatientName": "Doe^Jane^Q", "PatientID": "MRN-00417733", "PatientBirthDate": "19610203",
    "PatientAddress": "12 Harbour Road, Hobart", "OtherPatientIDs": "PASSPORT-PA1234567",
    "PatientTelephoneNumbers": "+61 3 5550 1234", "InstitutionName": "Hobart Private Hospital",
    "InstitutionAddress": "1 Hospital Lane, Hobart", "ReferringPhysicianName": "Smith^Alan",
    "PerformingPhysicianName": "Nguyen^Thi", "OperatorsName": "Tech^Tom", "AccessionNumber": "ACC778899",
    "PatientBirthName": "Roe^Jane", "PatientMotherBirthName": "Roe^Mary",
}


def identified_sample() -> tuple[bytes, pydicom.Dataset]:
    ds = pydicom.dcmread(pydicom.examples.get_path("ct"))
    for keyword, value in IDENTITY.items():
        setattr(ds, keyword, value)
    ds.add_new(0x00091001, "LO", "private note: Jane Doe")  # a private tag with identity in it
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue(), ds


def test_no_identifying_value_of_the_sample_survives_anywhere_in_the_file():
    data, _ = identified_sample()
    clean = deidentify(data, secret=SECRET, case_key="case-1", patient_pseudonym="CASE-1")
    for value in [*IDENTITY.values(), "Jane Doe", Path(pydicom.examples.get_path("ct")).name]:
        for part in str(value).replace("^", " ").split():
            if len(part) > 3:
                assert part.encode() not in clean, f"{part!r} survived"
    out = pydicom.dcmread(io.BytesIO(clean))
    assert out.PatientName == "CASE-1" and out.PatientID == "CASE-1" and out.PatientBirthDate == ""
    assert "PatientAddress" not in out and "InstitutionName" not in out and "OtherPatientIDs" not in out
    assert not any(elem.tag.is_private for elem in out)


def test_the_profile_is_declared_and_the_pixels_are_identical():
    data, original = identified_sample()
    out = pydicom.dcmread(io.BytesIO(deidentify(data, secret=SECRET, case_key="c", patient_pseudonym="P")))
    assert out.PatientIdentityRemoved == "YES"
    assert [c.CodeValue for c in out.DeidentificationMethodCodeSequence] == ["113100", "113106"]
    assert out.PixelData == original.PixelData
    assert out.StudyDate == original.StudyDate  # the Full Dates option keeps the study's dates


def test_uids_are_replaced_consistently_within_a_case_and_differ_between_cases():
    data, original = identified_sample()
    first = pydicom.dcmread(io.BytesIO(deidentify(data, secret=SECRET, case_key="a", patient_pseudonym="P")))
    again = pydicom.dcmread(io.BytesIO(deidentify(data, secret=SECRET, case_key="a", patient_pseudonym="P")))
    other = pydicom.dcmread(io.BytesIO(deidentify(data, secret=SECRET, case_key="b", patient_pseudonym="P")))
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        old = getattr(original, keyword, None)
        if old is None:
            continue
        assert getattr(first, keyword) != old
        assert getattr(first, keyword) == getattr(again, keyword) != getattr(other, keyword)
    assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID
    assert first.SOPClassUID == original.SOPClassUID
