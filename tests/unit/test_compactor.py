"""Compaction of the broker's log: which objects merge, and that a merge keeps every record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

from infra.compactor import Stored, header, merge, plan

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(minutes=1)


def stored(offset: int, count: int, size: int = 100, modified: datetime = OLD, plain: bool = True) -> Stored:
    return Stored(f"records/{offset:020}.batch", offset, count, size, modified, plain)


def batch(base: int, values: list[bytes], timestamp: int = 1_796_000_000_000, stored_base: int | None = None) -> bytes:
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=7,
                                        producer_epoch=0, base_sequence=base, batch_size=2**20)
    for i, value in enumerate(values):
        builder.append(i, timestamp + i, f"case-{base + i}".encode(), value, [("h", b"v")] if i % 2 else [])
    data = bytearray(builder.build())
    data[0:8] = (base if stored_base is None else stored_base).to_bytes(8, "big")
    return bytes(data)


def records(data: bytes, at: int) -> list[tuple[int, int, bytes | None, bytes | None, list]]:
    """What a fetch serves from an object at offset `at` (Tansu numbers a batch from its key)."""
    out = []
    mr = MemoryRecords(data)
    while (b := mr.next_batch()) is not None:
        assert b.validate_crc()
        out += [(at + r.offset - b.base_offset, r.timestamp, r.key, r.value, list(r.headers)) for r in b]
    return out


def test_settled_contiguous_small_objects_merge_into_runs_below_the_target():
    objects = [stored(0, 3), stored(3, 2), stored(5, 4), stored(9, 1, size=300), stored(10, 1)]
    p = plan(objects, NOW, settle_s=10, target_bytes=400)
    assert [[o.offset for o in run] for run in p.merges] == [[0, 3, 5], [9, 10]] and p.covered == []


def test_a_gap_a_fresh_object_or_a_transactional_batch_ends_a_run():
    gap = plan([stored(0, 3), stored(4, 2), stored(6, 1)], NOW, 10, 10_000)
    assert [[o.offset for o in r] for r in gap.merges] == [[4, 6]]  # offset 3 is not there (a produce in flight)
    fresh = plan([stored(0, 1), stored(1, 1), stored(2, 1, modified=NOW), stored(3, 1)], NOW, 10, 10_000)
    assert [[o.offset for o in r] for r in fresh.merges] == [[0, 1]]  # nothing at or after a fresh one
    txn = plan([stored(0, 1), stored(1, 1, plain=False), stored(2, 1), stored(3, 1)], NOW, 10, 10_000)
    assert [[o.offset for o in r] for r in txn.merges] == [[2, 3]]


def test_objects_a_merge_covers_go_only_once_the_merge_has_settled():
    # A fetch that listed the partition before the merge may still read the others: Tansu skips
    # an object that is gone, so deleting them at once could hide their records from it.
    fresh = plan([stored(0, 6, size=600, modified=NOW), stored(2, 2), stored(4, 2), stored(6, 1)], NOW, 10, 10_000)
    assert fresh.covered == [] and fresh.merges == []
    settled = plan([stored(0, 6, size=600), stored(2, 2), stored(4, 2), stored(6, 1)], NOW, 10, 10_000)
    assert [o.offset for o in settled.covered] == [2, 4]
    assert [[o.offset for o in r] for r in settled.merges] == [[0, 6]]


def test_a_merge_keeps_every_record_at_its_offset_with_its_timestamp_key_value_and_headers():
    # The second object stores base offset 0: Tansu serves a batch at its key's offset anyway.
    parts = [(stored(40, 2), batch(40, [b"a", b"b"])), (stored(42, 3), batch(42, [b"c", b"d", b"e"], stored_base=0)),
             (stored(45, 1), batch(45, [b"f"], timestamp=1_796_000_009_000))]
    merged = merge(parts)
    assert header(merged) == (6, True)
    assert records(merged, 40) == [r for s, data in parts for r in records(data, s.offset)]
    assert [r[0] for r in records(merged, 40)] == list(range(40, 46))


def test_a_merge_refuses_objects_whose_records_do_not_follow_on():
    with pytest.raises(ValueError, match="expected"):
        merge([(stored(0, 2), batch(0, [b"a", b"b"])), (stored(3, 1), batch(3, [b"c"]))])
    with pytest.raises(ValueError, match="header says"):
        merge([(stored(0, 3), batch(0, [b"a", b"b"]))])


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


class _Store:
    """An S3 bucket in memory, as much of one as the compactor uses; `vanish` deletes an object
    right after it is read, as a topic deleted meanwhile would."""

    def __init__(self, objects: dict[str, bytes], vanish: str | None = None) -> None:
        self.objects = dict(objects)
        self.versions = dict.fromkeys(objects, 1)
        self.vanish = vanish
        self.deleted: list[str] = []
        self.written: dict[str, datetime] = {}  # LastModified of the objects the compactor wrote

    def get_paginator(self, _name: str):
        store = self

        class Pages:
            def paginate(self, Bucket: str, Prefix: str, Delimiter: str | None = None):
                keys = sorted(k for k in store.objects if k.startswith(Prefix))
                return [{"Contents": [{"Key": k, "Size": len(store.objects[k]),
                                       "LastModified": store.written.get(k, OLD)} for k in keys]}]

        return Pages()

    def get_object(self, Bucket: str, Key: str, Range: str | None = None):
        data = self.objects[Key]
        answer = {"Body": _Body(data[:27] if Range else data), "ETag": f'"{Key}-{self.versions[Key]}"'}
        if Key == self.vanish and not Range:
            del self.objects[Key]
        return answer

    def put_object(self, Bucket: str, Key: str, Body: bytes, IfMatch: str):
        from botocore.exceptions import ClientError

        if Key not in self.objects or IfMatch != f'"{Key}-{self.versions[Key]}"':
            raise ClientError({"Error": {"Code": "PreconditionFailed"}}, "PutObject")
        self.objects[Key], self.versions[Key] = Body, self.versions[Key] + 1
        self.written[Key] = datetime.now(UTC)

    def delete_objects(self, Bucket: str, Delete: dict):
        for item in Delete["Objects"]:
            self.deleted.append(item["Key"])
            self.objects.pop(item["Key"], None)


def _compactor(store: _Store):
    from infra.compactor import Compactor, CompactorSettings

    settings = CompactorSettings(S3_ENDPOINT="http://s3.invalid", S3_ACCESS_KEY_ID="k", S3_SECRET_ACCESS_KEY="s")
    return Compactor(settings, client=store)


def test_a_partition_is_merged_into_one_object_and_the_others_go_a_pass_later():
    prefix = "clusters/tansu_cluster/topics/t/partitions/0000000000/"
    store = _Store({f"{prefix}records/{o:020}.batch": batch(o, [b"x"] * 2) for o in (0, 2, 4)})
    compactor = _compactor(store)
    assert compactor.compact_partition(prefix) == (0, 3) and store.deleted == []
    first = store.objects[f"{prefix}records/{0:020}.batch"]
    assert [r[0] for r in records(first, 0)] == list(range(6))
    assert compactor.compact_partition(prefix) == (0, 3)  # the merge is fresh: the others stay
    store.written = dict.fromkeys(store.written, OLD)  # it has settled
    assert compactor.compact_partition(prefix) == (2, 1)
    assert list(store.objects.values()) == [first]


def test_nothing_is_written_back_or_deleted_when_the_first_object_went_away_meanwhile():
    prefix = "clusters/tansu_cluster/topics/t/partitions/0000000000/"
    first = f"{prefix}records/{0:020}.batch"
    store = _Store({f"{prefix}records/{o:020}.batch": batch(o, [b"x"] * 2) for o in (0, 2, 4)}, vanish=first)
    assert _compactor(store).compact_partition(prefix) == (0, 3)
    assert first not in store.objects and store.deleted == []
