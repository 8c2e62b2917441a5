"""Unit tests run their commands as someone: the kernel refuses to append an event without an actor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.common import actor


@pytest.fixture(autouse=True)
def acting_coordinator() -> Iterator[actor.Actor]:
    with actor.acting_as(actor.Actor("0f5d1a7e-unit-test-coordinator", "coordinator")) as who:
        yield who
