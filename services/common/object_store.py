"""Where files live: an S3 bucket (the embedded SeaweedFS, or any S3 through S3_* settings).

Intake keeps record files there, review the reports. Every object is already encrypted with its
owner's key and named by its content's hash, so a second write of the same key writes the same
bytes, two API hosts share every file, and erasing the owner's key makes every copy unreadable.
"""

from __future__ import annotations

from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from services.common.settings import ObjectStoreSettings


class ObjectMissing(Exception):
    """The bucket has no object under that key."""


class ObjectStore(Protocol):
    def put(self, key: str, blob: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...


class S3Objects:
    def __init__(self, settings: ObjectStoreSettings) -> None:
        if not settings.endpoint and not settings.access_key_id:
            raise ValueError("S3_ENDPOINT (or AWS credentials) must say where files are kept")
        self.bucket = settings.records_bucket
        self._s3: Any = boto3.client(
            "s3", endpoint_url=settings.endpoint, aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key, region_name=settings.region,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=30))
        self._region = settings.region

    def ensure_bucket(self) -> bool:
        """Makes the bucket when it is missing (services.migrate, once per release); True when it made it."""
        try:
            self._s3.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
        # Outside us-east-1, S3 wants the region named again when a bucket is made.
        where = {} if self._region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": self._region}}
        self._s3.create_bucket(Bucket=self.bucket, **where)
        return True

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
