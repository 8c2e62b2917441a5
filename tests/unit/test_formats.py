"""A record's format is read from its first bytes (services/intake/formats.py)."""

from __future__ import annotations

import pytest

from events.codes import RecordKind
from services.common.errors import InvalidInput
from services.intake.formats import check_format, sniff


@pytest.mark.parametrize(("content", "found"), [
    (b"%PDF-1.7\n...", "PDF"), (b"\xff\xd8\xff\xe0JFIF", "JPEG"), (b"\x89PNG\r\n\x1a\n....", "PNG"),
    (b"II*\x00....", "TIFF"), (b"MM\x00*....", "TIFF"), (b"\x00" * 128 + b"DICM....", "DICOM"),
    (b"PK\x03\x04 %PDF-1.4 stored inside an archive", None), (b"MZ\x90\x00", None), (b"", None),
])
def test_the_format_is_the_contents(content: bytes, found: str | None):
    assert sniff(content) == found


def test_a_document_kind_refuses_what_it_does_not_accept_and_names_the_field():
    assert check_format(RecordKind.PATHOLOGY_SLIDES, b"II*\x00....") == "TIFF"
    with pytest.raises(InvalidInput) as refused:
        check_format(RecordKind.PATHOLOGY_REPORT, b"PK\x03\x04 an archive")
    assert refused.value.field == "file" and "PDF, JPEG, PNG, TIFF" in refused.value.message
    with pytest.raises(InvalidInput):
        check_format(RecordKind.ONCOLOGIST_LETTER, b"\x00" * 128 + b"DICM....")  # imaging is not a letter
