"""The per-request context: who is calling, DataLoaders, the dispatcher for recorded events,
`enqueue(job name, *args, _job_id=...)` for work the workers do (the seam in front of arq), and the
process's cache of catalog reads (none outside the HTTP API), the webhook policy (which URLs endpoints
may have), and its live bus for subscriptions.

Over a websocket, one context serves the whole connection (strawberry builds it once): its principal comes
from connection_init, and live-update streams give it fresh DataLoaders for each message they send."""
from dataclasses import dataclass, field

from app.config import WebhookSettings
from app.graphql.auth import Principal
from app.graphql.loaders import Loaders
from app.graphql.read_cache import ReadCache
from app.live_bus import LiveBus


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
    meter_consumer: str = ""  # the process's name in the meter stream's consumer group
    meter_dedup_seconds: int = 600
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    bus: LiveBus | None = None
    connection_params: dict | None = None  # a websocket's connection_init payload
    websocket: object = None
    expiry: object = None  # a customer session's websocket: the timer that closes it when the session ends
