from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore", frozen=True)

    # The schemas whose event stores (<schema>.events) publish to the topic the projector consumes:
    # the history a rebuild replays. JSON in the environment: ANALYTICS_REBUILD_SOURCES='["intake"]'.
    rebuild_sources: tuple[str, ...] = Field(("intake", "routing", "review", "billing"), min_length=1)
    # A rebuild that differs from the live tables is retried this often, this long apart: the live
    # projector may just be behind (events not yet consumed) or ahead (appended after the replay).
    rebuild_attempts: int = Field(4, ge=1, le=50)
    rebuild_retry_delay_s: float = Field(2.0, ge=0, le=300)
    # How long the switch may wait for its locks on the live tables before giving up this attempt;
    # while it waits, analysts' queries queue behind it.
    rebuild_lock_timeout_s: float = Field(5.0, gt=0, le=300)
