"""The one-time move of record files an older version kept on local disk into the object store."""

from __future__ import annotations

import logging
from pathlib import Path

from services.common.object_store import ObjectStore

log = logging.getLogger(__name__)


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
