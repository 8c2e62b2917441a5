"""Where record files live: an S3 bucket (the embedded SeaweedFS, or any S3 through S3_* settings).

Every object is already encrypted with its patient's key and named by its content's hash, so a
second write of the same key writes the same bytes, two API hosts share every file, and erasing
the patient's key makes every copy unreadable.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from services.common.settings import ObjectStoreSettings

log = logging.getLogger(__name__)


class ObjectMissing(Exception):
    """The bucket has no object under that key."""


class ObjectStore(Protocol):
    def put(self, key: str, blob: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...


class S3Objects:
    def __init__(self, settings: ObjectStoreSettings) -> None:
        if not settings.endpoint and not settings.access_key_id:
            raise ValueError("S3_ENDPOINT (or AWS credentials) must say where record files are kept")
        self.bucket = settings.records_bucket
        self._s3: Any = boto3.client(
            "s3", endpoint_url=settings.endpoint, aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key, region_name=settings.region,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=30))

    def put(self, key: str, blob: bytes) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=blob)

    def get(self, key: str) -> bytes:
        try:
            return bytes(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectMissing(key) from None
            raise

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise


def move_local_records(records_dir: Path, objects: ObjectStore) -> int:
    """Moves files an older version kept on local disk into the bucket, under the same relative
    path (the key record_files.path already names). Safe to run at every start, on every host."""
    moved = 0
    if not records_dir.is_dir():
        return moved
    for path in sorted(p for p in records_dir.rglob("*") if p.is_file() and not p.name.endswith(".tmp")):
        key = path.relative_to(records_dir).as_posix()
        if not objects.exists(key):
            objects.put(key, path.read_bytes())
            moved += 1
        path.unlink(missing_ok=True)  # another process may have moved it first
    if moved:
        log.info("moved %d record files from %s into the object store", moved, records_dir)
    return moved
