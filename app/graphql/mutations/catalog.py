"""Mutations on products, prices, features and product features."""
from decimal import Decimal

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON
from strawberry.types import Info

from app.billing import features, prices, products
from app.graphql.enums import (
    AggregateUsage,
    BillingScheme,
    PriceType,
    RecurringInterval,
    RoundingMode,
    TiersMode,
    UsageType,
)
from app.graphql.mutations import plain, provided, run
from app.graphql.scalars import BigInt
from app.graphql.types.catalog import Feature, Price, Product, ProductFeature
from app.graphql.types.common import DeletedObject


@strawberry.input
class CreateProductInput:
    name: str
    description: str | None = UNSET
    active: bool | None = UNSET
    metadata: JSON | None = UNSET
    id: str | None = UNSET


@strawberry.input
class UpdateProductInput:
    name: str | None = UNSET
    description: str | None = UNSET
    active: bool | None = UNSET
    metadata: JSON | None = UNSET
    default_price: strawberry.ID | None = UNSET


@strawberry.input
class RecurringInput:
    interval: RecurringInterval
    interval_count: int | None = UNSET
    usage_type: UsageType | None = UNSET
    aggregate_usage: AggregateUsage | None = UNSET
    meter: strawberry.ID | None = UNSET


@strawberry.input
class PriceTierInput:
    up_to: BigInt | None = strawberry.field(default=UNSET, description="null means infinity; only the last tier "
                                                                       "may be open-ended")
    unit_amount: BigInt | None = UNSET
    unit_amount_decimal: Decimal | None = UNSET
    flat_amount: BigInt | None = UNSET
    flat_amount_decimal: Decimal | None = UNSET


@strawberry.input
class TransformQuantityInput:
    divide_by: BigInt
    round: RoundingMode


@strawberry.input
class CreatePriceInput:
    product: strawberry.ID
    currency: str
    unit_amount: BigInt | None = UNSET
    unit_amount_decimal: Decimal | None = UNSET
    type: PriceType | None = strawberry.field(default=UNSET, description="Defaults to RECURRING when recurring is "
                                                                         "given, else ONE_TIME.")
    recurring: RecurringInput | None = UNSET
    billing_scheme: BillingScheme | None = UNSET
    tiers_mode: TiersMode | None = UNSET
    tiers: list[PriceTierInput] | None = UNSET
    transform_quantity: TransformQuantityInput | None = UNSET
    lookup_key: str | None = UNSET
    transfer_lookup_key: bool | None = UNSET
    nickname: str | None = UNSET
    active: bool | None = UNSET
    metadata: JSON | None = UNSET


@strawberry.input
class UpdatePriceInput:
    active: bool | None = UNSET
    nickname: str | None = UNSET
    lookup_key: str | None = UNSET
    transfer_lookup_key: bool | None = UNSET
    metadata: JSON | None = UNSET


@strawberry.input
class CreateFeatureInput:
    name: str
    lookup_key: str
    metadata: JSON | None = UNSET


@strawberry.input
class UpdateFeatureInput:
    name: str | None = UNSET
    active: bool | None = strawberry.field(default=UNSET, description="false archives the feature; an archived "
                                                                      "feature cannot be unarchived")
    metadata: JSON | None = UNSET


@strawberry.type
class CatalogMutations:
    @strawberry.mutation
    async def create_product(self, info: Info, input: CreateProductInput) -> Product:
        return await run(info, lambda: products.create_product(**plain(input)))

    @strawberry.mutation
    async def update_product(self, info: Info, id: strawberry.ID, input: UpdateProductInput) -> Product:
        return await run(info, lambda: products.update_product(id, provided(input)))

    @strawberry.mutation(description="Only a product with no prices can be deleted.")
    async def delete_product(self, info: Info, id: strawberry.ID) -> DeletedObject:
        product = await run(info, lambda: products.delete_product(id))
        return DeletedObject(id=product.id)

    @strawberry.mutation
    async def create_price(self, info: Info, input: CreatePriceInput) -> Price:
        return await run(info, lambda: prices.create_price(**plain(input)))

    @strawberry.mutation
    async def update_price(self, info: Info, id: strawberry.ID, input: UpdatePriceInput) -> Price:
        return await run(info, lambda: prices.update_price(id, provided(input)))

    @strawberry.mutation
    async def create_feature(self, info: Info, input: CreateFeatureInput) -> Feature:
        return await run(info, lambda: features.create_feature(**plain(input)))

    @strawberry.mutation
    async def update_feature(self, info: Info, id: strawberry.ID, input: UpdateFeatureInput) -> Feature:
        return await run(info, lambda: features.update_feature(id, provided(input)))

    @strawberry.mutation
    async def create_product_feature(self, info: Info, product: strawberry.ID,
                                     entitlement_feature: strawberry.ID) -> ProductFeature:
        return await run(info, lambda: features.attach_feature(product, entitlement_feature))

    @strawberry.mutation
    async def delete_product_feature(self, info: Info, product: strawberry.ID, id: strawberry.ID) -> DeletedObject:
        attachment = await run(info, lambda: features.detach_feature(product, id))
        return DeletedObject(id=attachment.id)
