"""The Query field of active entitlements."""
import strawberry
from strawberry.types import Info

from app.billing.lookup import get
from app.graphql.pagination import Connection
from app.graphql.types.entitlements import ActiveEntitlement
from app.models import customers, entitlements


@strawberry.type
class EntitlementQueries:
    @strawberry.field(description="The features the customer may use now, newest first.")
    async def active_entitlements(self, info: Info, customer: strawberry.ID, first: int | None = None,
                                  after: str | None = None) -> Connection[ActiveEntitlement]:
        await get(customers.Customer, customer, "customer")
        return await info.context.loaders.page(entitlements.ActiveEntitlement, "customer_id", customer, first, after)
