"""Mutations on coupons."""
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON
from strawberry.types import Info

from app.billing import coupons
from app.graphql.enums import CouponDuration
from app.graphql.mutations import plain, provided, run
from app.graphql.scalars import BigInt
from app.graphql.types.common import DeletedObject
from app.graphql.types.coupons import Coupon


@strawberry.input
class CreateCouponInput:
    duration: CouponDuration
    id: str | None = UNSET
    name: str | None = UNSET
    duration_in_months: int | None = UNSET
    percent_off: Decimal | None = UNSET
    amount_off: BigInt | None = UNSET
    currency: str | None = UNSET
    max_redemptions: int | None = UNSET
    redeem_by: datetime | None = UNSET
    applies_to_products: list[strawberry.ID] | None = UNSET
    metadata: JSON | None = UNSET


@strawberry.input
class UpdateCouponInput:
    name: str | None = UNSET
    metadata: JSON | None = UNSET


@strawberry.type
class CouponMutations:
    @strawberry.mutation
    async def create_coupon(self, info: Info, input: CreateCouponInput) -> Coupon:
        return await run(info, lambda: coupons.create_coupon(**plain(input)))

    @strawberry.mutation
    async def update_coupon(self, info: Info, id: strawberry.ID, input: UpdateCouponInput) -> Coupon:
        return await run(info, lambda: coupons.update_coupon(id, provided(input)))

    @strawberry.mutation
    async def delete_coupon(self, info: Info, id: strawberry.ID) -> DeletedObject:
        coupon = await run(info, lambda: coupons.delete_coupon(id))
        return DeletedObject(id=coupon.id)
