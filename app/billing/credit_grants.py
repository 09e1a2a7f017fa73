"""Billing credits (Stripe's credit grants): prepaid (PAID) or free (PROMOTIONAL) amounts a customer's
invoices draw on.

A grant is usable from effective_at until expires_at (exclusive), unless voided. At finalization an
invoice's metered part (the metered lines after their discounts) is paid with the customer's usable
grants of the invoice's currency, before the customer balance, in Stripe's order: priority (0 first,
default 50), then the soonest expiry (never-expiring last), PROMOTIONAL before PAID, the earliest
effective_at, then the oldest grant. Never more than a grant's remaining amount, never more than the
invoice's total. Each application, void, and give-back (a voided invoice) is a CreditBalanceTransaction,
so a grant's remaining amount is always its amount minus its debits plus its credits.

Concurrency: the finalizing transaction holds the customer's row lock (one finalization per customer at
a time), locks the grants it reads, and spends with a conditional atomic update (`remaining >= spent`),
so two invoices never spend the same credit.
"""
from datetime import datetime

from tortoise.expressions import F, Q

from app.billing import catalog_reads, events, lookup, validation
from app.billing.errors import invalid
from app.clock import now_for
from app.ids import new_id
from app.models.credit_grants import CreditBalanceTransaction, CreditGrant
from app.models.customers import Customer
from app.models.invoices import Invoice, InvoiceLineItem

CATEGORIES = ("paid", "promotional")
DEFAULT_PRIORITY = 50
NEVER = datetime.max.replace(tzinfo=None)


def usable(grant: CreditGrant, now: datetime) -> bool:
    return (grant.voided_at is None and grant.effective_at <= now
            and (grant.expires_at is None or now < grant.expires_at))


def available_balance(grant: CreditGrant, now: datetime) -> int:
    """What the grant can still pay at `now`: nothing before it is effective, once expired, or voided."""
    return grant.remaining if usable(grant, now) else 0


def application_order(grant: CreditGrant) -> tuple:
    expiry = grant.expires_at.replace(tzinfo=None) if grant.expires_at else NEVER
    return (grant.priority, expiry, grant.category != "promotional", grant.effective_at, grant.created, grant.id)


async def _entry(grant: CreditGrant, *, type: str, kind: str, amount: int, at: datetime,
                 invoice_id: str | None = None) -> CreditBalanceTransaction:
    entry = await CreditBalanceTransaction.create(
        id=new_id("credbtxn"), credit_grant_id=grant.id, customer_id=grant.customer_id, type=type, kind=kind,
        amount=amount, currency=grant.currency, invoice_id=invoice_id, effective_at=at, created=at)
    await events.record("billing.credit_balance_transaction.created", entry, created=at)
    return entry


async def create_credit_grant(*, customer: str, amount: int, currency: str, category: str, name: str | None = None,
                              effective_at: datetime | None = None, expires_at: datetime | None = None,
                              priority: int | None = None, applicability_config: dict | None = None,
                              metadata: dict | None = None) -> CreditGrant:
    owner = await lookup.get(Customer, customer, "customer")
    now = await now_for(owner)
    validation.amount(amount, "amount", positive=True)
    currency = validation.currency(currency)
    if category not in CATEGORIES:
        raise invalid("category must be PAID or PROMOTIONAL.", "category")
    priority = DEFAULT_PRIORITY if priority is None else priority
    if not 0 <= priority <= 100:
        raise invalid("priority must be between 0 (applied first) and 100.", "priority")
    scope = (applicability_config or {}).get("scope") or {}
    if scope.get("price_type", "metered") != "metered":
        raise invalid("Credit grants apply to metered prices only.", "applicabilityConfig.scope.priceType")
    effective_at = (effective_at or now).replace(microsecond=0)
    if expires_at is not None:
        expires_at = expires_at.replace(microsecond=0)
        if expires_at <= max(effective_at, now):
            raise invalid("expiresAt must be in the future and after effectiveAt.", "expiresAt")
    grant = await CreditGrant.create(
        id=new_id("credgr"), customer_id=owner.id, name=validation.string(name, "name", max_length=100),
        amount=amount, remaining=amount, currency=currency, category=category, priority=priority,
        effective_at=effective_at, expires_at=expires_at, test_clock_id=owner.test_clock_id,
        metadata=validation.new_metadata(metadata), created=now, updated=now)
    await events.record("billing.credit_grant.created", grant, created=now)
    await _entry(grant, type="credit", kind="credits_granted", amount=amount, at=now)
    return grant


