
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import MasterKey, ServiceSettings, key_bytes


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", frozen=True)

    # Wraps every patient's own key; base64 of 32 bytes. The embedded stack generates one per
    # checkout (.run/secrets.env); elsewhere it comes from the secret store. No default anywhere.
    master_key: MasterKey = Field(validation_alias="INTAKE_MASTER_KEY")
    max_record_bytes: int = Field(50 * 2**20, ge=1, validation_alias="INTAKE_MAX_RECORD_BYTES")
    max_dicom_bytes: int = Field(500 * 2**20, ge=1, validation_alias="INTAKE_MAX_DICOM_BYTES")
    # 0 switches the live reminder/expiry sweep off, e.g. while a simulator drives time.
    timer_period_s: float = Field(60.0, ge=0, validation_alias="INTAKE_TIMER_PERIOD")
    # Where review's API is reached: the FHIR export links each report and addendum there.
    review_url: str = Field("http://localhost:8003", pattern=r"^https?://[^\s/]+(/[^\s]*[^\s/])?$",
                            validation_alias="INTAKE_REVIEW_URL")

    @property
    def max_upload_bytes(self) -> int:
        # A multipart body carries the file plus its form fields and boundaries.
        return max(self.max_record_bytes, self.max_dicom_bytes) + 64 * 1024

    def master_key_bytes(self) -> bytes:
        return key_bytes(self.master_key)
