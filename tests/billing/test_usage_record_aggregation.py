"""Usage records: INCREMENT and SET at a timestamp, each aggregate_usage over a period, the
timestamp and quantity rules, and the metered lines they bill (in arrears, priced on the total)."""
from datetime import UTC, datetime, timedelta

import pytest

from app.billing.clocks import create_test_clock
from app.billing.customers import create_customer
from app.billing.errors import BillingError
from app.billing.prices import create_price
from app.billing.products import create_product
from app.billing.subscriptions import create_subscription, metered_lines
from app.billing.usage_records import aggregate, create_usage_record, summaries
from app.models import clocks
from app.models.subscriptions import Subscription, SubscriptionItem

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


async def metered(aggregate_usage: str | None = None, name: str = "API calls", **price) -> str:
    product = await create_product(name=name)
    price.setdefault("unit_amount", 3)
    recurring = {"interval": "month", "usage_type": "metered", "aggregate_usage": aggregate_usage}
    return (await create_price(product=product.id, currency="usd", recurring=recurring, **price)).id


async def setup(aggregate_usage: str | None = None, *, now: datetime = START + timedelta(days=20), **price):
    """A subscription started at START with one metered item; its clock is at `now`."""
    clock = await create_test_clock(frozen_time=START)
    customer = await create_customer(email="u@example.com", test_clock=clock.id, payment_method="pm_card_visa")
    sub = await create_subscription(customer=customer.id, items=[{"price": await metered(aggregate_usage, **price)}])
    await clocks.TestClock.filter(id=clock.id).update(frozen_time=now)
    item = await SubscriptionItem.get(subscription_id=sub.id)
    return sub, item


async def record(item, quantity: int, at: datetime, action: str | None = None):
    return await create_usage_record(subscription_item=item.id, quantity=quantity, action=action, timestamp=at)


def day(n: int, hour: int = 0) -> datetime:
    return START + timedelta(days=n, hours=hour)


async def test_increments_add_up_and_a_set_replaces_the_usage_at_its_timestamp(db):
    sub, item = await setup()
    await record(item, 5, day(1))
    await record(item, 7, day(1))  # same timestamp: 12
    await record(item, 3, day(2))
    assert await aggregate(item.id, "sum", START, END) == 15
    await record(item, 4, day(1), "set")  # day 1 becomes 4
    assert await aggregate(item.id, "sum", START, END) == 7
    await record(item, 6, day(1))  # SET followed by INCREMENT at that timestamp: 10
    assert await aggregate(item.id, "sum", START, END) == 13
    await record(item, 0, day(2), "set")
    assert await aggregate(item.id, "sum", START, END) == 10


async def test_set_then_increment_at_a_later_timestamp_both_count(db):
    sub, item = await setup()
    await record(item, 100, day(1), "set")
    await record(item, 5, day(3))
    assert await aggregate(item.id, "sum", START, END) == 105
    assert await aggregate(item.id, "last_during_period", START, END) == 5
    assert await aggregate(item.id, "max", START, END) == 100


@pytest.mark.parametrize(("how", "expected"), [
    ("sum", 2 + 9 + 4), ("max", 9), ("last_during_period", 4), ("last_ever", 4),
])
async def test_each_aggregation_over_a_period(db, how, expected):
    sub, item = await setup(how)
    for quantity, at in ((2, day(1)), (9, day(5)), (4, day(10))):
        await record(item, quantity, at)
    assert await aggregate(item.id, how, START, END) == expected
    [line] = await metered_lines(sub, [item], START, END)
    assert (line.quantity, line.amount) == (expected, expected * 3)


async def test_period_bounds_include_the_start_and_exclude_the_end(db):
    sub, item = await setup()
    await record(item, 1, START)
    await record(item, 10, day(10))
    await record(item, 100, day(20))
    assert await aggregate(item.id, "sum", START, day(10)) == 1
    assert await aggregate(item.id, "sum", day(10), day(20)) == 10
    assert await aggregate(item.id, "sum", day(10), day(20) + timedelta(seconds=1)) == 110
    assert await aggregate(item.id, "last_during_period", day(11), day(20)) == 0  # nothing in it
    assert await aggregate(item.id, "max", day(11), day(20)) == 0
    assert await aggregate(item.id, "last_ever", day(11), day(20)) == 10  # carried from before the period
    assert await aggregate(item.id, "last_ever", START, START) == 0


