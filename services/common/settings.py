"""Settings every service shares; each service subclasses this with its own prefix and port."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


def _decodes_to_32_bytes(value: SecretStr) -> SecretStr:
    try:
        raw = base64.b64decode(value.get_secret_value(), validate=True)
    except ValueError:
        raise ValueError("must be base64") from None
    if len(raw) != 32:
        raise ValueError("must decode to 32 bytes")
    return value


# A service's master key (it wraps the data keys): base64 of 32 bytes, from the secret store.
MasterKey = Annotated[SecretStr, AfterValidator(_decodes_to_32_bytes)]


def key_bytes(key: SecretStr) -> bytes:
    return base64.b64decode(key.get_secret_value())


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Literal["dev", "test", "production"] = Field("dev", validation_alias="CASE_LEDGER_ENV")
    database_url: str = Field(validation_alias="DATABASE_URL")
    kafka_bootstrap_servers: str = Field(validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    # The OpenID Connect provider whose access tokens the API accepts (services/common/auth.py):
    # the embedded stack's (port base + 20) or any other, e.g. Keycloak's realm URL.
    oidc_issuer: str = Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$", validation_alias="CASE_LEDGER_OIDC_ISSUER")
    # Where its keys are; by default what its discovery document says.
    oidc_jwks_url: str | None = Field(None, validation_alias="CASE_LEDGER_OIDC_JWKS_URL")
    # The `aud` a token must name to be accepted here; by default the service's name.
    oidc_audience: str | None = Field(None, min_length=1, validation_alias="CASE_LEDGER_OIDC_AUDIENCE")
    # Asymmetric signatures only: a shared secret would let every API mint tokens.
    oidc_algorithms: Annotated[list[str], NoDecode] = Field(["RS256"], validation_alias="CASE_LEDGER_OIDC_ALGORITHMS")
    # Clock skew tolerated on exp, nbf and iat.
    oidc_leeway_s: int = Field(30, ge=0, le=30, validation_alias="CASE_LEDGER_OIDC_LEEWAY")
    # Production takes an https issuer; a production-like stack on one machine's network says so.
    oidc_allow_http: bool = Field(False, validation_alias="CASE_LEDGER_OIDC_ALLOW_HTTP")
    oidc_jwks_max_age_s: float = Field(300.0, gt=0, le=86400, validation_alias="CASE_LEDGER_OIDC_JWKS_MAX_AGE")
    # A token naming a key id we lack makes us fetch the keys again (a rotation), at most this often:
    # often enough that a new key is seen at once, seldom enough that made-up key ids cannot
    # turn every request into a fetch from the provider.
    oidc_jwks_min_refresh_s: float = Field(1.0, ge=0, le=3600, validation_alias="CASE_LEDGER_OIDC_JWKS_MIN_REFRESH")
    data_dir: Path = Field(Path(".run/data"), validation_alias="CASE_LEDGER_DATA_DIR")
    db_pool_size: int = Field(8, ge=1, le=64, validation_alias="CASE_LEDGER_DB_POOL_SIZE")
    # How long the relay waits for the broker's acks before it gives up on a batch and retries.
    relay_ack_timeout_s: float = Field(30.0, gt=0, le=300, validation_alias="CASE_LEDGER_RELAY_ACK_TIMEOUT")
    # The relay's producer with Kafka's idempotence (a producer id, sequence numbers): on Tansu each
    # produce of an idempotent producer also writes the cluster's producer state. Off, a send the
    # client retries may be stored twice, which every consumer drops by event id, as it drops the
    # relay's own republishing (docs/broker.md, "The relay's producer").
    relay_idempotent: bool = Field(True, validation_alias="CASE_LEDGER_RELAY_IDEMPOTENT")
    topic_partitions: int = Field(6, ge=1, le=256, validation_alias="CASE_LEDGER_TOPIC_PARTITIONS")
    # The broker's message.max.bytes; the contract's bounds keep every event well below it.
    kafka_max_message_bytes: int = Field(1_000_000, ge=1024, validation_alias="CASE_LEDGER_KAFKA_MAX_MESSAGE_BYTES")
    # How often the relay asks the broker whether it still holds what it acknowledged.
    relay_verify_interval_s: float = Field(10.0, gt=0, le=3600, validation_alias="CASE_LEDGER_RELAY_VERIFY_INTERVAL")
    # While events flow, a consumer fetches at most once per interval and the relay publishes at
    # most once per interval: on the embedded broker (Tansu, its log on S3) each produce writes
    # objects and each fetch that finds data lists every object of the partition, so fewer,
    # larger requests carry the same events for a fraction of the broker's work. 0 turns it off.
    consumer_fetch_interval_ms: int = Field(20, ge=0, le=5000,
                                            validation_alias="CASE_LEDGER_CONSUMER_FETCH_INTERVAL_MS")
    # How long the broker may hold a consumer's fetch that finds nothing new. On Tansu 0.6.0 a held
    # fetch is not answered when data arrives, so this bounds a hop's delay as much as idle work
    # (docs/broker.md, "How long a fetch waits"); Apache Kafka answers at once either way.
    consumer_fetch_max_wait_ms: int = Field(1000, ge=10, le=30_000,
                                            validation_alias="CASE_LEDGER_CONSUMER_FETCH_MAX_WAIT_MS")
    relay_linger_ms: int = Field(20, ge=0, le=5000, validation_alias="CASE_LEDGER_RELAY_LINGER_MS")
    # Committed offsets are only a hint (processed-events rows de-duplicate), and each commit is
    # a write per partition to the broker's log.
    consumer_commit_interval_s: float = Field(5.0, gt=0, le=300,
                                              validation_alias="CASE_LEDGER_CONSUMER_COMMIT_INTERVAL")
    # How long a consumer fetches a hole in the offsets again before taking it as real (events/gaps.py).
    consumer_gap_wait_s: float = Field(15.0, ge=0, le=600, validation_alias="CASE_LEDGER_CONSUMER_GAP_WAIT_S")
    # How long the broker waits for a member's heartbeat (one a second) before it expires it. Our
    # members never leave their group (events/kafka.py, never_leave), so a worker stopped or killed
    # holds its partitions this long: the next member gets them no sooner. Apache Kafka refuses
    # less than its group.min.session.timeout.ms (6 s by default).
    consumer_session_timeout_ms: int = Field(10_000, ge=3000, le=25_000,
                                             validation_alias="CASE_LEDGER_CONSUMER_SESSION_TIMEOUT_MS")
    # A consumer with a backlog that handles nothing for this long gets a new client.
    consumer_stall_timeout_s: float = Field(30.0, gt=0, le=3600, validation_alias="CASE_LEDGER_CONSUMER_STALL_TIMEOUT")
    # Only a simulator (the demo, the tests) may date facts itself; in service the measured
    # party must not set its own clock, so a supplied occurred_at is refused.
    simulated_time: bool = Field(False, validation_alias="CASE_LEDGER_SIMULATED_TIME")
    # The largest request body any endpoint reads (uploads have their own, larger limit).
    max_body_bytes: int = Field(2**20, ge=1024, le=2**30, validation_alias="CASE_LEDGER_MAX_BODY_BYTES")
    # A worker serves /healthz, /readyz and /metrics on this port (services/common/worker_health.py)
    # when it runs as a process of its own under an orchestrator (deploy/k8s); unset, it serves none.
    worker_health_port: int | None = Field(None, ge=1, le=65535, validation_alias="CASE_LEDGER_WORKER_HEALTH_PORT")
    # The parts of the worker this process runs ("relay", "timers", "consumer-<name>"), so that each
    # consumer group can be a Deployment of its own with its own replicas; empty, it runs them all.
    worker_only: Annotated[list[str], NoDecode] = Field([], validation_alias="CASE_LEDGER_WORKER_ONLY")
    # This process's stable name among its consumer groups' members (the embedded stack sets 1,
    # 2, ... per member; a pod its own name). With `consumer_static` each group's member joins
    # with group.instance.id `<service>.<consumer>.<member>` (static membership, KIP-345): killed
    # and started again within the session timeout (10 s), it gets its partitions back without
    # stopping the other members. Two live processes must never share one (the later fences the
    # earlier out). Off by default: on Tansu 0.6.0 a static member that never comes back keeps its
    # partitions for good (measured, docs/operators.md, "Members and restarts"); on Apache Kafka, on.
    consumer_member: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
                                        validation_alias="CASE_LEDGER_CONSUMER_MEMBER")
    # Without a member's name (an API's or the timers' pod, which consume nothing) it stays dynamic.
    consumer_static: bool = Field(False, validation_alias="CASE_LEDGER_CONSUMER_STATIC")
    # The cooperative-sticky assignor (KIP-429) instead of range: a rebalance moves only the
    # partitions that change owner. Every member of a group must agree; off by default (measured
    # no gain on Tansu, docs/operators.md).
    consumer_cooperative: bool = Field(False, validation_alias="CASE_LEDGER_CONSUMER_COOPERATIVE")
    # prometheus-client's own variable: set, every process of the service writes its metrics to
    # files there and /metrics aggregates them (an API with several workers, plus its worker).
    prometheus_multiproc_dir: Path | None = Field(None, validation_alias="PROMETHEUS_MULTIPROC_DIR")

    @field_validator("oidc_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, raw: object) -> object:
        return [a.strip() for a in raw.split(",") if a.strip()] if isinstance(raw, str) else raw

    @field_validator("worker_only", mode="before")
    @classmethod
    def _split_parts(cls, raw: object) -> object:
        return [a.strip() for a in raw.split(",") if a.strip()] if isinstance(raw, str) else raw

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_only(cls, algorithms: list[str]) -> list[str]:
        if not algorithms or any(a not in ASYMMETRIC for a in algorithms):
            raise ValueError(f"must be some of {', '.join(ASYMMETRIC)}")
        return algorithms

    @model_validator(mode="after")
    def _https_in_production(self) -> ServiceSettings:
        if self.environment == "production" and not self.oidc_issuer.startswith("https://") \
                and not self.oidc_allow_http:
            raise ValueError("CASE_LEDGER_OIDC_ISSUER must be an https URL in production "
                             "(or CASE_LEDGER_OIDC_ALLOW_HTTP=true, said out loud)")
        return self


class ObjectStoreSettings(BaseSettings):
    """Where the S3 object store is: the embedded SeaweedFS by default, a real S3 when S3_ENDPOINT is set."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    endpoint: str | None = Field(None, validation_alias="S3_ENDPOINT")
    access_key_id: str | None = Field(None, validation_alias="S3_ACCESS_KEY_ID")
    secret_access_key: str | None = Field(None, validation_alias="S3_SECRET_ACCESS_KEY")
    region: str = Field("us-east-1", validation_alias="S3_REGION")
    broker_bucket: str = Field("case-ledger-broker", pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$",
                               validation_alias="S3_BROKER_BUCKET")
    records_bucket: str = Field("case-ledger-records", pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$",
                                validation_alias="S3_RECORDS_BUCKET")
