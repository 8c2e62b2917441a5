from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore", frozen=True)
