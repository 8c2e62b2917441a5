"""A slice of a de-identified study as a PNG the page shows: pydicom reads it, numpy windows it, pillow encodes.

The console renders only what intake served the centre (its de-identified copy): it never sees the
original. A record is one series (one file, one or more frames); the page opens at its middle slice
and the reviewer scrolls the index. Windowing uses the file's own window centre and width when it
has them, else the slice's range, and applies the rescale slope and intercept (CT's Hounsfield units).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pydicom
from PIL import Image
from pydicom.errors import InvalidDicomError

# The largest side of the image the page shows: a CT slice is 512 px; bigger frames are scaled down.
MAX_SIDE = 512


class NotAnImage(Exception):
    """The file has no pixels this page can show (it is still downloadable)."""


@dataclass(frozen=True)
class Slice:
    png: bytes
    index: int
    count: int


def frames_of(pixels: np.ndarray, samples: int) -> np.ndarray:
    """The frames as (n, rows, cols[, samples]): a single-frame file is one frame."""
    single = pixels.ndim == (3 if samples > 1 else 2)
    return pixels[np.newaxis, ...] if single else pixels


def window(frame: np.ndarray, centre: float | None, width: float | None) -> np.ndarray:
    """8-bit grey levels of a frame through a DICOM linear window (PS3.3 C.11.2.1.2), or its own range."""
    values = frame.astype(np.float64)
    if centre is None or width is None or width < 1:
        low, high = float(values.min()), float(values.max())
    else:
        low, high = centre - 0.5 - (width - 1) / 2, centre - 0.5 + (width - 1) / 2
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return (np.clip((values - low) / (high - low), 0.0, 1.0) * 255).round().astype(np.uint8)


def _first(value: object) -> float | None:
    if value is None:
        return None
    try:
        return float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError, IndexError):
        return None


def render(content: bytes, index: int | None = None) -> Slice:
    try:
        ds = pydicom.dcmread(io.BytesIO(content))
        pixels = ds.pixel_array
    except (InvalidDicomError, AttributeError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise NotAnImage(str(exc)) from exc
    frames = frames_of(pixels, int(getattr(ds, "SamplesPerPixel", 1)))
    count = len(frames)
    chosen = count // 2 if index is None else min(max(index, 0), count - 1)
    frame = frames[chosen]
    if frame.ndim == 3:  # colour: shown as it is
        image = Image.fromarray(frame.astype(np.uint8))
    else:
        slope = _first(getattr(ds, "RescaleSlope", 1)) or 1.0
        intercept = _first(getattr(ds, "RescaleIntercept", 0)) or 0.0
        grey = window(frame * slope + intercept, _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth")))
        if str(getattr(ds, "PhotometricInterpretation", "")) == "MONOCHROME1":
            grey = 255 - grey
        image = Image.fromarray(grey)  # 8-bit, 2-D: mode L
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return Slice(out.getvalue(), chosen, count)
