"""The cycle in chunks: the same invoices, balances, numbers and events as step by step; one failing
subscription leaves the others of its chunk alone; two runs at once on PostgreSQL split the work
(SKIP LOCKED) without doing anything twice; a chunk costs a constant number of SQL statements."""
import asyncio
import logging
from collections import Counter
from datetime import timedelta

import pytest

from app import outbox
from app.billing import clocks, coupons, customers, cycle, invoices, payment_methods, prices, products, subscriptions
from app.billing.events import atomic, record
from app.billing.periods import add_months
from app.clock import utcnow
from app.models.customers import Customer
from app.models.events import Event
from app.models.invoices import Invoice, InvoiceLineItem, PaymentIntent
from app.models.invoices import TestCharge as Charge
from app.models.subscriptions import Subscription
from tests.billing_flows import START

KINDS = 8  # customer shapes in _world, repeated
SHAPES = [0, 1, 2, 3, 4, 5, 6, 6, 7]  # the shape of each subscription of one copy (shape 6 has two)


async def _world(clock: str | None, copies: int, *, now=None) -> list[str]:
    """Customers of every shape the renewal and finalization deal with, `copies` times: quantity 2, a
    credit balance, a ONCE coupon, a pending invoice item, a declining card, a trial, two subscriptions
    of one customer (with a pending item for either), cancel at period end. Returns subscription ids."""
    async with atomic():
        product = await products.create_product(name="Pro")
        price = await prices.create_price(product=product.id, currency="usd", unit_amount=1500,
                                          recurring={"interval": "month"})
        coupon = await coupons.create_coupon(duration="once", percent_off=25)
    subs = []
    for n in range(copies * KINDS):
        shape = n % KINDS
        async with atomic():
            customer = await customers.create_customer(
                email=f"c{n}@example.com", payment_method="pm_card_visa", test_clock=clock,
                balance=-500 if shape == 1 else None, coupon=coupon.id if shape == 2 else None)
            subscribe = dict(customer=customer.id, items=[{"price": price.id, "quantity": 2 if shape == 0 else 1}],
                             now=now, trial_period_days=10 if shape == 5 else None,
                             cancel_at_period_end=True if shape == 7 else None)
            subs.append((await subscriptions.create_subscription(**subscribe)).id)
            if shape == 6:
                subs.append((await subscriptions.create_subscription(**subscribe)).id)
            if shape in (3, 6):
                await invoices.create_invoice_item(customer=customer.id, amount=300, currency="usd",
                                                   description="Setup")
            if shape == 4:
                pm = await payment_methods.attach_to_customer(customer.id, "pm_card_chargeCustomerFail")
                await customers.update_customer(customer.id, {"default_payment_method": pm.id})
    return subs


async def _summary(sub_ids: list[str]) -> dict:
    """Everything the cycle decided, without ids: per subscription in creation order its state and its
    invoices (amounts, balance, number sequence, lines, discounts); the customers' balances."""
    subs = {s.id: s for s in await Subscription.filter(id__in=sub_ids)}
    customer_ids = sorted({s.customer_id for s in subs.values()})
    invoices_ = await Invoice.filter(customer_id__in=customer_ids).order_by("created", "id")
    lines: dict[str, list] = {i.id: [] for i in invoices_}
    for invoice_id, description, amount, discounts in await InvoiceLineItem.filter(
            invoice_id__in=list(lines)).order_by("position", "id").values_list(
            "invoice_id", "description", "amount", "discount_amounts"):
        lines[invoice_id].append((description, amount, [d["amount"] for d in discounts]))

    def invoice(i: Invoice) -> tuple:
        return (i.billing_reason, i.status, i.subtotal, i.total, i.amount_due, i.amount_paid, i.amount_remaining,
                i.starting_balance, i.ending_balance, i.attempt_count, i.number and i.number.rsplit("-", 1)[1],
                i.period_start, i.period_end, i.created, i.next_payment_attempt,
                [t["amount"] for t in i.total_discount_amounts], lines[i.id])

    by_sub = [(subs[s].status, subs[s].current_period_start, subs[s].current_period_end, subs[s].canceled_at,
               [invoice(i) for i in invoices_ if i.subscription_id == s]) for s in sub_ids]
    balances = [tuple(c) for c in await Customer.filter(id__in=customer_ids).order_by("id").values_list(
        "balance", "next_invoice_sequence")]
    return {"subscriptions": by_sub, "customers": balances}


