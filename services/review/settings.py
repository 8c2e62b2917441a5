from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class ReviewSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEW_", extra="ignore", frozen=True)

    # An operator's calendar file adds or replaces years (e.g. next year's official schedule).
    calendar_file: Path | None = Field(None, validation_alias="REVIEW_CALENDAR_FILE")
    # 0 switches the live sweep off, e.g. while a simulator drives time through POST /admin/timers.
    sla_timer_period_s: float = Field(60.0, ge=0, validation_alias="REVIEW_SLA_TIMER_PERIOD")
