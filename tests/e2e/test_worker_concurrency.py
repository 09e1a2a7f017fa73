"""The renewal cycle run twice, concurrently, by two arq workers, and by a worker killed mid-run, on
PostgreSQL: one cycle invoice per subscription period, one charge per attempt, one invoice.created per
invoice, and no half-built invoice."""
import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import datetime, timedelta

import pytest
from arq import Worker, create_pool
from arq.connections import RedisSettings
from arq.worker import func
from tortoise import connections

from app import outbox
from app.billing import clocks, customers, cycle, payment_methods, prices, products, subscriptions
from app.billing.events import atomic
from app.billing.periods import add_months
from app.clock import utcnow
from app.models.clocks import TestClock as Clock
from app.models.events import Event
from app.models.invoices import Invoice, InvoiceLineItem, PaymentIntent
from app.models.invoices import TestCharge as Charge
from app.models.subscriptions import Subscription
from tests.billing_flows import START
from tests.conftest import POSTGRES_URL
from workers import billing
from workers.settings import WorkerSettings

FAILING_EVERY = 5  # every 5th customer's card starts failing after the first payment
RETRY_ATTEMPTS = 4  # the default schedule: the first attempt and retries after 3, 7 and 14 days


async def _subscribe_many(n: int, *, clock: str | None = None, now: datetime | None = None) -> list[str]:
    """n monthly subscriptions paid at creation; every FAILING_EVERY-th then gets a card that declines."""
    async with atomic():
        product = await products.create_product(name="Pro")
        price = await prices.create_price(product=product.id, currency="usd", unit_amount=1500,
                                          recurring={"interval": "month"})
    ids = []
    for i in range(n):
        async with atomic():
            customer = await customers.create_customer(email=f"c{i}@example.com", payment_method="pm_card_visa",
                                                       test_clock=clock)
            sub = await subscriptions.create_subscription(customer=customer.id, items=[{"price": price.id}],
                                                          now=now)
            assert sub.status == "active"
            if i % FAILING_EVERY == 0:
                pm = await payment_methods.attach_to_customer(customer.id, "pm_card_chargeCustomerFail")
                await customers.update_customer(customer.id, {"default_payment_method": pm.id})
        ids.append(sub.id)
    return ids


async def _assert_consistent(sub_ids: list[str], *, cycles: int = 1, failed_attempts: int | None = None) -> None:
    """Every invoice whole; `cycles` cycle invoices per subscription, one per period; one charge per attempt."""
    invoices = await Invoice.filter(subscription_id__in=sub_ids)
    lines = Counter()
    sums = Counter()
    for invoice_id, amount in await InvoiceLineItem.filter(invoice_id__in=[i.id for i in invoices]) \
            .values_list("invoice_id", "amount"):
        lines[invoice_id] += 1
        sums[invoice_id] += amount
    for invoice in invoices:
        assert lines[invoice.id] >= 1 and sums[invoice.id] == invoice.subtotal == invoice.total, invoice.id
        assert invoice.amount_paid + invoice.amount_remaining == invoice.amount_due, invoice.id
    cycle_invoices = [i for i in invoices if i.billing_reason == "subscription_cycle"]
    per_period = Counter((i.subscription_id, i.period_start) for i in cycle_invoices)
    assert set(per_period.values()) == {1}
    assert Counter(i.subscription_id for i in cycle_invoices) == Counter({s: cycles for s in sub_ids})

    charges = Counter(key.rsplit(":", 1)[0] for key in await Charge.all().values_list("idempotency_key", flat=True))
    intents = Counter(await PaymentIntent.filter(invoice_id__in=[i.id for i in invoices])
                      .values_list("invoice_id", flat=True))
    keys = set(await Charge.all().values_list("idempotency_key", flat=True))
    for invoice in invoices:
        assert charges[invoice.id] == invoice.attempt_count, invoice.id
        assert {f"{invoice.id}:{n}" for n in range(1, invoice.attempt_count + 1)} <= keys
        assert intents[invoice.id] == (1 if invoice.attempt_count else 0), invoice.id
    statuses = Counter(i.status for i in cycle_invoices)
    failing = len(sub_ids[::FAILING_EVERY])
    assert statuses == Counter({"paid": cycles * len(sub_ids) - failing, "open": failing}), statuses
    if failed_attempts is not None:
        assert sorted({i.attempt_count for i in cycle_invoices if i.status == "open"}) == [failed_attempts]

    created = Counter(await Event.filter(type="invoice.created").values_list("object_id", flat=True))
    assert all(created[i.id] == 1 for i in invoices)
    paid = Counter(await Event.filter(type="invoice.paid").values_list("object_id", flat=True))
    assert all(paid[i.id] == (i.status == "paid") for i in invoices)


async def _run_twice(clock_id: str | None, until: datetime, redis, concurrently: bool) -> list[str]:
    """Run the cycle twice, at once (each step takes its own pooled connection) or one after the other."""
    dispatched: list[str] = []

    async def dispatch(events) -> None:
        dispatched.extend(e.id for e in events)
        await outbox.dispatch(redis, events)

    runs = [cycle.run_until(clock_id, until, dispatch) for _ in range(2)]
    if concurrently:
        await asyncio.gather(*runs)
    else:
        for run in runs:
            await run
        assert await cycle.due_steps(clock_id, until) == []
    return dispatched


