"""The billing cycle: every step that falls due with time, run in time order.

A step is one of: a subscription's period ends (renewal, trial end, cancellation at period end),
trial_will_end notice, cancel_at, an incomplete subscription expiring, pause_collection ending,
a draft invoice finalizing (1 hour after creation), a payment retry, a SEND_INVOICE invoice
going past due. `run_until` reads the due steps of one test clock (or of real time) and runs them
in time order, each in its own transaction at its due time. Each step locks its
row and re-checks that it is still due, so running the cycle twice, or in two workers at once,
does each step once; one cycle invoice per period is also a unique constraint.
"""
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError

from app.billing import events
from app.billing.events import atomic
from app.billing.invoicing import AUTO_FINALIZE_AFTER, create_invoice, finalize, mark_uncollectible, pending_items, void
from app.billing.payments import collect
from app.billing.periods import next_boundary, previous_boundary
from app.billing.subscription_status import set_status
from app.billing.subscriptions import cancel, cycle_key, live_items, metered_lines, period_lines
from app.models.customers import Customer
from app.models.invoices import Invoice
from app.models.subscriptions import Subscription

TRIAL_WILL_END_BEFORE = timedelta(days=3)
FOLLOW_UP = AUTO_FINALIZE_AFTER
BATCH = 500
INCOMPLETE_EXPIRES_AFTER = timedelta(hours=23)
RENEWING = ("trialing", "active", "past_due", "unpaid", "paused")
# Their invoices are still finalized, but not charged: unpaid (as Stripe) and paused ones.
NOT_CHARGED = ("unpaid", "paused")

