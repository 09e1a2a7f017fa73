"""The per-request context: who is calling, DataLoaders, the dispatcher for recorded events,
`enqueue(job name, *args, _job_id=...)` for work the workers do (the seam in front of arq), and the
process's cache of catalog reads (none outside the HTTP API), and the webhook policy (which URLs endpoints
may have)."""
from dataclasses import dataclass, field

from app.config import WebhookSettings
from app.graphql.auth import Principal
from app.graphql.loaders import Loaders
from app.graphql.read_cache import ReadCache


@dataclass
class Context:
    principal: Principal | None
    dispatch: object
    enqueue: object = None
    request_id: str = ""
    request: object = None
    loaders: Loaders = field(default_factory=Loaders)
    read_cache: ReadCache | None = None
    redis: object = None
    meter_dedup_seconds: int = 600
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
