"""The worklist, the live views and analytics tell the same status and whose move it is, for every
valid history of a case and every order its services' streams can arrive in (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from events.lifecycle import Life
from events.registry import Decoded
from services.analytics import facts
from services.intake import worklist
from services.live import batches, fold
from tests.unit.histories import histories, interleavings


def in_the_worklist(events: list[Decoded]) -> tuple[Any, ...]:
    case_id = events[0].envelope.case_id
    lives = {case_id: Life()}
    worklist.fold_into(lives, events)
    row = lives[case_id].summary()  # what the save block writes
    return row["status"], row["waiting_on"], row["waiting_since"]


def in_the_live_views(events: list[Decoded]) -> tuple[Any, ...]:
    table: dict[str, Any] = {}
    batch = batches.Batch(table)
    for offset, d in enumerate(events):
        batch.add(batches.Message(0, offset, d))
    batch.write()
    [case] = [v for k, v in table.items() if ":c:" in k]
    since = case["since"]
    return fold.status(case), case["wo"], datetime.fromtimestamp(since, UTC) if since is not None else None


def in_analytics(events: list[Decoded]) -> tuple[Any, ...]:
    folded = facts.Fold()
    for d in events:
        folded.add(d)
    [row] = folded.cases.values()
    return row["status"], row["waiting_on"], row["waiting_since"]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_three_read_models_agree_on_status_and_whose_move_it_is(data: st.DataObject):
    events, causes = data.draw(histories())
    arrived = data.draw(interleavings(events, causes))
    worklist_says = in_the_worklist(arrived)
    assert in_the_live_views(arrived) == worklist_says
    assert in_analytics(arrived) == worklist_says
    # And as every other arrival order says.
    assert in_the_worklist(events) == worklist_says
