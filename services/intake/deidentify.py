"""De-identification of DICOM that leaves for a partner centre: DICOM PS3.15 Annex E.

Our own recipe on pydicom, rather than `deid` or `dicognito`: the Basic Application Level
Confidentiality Profile is a table of attributes and actions, pydicom already walks every element
(sequences included), and a short recipe here is one less dependency on a clinical data path whose
every line we must be able to audit. Options applied: Retain Longitudinal Temporal Information
with Full Dates (the reviewer needs the study dates to stage the disease over time) and Retain
Device Identity is NOT applied. Pixel data is never touched: burned-in annotations are out of
scope of the basic profile and our staging modalities (CT, MR, PT) carry none by convention.

Pure: bytes in, bytes out; nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import io

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID

# Attributes the basic profile removes (X) or empties (Z) that identify the patient, a person or
# a place; one name per line of PS3.15 Table E.1-1 that our modalities carry.
_REMOVED = (
    "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "PatientAddress", "PatientBirthName",
    "PatientBirthTime", "PatientMotherBirthName", "PatientTelephoneNumbers", "PatientInsurancePlanCodeSequence",
    "MilitaryRank", "BranchOfService", "MedicalRecordLocator", "EthnicGroup", "Occupation", "AdditionalPatientHistory",
    "PatientComments", "PatientReligiousPreference", "CountryOfResidence", "RegionOfResidence",
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "StationName",
    "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers", "PhysiciansOfRecord",
    "PerformingPhysicianName", "NameOfPhysiciansReadingStudy", "OperatorsName", "RequestingPhysician",
    "ScheduledPerformingPhysicianName", "RequestAttributesSequence", "ImageComments", "StudyComments",
    "RequestedProcedureDescription", "PerformedProcedureStepDescription", "DeviceSerialNumber",
    "PatientWeight", "PatientSize", "IssuerOfPatientID", "ResponsiblePerson", "ResponsibleOrganization",
)
_EMPTIED = ("PatientBirthDate", "PatientSex", "ReferringPhysicianName", "AccessionNumber", "StudyID",
            "PatientAge")
# UIDs that name a kind of thing, not an instance: they identify nobody and must stay as they are.
_KEPT_UIDS = ("SOPClassUID", "ReferencedSOPClassUID", "TransferSyntaxUID", "MediaStorageSOPClassUID",
              "ImplementationClassUID", "CodingSchemeUID", "RelatedGeneralSOPClassUID")
_KEPT_UID_TAGS = frozenset(pydicom.datadict.tag_for_keyword(k) for k in _KEPT_UIDS)
METHOD = "DICOM PS3.15 E.1 Basic Application Level Confidentiality Profile; Retain Longitudinal Full Dates"
# DCM codes of the profile and the option applied (PS3.16 CID 7050).
_METHOD_CODES = (("113100", "Basic Application Confidentiality Profile"),
                 ("113106", "Retain Longitudinal Temporal Information Full Dates Option"))


def pseudonymous_uid(secret: bytes, case_key: str, uid: str) -> UID:
    """The same UID of one case always maps to the same new UID; nothing links it back without `secret`."""
    digest = hashlib.sha256(secret + b"\x00" + case_key.encode() + b"\x00" + uid.encode()).digest()
    return UID(f"2.25.{int.from_bytes(digest[:16], 'big')}")


def deidentify(data: bytes, *, secret: bytes, case_key: str, patient_pseudonym: str) -> bytes:
    """The DICOM file with the patient, people and places removed, and every instance UID replaced."""
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.remove_private_tags()  # the basic profile removes private attributes (no Retain Safe Private)
    ds.walk(lambda d, elem: _clean(d, elem, secret, case_key))
    ds.PatientName = patient_pseudonym
    ds.PatientID = patient_pseudonym
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    codes = []
    for value, meaning in _METHOD_CODES:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = codes
    if "SOPInstanceUID" in ds:
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _clean(ds: Dataset, elem: DataElement, secret: bytes, case_key: str) -> None:
    keyword = elem.keyword
    if keyword in _REMOVED:
        del ds[elem.tag]
    elif keyword in _EMPTIED:
        elem.value = ""
    elif elem.VR == "UI" and elem.tag not in _KEPT_UID_TAGS and elem.value:
        if elem.VM > 1:
            elem.value = [pseudonymous_uid(secret, case_key, str(u)) for u in elem.value]
        else:
            elem.value = pseudonymous_uid(secret, case_key, str(elem.value))
    elif elem.VR == "PN" and elem.value:
        # Any other person's name (a technologist, a physician the table does not list) goes too.
        elem.value = ""
