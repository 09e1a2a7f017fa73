"""Query fields for webhook endpoints (their deliveries hang off each endpoint)."""
import strawberry
from strawberry.types import Info

from app.billing.lookup import could_exist
from app.graphql.pagination import Connection, paginate
from app.graphql.types.webhooks import WebhookEndpoint
from app.models import webhooks


@strawberry.type
class WebhookQueries:
    @strawberry.field(description="Newest first; deleted endpoints are not listed.")
    async def webhook_endpoints(self, first: int | None = None,
                                after: str | None = None) -> Connection[WebhookEndpoint]:
        return await paginate(webhooks.WebhookEndpoint.filter(deleted=False), first, after)

    @strawberry.field(description="null once deleted.")
    async def webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpoint | None:
        endpoint = await info.context.loaders.load(webhooks.WebhookEndpoint, id) \
            if could_exist(webhooks.WebhookEndpoint, id) else None
        return None if endpoint is None or endpoint.deleted else endpoint