async def _dispatch_to(redis):
    async def dispatch(events) -> None:
        await outbox.dispatch(redis, events)
    return dispatch


async def test_chunks_decide_as_steps_one_by_one(db, redis):
    """Two identical worlds on two test clocks, advanced 2.5 months: one step at a time, and in chunks."""
    until = add_months(START, 2) + timedelta(days=15)
    results = []
    for chunk in (1, 100):
        async with atomic():
            clock = await clocks.create_test_clock(frozen_time=START)
        sub_ids = await _world(clock.id, copies=3)
        dispatched = []

        async def dispatch(events, dispatched=dispatched) -> None:
            dispatched.extend(events)
            await outbox.dispatch(redis, events)
        ran = await cycle.run_until(clock.id, until, dispatch, chunk=chunk)
        assert ran > len(sub_ids)
        stored = await Event.filter(id__in=[e.id for e in dispatched]).values_list("id", "type", "created", "data")
        assert sorted(stored) == sorted((e.id, e.type, e.created, e.data) for e in dispatched)
        results.append({**await _summary(sub_ids), "events": sorted(Counter((e.type, e.created) for e in dispatched)
                                                                     .items())})
    one_by_one, chunked = results
    assert chunked["subscriptions"] == one_by_one["subscriptions"]
    assert chunked["customers"] == one_by_one["customers"]
    assert chunked["events"] == one_by_one["events"]
    # Per copy: 7 active; the declining card's subscription canceled after its retries, and the one
    # canceled at period end. Cycle invoices: 2 renewals each, 3 for the trial (its end, then monthly),
    # 1 for the declining card, none for the one canceled at period end.
    assert Counter(state[0] for state in chunked["subscriptions"]) == Counter({"active": 21, "canceled": 6})
    reasons = Counter(i[0] for state in chunked["subscriptions"] for i in state[4])
    assert reasons["subscription_cycle"] == 3 * (4 * 2 + 1 + 3 + 2 * 2)
    assert any(i[15] for state in chunked["subscriptions"] for i in state[4])  # a discount was applied
    assert any(i[7] for state in chunked["subscriptions"] for i in state[4])  # and a balance


async def test_one_failing_subscription_leaves_its_chunk_alone(db, redis, monkeypatch, caplog):
    sub_ids = await _world(None, copies=1, now=utcnow() - timedelta(days=32))
    bad = sub_ids[0]
    real_metered_lines = cycle.metered_lines

    async def failing(sub, *args):
        if sub.id == bad:
            raise RuntimeError("usage store unreachable")
        return await real_metered_lines(sub, *args)

    monkeypatch.setattr(cycle, "metered_lines", failing)
    dispatch = await _dispatch_to(redis)
    with caplog.at_level(logging.ERROR, logger="app.billing.cycle"):
        await cycle.run_until(None, utcnow(), dispatch)
    assert any(bad in r.getMessage() for r in caplog.records)
    cycle_invoices = Counter(await Invoice.filter(billing_reason="subscription_cycle")
                             .values_list("subscription_id", flat=True))
    renewing = [s for s, shape in zip(sub_ids, SHAPES, strict=True) if shape != 7]  # a trial ended too
    assert set(cycle_invoices) == set(renewing) - {bad} and set(cycle_invoices.values()) == {1}
    paid = await Invoice.filter(billing_reason="subscription_cycle", status="paid").count()
    assert paid == len(renewing) - 2  # not the bad one, nor the declining card
    assert (await Subscription.get(id=bad)).current_period_end < utcnow()  # still due, nothing half-built

    monkeypatch.setattr(cycle, "metered_lines", real_metered_lines)
    await cycle.run_until(None, utcnow(), dispatch)
    assert await Invoice.filter(subscription_id=bad, billing_reason="subscription_cycle", status="paid").count() == 1


