"""The account of a member cut off from the broker (chaos/cutoff.py): who owns which partition,
dealt as the range assignor deals them, and a member's client name out of Tansu's member id."""

from __future__ import annotations

from chaos.cutoff import CutWatch, Sample, client_of, range_owners


def test_range_deals_runs_of_partitions_in_member_order_the_first_ones_one_more():
    assert range_owners(["b-2", "b-1"], 6) == {"b-1": [0, 1, 2], "b-2": [3, 4, 5]}
    assert range_owners(["b-1", "b-2", "b-3", "b-4"], 6) == {"b-1": [0, 1], "b-2": [2, 3], "b-3": [4], "b-4": [5]}
    assert range_owners(["b-1"], 6) == {"b-1": [0, 1, 2, 3, 4, 5]}
    assert range_owners([], 6) == {}


def test_a_member_id_gives_its_client_name_without_the_uuid_tansu_appends():
    assert client_of("billing-billing-2-3bf90f63-9cb6-4457-a44a-3ae4c8c61835") == "billing-billing-2"
    assert client_of("plain") == "plain"


def test_the_lines_say_when_the_other_member_had_every_partition_and_when_the_cut_one_was_back():
    watch = CutWatch()
    one = "billing-billing-1-27bcf5a1-9b19-42dd-8a5e-eb7c4ea0f43f"
    two = "billing-billing-2-3bf90f63-9cb6-4457-a44a-3ae4c8c61835"
    watch.marks.update(state="Stable", members=(one, two), mended_s=20.0, joined_s=3.0)
    watch.samples = [Sample(0.5, "Stable", (one, two)), Sample(10.5, "Unknown", (one,)),
                     Sample(15.0, "Stable", (one,)), Sample(24.0, "Unknown", (one, two)),
                     Sample(32.0, "Stable", (one, two))]
    lines = watch._partition_lines([3, 4, 5])
    assert "billing-billing-2 owned [3, 4, 5], billing-billing-1 [0, 1, 2]" in lines[0]
    assert "dropped from the group +10.5 s" in lines[1] and "all 6 partitions, +15.0 s (during the cut)" in lines[1]
    assert "back in the group +24.0 s, Stable with both +32.0 s" in lines[2]
    assert lines[2].endswith("unread from the cut until +15.0 s")
