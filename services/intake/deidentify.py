"""De-identification of DICOM that leaves for a partner centre: DICOM PS3.15 Annex E.

Our own recipe on pydicom, rather than `deid` or `dicognito`: the Basic Application Level
Confidentiality Profile is a table of attributes and actions, and we apply the standard's whole
Table E.1-1 (`ps315.py`, every row, not only what CT, MR and PT usually carry) to every element,
inside every sequence, with one audited function per action. Options applied:
- Retain Longitudinal Temporal Information with Full Dates: the reviewer stages the disease
  over time, so dates and times the option keeps (K) are kept;
- Clean Descriptors, for the descriptions that tell a reviewer which acquisition is which
  (`CLEANED`): only words of a closed imaging vocabulary survive ("CT chest Jane Doe MRN-12345"
  becomes "CT chest"); every other descriptor gets the Basic Profile's action (removed);
- Retain Patient Characteristics, for the age and sex only, and with intake's values (the age at
  the study date, from the date of birth intake keeps), not the file's.
Not applied: Retain UIDs (each case gets its own UIDs), Device or Institution Identity, Safe
Private (every private attribute goes), Clean Graphics (overlays and curves are removed whole).

A file that says its pixels carry burned-in text (BurnedInAnnotation YES) is not de-identified
at all: `Held` is raised, and the centre is refused the file (the coordinator keeps the original).
Pixel data is otherwise never touched. Pure: bytes in, bytes out; nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any, Literal

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from services.intake.ps315 import table

# One value per profile and option: LO holds 64 characters.
METHOD = ["DICOM PS3.15 E.1 Basic Application Confidentiality Profile", "Clean Descriptors Option",
          "Retain Longitudinal Temporal Information Full Dates Option",
          "Retain Patient Characteristics Option: age and sex only"]
# DCM codes of the profile and the options applied (PS3.16 CID 7050).
_METHOD_CODES = (("113100", "Basic Application Confidentiality Profile"),
                 ("113105", "Clean Descriptors Option"),
                 ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
                 ("113108", "Retain Patient Characteristics Option"))
# The descriptions cleaned rather than removed: what names the study, series and protocol.
CLEANED = frozenset({
    "StudyDescription", "SeriesDescription", "ProtocolName", "PerformedProcedureStepDescription",
    "RequestedProcedureDescription", "ScheduledProcedureStepDescription", "AcquisitionProtocolDescription",
    "AcquisitionDeviceProcessingDescription", "RequestedSeriesDescription", "DerivationDescription",
    "ContrastBolusAgent", "RequestedContrastAgent"})
# Words that describe an acquisition and nobody, by what they name.
_VOCABULARY = (
    "ct mr mri pet pt spect nm cr dx us xr cta mra mrcp petct ldct hrct",  # modalities
    "head brain skull neck face orbit orbits sinus sinuses chest thorax thoracic lung lungs mediastinum heart "
    "cardiac abdomen abd abdominal pelvis pelvic liver hepatic pancreas renal kidney kidneys adrenal spleen "
    "bowel colon rectum rectal anal stomach gastric oesophagus esophagus breast breasts prostate bladder "
    "uterus cervix ovary ovaries thyroid bone bones spine cervical lumbar sacrum extremity whole body wb",  # anatomy
    "left right bilateral lt rt and with without w wo of to for the plus",
    "axial ax coronal cor sagittal sag oblique obl 2d 3d mpr mip minip vr recon reformat reformats thin thick "
    "slice slices scout localizer localiser topogram surview survey",  # planes and reconstructions
    "contrast iv oral non noncontrast plain enhanced unenhanced pre post arterial venous portal delayed "
    "phase early late native dynamic perfusion",  # contrast and phases
    "t1 t2 pd flair stir dwi adc dce gre tse fse se ir swi fat sat fs haste vibe trufi bold diffusion "
    "mprage spgr b0 b50 b400 b800 b1000 b1500 gad gado gadolinium",  # MR sequences
    "fdg psma ga68 f18 dotatate choline fes ac nac attenuation corrected uncorrected suv",  # PET
    "soft tissue standard sharp smooth kernel mediastinal window routine staging restaging "
    "protocol study series follow up helical spiral",
)
_SAFE_WORDS = frozenset(word for line in _VOCABULARY for word in line.split())
_MEASURE = re.compile(r"\d+(\.\d+)?(mm|cm|kv|kev|mas|ms|s|min)")
# UIDs that name a kind of thing, not an instance: they identify nobody and must stay as they are.
_KEPT_UIDS = frozenset(pydicom.datadict.tag_for_keyword(k) for k in (
    "SOPClassUID", "ReferencedSOPClassUID", "TransferSyntaxUID", "MediaStorageSOPClassUID",
    "ImplementationClassUID", "CodingSchemeUID", "RelatedGeneralSOPClassUID", "ReferencedSOPClassUIDInFile",
    "ContextGroupExtensionCreatorUID", "MappingResourceUID"))
_TEXT = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
_NUMBERS = frozenset({"DS", "IS", "FL", "FD", "SL", "SS", "SV", "UL", "US", "UV"})
_DUMMY_TEXT = "ANONYMIZED"  # fits every text VR, upper case as CS wants
_DUMMY_DATES = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000Y"}
Sex = Literal["M", "F", "O"]


class Held(Exception):
    """A file that cannot leave as de-identified: the coordinator keeps it, the centre is refused."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Patient:
    """What the centre may know of the patient: the case's pseudonym, the age and sex intake holds."""

    pseudonym: str
    age: str | None = None  # DICOM AS, e.g. "064Y"
    sex: Sex | None = None


