"""Compaction of the embedded broker's log: small record-batch objects merged into larger ones.

Tansu (0.6.0) keeps its log in the S3 store as one object per produced batch and partition, and
every fetch that finds data LISTs every object of the partition. The relay and the consumers'
offset commits make many small batches, so without this the broker's work per fetch grows with
the whole history of the topic (make bench: a LIST of a few hundred objects already costs more
than the fetch's data). Every `interval` this program merges runs of settled, contiguous small
objects of each partition into one batch of at most `target_bytes`, written under the first
object's key, with every record's offset, timestamp, key, value and headers kept; the history
stays whole, in far fewer objects.

Why it is safe while Tansu serves fetches (checked against Tansu 0.6.0 here):
- Tansu takes a batch's base offset from its object's key and serves the batch that contains a
  fetch offset, so a merged object read from any offset inside it yields the same records.
- Tansu does not cache objects: an overwritten key is served anew at the next fetch.
- Tansu lists a partition's objects, then reads them one by one, and silently skips one that is
  gone by then. So the merged-away objects are not deleted in the pass that merges them: a fetch
  that listed before the merge could still read the first object's old content and then need
  the others. They are deleted by a later pass, once the merged object is `settle_s` old. In
  between, a fetch may serve some records twice (consumers apply an event once by its id, the
  live views by offset), never a gap.
- A run is merged only if its records are contiguous, so a produce still in flight can never land
  inside a merged range.
- The merged object replaces the first one only if that is still the object read (If-Match): a
  topic deleted and made anew meanwhile never gets old records written back into it.

Only this stack's embedded Tansu with its log on S3 runs it (infra/stack).
"""

from __future__ import annotations

import logging
import re
import signal
import struct
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)
_OBJECT = re.compile(r"/records/(\d{20})\.batch$")
# A v2 record batch starts: base offset (8), length (4), leader epoch (4), magic (1), crc (4),
# attributes (2), last offset delta (4).
_HEADER = struct.Struct(">qiibIhi")
_TRANSACTIONAL, _CONTROL = 0x10, 0x20


class CompactorSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    endpoint: str = Field(validation_alias="S3_ENDPOINT")
    access_key_id: str = Field(validation_alias="S3_ACCESS_KEY_ID")
    secret_access_key: str = Field(validation_alias="S3_SECRET_ACCESS_KEY")
    region: str = Field("us-east-1", validation_alias="S3_REGION")
    bucket: str = Field("case-ledger-broker", validation_alias="S3_BROKER_BUCKET")
    cluster: str = Field("tansu_cluster", validation_alias="CASE_LEDGER_COMPACTOR_CLUSTER")
    interval_s: float = Field(5.0, gt=0, le=3600, validation_alias="CASE_LEDGER_COMPACTOR_INTERVAL")
    # Only objects older than this are merged, and merged-away ones are deleted only this long
    # after their merge: a produce or a fetch in flight is long done by then.
    settle_s: float = Field(30.0, ge=1, le=3600, validation_alias="CASE_LEDGER_COMPACTOR_SETTLE")
    # Well below every client's per-partition fetch size (1 MiB by default): Tansu serves nothing
    # for a partition whose next object is larger than the fetch asked for.
    target_bytes: int = Field(256 * 1024, ge=4096, le=512 * 1024, validation_alias="CASE_LEDGER_COMPACTOR_TARGET_BYTES")


@dataclass(frozen=True)
class Stored:
    """One object of a partition's log, as listed and as its batch header says."""

    key: str
    offset: int  # the base offset, from the object's name
    count: int  # offsets the batch spans (last offset delta + 1)
    size: int
    modified: datetime
    plain: bool  # neither transactional nor a control batch

    @property
    def end(self) -> int:
        return self.offset + self.count


@dataclass(frozen=True)
class Plan:
    merges: list[list[Stored]]
    covered: list[Stored]  # merged into an earlier object long enough ago to go


def header(data: bytes) -> tuple[int, bool]:
    """(offsets spanned, plain) of the object's first batch."""
    _base, _length, _epoch, magic, _crc, attributes, last_delta = _HEADER.unpack_from(data)
    if magic != 2:
        raise ValueError(f"record batch magic {magic}, not 2")
    return last_delta + 1, not attributes & (_TRANSACTIONAL | _CONTROL)


def plan(objects: Sequence[Stored], now: datetime, settle_s: float, target_bytes: int) -> Plan:
    """Which runs to merge and which objects an earlier merge already covers; pure."""
    def settled(o: Stored) -> bool:
        return (now - o.modified).total_seconds() >= settle_s

    ordered = sorted(objects, key=lambda o: o.offset)
    covered: list[Stored] = []
    kept: list[Stored] = []
    for o in ordered:
        if kept and o.end <= kept[-1].end:
            # Every offset of it is in the object before, merged there by an earlier pass: it goes
            # once fetches that listed before that merge are long done.
            if settled(kept[-1]):
                covered.append(o)
            continue
        kept.append(o)
    merges: list[list[Stored]] = []
    run: list[Stored] = []
    size = 0
    for o in kept:
        if not settled(o):
            break  # a newer object, and everything after it, is left for a later pass
        joins = (bool(run) and o.plain and o.offset == run[-1].end and size + o.size <= target_bytes)
        if joins:
            run.append(o)
            size += o.size
            continue
        if len(run) > 1:
            merges.append(run)
        run, size = ([o], o.size) if o.plain and o.size < target_bytes else ([], 0)
    if len(run) > 1:
        merges.append(run)
    return Plan(merges, covered)


