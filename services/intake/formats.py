"""What a record's file is, read from its first bytes: never its name or the client's content type.

A ZIP archive was accepted as a pathology_report. The centres open PDF and the common image types:
every document kind is PDF, JPEG, PNG or TIFF (scanned slides and scanned letters come as TIFF);
imaging is DICOM, which services/intake/dicom.py reads whole. docs/api.md lists the same.
"""

from __future__ import annotations

from events.codes import RecordKind
from services.common.errors import InvalidInput

# Signatures at offset 0. PDF readers look for the header anywhere in the first 1024 bytes, but so
# a ZIP archive holding a PDF stored uncompressed passed for one: its header must open the file.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "PDF": (b"%PDF-",),
    "JPEG": (b"\xff\xd8\xff",),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "TIFF": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),  # classic and BigTIFF, either byte order
}
DOCUMENT_FORMATS = ("PDF", "JPEG", "PNG", "TIFF")
ACCEPTED: dict[RecordKind, tuple[str, ...]] = {
    kind: ("DICOM",) if kind is RecordKind.IMAGING else DOCUMENT_FORMATS for kind in RecordKind
}


def sniff(content: bytes) -> str | None:
    """The format the bytes are in, of those accepted anywhere; None for anything else."""
    if content[128:132] == b"DICM":
        return "DICOM"
    for name, signatures in SIGNATURES.items():
        if content.startswith(signatures):
            return name
    return None


def check_format(kind: RecordKind, content: bytes, field: str = "file") -> str:
    """The file's format, when `kind` accepts it; else InvalidInput naming the field and what is accepted."""
    found = sniff(content)
    accepted = ACCEPTED[kind]
    if kind is RecordKind.IMAGING:
        return "DICOM"  # read whole (and refused with its own reason) by services/intake/dicom.py
    if found not in accepted:
        what = f"a {found} file" if found else "not a file of a format the centres open"
        raise InvalidInput(field, f"is {what}; a {kind.value} must be {', '.join(accepted)}")
    return found
