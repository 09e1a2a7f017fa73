"""Settings from the environment (BILLING_*), read once into one object."""
import os
from dataclasses import dataclass, field


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class WebhookSettings:
    """Delivery policy: retries double from first_retry_seconds up to max_retry_seconds, for retry_hours
    after the event; an endpoint failing for disable_after_hours is disabled."""

    allow_private: bool = False
    timeout_seconds: float = 10.0
    first_retry_seconds: float = 60.0
    max_retry_seconds: float = 12 * 3600.0
    retry_hours: float = 72.0
    disable_after_hours: float = 72.0


def load_webhook_settings() -> WebhookSettings:
    return WebhookSettings(
        allow_private=_flag("BILLING_WEBHOOK_ALLOW_PRIVATE"),
        timeout_seconds=_float("BILLING_WEBHOOK_TIMEOUT_SECONDS", 10.0),
        first_retry_seconds=_float("BILLING_WEBHOOK_FIRST_RETRY_SECONDS", 60.0),
        max_retry_seconds=_float("BILLING_WEBHOOK_MAX_RETRY_SECONDS", 12 * 3600.0),
        retry_hours=_float("BILLING_WEBHOOK_RETRY_HOURS", 72.0),
        disable_after_hours=_float("BILLING_WEBHOOK_DISABLE_AFTER_HOURS", 72.0),
    )


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = "var"
    max_body_bytes: int = 1_048_576
    max_query_depth: int = 10
    max_query_cost: int = 50_000
    idempotency_ttl_seconds: int = 24 * 3600
    db_pool_size: int = 10
    api_key_cache_seconds: int = 10
    read_cache_seconds: int = 30
    cycle_chunk: int = 100
    log_level: str = "INFO"
    meter_dedup_seconds: int = 600
    meter_drain_entries: int = 10
    meter_claim_idle_seconds: float = 30.0
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    extra: dict = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """True when running on the embedded SQLite file (no database URL configured)."""
        return not self.database_url

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite://{os.path.join(self.data_dir, 'billing.db')}"


def load() -> Settings:
    return Settings(
        database_url=os.environ.get("BILLING_DATABASE_URL") or None,
        redis_url=os.environ.get("BILLING_REDIS_URL") or None,
        secret_key=os.environ.get("BILLING_SECRET_KEY") or None,
        host=os.environ.get("BILLING_HOST", "127.0.0.1"),
        port=_int("BILLING_PORT", 8000),
        data_dir=os.environ.get("BILLING_DATA_DIR", "var"),
        max_body_bytes=_int("BILLING_MAX_BODY_BYTES", 1_048_576),
        max_query_depth=_int("BILLING_MAX_QUERY_DEPTH", 10),
        max_query_cost=_int("BILLING_MAX_QUERY_COST", 50_000),
        db_pool_size=_int("BILLING_DB_POOL_SIZE", 10),
        api_key_cache_seconds=_int("BILLING_API_KEY_CACHE_SECONDS", 10),
        read_cache_seconds=_int("BILLING_READ_CACHE_SECONDS", 30),
        cycle_chunk=max(1, _int("BILLING_CYCLE_CHUNK", 100)),
        log_level=os.environ.get("BILLING_LOG_LEVEL", "INFO"),
        meter_dedup_seconds=max(600, _int("BILLING_METER_DEDUP_SECONDS", 600)),
        meter_drain_entries=_int("BILLING_METER_DRAIN_ENTRIES", 10),
        meter_claim_idle_seconds=float(os.environ.get("BILLING_METER_CLAIM_IDLE_SECONDS", 30)),
        webhook=load_webhook_settings(),
    )
