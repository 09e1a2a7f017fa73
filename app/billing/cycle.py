"""The billing cycle: every step that falls due with time, run in time order.

A step is one of: a subscription's period ends (renewal, trial end, cancellation at period end),
trial_will_end notice, cancel_at, an incomplete subscription expiring, pause_collection ending,
a draft invoice finalizing (1 hour after creation), a payment retry, a SEND_INVOICE invoice
going past due. `run_until` reads the due steps of one test clock (or of real time) and runs them
in time order, each at its due time, in chunks: consecutive steps of one kind (up to `chunk`, the
setting BILLING_CYCLE_CHUNK) run in one transaction, renewals and finalizations with a constant
number of statements per chunk. Each chunk locks its rows and re-checks that each step is still
due, so running the cycle twice, or in two workers at once, does each step once; one cycle invoice
per period is also a unique constraint. On real time a chunk claims its rows with SKIP LOCKED, so
workers share the due work instead of waiting for each other; on a test clock it waits for the
locks, so one clock's steps run in time order. A chunk that fails is run again step by step, each
in its own transaction: on real time a failing step is logged and left for the next run, so one bad
subscription does not hold up the others; on a test clock it stops the advance.
"""
import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError

from app.billing import catalog_reads, events, final_period, late_usage, writes
from app.billing.events import atomic
from app.billing.invoicing import (
    AUTO_FINALIZE_AFTER,
    build_invoice,
    compute_totals_many,
    finalize_many,
    mark_uncollectible,
    store_drafts,
    void,
)
from app.billing.payments import collect, collect_many
from app.billing.periods import interval_length, next_boundary, previous_boundary
from app.billing.subscription_status import set_status
from app.billing.subscriptions import cancel, cycle_key, metered_lines
from app.models.customers import Customer
from app.models.invoices import Invoice, InvoiceItem
from app.models.subscriptions import Subscription, SubscriptionItem

log = logging.getLogger(__name__)

TRIAL_WILL_END_BEFORE = timedelta(days=3)
FOLLOW_UP = AUTO_FINALIZE_AFTER
BATCH = 500
CHUNK = 100
INCOMPLETE_EXPIRES_AFTER = timedelta(hours=23)
HELD_POLL = 0.1  # seconds between reads while other workers hold every due step
HELD_WAIT = 5.0  # seconds without progress after which the run ends
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
                    max_seconds: float | None = None, chunk: int = CHUNK) -> int:
    """Run every due step up to `until` in time order, in chunks; returns how many ran.

    Steps are read in batches. A step never schedules another sooner than FOLLOW_UP after itself
    (a renewal's draft finalizes an hour later), so every step of a batch due within FOLLOW_UP of
    its first one runs before anything the batch creates: time order holds without re-reading.
    On real time, when everything due is held by other workers, the run reads again every HELD_POLL
    (their commits make the next steps due, such as finalizations after the last renewals), and ends
    after HELD_WAIT without progress; failed steps are left for the next run.
    """
    skip_locked = clock_id is None
    ran = 0
    conflicted: set[Step] = set()
    failed: set[Step] = set()
    deadline = time.monotonic() + max_seconds if max_seconds is not None else None
    idle_since: float | None = None
    while ran < max_steps and (deadline is None or time.monotonic() < deadline):
        steps = [step for step in await due_steps(clock_id, until) if step not in failed]
        if not steps:
            break
        window = steps[0].at + FOLLOW_UP
        progress = 0
        try:
            for group in _chunks([s for s in steps if s.at < window], chunk):
                progress += await _run_chunk(group, dispatch, skip_locked, conflicted, failed)
                if ran + progress >= max_steps or (deadline is not None and time.monotonic() >= deadline):
                    break
        except _ReadAgain:
            progress += 1
        ran += progress
        if progress:
            idle_since = None
            continue
        idle_since = idle_since or time.monotonic()
        if not skip_locked or time.monotonic() - idle_since >= HELD_WAIT:
            break
        await asyncio.sleep(HELD_POLL)
    return ran


class _ReadAgain(Exception):
    """Another worker ran a step first (one cycle invoice per period): read the due steps again."""


def _chunks(steps: list[Step], size: int) -> Iterator[list[Step]]:
    """Runs of consecutive steps of one kind, at most `size` long, in order."""
    group: list[Step] = []
    for step in steps:
        if group and (step.kind != group[0].kind or len(group) >= size):
            yield group
            group = []
        group.append(step)
    if group:
        yield group