async def test_a_failing_step_stops_a_test_clock(db, redis, monkeypatch):
    """On a test clock the steps stay in time order: a failure ends the advance instead of skipping."""
    async with atomic():
        clock = await clocks.create_test_clock(frozen_time=START)
    sub_ids = await _world(clock.id, copies=1)

    async def failing(sub, *args):
        raise RuntimeError("usage store unreachable")

    monkeypatch.setattr(cycle, "metered_lines", failing)
    with pytest.raises(RuntimeError):
        await cycle.run_until(clock.id, add_months(START, 1) + timedelta(days=1), await _dispatch_to(redis))
    assert not await Invoice.filter(subscription_id__in=sub_ids, billing_reason="subscription_cycle").exists()


async def test_two_runs_at_once_split_the_work(pg_db, redis):
    sub_ids = await _world(None, copies=8, now=utcnow() - timedelta(days=32))
    dispatched = []

    async def dispatch(events) -> None:
        dispatched.extend(e.id for e in events)
        await outbox.dispatch(redis, events)
    ran = await asyncio.gather(*(cycle.run_until(None, utcnow(), dispatch, chunk=5) for _ in range(2)))
    assert all(ran), ran  # both claimed chunks
    invoices_ = await Invoice.filter(billing_reason="subscription_cycle")
    assert Counter(i.subscription_id for i in invoices_) == Counter(
        {s: 1 for s, shape in zip(sub_ids, SHAPES * 8, strict=True) if shape != 7})
    charges = Counter(k.rsplit(":", 1)[0] for k in await Charge.all().values_list("idempotency_key", flat=True))
    assert all(charges[i.id] == i.attempt_count == 1 for i in invoices_)
    intents = Counter(await PaymentIntent.all().values_list("invoice_id", flat=True))
    assert all(intents[i.id] == 1 for i in invoices_)
    for kind in ("invoice.created", "invoice.finalized", "invoice.payment_succeeded"):
        assert set(Counter(await Event.filter(type=kind).values_list("object_id", flat=True)).values()) == {1}
    assert len(dispatched) == len(set(dispatched)) == await Event.filter(id__in=dispatched, dispatched=True).count()


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def test_a_chunk_costs_a_constant_number_of_statements(pg_db, redis):
    """Renewing, finalizing and charging 10 or 30 subscriptions takes the same statements (it was about 46
    statements a subscription, step by step)."""
    async with atomic():
        product = await products.create_product(name="Pro")
        price = await prices.create_price(product=product.id, currency="usd", unit_amount=1500,
                                          recurring={"interval": "month"})
    counts = []
    for count in (10, 30):
        for n in range(count):
            async with atomic():
                customer = await customers.create_customer(email=f"c{n}@example.com", payment_method="pm_card_visa")
                await subscriptions.create_subscription(customer=customer.id, items=[{"price": price.id}],
                                                        now=utcnow() - timedelta(days=32))
        statements = _Statements()
        logger = logging.getLogger("tortoise.db_client")
        level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(statements)
        try:
            ran = await cycle.run_until(None, utcnow(), await _dispatch_to(redis))
        finally:
            logger.removeHandler(statements)
            logger.setLevel(level)
        assert ran == 2 * count  # renewals, finalizations
        counts.append(statements.count)
    assert await Invoice.filter(billing_reason="subscription_cycle", status="paid").count() == 40
    assert counts[0] == counts[1] < 80, counts


async def test_events_are_inserted_once_at_the_end_of_the_outermost_block(db):
    async with atomic() as outer:
        await record("test.outer", {"id": "x_1"})
        async with atomic() as inner:
            await record("test.inner", {"id": "x_2"})
        assert not await Event.exists()  # nothing inserted before the outermost block ends
        with pytest.raises(RuntimeError):
            async with atomic():
                await record("test.rolled_back", {"id": "x_3"})
                raise RuntimeError
    assert [e.type for e in inner.events] == ["test.inner"]
    assert [e.type for e in outer.events] == ["test.outer", "test.inner"]
    assert sorted(await Event.all().values_list("type", flat=True)) == ["test.inner", "test.outer"]
    standalone = await record("test.standalone", {"id": "x_4"})  # outside atomic(): inserted at once
    assert await Event.filter(id=standalone.id).exists()