async def test_timestamp_must_be_in_the_current_period_and_not_in_the_future(db):
    now = day(20)
    sub, item = await setup(now=now)
    await record(item, 1, now)  # now itself is fine
    await record(item, 1, START)  # the period's first second too
    for at, words in ((now + timedelta(seconds=1), "future"), (START - timedelta(seconds=1), "current period")):
        with pytest.raises(BillingError) as error:
            await record(item, 1, at)
        assert words in error.value.message and error.value.param == "timestamp"
    default = await create_usage_record(subscription_item=item.id, quantity=2)
    assert default.timestamp == now and default.action == "increment" and default.id.startswith("mbur_")
    assert await aggregate(item.id, "sum", START, END) == 4


async def test_quantity_and_action_and_item_are_checked(db):
    sub, item = await setup()
    with pytest.raises(BillingError) as error:
        await record(item, -1, day(1))
    assert error.value.param == "quantity"
    with pytest.raises(BillingError) as error:
        await create_usage_record(subscription_item="si_missing", quantity=1)
    assert (error.value.code, error.value.param) == ("resource_missing", "subscriptionItem")
    product = await create_product(name="Seats")
    licensed = await create_price(product=product.id, currency="usd", unit_amount=100,
                                  recurring={"interval": "month"})
    other = await create_subscription(customer=sub.customer_id, items=[{"price": licensed.id}])
    seat = await SubscriptionItem.get(subscription_id=other.id)
    with pytest.raises(BillingError) as error:
        await record(seat, 1, day(1))
    assert "not metered" in error.value.message and error.value.param == "subscriptionItem"
    assert await aggregate(item.id, "sum", START, END) == 0


async def test_a_canceled_subscription_takes_no_usage(db):
    sub, item = await setup()
    await Subscription.filter(id=sub.id).update(status="canceled")
    with pytest.raises(BillingError) as error:
        await record(item, 1, day(1))
    assert "canceled" in error.value.message


async def test_the_total_is_priced_as_a_whole(db):
    """transform_quantity, graduated tiers and decimal unit amounts apply to the period's total."""
    sub, item = await setup(transform_quantity={"divide_by": 1000, "round": "up"}, unit_amount=50)
    await record(item, 1500, day(1))
    await record(item, 600, day(2))
    [line] = await metered_lines(sub, [item], START, END)
    assert (line.quantity, line.amount) == (2100, 150)  # 3 packages of 1000, not 2 + 1

    sub, item = await setup(unit_amount=None, billing_scheme="tiered", tiers_mode="graduated",
                            tiers=[{"up_to": 100, "unit_amount": 10}, {"up_to": None, "unit_amount": 5}])
    for _ in range(3):
        await record(item, 60, day(1))
    [line] = await metered_lines(sub, [item], START, END)
    assert (line.quantity, line.amount) == (180, 100 * 10 + 80 * 5)
    assert line.unit_amount_excluding_tax is None

    sub, item = await setup(unit_amount=None, unit_amount_decimal="0.25")
    await record(item, 3, day(1))
    await record(item, 4, day(2))
    [line] = await metered_lines(sub, [item], START, END)
    assert (line.quantity, line.amount) == (7, 2)  # 1.75 rounded once, half-up


async def test_lines_are_in_arrears_never_prorated_and_free_during_a_trial(db):
    sub, item = await setup()
    await record(item, 10, day(3))
    [line] = await metered_lines(sub, [item], START, END)
    assert (line.amount, line.proration, line.description) == (30, False, "10 × API calls")
    assert (line.period_start, line.period_end, line.subscription_item_id) == (START, END, item.id)
    sub.trial_start, sub.trial_end = START, day(10)
    [trial] = await metered_lines(sub, [item], START, day(10))
    assert (trial.amount, trial.description) == (0, "10 × API calls (Trial period)")
    await record(item, 5, day(12))
    [after] = await metered_lines(sub, [item], START, END)  # only usage after the trial's end is billed
    assert (after.quantity, after.amount) == (5, 15)


async def test_summaries_list_the_current_period_with_its_usage(db):
    sub, item = await setup()
    await record(item, 4, day(1))
    await record(item, 6, day(2))
    [summary] = await summaries(item)
    assert (summary.total_usage, summary.period_start, summary.period_end, summary.invoice_id) == (10, START, END, None)
    assert summary.id.startswith("sis_")
