"""Settings from the environment (BILLING_*), read once into one object."""
import os
from dataclasses import dataclass, field


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


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
    log_level: str = "INFO"
    meter_dedup_seconds: int = 600
    meter_drain_entries: int = 10
    meter_claim_idle_seconds: float = 30.0
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
        log_level=os.environ.get("BILLING_LOG_LEVEL", "INFO"),
        meter_dedup_seconds=max(600, _int("BILLING_METER_DEDUP_SECONDS", 600)),
        meter_drain_entries=_int("BILLING_METER_DRAIN_ENTRIES", 10),
        meter_claim_idle_seconds=float(os.environ.get("BILLING_METER_CLAIM_IDLE_SECONDS", 30)),
    )
