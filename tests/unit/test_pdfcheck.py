"""An uploaded PDF is read in a child process under budgets (services/review/pdfcheck.py)."""

from __future__ import annotations

import io
import zlib

import pypdf
import pytest
from pypdf.generic import DecodedStreamObject, NameObject, StreamObject

from services.common.errors import InvalidInput
from services.review.pdfcheck import inspect


def pdf(pages: int = 2, extra: StreamObject | None = None) -> bytes:
    writer = pypdf.PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(200, 200)
    if extra is not None:
        writer._add_object(extra)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def bomb(inflated: int) -> StreamObject:
    stream = DecodedStreamObject()
    stream._data = zlib.compress(b"\x00" * inflated, 9)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    return stream


def test_a_readable_pdf_has_its_pages_counted():
    assert inspect(pdf(3), cpu_s=5, wall_s=60, inflate_bytes=2**20) == 3


def test_a_pdf_whose_streams_inflate_past_the_bound_is_refused():
    content = pdf(1, bomb(16 * 2**20))
    assert len(content) < 100_000  # a small file...
    with pytest.raises(InvalidInput, match="inflate past 8 MiB") as refused:
        inspect(content, cpu_s=5, wall_s=60, inflate_bytes=8 * 2**20)  # ...claiming 16 MiB
    assert refused.value.field == "file"
    assert inspect(content, cpu_s=5, wall_s=60, inflate_bytes=32 * 2**20) == 1


def test_a_pdf_that_takes_longer_than_its_budget_is_refused():
    with pytest.raises(InvalidInput, match="took more than"):
        inspect(pdf(1), cpu_s=5, wall_s=0.01, inflate_bytes=2**20)


def test_what_is_not_a_pdf_is_refused_without_a_child():
    for content, reason in ((b"", "empty"), (b"PK\x03\x04", "no %PDF- header"), (b"%PDF-1.4 broken", "not a readable")):
        with pytest.raises(InvalidInput, match=reason):
            inspect(content, cpu_s=5, wall_s=60, inflate_bytes=2**20)
