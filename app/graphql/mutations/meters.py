"""Mutations on meters, meter events and their adjustments, and billing alerts."""
from datetime import datetime

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON
from strawberry.types import Info

from app.billing import alerts, meters, usage
from app.graphql.enums import MeterAggregationFormula
from app.graphql.mutations import flush_usage, plain, provided, run
from app.graphql.scalars import BigInt
from app.graphql.types.meters import (
    BillingAlert,
    Meter,
    MeterEvent,
    MeterEventAdjustment,
    MeterEventBatchError,
    MeterEventBatchResult,
)


@strawberry.input
class CreateMeterInput:
    display_name: str
    event_name: str
    formula: MeterAggregationFormula
    customer_payload_key: str | None = strawberry.field(
        default=UNSET, description="payload key holding the customer id; default stripe_customer_id")
    value_payload_key: str | None = strawberry.field(default=UNSET,
                                                     description="payload key holding the value; default value")


@strawberry.input
class UpdateMeterInput:
    display_name: str | None = UNSET


@strawberry.input
class CreateMeterEventInput:
    event_name: str
    payload: JSON
    identifier: str | None = UNSET
    timestamp: datetime | None = UNSET


@strawberry.input
class CreateMeterEventAdjustmentInput:
    event_name: str
    cancel_identifier: str


@strawberry.input
class CreateBillingAlertInput:
    title: str
    meter: strawberry.ID
    gte: BigInt
    customer: strawberry.ID | None = UNSET

BATCH_DESCRIPTION = """Many events in one request, for high-volume ingestion. accepted counts events newly
taken; duplicates counts repeats of an identifier already taken (not stored again);
errors lists the rest by index. Valid events are taken even when others fail."""


def _plain_event(cls, value, context) -> dict:
    """CreateMeterEventInput as the dict app/billing/usage takes, built straight from graphql-core's coerced
    value: strawberry's generic conversion of 500 input objects cost about half of a batch's API CPU."""
    return {"event_name": value["eventName"], "payload": value["payload"],
            "identifier": value.get("identifier"), "timestamp": value.get("timestamp")}


CreateMeterEventInput.__strawberry_definition__.from_input = _plain_event


@strawberry.type
class MeterMutations:
    @strawberry.mutation
    async def create_meter(self, info: Info, input: CreateMeterInput) -> Meter:
        return await run(info, lambda: meters.create_meter(**plain(input)))

    @strawberry.mutation
    async def update_meter(self, info: Info, id: strawberry.ID, input: UpdateMeterInput) -> Meter:
        return await run(info, lambda: meters.update_meter(id, provided(input)))

    @strawberry.mutation(description="An inactive meter refuses new events (in every API process within a second).")
    async def deactivate_meter(self, info: Info, id: strawberry.ID) -> Meter:
        meter = await run(info, lambda: meters.set_status(id, "inactive"))
        usage.lookups.forget()
        return meter

    @strawberry.mutation
    async def reactivate_meter(self, info: Info, id: strawberry.ID) -> Meter:
        meter = await run(info, lambda: meters.set_status(id, "active"))
        usage.lookups.forget()
        return meter

    @strawberry.mutation
    async def create_meter_event(self, info: Info, input: CreateMeterEventInput) -> MeterEvent:
        context = info.context
        return await usage.accept_one(context.redis, input, dedup_seconds=context.meter_dedup_seconds)

    @strawberry.mutation(description=BATCH_DESCRIPTION)
    async def create_meter_events(self, info: Info, events: list[CreateMeterEventInput]) -> MeterEventBatchResult:
        context = info.context
        result = await usage.accept(context.redis, events,
                                    dedup_seconds=context.meter_dedup_seconds)
        return MeterEventBatchResult(
            accepted=result.accepted, duplicates=result.duplicates,
            errors=[MeterEventBatchError(index=i, code=code, message=message) for i, code, message in result.errors])

    @strawberry.mutation
    async def create_meter_event_adjustment(self, info: Info,
                                            input: CreateMeterEventAdjustmentInput) -> MeterEventAdjustment:
        return await run(info, lambda: usage.create_adjustment(info.context.redis, **plain(input)))

    @strawberry.mutation
    async def create_billing_alert(self, info: Info, input: CreateBillingAlertInput) -> BillingAlert:
        await flush_usage(info)  # usage accepted before the alert is in its baseline, not counted
        return await run(info, lambda: alerts.create_alert(**plain(input)))

    @strawberry.mutation(description="An archived alert never fires again.")
    async def archive_billing_alert(self, info: Info, id: strawberry.ID) -> BillingAlert:
        return await run(info, lambda: alerts.archive_alert(id))
