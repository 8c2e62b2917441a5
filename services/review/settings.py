from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import MasterKey, ServiceSettings, key_bytes


class ReviewSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEW_", extra="ignore", frozen=True)

    # An operator's calendar file adds or replaces years (e.g. next year's official schedule).
    calendar_file: Path | None = Field(None, validation_alias="REVIEW_CALENDAR_FILE")
    # 0 switches the live sweep off, e.g. while a simulator drives time through POST /admin/timers.
    sla_timer_period_s: float = Field(60.0, ge=0, validation_alias="REVIEW_SLA_TIMER_PERIOD")
    # Wraps each case's data key for its reports and follow-up texts; base64 of 32 bytes. The
    # embedded stack generates one per checkout (.run/secrets.env). No default anywhere.
    master_key: MasterKey = Field(validation_alias="REVIEW_MASTER_KEY")
    max_report_bytes: int = Field(30 * 2**20, ge=1024, validation_alias="REVIEW_MAX_REPORT_BYTES")
    # Reading an uploaded PDF (services/review/pdfcheck.py, a child process): its CPU seconds, its
    # wall-clock seconds (a loaded machine stretches them) and how far its streams may inflate.
    pdf_cpu_s: float = Field(5.0, ge=1, le=120, validation_alias="REVIEW_PDF_CPU_S")
    pdf_wall_s: float = Field(30.0, ge=1, le=600, validation_alias="REVIEW_PDF_WALL_S")
    pdf_inflate_bytes: int = Field(256 * 2**20, ge=2**20, validation_alias="REVIEW_PDF_INFLATE_BYTES")
    # Cleveland Clinic MyConsult answers up to three follow-up questions after the opinion.
    follow_up_limit: int = Field(3, ge=0, le=10, validation_alias="REVIEW_FOLLOW_UP_LIMIT")
    follow_up_business_days: int = Field(3, ge=1, le=30, validation_alias="REVIEW_FOLLOW_UP_BUSINESS_DAYS")

    @property
    def max_upload_bytes(self) -> int:
        # A multipart body carries the file plus its form fields and boundaries.
        return self.max_report_bytes + 64 * 1024

    def master_key_bytes(self) -> bytes:
        return key_bytes(self.master_key)