@dataclass(frozen=True)
class _Case:
    secret: bytes
    key: str

    def uid(self, uid: str) -> UID:
        return pseudonymous_uid(self.secret, self.key, uid)


def pseudonymous_uid(secret: bytes, case_key: str, uid: str) -> UID:
    """The same UID of one case always maps to the same new UID; nothing links it back without `secret`."""
    digest = hashlib.sha256(secret + b"\x00" + case_key.encode() + b"\x00" + uid.encode()).digest()
    return UID(f"2.25.{int.from_bytes(digest[:16], 'big')}")


def effective_action(keyword: str, basic: str, options: dict[str, str]) -> str:
    """A row's action under the options we apply (the module's docstring says which and why)."""
    if options.get("full_dates") == "K":
        return "K"
    if keyword in CLEANED and options.get("clean_descriptors") == "C":
        return "C"
    return basic


@cache
def _actions() -> tuple[dict[int, tuple[str, str]], tuple[tuple[str, str], ...]]:
    exact: dict[int, tuple[str, str]] = {}
    masks: list[tuple[str, str]] = []
    for row in table():
        action = effective_action(row.keyword, row.basic, row.options)
        if row.tag == "private":
            continue  # every odd group: DataElement.tag.is_private says it
        if "x" in row.tag:
            masks.append((row.tag, action))
        else:
            exact[int(row.tag, 16)] = (action, row.basic)
    return exact, tuple(masks)


def action_for(elem: DataElement) -> tuple[str, str]:
    """Table E.1-1's action for one element under our options, and the Basic Profile's (what a
    descriptor that cleaning leaves empty gets). What the table does not list is kept, except, as
    our safety nets, any other person's name (emptied), free text (LT, ST, UT: removed; e.g. an SR
    content item's Text Value, which the table reaches only through Content Sequence) and any
    other instance UID (replaced)."""
    tag = int(elem.tag)
    if elem.tag.is_private or (tag >> 24) in (0x50, 0x60):
        return "X", "X"  # private attributes; curves and overlays (data, comments, labels) go whole
    if elem.tag.element == 0:
        return "X", "X"  # a group length (retired outside the file meta) would be wrong once scrubbed
    exact, masks = _actions()
    if tag in exact:
        return exact[tag]
    for mask, action in masks:
        if all(m in ("x", h) for m, h in zip(mask, f"{tag:08x}", strict=True)):
            return action, action
    if elem.VR == "PN":
        return "Z", "Z"
    if elem.VR in ("LT", "ST", "UT"):
        return "X", "X"
    if elem.VR == "UI" and tag not in _KEPT_UIDS:
        return "U", "U"
    return "K", "K"


def clean_descriptor(text: str) -> str:
    """The words of `text` that describe an acquisition and nobody, in their order; no others."""
    words = re.findall(r"[A-Za-z0-9.+/]+", text)
    return " ".join(w for w in words if all(p in _SAFE_WORDS or _MEASURE.fullmatch(p) for p in w.lower().split("/")))


def age_on(birth: date, on: date) -> tuple[int, int, int] | None:
    """Whole years, then months, then days from `birth` to `on`; None before the birth."""
    if on < birth:
        return None
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    anniversary = _add_months(birth, months)
    return months // 12, months % 12, (on - anniversary).days


