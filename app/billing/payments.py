"""Charging invoices: PaymentIntents through a PaymentProcessor, failures, and the retry schedule.

The built-in TestProcessor implements DESIGN.md's test cards. Every charge carries an
idempotency key (invoice id + attempt number) and the processor records it durably, so a job
that runs twice never charges twice.
"""
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.billing import events
from app.billing.invoicing import mark_paid
from app.billing.payments_policy import next_attempt_after_failure
from app.billing.subscription_status import after_payment
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


class PaymentProcessor(Protocol):
    async def charge(self, *, idempotency_key: str, payment_method: PaymentMethod, amount: int,
                     currency: str) -> ChargeResult: ...


_DECLINES = {
    "charge_fail": ("card_declined", "generic_decline", "Your card was declined."),
    "insufficient_funds": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
}


class TestProcessor:
    """DESIGN.md's test cards. The charge row is written in the caller's transaction under a unique
    idempotency key: a replayed key returns the recorded outcome instead of charging again."""

    async def charge(self, *, idempotency_key: str, payment_method: PaymentMethod, amount: int,
                     currency: str) -> ChargeResult:
        existing = await TestCharge.get_or_none(idempotency_key=idempotency_key)
        if existing is not None:
            return self._result(existing)
        code, decline, _ = _DECLINES.get(payment_method.behavior, (None, None, None))
        try:
            async with in_transaction():  # a savepoint: a lost race leaves the caller's transaction usable
                record = await TestCharge.create(
                    id=new_id("ch"), idempotency_key=idempotency_key, payment_method_id=payment_method.id,
                    amount=amount, currency=currency, succeeded=code is None, failure_code=code,
                    decline_code=decline,
                )
        except IntegrityError:
            record = await TestCharge.get(idempotency_key=idempotency_key)
        return self._result(record)

    @staticmethod
    def _result(record: TestCharge) -> ChargeResult:
        if record.succeeded:
            return ChargeResult(True)
        message = next((m for c, d, m in _DECLINES.values() if d == record.decline_code), "Your card was declined.")
        return ChargeResult(False, record.failure_code, record.decline_code, message)


processor: PaymentProcessor = TestProcessor()


async def _payment_method_for(invoice: Invoice, explicit: str | None) -> PaymentMethod | None:
    """The payment method given, else the subscription's default, else the customer's default."""
    candidates = [explicit]
    if invoice.subscription_id:
        candidates.append(await Subscription.filter(id=invoice.subscription_id).first().values_list(
            "default_payment_method_id", flat=True))
    candidates.append(await Customer.filter(id=invoice.customer_id).first().values_list(
        "default_payment_method_id", flat=True))
    for pm_id in candidates:
        if pm_id:
            pm = await PaymentMethod.get_or_none(id=pm_id)
            if pm is not None and pm.customer_id == invoice.customer_id:
                return pm
    return None


async def _payment_intent(invoice: Invoice, now: datetime) -> PaymentIntent:
    if invoice.payment_intent_id:
        return await PaymentIntent.get(id=invoice.payment_intent_id)
    intent = await PaymentIntent.create(
        id=new_id("pi"), amount=invoice.amount_remaining, currency=invoice.currency,
        status="requires_payment_method", customer_id=invoice.customer_id, invoice_id=invoice.id, created=now,
    )
    invoice.payment_intent_id = intent.id
    return intent


async def collect(invoice: Invoice, now: datetime, *, payment_method_id: str | None = None,
                  automatic: bool = True, update_subscription: bool = True) -> bool:
    """One payment attempt on an open invoice; True when it is paid.

    A failure records last_payment_error and attempt_count, schedules the next automatic retry
    (for subscription renewals and manual invoices, not a subscription's first invoice; an attempt
    by hand, `automatic=False`, keeps the schedule) and fires invoice.payment_failed; the
    subscription's status follows.
    """
    invoice.attempt_count += 1
    invoice.attempted = True
    intent = await _payment_intent(invoice, now)
    pm = await _payment_method_for(invoice, payment_method_id)
    if pm is None:
        result = ChargeResult(False, "payment_method_missing", None,
                              "The customer has no payment method to charge.")
    else:
        intent.payment_method_id = pm.id
        result = await processor.charge(idempotency_key=f"{invoice.id}:{invoice.attempt_count}",
                                        payment_method=pm, amount=invoice.amount_remaining,
                                        currency=invoice.currency)
    if result.succeeded:
        intent.status = "succeeded"
        intent.amount_received = invoice.amount_remaining
        intent.last_payment_error = None
        await intent.save()
        await invoice.save()
        await events.record("payment_intent.succeeded", intent, created=now)
        await mark_paid(invoice, now)
        await events.record("invoice.payment_succeeded", invoice, created=now)
        if update_subscription:
            await after_payment(invoice, True, now)
        return True
    intent.status = "requires_payment_method"
    intent.last_payment_error = {"code": result.code, "decline_code": result.decline_code, "message": result.message}
    await intent.save()
    if automatic:  # an attempt by hand leaves the automatic schedule as it was
        retries = (invoice.billing_reason != "subscription_create"
                   and invoice.collection_method == "charge_automatically")
        invoice.next_payment_attempt = next_attempt_after_failure(invoice.finalized_at or now, now) if retries else None
    await invoice.save()
    await events.record("payment_intent.payment_failed", intent, created=now)
    await events.record("invoice.payment_failed", invoice, created=now)
    if update_subscription:
        await after_payment(invoice, False, now)
    return False
