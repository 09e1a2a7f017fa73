"""Mutations on test clocks."""
from datetime import datetime

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from app.billing import clocks
from app.graphql.mutations import plain, run
from app.graphql.types.clocks import TestClock
from app.graphql.types.common import DeletedObject


@strawberry.input
class CreateTestClockInput:
    frozen_time: datetime
    name: str | None = UNSET


@strawberry.type
class ClockMutations:
    @strawberry.mutation
    async def create_test_clock(self, info: Info, input: CreateTestClockInput) -> TestClock:
        return await run(info, lambda: clocks.create_test_clock(**plain(input)))

    @strawberry.mutation
    async def delete_test_clock(self, info: Info, id: strawberry.ID) -> DeletedObject:
        clock = await run(info, lambda: clocks.delete_test_clock(id))
        return DeletedObject(id=clock.id)
