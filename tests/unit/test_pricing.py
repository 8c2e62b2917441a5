import json
from pathlib import Path

import pytest

from services.billing.pricing import (
    DEFAULT_FILE,
    REVIEW_RANGE,
    VIDEO_RANGE,
    CaseComplexity,
    load_price_book,
    price,
)
from services.common.data_file import DataFileError

BOOK = load_price_book()


def case(**kw: object) -> CaseComplexity:
    base: dict[str, object] = {"rare_tumour": False, "glass_slides": False, "imaging_studies": 1,
                               "genomic_guided": False, "wants_video": False}
    return CaseComplexity(**{**base, **kw})  # type: ignore[arg-type]


def write_book(tmp_path: Path, **changes: dict[str, int]) -> Path:
    data = json.loads(DEFAULT_FILE.read_text())
    for section, values in changes.items():
        data[section].update(values)
    path = tmp_path / "book.json"
    path.write_text(json.dumps(data))
    return path


def test_a_case_with_nothing_to_re_read_costs_the_base_review_fee():
    q = price(BOOK, case(imaging_studies=0))
    assert (q.review_cents, q.video_cents) == (80_000, 0)
    assert q.breakdown == (("review_base", 80_000),)
    assert q.price_book_version == BOOK.version


def test_every_imaging_study_is_charged_the_first_one_too():
    assert price(BOOK, case(imaging_studies=1)).review_cents == 85_000
    assert price(BOOK, case(imaging_studies=2)).review_cents == 90_000


def test_complexity_adds_components_and_the_breakdown_sums_to_the_price():
    q = price(BOOK, case(rare_tumour=True, glass_slides=True, imaging_studies=3, genomic_guided=True,
                         wants_video=True))
    assert dict(q.breakdown) == {"review_base": 80_000, "rare_tumour": 30_000, "glass_slides": 15_000,
                                 "imaging_studies": 15_000, "genomic_guided": 25_000,
                                 "video_consultation": 70_000}
    assert sum(c for _, c in q.breakdown) == q.total_cents == 235_000
    assert REVIEW_RANGE[0] <= q.review_cents <= REVIEW_RANGE[1]


def test_imaging_studies_beyond_the_charged_maximum_are_free():
    assert price(BOOK, case(imaging_studies=40)).review_cents == 80_000 + 6 * 5_000


def test_the_video_consultation_grows_with_each_complexity_the_board_prepares_for():
    assert price(BOOK, case(wants_video=True)).video_cents == 40_000
    assert price(BOOK, case(wants_video=True, rare_tumour=True)).video_cents == 55_000
    assert price(BOOK, case(wants_video=True, genomic_guided=True)).video_cents == 55_000


def test_the_most_complex_case_reaches_the_top_of_each_published_range():
    worst = price(BOOK, case(rare_tumour=True, glass_slides=True, imaging_studies=50, genomic_guided=True,
                             wants_video=True))
    assert (worst.review_cents, worst.video_cents) == (REVIEW_RANGE[1], VIDEO_RANGE[1])
    assert (BOOK.review_span(), BOOK.video_span()) == (REVIEW_RANGE, VIDEO_RANGE)


@pytest.mark.parametrize("changes", [{"review": {"base_cents": 79_999}},
                                     {"review": {"rare_tumour_cents": 90_000}},
                                     {"review": {"max_charged_imaging_studies": 40}},
                                     {"video": {"base_cents": 30_000}},
                                     {"video": {"genomic_guided_cents": 40_000}}])
def test_a_book_that_could_price_outside_the_ranges_is_refused_at_load(tmp_path: Path, changes):
    with pytest.raises(DataFileError, match="outside"):
        load_price_book(write_book(tmp_path, **changes))


def test_a_malformed_book_is_refused(tmp_path: Path):
    bad = tmp_path / "book.json"
    bad.write_text('{"version": "x", "currency": "EUR"}')
    with pytest.raises(DataFileError):
        load_price_book(bad)