def _add_months(d: date, months: int) -> date:
    year, month = divmod(d.month - 1 + months, 12)
    first = date(d.year + year, month + 1, 1)
    # A birthday on the 31st falls on the month's last day in a shorter month.
    days_in_month = ((first.replace(day=28) + timedelta(days=4)).replace(day=1) - first).days
    return first.replace(day=min(d.day, days_in_month))


def dicom_age(years: int, months: int, days: int) -> str:
    """DICOM's AS for an age: years from one year on, else months, else days."""
    if years >= 1:
        return f"{min(years, 999):03d}Y"
    return f"{months:03d}M" if months >= 1 else f"{days:03d}D"


def deidentify(data: bytes, *, secret: bytes, case_key: str, patient: Patient) -> bytes:
    """The DICOM file with the patient, people, places and free text removed, and its instance
    UIDs replaced; `Held` if its pixels carry burned-in annotation."""
    ds = pydicom.dcmread(io.BytesIO(data))
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        raise Held("burned_in_annotation", "the image says its pixels carry burned-in annotation (text such as "
                                           "a name or a date), which de-identification of the header cannot remove")
    case = _Case(secret, case_key)
    _scrub(ds, case)
    _declare(ds, patient)
    ds.preamble = b"\x00" * 128  # a preamble may hold anything (a TIFF header, a name)
    ds.file_meta = _file_meta(ds)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _scrub(ds: Dataset, case: _Case) -> None:
    for elem in list(ds):
        _apply(ds, elem, *action_for(elem), case)
        if elem.tag in ds and elem.VR == "SQ":
            for item in elem.value:
                _scrub(item, case)


def _apply(ds: Dataset, elem: DataElement, action: str, basic: str, case: _Case) -> None:
    if action == "C":
        if elem.VR in _TEXT and elem.value:
            cleaned = [clean_descriptor(str(v)) for v in (elem.value if elem.VM > 1 else [elem.value])]
            if any(cleaned):
                elem.value = cleaned if elem.VM > 1 else cleaned[0]
                return
        action = basic  # nothing worth keeping: the Basic Profile's own action
    if action == "K":
        return
    if elem.VR == "SQ":
        _sequence(ds, elem, action)
    elif action == "U" or (elem.VR == "UI" and action in ("D", "X/Z/U*")):
        elem.value = _new_uids(elem, case)  # a new UID is also a UID's dummy
    elif action == "X":
        del ds[elem.tag]
    elif action in ("Z", "X/Z"):
        elem.value = _empty(elem.VR)
    else:  # D and the choices with a D in them: a dummy keeps a Type 1 attribute valid
        elem.value = _dummy(elem.VR)


def _sequence(ds: Dataset, elem: DataElement, action: str) -> None:
    """A sequence goes whole unless it only references instances (X/Z/U*: kept, its items
    scrubbed and their UIDs replaced): its items may hold anything the table does not list."""
    if action == "X/Z/U*":
        return
    if "X" in action:
        del ds[elem.tag]
    elif action == "D":
        elem.value = Sequence([Dataset()])
    else:
        elem.value = Sequence([])


def _new_uids(elem: DataElement, case: _Case) -> Any:
    if not elem.value:
        return elem.value
    return [case.uid(str(u)) for u in elem.value] if elem.VM > 1 else case.uid(str(elem.value))


def _empty(vr: str) -> Any:
    return b"" if vr.startswith("O") or vr == "UN" else None if vr in _NUMBERS else ""


def _dummy(vr: str) -> Any:
    """A value of the right VR that says nothing: for a Type 1 attribute the profile marks D."""
    if vr in _TEXT:
        return _DUMMY_TEXT
    if vr in _DUMMY_DATES:
        return _DUMMY_DATES[vr]
    if vr in _NUMBERS:
        return "0" if vr in ("DS", "IS") else 0
    return b"\x00\x00"  # OB, OW, UN and the other binary VRs: even length


def _declare(ds: Dataset, patient: Patient) -> None:
    ds.PatientName = patient.pseudonym
    ds.PatientID = patient.pseudonym
    if patient.age:
        ds.PatientAge = patient.age
    ds.PatientSex = patient.sex or ""
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "UNMODIFIED"  # PS3.15 E.3.6: full dates kept
    ds.DeidentificationMethod = METHOD
    codes = []
    for value, meaning in _METHOD_CODES:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = codes


def _file_meta(ds: Dataset) -> FileMetaDataset:
    """A new file meta group: the old one names the sending station (its AE title) and more."""
    old = ds.file_meta
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = old.get("MediaStorageSOPClassUID", ds.get("SOPClassUID"))
    meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID")
    meta.TransferSyntaxUID = old.TransferSyntaxUID
    return meta
