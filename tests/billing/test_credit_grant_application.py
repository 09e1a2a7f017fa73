"""Credit grants applied at finalization: only to the metered part after discounts, before the customer
balance, in Stripe's order, never beyond a grant; voids, expiry, give-back on a voided invoice, an exact
ledger; and on PostgreSQL, concurrent finalizations never spend the same credit twice."""
import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.billing.clocks import create_test_clock
from app.billing.coupons import create_coupon
from app.billing.credit_grants import available_balance, create_credit_grant, void_credit_grant
from app.billing.customers import create_customer
from app.billing.errors import BillingError
from app.billing.events import atomic
from app.billing.invoicing import LineSpec, create_invoice, finalize, void
from app.billing.prices import create_price
from app.billing.products import create_product
from app.models import clocks
from app.models.credit_grants import CreditBalanceTransaction, CreditGrant
from app.models.customers import Customer
from app.models.invoices import Invoice

NOW = datetime(2026, 5, 1, tzinfo=UTC)


async def price(metered: bool) -> str:
    product = await create_product(name="Usage" if metered else "Seats")
    recurring = {"interval": "month", "usage_type": "metered" if metered else "licensed"}
    return (await create_price(product=product.id, currency="usd", unit_amount=1, recurring=recurring)).id


async def customer(balance: int = 0) -> Customer:
    clock = await create_test_clock(frozen_time=NOW)
    return await create_customer(email="c@example.com", test_clock=clock.id, balance=balance or None,
                                 payment_method="pm_card_visa")


async def grant(owner: Customer, amount: int, **options) -> CreditGrant:
    options.setdefault("category", "promotional")
    return await create_credit_grant(customer=owner.id, amount=amount, currency="usd", **options)


async def invoice(owner: Customer, metered: int, licensed: int = 0, *, finalize_at: datetime = NOW) -> Invoice:
    specs = [LineSpec(amount=metered, currency="usd", period_start=NOW, period_end=NOW, price_id=await price(True))]
    if licensed:
        specs.append(LineSpec(amount=licensed, currency="usd", period_start=NOW, period_end=NOW,
                              price_id=await price(False)))
    draft, _ = await create_invoice(owner, now=finalize_at, billing_reason="manual", specs=specs, currency="usd",
                                    period_start=NOW, period_end=NOW)
    return await finalize(draft, finalize_at)


def applied(inv: Invoice) -> list[tuple[str, int]]:
    return [(a["credit_grant"], a["amount"]) for a in inv.total_pretax_credit_amounts]


async def remaining(g: CreditGrant) -> int:
    return (await CreditGrant.get(id=g.id)).remaining


async def assert_ledger_exact(g: CreditGrant) -> None:
    """remaining = credits - debits, always."""
    entries = await CreditBalanceTransaction.filter(credit_grant_id=g.id)
    assert await remaining(g) == sum(e.amount if e.type == "credit" else -e.amount for e in entries)


async def test_applies_to_the_metered_part_before_the_customer_balance(db):
    owner = await customer(balance=-250)
    g = await grant(owner, 300)
    inv = await invoice(owner, metered=1000, licensed=400)
    assert applied(inv) == [(g.id, 300)]
    assert (inv.subtotal, inv.total, inv.starting_balance, inv.amount_due) == (1400, 1100, -250, 850)
    assert (await Customer.get(id=owner.id)).balance == 0
    assert await remaining(g) == 0
    await assert_ledger_exact(g)


async def test_never_beyond_the_metered_part(db):
    owner = await customer()
    g = await grant(owner, 5000)
    inv = await invoice(owner, metered=700, licensed=400)
    assert applied(inv) == [(g.id, 700)]
    assert (inv.total, inv.amount_due, inv.status) == (400, 400, "open")
    assert await remaining(g) == 4300
    only_licensed = await invoice(owner, metered=0, licensed=900)
    assert applied(only_licensed) == [] and only_licensed.total == 900
    await assert_ledger_exact(g)


async def test_a_fully_covered_invoice_is_paid_without_a_charge(db):
    owner = await customer()
    await grant(owner, 1000)
    inv = await invoice(owner, metered=600)
    assert (inv.total, inv.amount_due, inv.amount_paid, inv.status) == (0, 0, 0, "paid")
    assert inv.payment_intent_id is None


async def test_stripe_order_priority_expiry_category_effective_created(db):
    owner = await customer()
    soon = NOW + timedelta(days=5)
    later = NOW + timedelta(days=30)
    # Created in an order that is not the application order.
    last = await grant(owner, 10, category="paid", priority=60)
    never_expires = await grant(owner, 10, category="promotional")
    paid_late = await grant(owner, 10, category="paid", expires_at=later)
    promo_late = await grant(owner, 10, category="promotional", expires_at=later)
    paid_soon_newer = await grant(owner, 10, category="paid", expires_at=soon, effective_at=NOW - timedelta(days=1))
    paid_soon_older = await grant(owner, 10, category="paid", expires_at=soon, effective_at=NOW - timedelta(days=2))
    first = await grant(owner, 10, category="paid", priority=0)
    paid_soon_same = await grant(owner, 10, category="paid", expires_at=soon, effective_at=NOW - timedelta(days=1))
    inv = await invoice(owner, metered=75)
    order = [first, paid_soon_older, paid_soon_newer, paid_soon_same, promo_late, paid_late, never_expires, last]
    assert applied(inv) == [(g.id, 10) for g in order[:7]] + [(last.id, 5)]