async def void_credit_grant(id: str) -> CreditGrant:
    """Voiding ends the grant at once: what is left of it is debited and can no longer be applied."""
    grant = await lookup.get(CreditGrant, id, kind="credit grant", lock=True)
    if grant.voided_at is not None:
        raise invalid("This credit grant is already voided.", "id")
    now = await now_for(await Customer.get(id=grant.customer_id))
    before = events.snapshot(grant)
    left = grant.remaining
    grant.voided_at = grant.updated = now
    grant.remaining = 0
    await grant.save(update_fields=["voided_at", "updated", "remaining"])
    await events.record_update("billing.credit_grant.updated", grant, before, created=now)
    if left:
        await _entry(grant, type="debit", kind="credits_voided", amount=left, at=now)
    return grant


async def _metered_part(invoice: Invoice, lines: list[InvoiceLineItem]) -> int:
    """What the metered lines come to after their discounts, at most the invoice's total."""
    prices = await catalog_reads.prices({line.price_id for line in lines if line.price_id})
    metered = {price.id for price in prices.values() if price.recurring_usage_type == "metered"}
    part = sum(line.amount - sum(d["amount"] for d in line.discount_amounts or [])
               for line in lines if line.price_id in metered)
    return max(min(part, invoice.total), 0)


async def _grants(customer_id: str, currency: str, now: datetime, *, lock: bool) -> list[CreditGrant]:
    query = CreditGrant.filter(customer_id=customer_id, currency=currency, voided_at=None, remaining__gt=0,
                               effective_at__lte=now).filter(Q(expires_at=None) | Q(expires_at__gt=now))
    if lock:
        query = query.order_by("id").select_for_update()
    return sorted(await query, key=application_order)


def _reduce_total(invoice: Invoice, applied: int) -> None:
    invoice.total -= applied
    invoice.amount_due = invoice.amount_remaining = max(invoice.total, 0)


async def preview(invoice: Invoice, lines: list[InvoiceLineItem], now: datetime) -> None:
    """What finalizing at `now` would apply, without spending it (upcoming invoices)."""
    left = await _metered_part(invoice, lines)
    amounts = []
    for grant in await _grants(invoice.customer_id, invoice.currency, now, lock=False):
        take = min(grant.remaining, left)
        if take <= 0:
            break
        amounts.append({"amount": take, "credit_grant": grant.id, "credit_balance_transaction": None})
        left -= take
    invoice.total_pretax_credit_amounts = amounts
    _reduce_total(invoice, sum(a["amount"] for a in amounts))


async def apply(invoice: Invoice, lines: list[InvoiceLineItem], now: datetime) -> None:
    """Spend the customer's usable grants on the invoice's metered part (at finalization, after the
    discounts, before the customer balance), recording each application."""
    left = await _metered_part(invoice, lines)
    amounts = []
    for grant in await _grants(invoice.customer_id, invoice.currency, now, lock=True) if left > 0 else []:
        take = min(grant.remaining, left)
        if take <= 0:
            break
        spent = await CreditGrant.filter(id=grant.id, remaining__gte=take).update(
            remaining=F("remaining") - take, updated=now)
        if not spent:  # spent elsewhere since it was read: never below zero
            continue
        entry = await _entry(grant, type="debit", kind="credits_applied", amount=take, at=now, invoice_id=invoice.id)
        amounts.append({"amount": take, "credit_grant": grant.id, "credit_balance_transaction": entry.id})
        left -= take
    invoice.total_pretax_credit_amounts = amounts
    _reduce_total(invoice, sum(a["amount"] for a in amounts))


async def give_back(invoice: Invoice, now: datetime) -> None:
    """A voided invoice returns the credits applied to it to their grants (Stripe's
    credits_application_invoice_voided). A grant voided or expired meanwhile takes them back but
    cannot spend them: its available balance stays 0."""
    applications = await CreditBalanceTransaction.filter(invoice_id=invoice.id, kind="credits_applied")
    # Locked in id order, as apply() locks them, so a void and a finalization never deadlock.
    grants = {g.id: g for g in await CreditGrant.filter(id__in=[a.credit_grant_id for a in applications])
              .order_by("id").select_for_update()}
    for applied in applications:
        grant = grants[applied.credit_grant_id]
        await CreditGrant.filter(id=grant.id).update(remaining=F("remaining") + applied.amount, updated=now)
        await _entry(grant, type="credit", kind="credits_application_invoice_voided", amount=applied.amount,
                     at=now, invoice_id=invoice.id)
