"""The live app's settings, validated at start (LIVE_* plus the stack's shared variables).

The faust timings are ours, not faust's defaults: on the embedded broker a group rejoin took
~113 s with faust's defaults, and the app made ~84 events/s with one changelog write per update
and an unbatched producer (see docs/live.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LiveSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIVE_", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = Field(validation_alias="KAFKA_BOOTSTRAP_SERVERS", min_length=3)
    topic_partitions: int = Field(6, ge=1, le=256, validation_alias="CASE_LEDGER_TOPIC_PARTITIONS")
    simulated_time: bool = Field(False, validation_alias="CASE_LEDGER_SIMULATED_TIME")
    # The consumer group, and the prefix of the changelog topic (<app_id>-live-changelog).
    app_id: str = Field("case-ledger-live", pattern=r"^[a-z][a-z0-9.-]{2,62}$")
    # The web server (/metrics, /healthz, /readyz, /windows, /progress); never faust's 6066 by accident.
    port: int = Field(8006, ge=1, le=65535)
    bind: str = "127.0.0.1"
    # "now" for ages and for the current window: the wall clock in service; with simulated time
    # (the demo, the tests) the newest event time the app holds, so a simulated year reads as lived.
    clock: Literal["wall", "event"] | None = None

    # --- batching: one changelog write per touched key per batch, not one per event.
    batch_max: int = Field(2000, ge=1, le=100_000)
    batch_within_s: float = Field(0.2, gt=0, le=10)
    # --- consumer-group timings: a rejoin in seconds (faust's defaults took ~113 s on Tansu).
    session_timeout_s: float = Field(10.0, gt=0, le=300)
    heartbeat_interval_s: float = Field(1.0, gt=0, le=60)
    rebalance_timeout_s: float = Field(10.0, gt=0, le=300)
    max_poll_interval_s: float = Field(30.0, gt=0, le=3600)
    request_timeout_s: float = Field(30.0, gt=0, le=600)
    # Static membership (KIP-345): a restarted worker takes its old member's place instead of waiting
    # for that member's session to expire. None: dynamic membership.
    group_instance_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    # --- commits: every this many seconds or acked messages, whichever first (each commit flushes
    # the producer first, so committed offsets never run ahead of the changelog).
    commit_interval_s: float = Field(1.0, gt=0, le=60)
    commit_every: int = Field(10_000, ge=1)
    # --- the producer of the changelog: batched, acks from all replicas.
    producer_linger_s: float = Field(0.05, ge=0, le=5)
    producer_max_batch_bytes: int = Field(1_048_576, ge=16_384)
    # --- the consumer: fewer, larger fetches (the embedded broker lists a partition's objects on each).
    max_fetch_bytes: int = Field(4_194_304, ge=65_536)
    max_poll_records: int = Field(2000, ge=1)
    stream_buffer_maxsize: int = Field(8192, ge=1)

    @model_validator(mode="after")
    def _timings_fit(self) -> LiveSettings:
        if self.heartbeat_interval_s * 3 > self.session_timeout_s:
            raise ValueError("heartbeat_interval_s must be at most a third of session_timeout_s")
        if self.session_timeout_s > self.request_timeout_s:
            raise ValueError("session_timeout_s cannot exceed request_timeout_s (aiokafka refuses it)")
        return self

    @property
    def event_clock(self) -> bool:
        return self.clock == "event" if self.clock else self.simulated_time

    def broker_urls(self) -> list[str]:
        return [f"kafka://{server.strip()}" for server in self.kafka_bootstrap_servers.split(",") if server.strip()]
