from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings
from services.routing.registry import DEFAULT_FILE


class RoutingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_", extra="ignore", frozen=True)

    centre_registry: Path = Field(DEFAULT_FILE, validation_alias="ROUTING_CENTRE_REGISTRY")
