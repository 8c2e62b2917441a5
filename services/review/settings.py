from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class ReviewSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEW_", extra="ignore", frozen=True)
