"""Charging invoices: PaymentIntents through a PaymentProcessor, failures, and the retry schedule.

The built-in TestProcessor implements DESIGN.md's test cards. Every charge carries an
idempotency key (invoice id + attempt number) and the processor records it durably, so a job
that runs twice never charges twice.
"""
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.billing import events, writes
from app.billing.invoicing import mark_paid
from app.billing.payments_policy import next_attempt_after_failure
from app.billing.subscription_status import after_payment_many
from app.ids import new_id
from app.models.customers import Customer, PaymentMethod
from app.models.invoices import Invoice, PaymentIntent, TestCharge
from app.models.subscriptions import Subscription


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class ChargeRequest:
    idempotency_key: str
    payment_method: PaymentMethod
    amount: int
    currency: str


class PaymentProcessor(Protocol):
    async def charge_many(self, requests: list[ChargeRequest]) -> list[ChargeResult]:
        """One result per request, in order; a replayed idempotency key returns its first outcome."""


_DECLINES = {
    "charge_fail": ("card_declined", "generic_decline", "Your card was declined."),
    "insufficient_funds": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
}


class TestProcessor:
    """DESIGN.md's test cards. The charge rows are written in the caller's transaction under unique
    idempotency keys (INSERT ... ON CONFLICT DO NOTHING, which waits for a concurrent insert of the same
    key): a replayed key returns the recorded outcome instead of charging again."""

    async def charge_many(self, requests: list[ChargeRequest]) -> list[ChargeResult]:
        if not requests:
            return []
        fresh = []
        for r in requests:
            code, decline, _ = _DECLINES.get(r.payment_method.behavior, (None, None, None))
            fresh.append(writes.build(
                TestCharge, id=new_id("ch"), idempotency_key=r.idempotency_key, payment_method_id=r.payment_method.id,
                amount=r.amount, currency=r.currency, succeeded=code is None, failure_code=code,
                decline_code=decline,
            ))
        await TestCharge.bulk_create(fresh, ignore_conflicts=True)
        keys = [r.idempotency_key for r in requests]
        recorded = {c.idempotency_key: c for c in await TestCharge.filter(idempotency_key__in=keys)}
        return [self._result(recorded[key]) for key in keys]

    @staticmethod
    def _result(record: TestCharge) -> ChargeResult:
        if record.succeeded:
            return ChargeResult(True)
        message = next((m for c, d, m in _DECLINES.values() if d == record.decline_code), "Your card was declined.")
        return ChargeResult(False, record.failure_code, record.decline_code, message)


processor: PaymentProcessor = TestProcessor()


async def _payment_methods_for(invoices: list[Invoice], explicit: str | None) -> dict[str, PaymentMethod]:
    """Per invoice id: the payment method given, else the subscription's default, else the customer's."""
    sub_ids = {i.subscription_id for i in invoices if i.subscription_id}
    of_sub = dict(await Subscription.filter(id__in=sub_ids).values_list("id", "default_payment_method_id")
                  ) if sub_ids else {}
    of_customer = dict(await Customer.filter(id__in={i.customer_id for i in invoices})
                       .values_list("id", "default_payment_method_id"))
    candidates = {i.id: [explicit, of_sub.get(i.subscription_id), of_customer.get(i.customer_id)] for i in invoices}
    pm_ids = {pm_id for ids in candidates.values() for pm_id in ids if pm_id}
    methods = {pm.id: pm for pm in await PaymentMethod.filter(id__in=pm_ids)} if pm_ids else {}
    found = {}
    for invoice in invoices:
        pm = next((methods[pm_id] for pm_id in candidates[invoice.id]
                   if pm_id in methods and methods[pm_id].customer_id == invoice.customer_id), None)
        if pm is not None:
            found[invoice.id] = pm
    return found