async def _run_chunk(steps: list[Step], dispatch: Dispatch, skip_locked: bool, conflicted: set[Step],
                     failed: set[Step]) -> int:
    """Run a chunk in one transaction; if it fails, each of its steps alone. Returns how many steps ran
    (not those another worker holds)."""
    if len(steps) == 1:
        return await _run_alone(steps[0], dispatch, skip_locked, conflicted, failed)
    try:
        async with atomic() as uow:
            with catalog_reads.remembered():
                skipped = await KINDS[steps[0].kind](steps, skip_locked)
    except Exception:
        ran = 0
        for step in steps:
            ran += await _run_alone(step, dispatch, skip_locked, conflicted, failed)
        return ran
    await dispatch(uow.events)
    return len(steps) - len(skipped)


async def _run_alone(step: Step, dispatch: Dispatch, skip_locked: bool, conflicted: set[Step],
                     failed: set[Step]) -> int:
    """Run one step in its own transaction. A unique violation the first time means another worker ran it
    first: read the due steps again. Any other failure (or the same step conflicting again) stops a test
    clock's run; on real time it is logged and the step left for the next run."""
    try:
        async with atomic() as uow:
            skipped = await KINDS[step.kind]([step], skip_locked)
    except Exception as error:
        if isinstance(error, IntegrityError) and step not in conflicted:
            conflicted.add(step)
            raise _ReadAgain() from None
        if not skip_locked:
            raise
        log.exception("billing cycle step %s %s failed; it is left for the next run", step.kind, step.id)
        failed.add(step)
        return 0
    await dispatch(uow.events)
    return 1 - len(skipped)


async def _claim(model, steps: list[Step], skip_locked: bool) -> tuple[dict, set[str]]:
    """Lock the steps' rows (in id order); with skip_locked, rows another transaction holds are left out.
    Returns the rows by id and the ids skipped."""
    ids = [step.id for step in steps]
    rows = {row.id: row for row in await model.filter(id__in=ids).order_by("id").select_for_update(
        skip_locked=skip_locked)}
    return rows, {id for id in ids if id not in rows} if skip_locked else set()


async def renew(steps: list[Step], skip_locked: bool) -> set[str]:
    """Renew (or end) the subscriptions whose period ends at each step's time: the next period's draft
    invoices, built in memory and stored with a few statements for the whole chunk. A period that
    cancel_at cuts short ends there (final_period)."""
    subs, skipped = await _claim(Subscription, steps, skip_locked)
    renewed: list[tuple[Subscription, dict, datetime, datetime]] = []  # sub, before, old period start, at
    for step in steps:
        sub = subs.get(step.id)
        if sub is None or sub.status not in RENEWING or sub.current_period_end > step.at:
            continue
        at = sub.current_period_end
        if sub.cancel_at_period_end or (sub.cancel_at is not None and sub.cancel_at <= at):
            await cancel(sub, at, bill_usage=True)
            continue
        before = events.snapshot(sub)
        old_start = sub.current_period_start
        trial_ends = sub.status == "trialing" and sub.trial_end is not None and sub.trial_end <= at
        if trial_ends:
            sub.billing_cycle_anchor = max(sub.billing_cycle_anchor, sub.trial_end)  # keep a later explicit anchor
            sub.status = "active"
        sub.current_period_start = at
        end = next_boundary(sub.billing_cycle_anchor, sub.interval, sub.interval_count, at)
        sub.current_period_end = final_period.cut(sub, at, end) or end
        renewed.append((sub, before, old_start, at))
    await _renewal_invoices([(sub, old_start, at) for sub, _, old_start, at in renewed if sub.status != "paused"])
    await writes.update([sub for sub, *_ in renewed], writes.fields_of(Subscription))
    for sub, before, _, at in renewed:
        await events.record_update("customer.subscription.updated", sub, before, created=at)
    return skipped


