"""Test clocks: create and delete (advancing comes with subscriptions)."""
from app.billing import events, validation
from app.billing.lookup import get
from app.ids import new_id
from app.models.clocks import TestClock
from app.models.customers import Customer


async def create_test_clock(*, frozen_time, name: str | None = None) -> TestClock:
    clock = await TestClock.create(
        id=new_id("clock"), frozen_time=frozen_time.replace(microsecond=0),
        name=validation.string(name, "name", max_length=300),
    )
    await events.record("test_helpers.test_clock.created", clock)
    return clock


async def delete_test_clock(id: str) -> TestClock:
    """As Stripe: deleting a clock deletes the customers (and so what they own) attached to it."""
    from app.billing.customers import delete_customer

    clock = await get(TestClock, id, kind="test_helpers.test_clock", lock=True)
    for customer_id in await Customer.filter(test_clock_id=clock.id, deleted=False).values_list("id", flat=True):
        await delete_customer(customer_id)
    clock.deleted = True
    await clock.save(update_fields=["deleted"])
    await events.record("test_helpers.test_clock.deleted", clock)
    return clock
