"""ActiveEntitlement and ActiveEntitlementSummary."""
import strawberry
from strawberry.types import Info

from app.graphql.pagination import Connection
from app.graphql.types.catalog import Feature
from app.graphql.types.common import Node, model_type
from app.graphql.types.customers import Customer
from app.models import catalog, customers
from app.models import entitlements as m


@strawberry.type(name="ActiveEntitlement")
class ActiveEntitlement(Node):
    is_type_of = model_type(m.ActiveEntitlement)
    id: strawberry.ID
    lookup_key: str

    @strawberry.field
    async def feature(self, info: Info) -> Feature:
        return await info.context.loaders.load(catalog.Feature, self.feature_id)


@strawberry.type(name="ActiveEntitlementSummary")
class ActiveEntitlementSummary:
    customer_id: strawberry.Private[str]

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return await info.context.loaders.load(customers.Customer, self.customer_id)

    @strawberry.field
    async def entitlements(self, info: Info, first: int | None = None,
                           after: str | None = None) -> Connection[ActiveEntitlement]:
        return await info.context.loaders.page(m.ActiveEntitlement, "customer_id", self.customer_id, first, after)
