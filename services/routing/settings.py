from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings
from services.routing.centres import DEFAULT_FILE


class RoutingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_", extra="ignore", frozen=True)

    # The partner centres (services/routing/centres.json by default).
    centres_file: Path = Field(DEFAULT_FILE, validation_alias="ROUTING_CENTRE_REGISTRY")
    # Business days of the centres' calendar a centre has to accept a case routed to it; when the
    # last one ends without an answer the case is withdrawn and re-routed (docs/routing.md).
    acceptance_business_days: int = Field(2, ge=1, le=20, validation_alias="ROUTING_ACCEPTANCE_BUSINESS_DAYS")
    # The centres' calendar is one: routing reads review's operator file unless told otherwise,
    # so a year the operator adds counts the same for the acceptance deadline and the SLA clock.
    calendar_file: Path | None = Field(None, validation_alias=AliasChoices("ROUTING_CALENDAR_FILE",
                                                                           "REVIEW_CALENDAR_FILE"))
    # 0 switches the live acceptance sweep off, e.g. while a simulator drives time through POST /admin/timers.
    timer_period_s: float = Field(60.0, ge=0, validation_alias="ROUTING_TIMER_PERIOD")