async def _payment_intents(batch: list[tuple[Invoice, datetime]]) -> tuple[list[PaymentIntent], list[PaymentIntent]]:
    """Each invoice's PaymentIntent, in order, and those of them that are new (not stored yet)."""
    ids = [i.payment_intent_id for i, _ in batch if i.payment_intent_id]
    stored = {p.id: p for p in await PaymentIntent.filter(id__in=ids)} if ids else {}
    intents, new = [], []
    for invoice, now in batch:
        if invoice.payment_intent_id:
            intents.append(stored[invoice.payment_intent_id])
            continue
        intent = writes.build(
            PaymentIntent, id=new_id("pi"), amount=invoice.amount_remaining, currency=invoice.currency,
            status="requires_payment_method", customer_id=invoice.customer_id, invoice_id=invoice.id, created=now,
        )
        invoice.payment_intent_id = intent.id
        intents.append(intent)
        new.append(intent)
    return intents, new


async def collect(invoice: Invoice, now: datetime, *, payment_method_id: str | None = None,
                  automatic: bool = True, update_subscription: bool = True) -> bool:
    """One payment attempt on an open invoice; True when it is paid.

    A failure records last_payment_error and attempt_count, schedules the next automatic retry
    (for subscription renewals and manual invoices, not a subscription's first invoice; an attempt
    by hand, `automatic=False`, keeps the schedule) and fires invoice.payment_failed; the
    subscription's status follows.
    """
    [paid] = await collect_many([(invoice, now)], payment_method_id=payment_method_id, automatic=automatic,
                                update_subscription=update_subscription)
    return paid


async def collect_many(batch: list[tuple[Invoice, datetime]], *, payment_method_id: str | None = None,
                       automatic: bool = True, update_subscription: bool = True) -> list[bool]:
    """collect for many invoices, with a constant number of statements: one charge request per invoice."""
    if not batch:
        return []
    for invoice, _ in batch:
        invoice.attempt_count += 1
        invoice.attempted = True
    intents, new = await _payment_intents(batch)
    methods = await _payment_methods_for([i for i, _ in batch], payment_method_id)
    requests = []
    for (invoice, _), intent in zip(batch, intents, strict=True):
        if invoice.id in methods:
            intent.payment_method_id = methods[invoice.id].id
            requests.append(ChargeRequest(f"{invoice.id}:{invoice.attempt_count}", methods[invoice.id],
                                          invoice.amount_remaining, invoice.currency))
    charged = iter(await processor.charge_many(requests))
    missing = ChargeResult(False, "payment_method_missing", None, "The customer has no payment method to charge.")
    outcomes = []
    for (invoice, now), intent in zip(batch, intents, strict=True):
        result = next(charged) if invoice.id in methods else missing
        outcomes.append(result.succeeded)
        if result.succeeded:
            intent.status = "succeeded"
            intent.amount_received = invoice.amount_remaining
            intent.last_payment_error = None
            await events.record("payment_intent.succeeded", intent, created=now)
            await mark_paid(invoice, now, save=False)
            await events.record("invoice.payment_succeeded", invoice, created=now)
            continue
        intent.status = "requires_payment_method"
        intent.last_payment_error = {"code": result.code, "decline_code": result.decline_code,
                                     "message": result.message}
        if automatic:  # an attempt by hand leaves the automatic schedule as it was
            retries = (invoice.billing_reason != "subscription_create"
                       and invoice.collection_method == "charge_automatically")
            invoice.next_payment_attempt = next_attempt_after_failure(invoice.finalized_at or now, now) \
                if retries else None
        await events.record("payment_intent.payment_failed", intent, created=now)
        await events.record("invoice.payment_failed", invoice, created=now)
    await writes.insert(new)
    fresh = {p.id for p in new}
    await writes.update([p for p in intents if p.id not in fresh],
                        ["payment_method_id", "status", "amount_received", "last_payment_error"])
    await writes.update([i for i, _ in batch], writes.fields_of(Invoice))
    if update_subscription:
        await after_payment_many([(invoice, paid, now) for (invoice, now), paid in zip(batch, outcomes, strict=True)])
    return outcomes
