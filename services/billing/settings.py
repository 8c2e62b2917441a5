from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.billing.pricing import DEFAULT_FILE
from services.common.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore", frozen=True)

    price_book: Path = Field(DEFAULT_FILE, validation_alias="BILLING_PRICE_BOOK")
    payment_provider: Literal["simulated"] = Field("simulated", validation_alias="BILLING_PAYMENT_PROVIDER")
    # Production refuses the simulated provider unless this says so out loud (a staging demo).
    allow_simulated_provider: bool = Field(False, validation_alias="BILLING_ALLOW_SIMULATED_PROVIDER")

    @model_validator(mode="after")
    def _no_simulated_money_in_production(self) -> "BillingSettings":
        if (self.environment == "production" and self.payment_provider == "simulated"
                and not self.allow_simulated_provider):
            raise ValueError("production needs a real payment provider adapter "
                             "(or BILLING_ALLOW_SIMULATED_PROVIDER=true for a staging demo)")
        return self
