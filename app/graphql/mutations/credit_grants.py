"""createCreditGrant and voidCreditGrant."""
from datetime import datetime

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON
from strawberry.types import Info

from app.billing import credit_grants
from app.graphql.enums import CreditGrantCategory, CreditGrantPriceType
from app.graphql.mutations import plain, run
from app.graphql.scalars import BigInt
from app.graphql.types.credit_grants import CreditGrant


@strawberry.input
class CreditGrantScopeInput:
    price_type: CreditGrantPriceType


@strawberry.input
class CreditGrantApplicabilityConfigInput:
    scope: CreditGrantScopeInput


@strawberry.input
class CreateCreditGrantInput:
    customer: strawberry.ID
    amount: BigInt
    currency: str
    category: CreditGrantCategory
    name: str | None = UNSET
    effective_at: datetime | None = UNSET
    expires_at: datetime | None = UNSET
    priority: int | None = strawberry.field(default=UNSET, description="0 (applied first) to 100; default 50")
    applicability_config: CreditGrantApplicabilityConfigInput | None = strawberry.field(
        default=UNSET, description="default: metered prices, the only scope")
    metadata: JSON | None = UNSET


@strawberry.type
class CreditGrantMutations:
    @strawberry.mutation
    async def create_credit_grant(self, info: Info, input: CreateCreditGrantInput) -> CreditGrant:
        return await run(info, lambda: credit_grants.create_credit_grant(**plain(input)))

    @strawberry.mutation
    async def void_credit_grant(self, info: Info, id: strawberry.ID) -> CreditGrant:
        return await run(info, lambda: credit_grants.void_credit_grant(id))
