"""Mutations on webhook endpoints."""
import strawberry
from strawberry import UNSET
from strawberry.types import Info

from app.billing import webhooks
from app.graphql.mutations import provided, run
from app.graphql.types.common import DeletedObject
from app.graphql.types.webhooks import WebhookEndpoint


@strawberry.input
class CreateWebhookEndpointInput:
    url: str
    enabled_events: list[str] = strawberry.field(description='["*"] for every event type')
    description: str | None = UNSET


@strawberry.input
class UpdateWebhookEndpointInput:
    url: str | None = UNSET
    enabled_events: list[str] | None = UNSET
    description: str | None = UNSET
    disabled: bool | None = UNSET


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(description="The answer carries the endpoint's signing secret, the only time it is shown.")
    async def create_webhook_endpoint(self, info: Info, input: CreateWebhookEndpointInput) -> WebhookEndpoint:
        allow_private = info.context.webhooks.allow_private
        return await run(info, lambda: webhooks.create_webhook_endpoint(
            **provided(input), allow_private=allow_private))

    @strawberry.mutation
    async def update_webhook_endpoint(self, info: Info, id: strawberry.ID,
                                      input: UpdateWebhookEndpointInput) -> WebhookEndpoint:
        allow_private = info.context.webhooks.allow_private
        return await run(info, lambda: webhooks.update_webhook_endpoint(
            id, provided(input), allow_private=allow_private))

    @strawberry.mutation
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> DeletedObject:
        endpoint = await run(info, lambda: webhooks.delete_webhook_endpoint(id))
        return DeletedObject(id=endpoint.id)

    @strawberry.mutation(description="A new secret, returned once; the old one keeps signing (a second v1 "
                                     "signature) for expireCurrentAfterHours (default 24).")
    async def rotate_webhook_endpoint_secret(self, info: Info, id: strawberry.ID,
                                             expire_current_after_hours: int | None = None) -> WebhookEndpoint:
        return await run(info, lambda: webhooks.rotate_secret(id, expire_current_after_hours))