def merge(run: Sequence[tuple[Stored, bytes]]) -> bytes:
    """One batch holding every record of the run's objects, at the first object's offset."""
    base = run[0][0].offset
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=2**31 - 1)
    expected = base
    for stored, data in run:
        records = MemoryRecords(data)
        while (batch := records.next_batch()) is not None:
            if batch.is_transactional or batch.is_control_batch:
                raise ValueError(f"{stored.key}: not a plain batch")
            for record in batch:
                # Tansu serves a batch at its key's offset, whatever base offset it stored.
                offset = stored.offset + (record.offset - batch.base_offset)
                if offset != expected:
                    raise ValueError(f"{stored.key}: offset {offset} where {expected} was expected")
                headers = [(k, bytes(v) if v is not None else None) for k, v in record.headers]
                builder.append(offset - base, record.timestamp, _bytes(record.key), _bytes(record.value), headers)
                expected += 1
        if expected != stored.end:
            raise ValueError(f"{stored.key}: records end at {expected}, its header says {stored.end}")
    merged = bytearray(builder.build())
    struct.pack_into(">q", merged, 0, base)  # outside the CRC, which starts at the attributes
    return bytes(merged)


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


class Compactor:
    def __init__(self, settings: CompactorSettings, client: Any = None) -> None:
        self.settings = settings
        self.s3 = client or _client(settings)
        # Per partition, (key, size) -> header, as of its last listing: an object does not change
        # unless it is replaced (a new size), and what a listing no longer shows is forgotten.
        self._headers: dict[str, dict[tuple[str, int], tuple[int, bool]]] = {}

    def partitions(self) -> list[str]:
        topics = f"clusters/{self.settings.cluster}/topics/"
        found = []
        for topic in self._prefixes(topics):
            if topic.endswith("/uuids/"):
                continue
            found += self._prefixes(f"{topic}partitions/")
        return found

    def compact_once(self) -> tuple[int, int]:
        """One pass over every partition; (objects merged away, objects left)."""
        removed = left = 0
        partitions = self.partitions()
        # Deleted topics' partitions are forgotten with their headers.
        self._headers = {p: h for p, h in self._headers.items() if p.rsplit("records/", 1)[0] in partitions}
        for partition in partitions:
            try:
                r, n = self.compact_partition(partition)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                    log.exception("compaction of %s failed; next pass tries again", partition)
                else:  # listed, then gone: its topic was deleted meanwhile
                    log.info("%s went away while it was compacted", partition)
                continue
            except Exception:  # one partition's trouble must not stop the others
                log.exception("compaction of %s failed; next pass tries again", partition)
                continue
            removed += r
            left += n
        return removed, left

    def compact_partition(self, prefix: str) -> tuple[int, int]:
        objects = self._list(f"{prefix}records/")
        p = plan(objects, datetime.now(UTC), self.settings.settle_s, self.settings.target_bytes)
        # What earlier passes merged, and only that, goes now.
        self._delete([o.key for o in p.covered])
        for run in p.merges:
            fetched = [self._get(o.key) for o in run]  # gone meanwhile: NoSuchKey, see compact_once
            merged = merge([(o, data) for o, (data, _) in zip(run, fetched, strict=True)])
            # Under the first object's key, and only over the object just read: if the topic was
            # deleted (and perhaps made anew) meanwhile, nothing is written back into it. The
            # others stay until a later pass (see the module's docstring).
            try:
                self.s3.put_object(Bucket=self.settings.bucket, Key=run[0].key, Body=merged, IfMatch=fetched[0][1])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "NoSuchKey", "404", "412"):
                    log.info("%s changed while it was merged; left for the next pass", run[0].key)
                    continue
                raise
        return len(p.covered), len(objects) - len(p.covered)

    # ------------------------------------------------------------------ S3
    def _prefixes(self, prefix: str) -> list[str]:
        found: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.settings.bucket, Prefix=prefix, Delimiter="/"):
            found += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        return found

    def _list(self, prefix: str) -> list[Stored]:
        objects = []
        before = self._headers.get(prefix, {})
        now: dict[tuple[str, int], tuple[int, bool]] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.settings.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                m = _OBJECT.search(item["Key"])
                if not m:
                    continue
                seen = (item["Key"], item["Size"])
                count, plain = now[seen] = before.get(seen) or self._header(item["Key"])
                objects.append(Stored(item["Key"], int(m.group(1)), count, item["Size"], item["LastModified"], plain))
        self._headers[prefix] = now
        return objects

    def _header(self, key: str) -> tuple[int, bool]:
        data = self.s3.get_object(Bucket=self.settings.bucket, Key=key,
                                  Range=f"bytes=0-{_HEADER.size - 1}")["Body"].read()
        return header(data)

    def _get(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and its ETag."""
        answer = self.s3.get_object(Bucket=self.settings.bucket, Key=key)
        return bytes(answer["Body"].read()), str(answer["ETag"])

    def _delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        for i in range(0, len(keys), 1000):
            self.s3.delete_objects(Bucket=self.settings.bucket,
                                   Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})


def _client(settings: CompactorSettings) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=settings.endpoint, aws_access_key_id=settings.access_key_id,
                        aws_secret_access_key=settings.secret_access_key, region_name=settings.region,
                        config=Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=30))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = CompactorSettings()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    compactor = Compactor(settings)
    while not stop.wait(settings.interval_s):
        started = time.monotonic()
        try:
            removed, left = compactor.compact_once()
        except Exception:  # the store away, say: the next pass tries again
            log.exception("compaction pass failed")
            continue
        if removed:
            log.info("merged away %d objects in %.2fs; %d left", removed, time.monotonic() - started, left)


if __name__ == "__main__":
    main()
