"""Stripe's subscription status machine as payments succeed or fail."""
from datetime import datetime

from app.billing import events
from app.billing.payments_policy import after_retries_exhausted
from app.models.invoices import Invoice
from app.models.subscriptions import Subscription


async def set_status(sub: Subscription, status: str, now: datetime) -> None:
    if sub.status == status:
        return
    before = events.snapshot(sub)
    sub.status = status
    if status in ("canceled", "incomplete_expired"):
        sub.ended_at = now
        sub.canceled_at = sub.canceled_at or now
    await sub.save()
    if status == "canceled":
        await events.record("customer.subscription.deleted", sub, created=now)
    else:
        await events.record_update("customer.subscription.updated", sub, before, created=now)


async def after_payment(invoice: Invoice, paid: bool, now: datetime) -> None:
    """Paid: an incomplete, past-due or unpaid subscription becomes active. Failed: a renewal makes it
    past due, and when retries are exhausted it becomes canceled (or unpaid, by setting)."""
    await after_payment_many([(invoice, paid, now)])


async def after_payment_many(batch: list[tuple[Invoice, bool, datetime]]) -> None:
    """after_payment for many payments, locking their subscriptions in one statement."""
    ids = {invoice.subscription_id for invoice, _, _ in batch if invoice.subscription_id}
    if not ids:
        return
    subs = {s.id: s for s in await Subscription.filter(id__in=ids).order_by("id").select_for_update()}
    for invoice, paid, now in batch:
        sub = subs.get(invoice.subscription_id)
        if sub is None or sub.status in ("canceled", "incomplete_expired"):
            continue
        if paid:
            if sub.status in ("incomplete", "past_due", "unpaid"):
                await set_status(sub, "active", now)
            continue
        if (invoice.billing_reason == "subscription_create" or invoice.collection_method != "charge_automatically"
                or sub.status in ("paused", "unpaid")):
            continue  # SEND_INVOICE ones become past due at the due date; paused and unpaid ones stay so
        exhausted = invoice.next_payment_attempt is None
        await set_status(sub, after_retries_exhausted() if exhausted else "past_due", now)