Dispatch = Callable[[list], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    at: datetime
    kind: str
    id: str


async def _due(query, field: str, kind: str, limit: int, offset: timedelta = timedelta(0)) -> list[Step]:
    rows = await query.order_by(field, "id").limit(limit).values_list(field, "id")
    return [Step(at + offset, kind, id) for at, id in rows]


async def due_steps(clock_id: str | None, until: datetime, limit: int = BATCH) -> list[Step]:
    """The steps due at or before `until` for one test clock (None: real-time objects), in time order.

    At most `limit` of each kind are read; when a kind has more, only the steps up to its last one
    read are returned, so nothing unread can fall between two returned steps.
    """
    subs = Subscription.filter(test_clock_id=clock_id)
    invoices = Invoice.filter(test_clock_id=clock_id, deleted=False)
    kinds = [
        await _due(subs.filter(status__in=RENEWING, current_period_end__lte=until), "current_period_end",
                   "period_end", limit),
        await _due(subs.filter(status__in=RENEWING, cancel_at__lte=until), "cancel_at", "cancel_at", limit),
        await _due(subs.filter(status="trialing", trial_will_end_notified=False,
                               trial_end__lte=until + TRIAL_WILL_END_BEFORE), "trial_end", "trial_will_end", limit,
                   -TRIAL_WILL_END_BEFORE),
        await _due(subs.filter(status="incomplete", created__lte=until - INCOMPLETE_EXPIRES_AFTER), "created",
                   "expire_incomplete", limit, INCOMPLETE_EXPIRES_AFTER),
        await _due(subs.filter(pause_collection_resumes_at__lte=until), "pause_collection_resumes_at",
                   "resume_collection", limit),
        await _due(invoices.filter(status="draft", auto_advance=True, automatically_finalizes_at__lte=until),
                   "automatically_finalizes_at", "finalize", limit),
        await _due(invoices.filter(status="open", next_payment_attempt__lte=until), "next_payment_attempt",
                   "retry", limit),
        await _due(invoices.filter(status="open", collection_method="send_invoice", past_due_notified=False,
                                   due_date__lte=until), "due_date", "overdue", limit),
    ]
    horizon = min((steps[-1].at for steps in kinds if len(steps) == limit), default=None)
    due = sorted((step for steps in kinds for step in steps), key=lambda s: (s.at, s.kind, s.id))
    return [step for step in due if horizon is None or step.at <= horizon]


async def run_until(clock_id: str | None, until: datetime, dispatch: Dispatch, max_steps: int = 1_000_000,
                    max_seconds: float | None = None) -> int:
    """Run every due step up to `until` in time order; returns how many ran.

    Steps are read in batches. A step never schedules another sooner than FOLLOW_UP after itself
    (a renewal's draft finalizes an hour later), so every step of a batch due within FOLLOW_UP of
    its first one runs before anything the batch creates: time order holds without re-reading.
    """
    ran = 0
    conflicted: set[Step] = set()
    deadline = time.monotonic() + max_seconds if max_seconds is not None else None
    while ran < max_steps and (deadline is None or time.monotonic() < deadline):
        steps = await due_steps(clock_id, until)
        if not steps:
            break
        window = steps[0].at + FOLLOW_UP
        for step in (s for s in steps if s.at < window):
            try:
                async with atomic() as uow:
                    await STEPS[step.kind](step.id, step.at)
            except IntegrityError:
                # Another worker ran this step first (one cycle invoice per period): read again.
                if step in conflicted:
                    raise
                conflicted.add(step)
                break
            await dispatch(uow.events)
            ran += 1
    return ran


async def _sub(id: str) -> Subscription | None:
    return await Subscription.filter(id=id).select_for_update().first()


async def _invoice(id: str) -> Invoice | None:
    return await Invoice.filter(id=id).select_for_update().first()


async def period_end(id: str, at: datetime) -> None:
    """Renew (or end) the subscription whose period ends at `at`: the next period's draft invoice."""
    sub = await _sub(id)
    if sub is None or sub.status not in RENEWING or sub.current_period_end > at:
        return
    at = sub.current_period_end
    if sub.cancel_at_period_end or (sub.cancel_at is not None and sub.cancel_at <= at):
        await cancel(sub, at, bill_usage=True)
        return
    before = events.snapshot(sub)
    old_start = sub.current_period_start
    trial_ends = sub.status == "trialing" and sub.trial_end is not None and sub.trial_end <= at
    if trial_ends:
        sub.billing_cycle_anchor = max(sub.billing_cycle_anchor, sub.trial_end)  # keep a later explicit anchor
        sub.status = "active"
    sub.current_period_start = at
    sub.current_period_end = next_boundary(sub.billing_cycle_anchor, sub.interval, sub.interval_count, at)
    if sub.status != "paused":
        customer = await Customer.get(id=sub.customer_id)
        items = await live_items(sub)
        # A trial ending before its billing_cycle_anchor starts a short period, prorated up to the anchor.
        on_boundary = previous_boundary(sub.billing_cycle_anchor, sub.interval, sub.interval_count, at) == at
        specs = [*await period_lines(sub, items, at, sub.current_period_end,
                                     whole=None if on_boundary else sub.current_period_end),
                 *await metered_lines(sub, items, old_start, at)]
        keep_as_draft = sub.pause_collection_behavior == "keep_as_draft"
        invoice, _ = await create_invoice(
            customer, now=at, billing_reason="subscription_cycle", specs=specs, currency=sub.currency,
            period_start=old_start, period_end=at, subscription=sub, collection_method=sub.collection_method,
            days_until_due=sub.days_until_due, auto_advance=not keep_as_draft,
            pending=await pending_items(customer.id, subscription_id=sub.id), cycle_key=cycle_key(sub, at),
        )
        sub.latest_invoice_id = invoice.id
    await sub.save()
    await events.record_update("customer.subscription.updated", sub, before, created=at)


async def cancel_at(id: str, at: datetime) -> None:
    sub = await _sub(id)
    if sub is None or sub.status not in RENEWING or sub.cancel_at is None or sub.cancel_at > at:
        return
    await cancel(sub, sub.cancel_at, bill_usage=True)


async def trial_will_end(id: str, at: datetime) -> None:
    sub = await _sub(id)
    if sub is None or sub.status != "trialing" or sub.trial_will_end_notified:
        return
    sub.trial_will_end_notified = True
    await sub.save(update_fields=["trial_will_end_notified"])
    # A trial shorter than 3 days is notified at once, never before it started.
    await events.record("customer.subscription.trial_will_end", sub, created=max(at, sub.trial_start or sub.created))


async def expire_incomplete(id: str, at: datetime) -> None:
    """An incomplete subscription unpaid for 23 hours expires, and its first invoice is voided."""
    sub = await _sub(id)
    if sub is None or sub.status != "incomplete" or sub.created + INCOMPLETE_EXPIRES_AFTER > at:
        return
    for invoice in await Invoice.filter(subscription_id=sub.id, status="open").select_for_update():
        await void(invoice, at)
    await set_status(sub, "incomplete_expired", at)


async def resume_collection(id: str, at: datetime) -> None:
    sub = await _sub(id)
    if sub is None or sub.pause_collection_resumes_at is None or sub.pause_collection_resumes_at > at:
        return
    before = events.snapshot(sub)
    sub.pause_collection_behavior = None
    sub.pause_collection_resumes_at = None
    await sub.save()
    await events.record_update("customer.subscription.updated", sub, before, created=at)


async def finalize_draft(id: str, at: datetime) -> None:
    """Auto-finalize a draft 1 hour after creation, then collect it (or apply pause_collection)."""
    invoice = await _invoice(id)
    if (invoice is None or invoice.status != "draft" or not invoice.auto_advance
            or invoice.automatically_finalizes_at is None or invoice.automatically_finalizes_at > at):
        return
    at = invoice.automatically_finalizes_at
    await finalize(invoice, at)
    sub = await Subscription.get_or_none(id=invoice.subscription_id) if invoice.subscription_id else None
    pause = sub.pause_collection_behavior if sub else None
    if invoice.status != "open":
        return
    if pause == "mark_uncollectible":
        await mark_uncollectible(invoice, at)
    elif pause == "void":
        await void(invoice, at)
    elif invoice.collection_method == "charge_automatically" and (sub is None or sub.status not in NOT_CHARGED):
        await collect(invoice, at)


async def retry(id: str, at: datetime) -> None:
    invoice = await _invoice(id)
    if (invoice is None or invoice.status != "open" or invoice.next_payment_attempt is None
            or invoice.next_payment_attempt > at):
        return
    await collect(invoice, invoice.next_payment_attempt)


async def overdue(id: str, at: datetime) -> None:
    """A SEND_INVOICE invoice past its due date: its subscription becomes past due."""
    invoice = await _invoice(id)
    if invoice is None or invoice.status != "open" or invoice.past_due_notified or invoice.due_date > at:
        return
    invoice.past_due_notified = True
    await invoice.save(update_fields=["past_due_notified"])
    await events.record("invoice.overdue", invoice, created=invoice.due_date)
    if invoice.subscription_id:
        sub = await _sub(invoice.subscription_id)
        if sub is not None and sub.status == "active":
            await set_status(sub, "past_due", invoice.due_date)


STEPS: dict[str, Callable[[str, datetime], Awaitable[None]]] = {
    "period_end": period_end, "cancel_at": cancel_at, "trial_will_end": trial_will_end,
    "expire_incomplete": expire_incomplete, "resume_collection": resume_collection, "finalize": finalize_draft,
    "retry": retry, "overdue": overdue,
}
