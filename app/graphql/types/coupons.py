"""Coupon and Discount."""
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.billing.coupons import is_valid
from app.clock import utcnow
from app.graphql.enums import CouponDuration
from app.graphql.scalars import BigInt
from app.graphql.types.common import Node, model_type
from app.models import catalog, customers, subscriptions
from app.models import coupons as m

Product = Annotated["Product", strawberry.lazy("app.graphql.types.catalog")]
Customer = Annotated["Customer", strawberry.lazy("app.graphql.types.customers")]
Subscription = Annotated["Subscription", strawberry.lazy("app.graphql.types.billing")]


@strawberry.type(name="Coupon")
class Coupon(Node):
    is_type_of = model_type(m.Coupon)
    id: strawberry.ID
    deleted: bool
    name: str | None
    amount_off: BigInt | None
    currency: str | None
    percent_off: Decimal | None
    duration: CouponDuration
    duration_in_months: int | None
    max_redemptions: int | None
    times_redeemed: int
    redeem_by: datetime | None
    metadata: JSON
    created: datetime

    @strawberry.field
    def valid(self) -> bool:
        return is_valid(self, utcnow())

    @strawberry.field
    async def applies_to_products(self, info: Info) -> list[Product] | None:
        if self.applies_to_products is None:
            return None
        products = await info.context.loaders.by_id(catalog.Product).load_many(self.applies_to_products)
        return [p for p in products if p is not None]


@strawberry.type(name="Discount")
class Discount(Node):
    is_type_of = model_type(m.Discount)
    id: strawberry.ID
    start: datetime
    end: datetime | None

    @strawberry.field
    async def coupon(self, info: Info) -> Coupon:
        return await info.context.loaders.load(m.Coupon, self.coupon_id)

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        return await info.context.loaders.load(customers.Customer, self.customer_id)

    @strawberry.field
    async def subscription(self, info: Info) -> Subscription | None:
        return await info.context.loaders.load(subscriptions.Subscription, self.subscription_id)
