"""UsageRecord and UsageRecordSummary (legacy usage reporting of metered subscription items)."""
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from app.graphql.enums import UsageRecordAction
from app.graphql.scalars import BigInt
from app.graphql.types.common import Node, Period, model_type
from app.models import invoices, subscriptions
from app.models import usage_records as m

SubscriptionItem = Annotated["SubscriptionItem", strawberry.lazy("app.graphql.types.billing")]
Invoice = Annotated["Invoice", strawberry.lazy("app.graphql.types.billing")]


@strawberry.type(name="UsageRecord")
class UsageRecord(Node):
    is_type_of = model_type(m.UsageRecord)
    id: strawberry.ID
    quantity: BigInt
    timestamp: datetime
    action: UsageRecordAction
    created: datetime

    @strawberry.field
    async def subscription_item(self, info: Info) -> SubscriptionItem:
        return await info.context.loaders.load(subscriptions.SubscriptionItem, self.subscription_item_id)


@strawberry.type(name="UsageRecordSummary")
class UsageRecordSummary:
    id: strawberry.ID
    total_usage: BigInt
    subscription_item_id: strawberry.Private[str]
    invoice_id: strawberry.Private[str | None]
    period_start: strawberry.Private[datetime]
    period_end: strawberry.Private[datetime]

    @strawberry.field
    def period(self) -> Period:
        return Period(start=self.period_start, end=self.period_end)

    @strawberry.field
    async def subscription_item(self, info: Info) -> SubscriptionItem:
        return await info.context.loaders.load(subscriptions.SubscriptionItem, self.subscription_item_id)

    @strawberry.field
    async def invoice(self, info: Info) -> Invoice | None:
        return await info.context.loaders.load(invoices.Invoice, self.invoice_id)