async def _renewal_invoices(renewals: list[tuple[Subscription, datetime, datetime]]) -> None:
    """The cycle invoices of renewed subscriptions (sub, previous period start, renewal time): customers,
    items, prices and pending invoice items read once for all of them."""
    if not renewals:
        return
    sub_ids = [sub.id for sub, _, _ in renewals]
    customer_ids = {sub.customer_id for sub, _, _ in renewals}
    customers = {c.id: c for c in await Customer.filter(id__in=customer_ids)}
    items_of: dict[str, list[SubscriptionItem]] = defaultdict(list)
    for item in await SubscriptionItem.filter(subscription_id__in=sub_ids, deleted=False).order_by("created", "id"):
        items_of[item.subscription_id].append(item)
    await catalog_reads.preload({item.price_id for items in items_of.values() for item in items})
    # Locked, so two invoices built at once never take the same item; one customer's items go to one invoice.
    pending_of: dict[str, list[InvoiceItem]] = defaultdict(list)
    for item in await InvoiceItem.filter(customer_id__in=customer_ids, invoice_id=None, deleted=False) \
            .select_for_update().order_by("created", "id"):
        pending_of[item.customer_id].append(item)
    taken: set[str] = set()
    drafts = []
    for sub, old_start, at in renewals:
        items = items_of[sub.id]
        # A trial ending before its billing_cycle_anchor starts a short period, prorated up to the anchor.
        end = next_boundary(sub.billing_cycle_anchor, sub.interval, sub.interval_count, at)
        on_boundary = previous_boundary(sub.billing_cycle_anchor, sub.interval, sub.interval_count, at) == at
        specs = [*await final_period.lines(sub, items, at, end, whole=None if on_boundary else interval_length(
                     sub.interval, sub.interval_count, end)),
                 *await metered_lines(sub, items, old_start, at)]
        pending = [i for i in pending_of[sub.customer_id] if i.subscription_id in (None, sub.id) and i.id not in taken]
        taken.update(i.id for i in pending)
        draft = build_invoice(
            customers[sub.customer_id], now=at, billing_reason="subscription_cycle", specs=specs,
            currency=sub.currency, period_start=old_start, period_end=at, subscription=sub,
            collection_method=sub.collection_method, days_until_due=sub.days_until_due,
            auto_advance=sub.pause_collection_behavior != "keep_as_draft", pending=pending,
            cycle_key=cycle_key(sub, at),
        )
        sub.latest_invoice_id = draft.invoice.id
        drafts.append((draft, at))
    await compute_totals_many([(draft.invoice, draft.lines, at) for draft, at in drafts])
    await store_drafts([draft for draft, _ in drafts])


async def _sub(id: str) -> Subscription | None:
    return await Subscription.filter(id=id).select_for_update().first()


async def _invoice(id: str) -> Invoice | None:
    return await Invoice.filter(id=id).select_for_update().first()


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


async def finalize_drafts(steps: list[Step], skip_locked: bool) -> set[str]:
    """Auto-finalize drafts 1 hour after creation, then collect them (or apply pause_collection)."""
    invoices, skipped = await _claim(Invoice, steps, skip_locked)
    due = []
    for step in steps:
        invoice = invoices.get(step.id)
        if (invoice is None or invoice.status != "draft" or not invoice.auto_advance
                or invoice.automatically_finalizes_at is None or invoice.automatically_finalizes_at > step.at):
            continue
        due.append((invoice, invoice.automatically_finalizes_at))
    await late_usage.refresh([invoice for invoice, _ in due])
    await finalize_many(due, save=False)  # saved below, or by what comes next
    sub_ids = {invoice.subscription_id for invoice, _ in due if invoice.subscription_id}
    subs = {s.id: s for s in await Subscription.filter(id__in=sub_ids)} if sub_ids else {}
    charge, finalized = [], []
    for invoice, at in due:
        sub = subs.get(invoice.subscription_id)
        pause = sub.pause_collection_behavior if sub else None
        if invoice.status != "open":
            finalized.append(invoice)
        elif pause == "mark_uncollectible":
            await mark_uncollectible(invoice, at)
        elif pause == "void":
            await void(invoice, at)
        elif invoice.collection_method == "charge_automatically" and (sub is None or sub.status not in NOT_CHARGED):
            charge.append((invoice, at))
        else:
            finalized.append(invoice)
    await writes.update(finalized, writes.fields_of(Invoice))
    await collect_many(charge)
    return skipped


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


Chunk = Callable[[list[Step], bool], Awaitable[set[str]]]


def _one_by_one(step: Callable[[str, datetime], Awaitable[None]]) -> Chunk:
    """A chunk of a kind with no bulk implementation: its steps one after the other (they lock and wait)."""
    async def run(steps: list[Step], skip_locked: bool) -> set[str]:
        for s in steps:
            await step(s.id, s.at)
        return set()
    return run


# Each kind runs a chunk of its steps (in one transaction) and returns the ids it left to another worker.
KINDS: dict[str, Chunk] = {
    "period_end": renew, "finalize": finalize_drafts, "cancel_at": _one_by_one(cancel_at),
    "trial_will_end": _one_by_one(trial_will_end), "expire_incomplete": _one_by_one(expire_incomplete),
    "resume_collection": _one_by_one(resume_collection), "retry": _one_by_one(retry),
    "overdue": _one_by_one(overdue),
}
