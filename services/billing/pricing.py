"""The price book (a versioned data file) and quotes. Pure apart from reading the file.

A book that could produce a review price outside USD 800-1,800 or a video consultation outside
USD 400-700, for any combination of its components, is refused at load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.codes import TURNAROUND_LIMIT_BUSINESS_DAYS, TURNAROUND_TARGET_BUSINESS_DAYS
from services.common.data_file import load_data_file

DEFAULT_FILE = Path(__file__).with_name("price_book.json")
REVIEW_RANGE = (80_000, 180_000)
VIDEO_RANGE = (40_000, 70_000)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReviewPrices(_Frozen):
    base_cents: int = Field(ge=0)
    rare_tumour_cents: int = Field(ge=0)
    glass_slides_cents: int = Field(ge=0)
    # Every study is re-read, the first one too: a case with none costs less than a case with one.
    imaging_study_cents: int = Field(ge=0)
    max_charged_imaging_studies: int = Field(ge=0, le=50)
    genomic_guided_cents: int = Field(ge=0)


class VideoPrices(_Frozen):
    base_cents: int = Field(ge=0)
    # The board prepares more for these, and each adds its own specialists to the call.
    rare_tumour_cents: int = Field(ge=0)
    genomic_guided_cents: int = Field(ge=0)


class Turnaround(_Frozen):
    target: int = Field(ge=1)
    limit: int = Field(ge=1)


TURNAROUND = Turnaround(target=TURNAROUND_TARGET_BUSINESS_DAYS, limit=TURNAROUND_LIMIT_BUSINESS_DAYS)


class PriceBook(_Frozen):
    version: str = Field(min_length=1)
    currency: Literal["USD"]
    review: ReviewPrices
    video: VideoPrices

    @model_validator(mode="after")
    def _every_price_in_range(self) -> PriceBook:
        # Components only add, so the extremes are "nothing" and "everything".
        for name, (lowest, highest), (floor, ceiling) in (("review", self.review_span(), REVIEW_RANGE),
                                                           ("video", self.video_span(), VIDEO_RANGE)):
            if lowest < floor or highest > ceiling:
                raise ValueError(f"{name} prices span {lowest}-{highest} cents, outside {floor}-{ceiling}")
        return self

    def review_span(self) -> tuple[int, int]:
        r = self.review
        return r.base_cents, (r.base_cents + r.rare_tumour_cents + r.glass_slides_cents + r.genomic_guided_cents
                              + r.imaging_study_cents * r.max_charged_imaging_studies)

    def video_span(self) -> tuple[int, int]:
        v = self.video
        return v.base_cents, v.base_cents + v.rare_tumour_cents + v.genomic_guided_cents


def load_price_book(path: Path = DEFAULT_FILE) -> PriceBook:
    return load_data_file(PriceBook, path, "price book")


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
    studies = min(case.imaging_studies, r.max_charged_imaging_studies)
    if studies:
        lines.append(("imaging_studies", r.imaging_study_cents * studies))
    if case.genomic_guided:
        lines.append(("genomic_guided", r.genomic_guided_cents))
    review = sum(c for _, c in lines)
    video = 0
    if case.wants_video:
        v = book.video
        video = (v.base_cents + (v.rare_tumour_cents if case.rare_tumour else 0)
                 + (v.genomic_guided_cents if case.genomic_guided else 0))
        lines.append(("video_consultation", video))
    return Quote(review, video, tuple(lines), book.version)