@pytest.mark.parametrize("concurrently", [True, False])
async def test_cycle_run_twice_on_a_test_clock(pg_db, redis, concurrently):
    async with atomic():
        clock = await clocks.create_test_clock(frozen_time=START)
    sub_ids = await _subscribe_many(15, clock=clock.id)
    until = add_months(START, 1) + timedelta(days=15)  # the renewal, its finalization and every retry
    dispatched = await _run_twice(clock.id, until, redis, concurrently)
    await _assert_consistent(sub_ids, failed_attempts=RETRY_ATTEMPTS)
    assert len(dispatched) == len(set(dispatched)) > 0
    assert not await Event.filter(id__in=dispatched, dispatched=False).exists()
    statuses = Counter(await Subscription.filter(id__in=sub_ids).values_list("status", flat=True))
    assert statuses == Counter({"active": 12, "canceled": 3})


@pytest.mark.parametrize("concurrently", [True, False])
async def test_cycle_run_twice_on_real_time(pg_db, redis, concurrently):
    # Subscribed 40 days ago: the renewal is 9-12 days past, so the finalization and 2 retries are due.
    sub_ids = await _subscribe_many(15, now=utcnow() - timedelta(days=40))
    dispatched = await _run_twice(None, utcnow(), redis, concurrently)
    await _assert_consistent(sub_ids, failed_attempts=3)
    assert len(dispatched) == len(set(dispatched)) > 0
    statuses = Counter(await Subscription.filter(id__in=sub_ids).values_list("status", flat=True))
    assert statuses == Counter({"active": 12, "past_due": 3})


async def test_two_arq_workers_run_the_same_jobs_at_once(pg_db, redis, redis_url):
    async with atomic():
        clock = await clocks.create_test_clock(frozen_time=START)
    on_clock = await _subscribe_many(10, clock=clock.id)
    on_real_time = await _subscribe_many(10, now=utcnow() - timedelta(days=40))
    async with atomic():
        await clocks.start_advance(clock.id, add_months(START, 1) + timedelta(days=15))
    # Each job twice under different ids: a redelivered job, or the cron of two workers starting together.
    queue = await create_pool(RedisSettings.from_dsn(redis_url))
    for n in (1, 2):
        await queue.enqueue_job("advance_test_clock", clock.id, _job_id=f"advance:{n}")
        await queue.enqueue_job("run_due_billing", _job_id=f"due:{n}")
    await queue.aclose()
    workers = [Worker(functions=[*WorkerSettings.functions, func(billing.run_due_billing, name="run_due_billing")],
                      redis_settings=RedisSettings.from_dsn(redis_url), burst=True, poll_delay=0.01,
                      handle_signals=False, max_jobs=2) for _ in range(2)]
    try:
        await asyncio.gather(*(w.main() for w in workers))
    finally:
        for w in workers:
            await w.close()
    assert [w.jobs_failed for w in workers] == [0, 0]
    assert sum(w.jobs_complete for w in workers) == 4 and all(w.jobs_complete for w in workers)
    assert (await Clock.get(id=clock.id)).status == "ready"
    await _assert_consistent(on_clock, failed_attempts=RETRY_ATTEMPTS)
    await _assert_consistent(on_real_time, failed_attempts=3)
    ready = await Event.filter(type="test_helpers.test_clock.ready", object_id=clock.id).count()
    assert ready == 1


async def _worker(env: dict) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "app.cli", "worker", env=env,
                                                stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)


async def _cycle_invoices(sub_ids: list[str], **filters) -> int:
    return await Invoice.filter(subscription_id__in=sub_ids, billing_reason="subscription_cycle", **filters).count()


async def _wait_until(condition, seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 (another process writes the database)
            await asyncio.sleep(0.05)


async def test_worker_killed_mid_run_then_restarted(pg_db, redis, redis_url):
    """SIGKILL a `billing worker` while it renews, another while it finalizes and charges; a third finishes.
    Chunks of 10 steps, so the kills land between chunks of the run."""
    total = 120
    sub_ids = await _subscribe_many(total, now=utcnow() - timedelta(days=40))
    failing = len(sub_ids[::FAILING_EVERY])
    database = connections.get("default").database
    env = dict(os.environ, BILLING_DATABASE_URL=POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}",
               BILLING_REDIS_URL=redis_url, BILLING_LOG_LEVEL="WARNING", BILLING_CYCLE_CHUNK="10")

    async def renewed() -> bool:
        return await _cycle_invoices(sub_ids) >= 10

    async def charged() -> bool:
        return await _cycle_invoices(sub_ids, status="paid") >= 10

    async def done() -> bool:
        return (await _cycle_invoices(sub_ids, status="paid") == total - failing
                and await _cycle_invoices(sub_ids, status="open", attempt_count=3) == failing)

    processes = []
    try:
        for condition, seconds in ((renewed, 60), (charged, 60)):
            processes.append(await _worker(env))
            await _wait_until(condition, seconds)
            processes[-1].send_signal(signal.SIGKILL)
            await processes[-1].wait()
        assert await _cycle_invoices(sub_ids, status="paid") < total - failing  # the second died mid-run
        processes.append(await _worker(env))
        await _wait_until(done, 120)
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await asyncio.wait_for(process.wait(), 15)
    await _assert_consistent(sub_ids, failed_attempts=3)
