"""Product, Price (with tiers, recurring, transform_quantity), Feature and ProductFeature."""
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.graphql.enums import (
    AggregateUsage,
    BillingScheme,
    PriceType,
    RecurringInterval,
    RoundingMode,
    TiersMode,
    UsageType,
)
from app.graphql.pagination import Connection
from app.graphql.scalars import BigInt
from app.graphql.types.common import Node, model_type
from app.models import catalog as m
from app.models import meters

if TYPE_CHECKING:
    from app.graphql.types.meters import Meter


@strawberry.type
class Recurring:
    interval: RecurringInterval
    interval_count: int
    usage_type: UsageType
    aggregate_usage: AggregateUsage | None
    meter_id: strawberry.Private[str | None] = None

    @strawberry.field
    async def meter(self, info: Info) -> Annotated["Meter", strawberry.lazy("app.graphql.types.meters")] | None:
        return await info.context.loaders.load(meters.Meter, self.meter_id)


@strawberry.type
class PriceTier:
    up_to: BigInt | None = strawberry.field(description="null means infinity: the last tier")
    unit_amount: BigInt | None
    unit_amount_decimal: Decimal | None
    flat_amount: BigInt | None
    flat_amount_decimal: Decimal | None


@strawberry.type
class TransformQuantity:
    divide_by: BigInt
    round: RoundingMode


def _decimal(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


@strawberry.type(name="Product")
class Product(Node):
    is_type_of = model_type(m.Product)
    id: strawberry.ID
    deleted: bool
    name: str
    description: str | None
    active: bool
    metadata: JSON
    created: datetime
    updated: datetime

    @strawberry.field
    async def default_price(self, info: Info) -> "Price | None":
        return await info.context.loaders.load(m.Price, self.default_price_id)

    @strawberry.field
    async def prices(self, info: Info, first: int | None = None, after: str | None = None,
                     active: bool | None = None) -> Connection["Price"]:
        filters = {} if active is None else {"active": active}
        return await info.context.loaders.page(m.Price, "product_id", self.id, first, after, **filters)

    @strawberry.field
    async def features(self, info: Info, first: int | None = None,
                       after: str | None = None) -> Connection["ProductFeature"]:
        return await info.context.loaders.page(m.ProductFeature, "product_id", self.id, first, after)


@strawberry.type(name="Price")
class Price(Node):
    is_type_of = model_type(m.Price)
    id: strawberry.ID
    active: bool
    currency: str
    type: PriceType
    billing_scheme: BillingScheme
    unit_amount: BigInt | None
    tiers_mode: TiersMode | None
    lookup_key: str | None
    nickname: str | None
    metadata: JSON
    created: datetime

    @strawberry.field
    async def product(self, info: Info) -> Product:
        return await info.context.loaders.load(m.Product, self.product_id)

    @strawberry.field
    def unit_amount_decimal(self) -> Decimal | None:
        if self.unit_amount_decimal is not None:
            return self.unit_amount_decimal
        return Decimal(self.unit_amount) if self.unit_amount is not None else None

    @strawberry.field
    def tiers(self) -> list[PriceTier] | None:
        if self.tiers is None:
            return None
        return [PriceTier(up_to=t["up_to"], unit_amount=t["unit_amount"],
                          unit_amount_decimal=_decimal(t["unit_amount_decimal"]) if t["unit_amount"] is None
                          else Decimal(t["unit_amount"]),
                          flat_amount=t["flat_amount"],
                          flat_amount_decimal=_decimal(t["flat_amount_decimal"]) if t["flat_amount"] is None
                          else Decimal(t["flat_amount"]))
                for t in self.tiers]

    @strawberry.field
    def transform_quantity(self) -> TransformQuantity | None:
        t = self.transform_quantity
        return TransformQuantity(divide_by=t["divide_by"], round=RoundingMode(t["round"])) if t else None

    @strawberry.field
    def recurring(self) -> Recurring | None:
        if not self.recurring_interval:
            return None
        return Recurring(
            interval=RecurringInterval(self.recurring_interval), interval_count=self.recurring_interval_count,
            usage_type=UsageType(self.recurring_usage_type),
            aggregate_usage=AggregateUsage(self.recurring_aggregate_usage)
            if self.recurring_aggregate_usage else None,
            meter_id=self.recurring_meter_id,
        )


@strawberry.type(name="Feature")
class Feature(Node):
    is_type_of = model_type(m.Feature)
    id: strawberry.ID
    name: str
    lookup_key: str
    active: bool
    metadata: JSON
    created: datetime


@strawberry.type(name="ProductFeature")
class ProductFeature(Node):
    is_type_of = model_type(m.ProductFeature)
    id: strawberry.ID

    @strawberry.field
    async def product(self, info: Info) -> Product:
        return await info.context.loaders.load(m.Product, self.product_id)

    @strawberry.field
    async def entitlement_feature(self, info: Info) -> Feature:
        return await info.context.loaders.load(m.Feature, self.feature_id)
