"""createUsageRecord."""
from datetime import datetime

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from app.billing import usage_records
from app.graphql.enums import UsageRecordAction
from app.graphql.mutations import plain, run
from app.graphql.scalars import BigInt
from app.graphql.types.usage_records import UsageRecord


@strawberry.input
class CreateUsageRecordInput:
    subscription_item: strawberry.ID
    quantity: BigInt
    action: UsageRecordAction | None = UNSET
    timestamp: datetime | None = UNSET


@strawberry.type
class UsageRecordMutations:
    @strawberry.mutation(description="Reports usage of a metered item (price without a meter) at a timestamp in "
                                     "the current period, not in the future: INCREMENT adds, SET replaces the "
                                     "usage at that timestamp.")
    async def create_usage_record(self, info: Info, input: CreateUsageRecordInput) -> UsageRecord:
        return await run(info, lambda: usage_records.create_usage_record(**plain(input)))
