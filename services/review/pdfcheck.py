"""A report's PDF is parsed in a child process under a CPU and memory budget, and its streams may
not inflate past a bound: `python -m services.review.pdfcheck CPU_S INFLATE_BYTES < file`.

A 25 MB PDF of 400,000 objects with a broken xref cost 52 s of the API's own time per upload (three
in parallel took 137 s each, and every other review request slowed tenfold), and a 522 KB file with
a 512 MiB flate stream was accepted as an addendum. The child prints {"pages": n} or {"error": ...};
past its budget the kernel stops it (RLIMIT_CPU), and the upload is refused with 422.
"""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

from services.common.errors import InvalidInput

# A signed opinion is a handful of pages; a file claiming thousands is not one.
MAX_PAGES = 1000
ROOT = Path(__file__).resolve().parents[2]  # where `-m services.review.pdfcheck` is found
MEMORY_BYTES = 1 << 30  # the child's address space: a parse that wants more is not a report's


def inspect(content: bytes, cpu_s: float, wall_s: float, inflate_bytes: int, field: str = "file") -> int:
    """The page count of a real, readable PDF within the budgets; anything else is the uploader's error."""
    if not content:
        raise InvalidInput(field, "is empty")
    if b"%PDF-" not in content[:1024]:  # where PDF readers look for the header
        raise InvalidInput(field, "is not a PDF (no %PDF- header)")
    cpu = max(1, int(cpu_s))

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))

    try:
        done = subprocess.run([sys.executable, "-m", "services.review.pdfcheck", str(inflate_bytes)],
                              input=content, capture_output=True, timeout=wall_s, preexec_fn=limits, check=False,
                              cwd=ROOT)
    except subprocess.TimeoutExpired:
        raise InvalidInput(field, f"took more than the {wall_s:.0f} s a report's PDF may take to read") from None
    try:
        answer: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        # Killed by its CPU limit (SIGXCPU/SIGKILL) or out of memory: the file costs too much.
        raise InvalidInput(field, f"costs more than the {cpu} s of CPU or {MEMORY_BYTES >> 20} MiB a "
                                  f"report's PDF may take to read") from None
    if "error" in answer:
        raise InvalidInput(field, str(answer["error"]))
    return int(answer["pages"])


def _inflated_within(data: bytes, bound: int) -> int:
    """How far a flate stream inflates, reading at most `bound` + 1 bytes of its output."""
    inflater = zlib.decompressobj()
    total, chunk = 0, data
    while chunk and total <= bound:
        out = inflater.decompress(chunk, min(1 << 20, bound + 1 - total))
        total += len(out)
        chunk = inflater.unconsumed_tail
    return total


def _flate_streams(reader: Any) -> Any:
    import pypdf.generic as g

    for number in range(1, int(reader.trailer.get("/Size", 0))):
        try:
            obj = reader.get_object(g.IndirectObject(number, 0, reader))
        except Exception:  # a free or broken entry: nothing to inflate
            continue
        if isinstance(obj, g.StreamObject):
            filters = obj.get("/Filter")
            names = filters if isinstance(filters, list) else [filters]
            if "/FlateDecode" in names:
                yield obj._data


def check(content: bytes, inflate_bytes: int) -> dict[str, Any]:
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            return {"error": "is an encrypted PDF: upload it without a password"}
        pages = len(reader.pages)
        inflated = 0
        for data in _flate_streams(reader):
            inflated += _inflated_within(data, inflate_bytes - inflated)
            if inflated > inflate_bytes:
                return {"error": f"holds streams that inflate past {inflate_bytes >> 20} MiB"}
    # pypdf signals a broken file through its own errors, but hostile input reaches plain
    # Python ones deep in its parser (KeyError, ValueError, RecursionError...): all mean "not a PDF".
    except Exception as exc:
        return {"error": f"is not a readable PDF ({type(exc).__name__})"}
    if pages < 1:
        return {"error": "is a PDF without pages"}
    if pages > MAX_PAGES:
        return {"error": f"has {pages} pages; a report has at most {MAX_PAGES}"}
    return {"pages": pages}


if __name__ == "__main__":
    print(json.dumps(check(sys.stdin.buffer.read(), int(sys.argv[1]))))
