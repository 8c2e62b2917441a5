from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class RoutingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_", extra="ignore", frozen=True)