async def test_not_yet_effective_expired_voided_and_other_currency_grants_are_left_alone(db):
    owner = await customer()
    future = await grant(owner, 100, effective_at=NOW + timedelta(days=1))
    expiring = await grant(owner, 100, expires_at=NOW + timedelta(days=1))
    voided = await grant(owner, 100)
    await void_credit_grant(voided.id)
    euros = await create_credit_grant(customer=owner.id, amount=100, currency="eur", category="paid")
    later = NOW + timedelta(days=2)
    await clocks.TestClock.filter(id=owner.test_clock_id).update(frozen_time=later)
    inv = await invoice(owner, metered=150, finalize_at=later)
    assert applied(inv) == [(future.id, 100)]
    assert inv.total == 50
    for g in (expiring, voided):
        assert available_balance(await CreditGrant.get(id=g.id), later) == 0
    assert available_balance(await CreditGrant.get(id=euros.id), later) == 100  # usable, on euro invoices
    assert available_balance(await CreditGrant.get(id=expiring.id), NOW) == 100  # before its expiry
    assert available_balance(await CreditGrant.get(id=future.id), NOW) == 0  # before it was effective


async def test_void_debits_what_is_left(db):
    owner = await customer()
    g = await grant(owner, 500)
    await invoice(owner, metered=200)
    voided = await void_credit_grant(g.id)
    assert (voided.voided_at, voided.remaining, available_balance(voided, NOW)) == (NOW, 0, 0)
    kinds = await CreditBalanceTransaction.filter(credit_grant_id=g.id).order_by("id").values_list("kind", "amount")
    assert kinds == [("credits_granted", 500), ("credits_applied", 200), ("credits_voided", 300)]
    await assert_ledger_exact(g)
    with pytest.raises(BillingError):
        await void_credit_grant(g.id)


async def test_a_voided_invoice_gives_its_credits_back(db):
    owner = await customer()
    g = await grant(owner, 500)
    inv = await invoice(owner, metered=1000)
    assert (inv.status, inv.amount_due, await remaining(g)) == ("open", 500, 0)
    await void(await Invoice.get(id=inv.id), NOW)
    assert await remaining(g) == 500
    await assert_ledger_exact(g)


async def test_grant_input_is_checked(db):
    owner = await customer()
    for options, param in (({"amount": 0}, "amount"), ({"amount": 1, "priority": 101}, "priority"),
                           ({"amount": 1, "expires_at": NOW}, "expiresAt"),
                           ({"amount": 1, "category": "gift"}, "category"),
                           ({"amount": 1, "currency": "xyz"}, "currency")):
        options.setdefault("currency", "usd")
        options.setdefault("category", "paid")
        with pytest.raises(BillingError) as error:
            await create_credit_grant(customer=owner.id, **options)
        assert error.value.param == param
    assert await CreditGrant.filter(customer_id=owner.id).count() == 0


async def test_concurrent_finalizations_never_spend_the_same_credit(pg_db):
    owner = await customer()
    g = await grant(owner, 1000)
    drafts = []
    for _ in range(4):
        draft, _ = await create_invoice(
            owner, now=NOW, billing_reason="manual", currency="usd", period_start=NOW, period_end=NOW,
            specs=[LineSpec(amount=400, currency="usd", period_start=NOW, period_end=NOW, price_id=await price(True))])
        drafts.append(draft.id)

    async def finalize_one(id: str) -> Invoice:
        async with atomic():
            return await finalize(await Invoice.filter(id=id).select_for_update().first(), NOW)

    finalized = await asyncio.gather(*(finalize_one(id) for id in drafts))
    spent = sorted(sum(a["amount"] for a in inv.total_pretax_credit_amounts) for inv in finalized)
    assert spent == [0, 200, 400, 400]
    assert await remaining(g) == 0
    await assert_ledger_exact(g)
    entries = await CreditBalanceTransaction.filter(credit_grant_id=g.id, kind="credits_applied")
    assert sorted(e.amount for e in entries) == [200, 400, 400]


async def test_credits_pay_the_metered_part_after_its_discount(db):
    coupon = await create_coupon(duration="forever", percent_off=50)
    clock = await create_test_clock(frozen_time=NOW)
    owner = await create_customer(email="d@example.com", test_clock=clock.id, coupon=coupon.id)
    g = await grant(owner, 5000)
    inv = await invoice(owner, metered=1000, licensed=400)
    assert inv.total_discount_amounts[0]["amount"] == 700
    assert applied(inv) == [(g.id, 500)]  # half of the metered 1000; the licensed 200 left is due
    assert (inv.subtotal, inv.total, inv.amount_due) == (1400, 200, 200)
