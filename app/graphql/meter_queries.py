"""The Query fields of meters, their event summaries and billing alerts."""
from datetime import datetime

import strawberry
from strawberry.types import Info

from app.billing import usage
from app.billing.lookup import could_exist
from app.graphql.enums import MeterStatus, MeterValueGroupingWindow
from app.graphql.pagination import Connection, paginate
from app.graphql.types.meters import BillingAlert, Meter, MeterEventSummary
from app.models import meters


@strawberry.type
class MeterQueries:
    @strawberry.field
    async def meter(self, info: Info, id: strawberry.ID) -> Meter | None:
        return await info.context.loaders.load(meters.Meter, id) if could_exist(meters.Meter, id) else None

    @strawberry.field
    async def meters(self, first: int | None = None, after: str | None = None,
                     status: MeterStatus | None = None) -> Connection[Meter]:
        query = meters.Meter.all()
        if status is not None:
            query = query.filter(status=status.value)
        return await paginate(query, first, after)

    @strawberry.field(description="The customer's usage over [startTime, endTime), bounds on whole minutes: one "
                                  "summary, or one per UTC hour or day that has events, oldest first.")
    async def meter_event_summaries(self, meter: strawberry.ID, customer: strawberry.ID, start_time: datetime,
                                    end_time: datetime, value_grouping_window: MeterValueGroupingWindow | None = None
                                    ) -> list[MeterEventSummary]:
        window = value_grouping_window.value if value_grouping_window else None
        found = await usage.summaries(meter, customer, start_time, end_time, window)
        return [MeterEventSummary(id=s.id, customer_id=s.customer_id, meter=s.meter, aggregated_value=s.value,
                                  start_time=s.start, end_time=s.end) for s in found]

    @strawberry.field
    async def billing_alerts(self, first: int | None = None, after: str | None = None,
                             customer: strawberry.ID | None = None) -> Connection[BillingAlert]:
        query = meters.BillingAlert.all()
        if customer is not None:
            query = query.filter(customer_id=customer)
        return await paginate(query, first, after)
