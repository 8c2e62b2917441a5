"""The price book (a versioned data file) and quotes. Pure apart from reading the file.

A book that could produce a review price outside USD 800-1,800 or a video consultation outside
USD 400-700, for any combination of its components, is refused at load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_FILE = Path(__file__).with_name("price_book.json")
REVIEW_RANGE = (80_000, 180_000)
VIDEO_RANGE = (40_000, 70_000)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReviewPrices(_Frozen):
    base_cents: int = Field(ge=0)
    rare_tumour_cents: int = Field(ge=0)
    glass_slides_cents: int = Field(ge=0)
    extra_imaging_study_cents: int = Field(ge=0)
    max_charged_extra_imaging_studies: int = Field(ge=0, le=50)
    genomic_guided_cents: int = Field(ge=0)


class VideoPrices(_Frozen):
    base_cents: int = Field(ge=0)
    complex_case_cents: int = Field(ge=0)


class Turnaround(_Frozen):
    target: int = Field(ge=1)
    limit: int = Field(ge=1)


class PriceBook(_Frozen):
    version: str = Field(min_length=1)
    currency: Literal["USD"]
    turnaround_business_days: Turnaround
    review: ReviewPrices
    video: VideoPrices

    @model_validator(mode="after")
    def _every_price_in_range(self) -> PriceBook:
        r, v = self.review, self.video
        # Components only add, so the extremes are "nothing" and "everything".
        lowest = r.base_cents
        highest = (r.base_cents + r.rare_tumour_cents + r.glass_slides_cents + r.genomic_guided_cents
                   + r.extra_imaging_study_cents * r.max_charged_extra_imaging_studies)
        if lowest < REVIEW_RANGE[0] or highest > REVIEW_RANGE[1]:
            raise ValueError(f"review prices span {lowest}-{highest} cents, outside {REVIEW_RANGE}")
        if v.base_cents < VIDEO_RANGE[0] or v.base_cents + v.complex_case_cents > VIDEO_RANGE[1]:
            raise ValueError(f"video prices span {v.base_cents}-{v.base_cents + v.complex_case_cents} cents, "
                             f"outside {VIDEO_RANGE}")
        return self


class PriceBookError(Exception):
    pass


def load_price_book(path: Path = DEFAULT_FILE) -> PriceBook:
    try:
        return PriceBook.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise PriceBookError(f"price book {path}: {exc}") from exc


@dataclass(frozen=True)
class CaseComplexity:
    rare_tumour: bool
    glass_slides: bool
    imaging_studies: int
    genomic_guided: bool
    wants_video: bool


@dataclass(frozen=True)
class Quote:
    review_cents: int
    video_cents: int
    breakdown: tuple[tuple[str, int], ...]
    price_book_version: str

    @property
    def total_cents(self) -> int:
        return self.review_cents + self.video_cents


def price(book: PriceBook, case: CaseComplexity) -> Quote:
    r = book.review
    lines: list[tuple[str, int]] = [("review_base", r.base_cents)]
    if case.rare_tumour:
        lines.append(("rare_tumour", r.rare_tumour_cents))
    if case.glass_slides:
        lines.append(("glass_slides", r.glass_slides_cents))
    extra = min(max(case.imaging_studies - 1, 0), r.max_charged_extra_imaging_studies)
    if extra:
        lines.append(("extra_imaging_studies", r.extra_imaging_study_cents * extra))
    if case.genomic_guided:
        lines.append(("genomic_guided", r.genomic_guided_cents))
    review = sum(c for _, c in lines)
    video = 0
    if case.wants_video:
        complex_case = case.rare_tumour or case.genomic_guided
        video = book.video.base_cents + (book.video.complex_case_cents if complex_case else 0)
        lines.append(("video_consultation", video))
    return Quote(review, video, tuple(lines), book.version)
