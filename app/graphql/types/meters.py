"""Meters, meter events and their summaries, adjustments, and billing alerts."""
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.graphql.enums import (
    BillingAlertStatus,
    MeterAggregationFormula,
    MeterEventAdjustmentStatus,
    MeterStatus,
)
from app.graphql.scalars import BigInt
from app.graphql.types.common import Node, model_type
from app.graphql.types.customers import Customer
from app.models import customers
from app.models import meters as m


@strawberry.type
class MeterDefaultAggregation:
    formula: MeterAggregationFormula


@strawberry.type
class MeterCustomerMapping:
    event_payload_key: str


@strawberry.type
class MeterValueSettings:
    event_payload_key: str


@strawberry.type(name="Meter")
class Meter(Node):
    is_type_of = model_type(m.Meter)
    id: strawberry.ID
    display_name: str
    event_name: str
    status: MeterStatus
    created: datetime
    updated: datetime

    @strawberry.field
    def default_aggregation(self) -> MeterDefaultAggregation:
        return MeterDefaultAggregation(formula=MeterAggregationFormula(self.formula))

    @strawberry.field
    def customer_mapping(self) -> MeterCustomerMapping:
        return MeterCustomerMapping(event_payload_key=self.customer_payload_key)

    @strawberry.field
    def value_settings(self) -> MeterValueSettings:
        return MeterValueSettings(event_payload_key=self.value_payload_key)


@strawberry.type
class MeterEvent:
    identifier: str
    event_name: str
    payload: JSON
    timestamp: datetime
    created: datetime


@strawberry.type
class MeterEventBatchError:
    index: int
    code: str
    message: str


@strawberry.type
class MeterEventBatchResult:
    accepted: int
    duplicates: int
    errors: list[MeterEventBatchError]


@strawberry.type
class MeterEventSummary:
    id: strawberry.ID
    customer_id: strawberry.Private[str]
    meter: Meter
    aggregated_value: Decimal
    start_time: datetime
    end_time: datetime

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return await info.context.loaders.load(customers.Customer, self.customer_id)


@strawberry.type(name="MeterEventAdjustment")
class MeterEventAdjustment:
    id: strawberry.ID
    event_name: str
    cancel_identifier: str
    status: MeterEventAdjustmentStatus


@strawberry.type
class UsageThreshold:
    gte: BigInt
    meter: Meter


@strawberry.type(name="BillingAlert")
class BillingAlert(Node):
    is_type_of = model_type(m.BillingAlert)
    id: strawberry.ID
    title: str
    status: BillingAlertStatus

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        return await info.context.loaders.load(customers.Customer, self.customer_id)

    @strawberry.field
    async def usage_threshold(self, info: Info) -> UsageThreshold:
        return UsageThreshold(gte=self.gte, meter=await info.context.loaders.load(m.Meter, self.meter_id))
