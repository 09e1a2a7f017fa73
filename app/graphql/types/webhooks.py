"""WebhookEndpoint, its deliveries and their attempts."""
from datetime import datetime

import strawberry
from strawberry.types import Info

from app.graphql.enums import WebhookEndpointStatus
from app.graphql.pagination import Connection
from app.graphql.types.common import Node, model_type
from app.graphql.types.events import Event
from app.models import events
from app.models import webhooks as m


@strawberry.type(name="WebhookDeliveryAttempt")
class WebhookDeliveryAttempt:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@strawberry.type(name="WebhookDelivery")
class WebhookDelivery(Node):
    is_type_of = model_type(m.WebhookDelivery)
    id: strawberry.ID
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created: datetime
    status: str = strawberry.field(description="pending, succeeded, failed (retries ran out) or canceled (the "
                                               "endpoint was disabled or deleted first)")
    event_id: strawberry.Private[str]
    next_attempt_at: strawberry.Private[datetime | None]
    attempt_log: strawberry.Private[list[dict]]

    @strawberry.field
    async def event(self, info: Info) -> Event:
        return await info.context.loaders.load(events.Event, self.event_id)

    @strawberry.field(name="attemptLog")
    def attempt_log_(self) -> list[WebhookDeliveryAttempt]:
        """Oldest first."""
        return [WebhookDeliveryAttempt(at=datetime.fromisoformat(a["at"]), status_code=a["status_code"],
                                       error=a["error"], duration_ms=a["duration_ms"]) for a in self.attempt_log]

    @strawberry.field
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @strawberry.field
    def next_retry_at(self) -> datetime | None:
        """When the next attempt is due; null once it succeeded, ran out of retries or was canceled."""
        return self.next_attempt_at if self.status == "pending" else None


@strawberry.type(name="WebhookEndpoint")
class WebhookEndpoint(Node):
    is_type_of = model_type(m.WebhookEndpoint)
    id: strawberry.ID
    url: str
    enabled_events: list[str]
    status: WebhookEndpointStatus
    description: str | None
    created: datetime

    @strawberry.field(description="Only set in the answers to createWebhookEndpoint and "
                                  "rotateWebhookEndpointSecret.")
    def secret(self) -> str | None:
        return getattr(self, "revealed_secret", None)

    @strawberry.field
    async def deliveries(self, info: Info, first: int | None = None,
                         after: str | None = None) -> Connection[WebhookDelivery]:
        """Newest first."""
        return await info.context.loaders.page(m.WebhookDelivery, "endpoint_id", self.id, first, after)
