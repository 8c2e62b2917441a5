"""The offset-hole guard (events/gaps.py): what follows on is kept, a hole is fetched again, then passed."""

from __future__ import annotations

from dataclasses import dataclass

from events.gaps import GapGuard


@dataclass(frozen=True)
class Rec:
    offset: int


def recs(*offsets: int) -> list[Rec]:
    return [Rec(o) for o in offsets]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_records_that_follow_on_are_all_kept():
    guard = GapGuard(5)
    assert guard.admit("p0", 3, recs(3, 4, 5)) == (recs(3, 4, 5), None)
    assert not guard.waiting


def test_a_batch_served_past_a_lower_offset_is_held_back_and_the_hole_fetched_again():
    guard = GapGuard(5, Clock())
    assert guard.admit("p0", 10, recs(11, 12)) == ([], 10)
    assert guard.waiting
    # The lower batch became readable: everything follows on, nothing is left waiting.
    assert guard.admit("p0", 10, recs(10, 11, 12)) == (recs(10, 11, 12), None)
    assert not guard.waiting


def test_what_comes_before_a_hole_inside_a_fetch_is_kept():
    guard = GapGuard(5, Clock())
    assert guard.admit("p0", 0, recs(0, 1, 3, 4)) == (recs(0, 1), 2)


def test_a_hole_still_there_after_the_wait_is_taken_as_real_and_counted():
    clock, passed = Clock(), list[int]()
    guard = GapGuard(5, clock, on_skipped=passed.append)
    assert guard.admit("p0", 7, recs(9)) == ([], 7)
    clock.t = 4.9
    assert guard.admit("p0", 7, recs(9)) == ([], 7)
    clock.t = 5.0
    assert guard.admit("p0", 7, recs(9, 10)) == (recs(9, 10), None)
    assert passed == [2] and not guard.waiting


def test_partitions_wait_apart_and_an_unknown_position_is_not_checked():
    guard = GapGuard(5, Clock())
    assert guard.admit("p0", 0, recs(2)) == ([], 0)
    assert guard.admit("p1", 4, recs(4)) == (recs(4), None)
    assert guard.admit("p2", None, recs(9)) == (recs(9), None)
    guard.forget("p0")
    assert not guard.waiting


def test_a_new_hole_restarts_the_wait():
    clock = Clock()
    guard = GapGuard(5, clock)
    guard.admit("p0", 0, recs(2))
    clock.t = 4
    assert guard.admit("p0", 3, recs(5)) == ([], 3)  # another hole: its own wait
    clock.t = 6
    assert guard.admit("p0", 3, recs(5)) == ([], 3)
