"""Invoices: building lines, totals (discounts, customer balance), numbering, and the status machine.

DRAFT -> OPEN (finalize) -> PAID | VOID | UNCOLLECTIBLE; UNCOLLECTIBLE -> PAID | VOID. Only drafts
are edited or deleted. Numbers (<invoice_prefix>-0001, ...) are taken at finalization under the
customer's row lock, so they are gapless; a unique constraint makes them unique.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from app.billing import catalog_reads, credit_grants, draft_balance, events, writes
from app.billing.discount_allocation import allocate
from app.billing.errors import invalid
from app.ids import new_id
from app.models.catalog import Price
from app.models.coupons import Coupon, Discount
from app.models.customers import Customer, CustomerBalanceTransaction
from app.models.invoices import Invoice, InvoiceItem, InvoiceLineItem
from app.models.subscriptions import Subscription

AUTO_FINALIZE_AFTER = timedelta(hours=1)
TRANSITIONS = {
    "draft": {"open"},
    "open": {"paid", "void", "uncollectible"},
    "uncollectible": {"paid", "void"},
}


@dataclass
class LineSpec:
    """A line to put on an invoice (subscription line or invoice item)."""

    amount: int
    currency: str
    period_start: datetime
    period_end: datetime
    description: str | None = None
    type: str = "subscription"
    discountable: bool = True
    price_id: str | None = None
    proration: bool = False
    quantity: int | None = None
    unit_amount_excluding_tax: Decimal | None = None
    subscription_id: str | None = None
    subscription_item_id: str | None = None
    invoice_item_id: str | None = None
    metadata: dict = field(default_factory=dict)
    discount_amounts: list[dict] = field(default_factory=list)  # a proration's own (proration_discounts)


def check_transition(invoice: Invoice, target: str) -> None:
    if target not in TRANSITIONS.get(invoice.status, set()):
        raise invalid(f"This invoice is {invoice.status}; it cannot become {target}.", "id")


def require_draft(invoice: Invoice) -> None:
    if invoice.status != "draft":
        raise invalid(f"This invoice is {invoice.status}: only draft invoices can be changed.", "id")


def item_line(item: InvoiceItem) -> LineSpec:
    return LineSpec(
        amount=item.amount, currency=item.currency, period_start=item.period_start, period_end=item.period_end,
        description=item.description, type="invoiceitem", discountable=item.discountable, price_id=item.price_id,
        proration=item.proration, quantity=item.quantity,
        unit_amount_excluding_tax=item.unit_amount_decimal, subscription_id=item.subscription_id,
        subscription_item_id=item.subscription_item_id, invoice_item_id=item.id, metadata=item.metadata,
        discount_amounts=list(item.discount_amounts),
    )


async def pending_items(customer_id: str, *, subscription_id: str | None = None,
                        everything: bool = False) -> list[InvoiceItem]:
    """Pending invoice items: the subscription's own and the customer's general ones (or all of them).
    Locked, so two invoices built at once never take the same item (the loser sees it taken)."""
    query = InvoiceItem.filter(customer_id=customer_id, invoice_id=None, deleted=False).select_for_update()
    items = await query.order_by("created", "id")
    if everything:
        return items
    return [i for i in items if i.subscription_id in (None, subscription_id)]


def _line_model(invoice: Invoice, spec: LineSpec, position: int) -> InvoiceLineItem:
    return writes.build(
        InvoiceLineItem, id=new_id("il"), invoice_id=invoice.id, type=spec.type, amount=spec.amount,
        currency=spec.currency,
        description=spec.description, discountable=spec.discountable, period_start=spec.period_start,
        period_end=spec.period_end, price_id=spec.price_id, proration=spec.proration, quantity=spec.quantity,
        unit_amount_excluding_tax=spec.unit_amount_excluding_tax, subscription_id=spec.subscription_id,
        subscription_item_id=spec.subscription_item_id, invoice_item_id=spec.invoice_item_id,
        metadata=spec.metadata, position=position, created=invoice.created,
        discount_amounts=list(spec.discount_amounts),
    )


async def applicable_discounts(invoice: Invoice, now: datetime) -> list[Discount]:
    """The invoice's own discount, else the subscription's, else the customer's (Stripe's precedence)."""
    return (await _applicable_discounts_many([(invoice, now)]))[invoice.id]


async def _applicable_discounts_many(batch: list[tuple[Invoice, datetime]]) -> dict[str, list[Discount]]:
    """applicable_discounts of many invoices, in at most 3 queries."""
    own_ids = {d for invoice, _ in batch for d in invoice.discount_ids}
    own = {d.id: d for d in await Discount.filter(id__in=own_ids)} if own_ids else {}
    by_sub: dict[str, list[Discount]] = defaultdict(list)
    sub_ids = {invoice.subscription_id for invoice, _ in batch if invoice.subscription_id}
    for discount in await Discount.filter(subscription_id__in=sub_ids, ended_at=None) if sub_ids else []:
        by_sub[discount.subscription_id].append(discount)
    by_customer: dict[str, list[Discount]] = defaultdict(list)
    for discount in await Discount.filter(customer_id__in={invoice.customer_id for invoice, _ in batch},
                                          subscription_id=None, invoice_id=None, ended_at=None):
        by_customer[discount.customer_id].append(discount)
    found = {}
    for invoice, now in batch:
        scopes = [[own[d] for d in invoice.discount_ids if d in own]] if invoice.discount_ids else []
        if invoice.subscription_id:
            scopes.append(by_sub[invoice.subscription_id])
        scopes.append(by_customer[invoice.customer_id])
        found[invoice.id] = next(
            (valid[:1] for scope in scopes
             if (valid := [d for d in scope if d.start <= now and (d.end is None or now < d.end)])), [])
    return found


async def compute_totals(invoice: Invoice, lines: list[InvoiceLineItem], now: datetime) -> None:
    """Subtotal, discounts per line and in total, and total. The balance is applied at finalization.
    A proration keeps the discount it took when it was made (proration_discounts); the invoice's
    discount applies to the other lines."""
    await compute_totals_many([(invoice, lines, now)])


async def compute_totals_many(batch: list[tuple[Invoice, list[InvoiceLineItem], datetime]]) -> None:
    """compute_totals of many invoices, reading their discounts, coupons and prices at once."""
    found = await _applicable_discounts_many([(invoice, now) for invoice, _, now in batch])
    coupon_ids = {d.coupon_id for discounts in found.values() for d in discounts}
    coupons = {c.id: c for c in await Coupon.filter(id__in=coupon_ids)} if coupon_ids else {}
    price_ids = {line.price_id for invoice, lines, _ in batch if found[invoice.id] for line in lines if line.price_id}
    product_of_price = dict(await Price.filter(id__in=price_ids).values_list("id", "product_id")) if price_ids else {}
    for invoice, lines, _ in batch:
        _totals(invoice, lines, [(d, coupons[d.coupon_id]) for d in found[invoice.id]], product_of_price)


def _totals(invoice: Invoice, lines: list[InvoiceLineItem], discounts: list[tuple[Discount, Coupon]],
            product_of_price: dict[str, str]) -> None:
    invoice.subtotal = sum(line.amount for line in lines)
    by_discount: dict[str, int] = {}
    for line in lines:
        if line.proration and not line.discountable:
            for taken in line.discount_amounts:
                by_discount[taken["discount"]] = by_discount.get(taken["discount"], 0) + taken["amount"]
        else:
            line.discount_amounts = []
    cap = invoice.subtotal - sum(by_discount.values())
    for discount, coupon in discounts:
        parts = allocate(coupon, lines, invoice.currency, product_of_price, cap=cap)
        for line, part in zip(lines, parts, strict=True):
            if part:
                line.discount_amounts.append({"amount": part, "discount": discount.id})
        by_discount[discount.id] = by_discount.get(discount.id, 0) + sum(parts)
    totals = [{"amount": amount, "discount": id} for id, amount in by_discount.items() if amount]
    invoice.discount_ids = [d.id for d, _ in discounts]
    invoice.total_discount_amounts = totals
    invoice.total = invoice.subtotal - sum(t["amount"] for t in totals)
    invoice.amount_due = invoice.amount_remaining = max(invoice.total + invoice.starting_balance, 0)


async def replace_lines(invoice: Invoice, lines: list[InvoiceLineItem], now: datetime) -> None:
    """Recompute totals and save the invoice with exactly these lines (drafts)."""
    await compute_totals(invoice, lines, now)
    await InvoiceLineItem.filter(invoice_id=invoice.id).exclude(id__in=[line.id for line in lines]).delete()
    for position, line in enumerate(lines):
        line.position = position
        await line.save()
    await invoice.save()


async def current_lines(invoice: Invoice) -> list[InvoiceLineItem]:
    return await InvoiceLineItem.filter(invoice_id=invoice.id).order_by("position", "id")


@dataclass
class Draft:
    """A draft invoice built in memory: its lines and the pending invoice items it takes."""

    invoice: Invoice
    lines: list[InvoiceLineItem]
    pending: list[InvoiceItem]


def build_invoice(customer: Customer, *, now: datetime, billing_reason: str, specs: list[LineSpec],
                  currency: str, period_start: datetime, period_end: datetime,
                  subscription: Subscription | None = None, collection_method: str = "charge_automatically",
                  days_until_due: int | None = None, description: str | None = None, auto_advance: bool = True,
                  pending: list[InvoiceItem] = (), metadata: dict | None = None,
                  discount_ids: list[str] | None = None, cycle_key: str | None = None,
                  preview: bool = False) -> Draft:
    """A draft invoice with these lines plus the pending items it takes, in memory (totals not computed)."""
    invoice = writes.build(
        Invoice, id=new_id("upcoming" if preview else "in"), customer_id=customer.id,
        subscription_id=subscription.id if subscription else None, status="draft", billing_reason=billing_reason,
        cycle_key=cycle_key, collection_method=collection_method, currency=currency, description=description,
        period_start=period_start, period_end=period_end, auto_advance=auto_advance,
        automatically_finalizes_at=now + AUTO_FINALIZE_AFTER if auto_advance else None,
        days_until_due=days_until_due, test_clock_id=customer.test_clock_id, created=now,
        metadata=metadata or {}, discount_ids=discount_ids or [],
    )
    draft_balance.preview(invoice, customer.balance, customer.currency)
    specs = [*specs, *(item_line(item) for item in pending)]
    return Draft(invoice, [_line_model(invoice, spec, i) for i, spec in enumerate(specs)], list(pending))


async def store_drafts(drafts: list[Draft]) -> None:
    """Insert built drafts (totals computed): their invoices, lines, taken items and invoice.created events."""
    await writes.insert([d.invoice for d in drafts])
    await writes.insert([line for d in drafts for line in d.lines])
    taken = [item for d in drafts for item in d.pending]
    for draft in drafts:
        for item in draft.pending:
            item.invoice_id = draft.invoice.id
    await writes.update(taken, ["invoice_id"])
    for draft in drafts:
        await events.record("invoice.created", draft.invoice, created=draft.invoice.created)


async def create_invoice(customer: Customer, *, now: datetime, billing_reason: str, specs: list[LineSpec],
                         currency: str, period_start: datetime, period_end: datetime,
                         subscription: Subscription | None = None, collection_method: str = "charge_automatically",
                         days_until_due: int | None = None, description: str | None = None,
                         auto_advance: bool = True, pending: list[InvoiceItem] = (), metadata: dict | None = None,
                         discount_ids: list[str] | None = None, cycle_key: str | None = None,
                         save: bool = True) -> tuple[Invoice, list[InvoiceLineItem]]:
    """A draft invoice with these lines plus the pending items it takes; saved unless `save` is False
    (upcoming-invoice previews)."""
    draft = build_invoice(
        customer, now=now, billing_reason=billing_reason, specs=specs, currency=currency,
        period_start=period_start, period_end=period_end, subscription=subscription,
        collection_method=collection_method, days_until_due=days_until_due, description=description,
        auto_advance=auto_advance, pending=pending, metadata=metadata, discount_ids=discount_ids,
        cycle_key=cycle_key, preview=not save,
    )
    await compute_totals(draft.invoice, draft.lines, now)
    if save:
        await store_drafts([draft])
    return draft.invoice, draft.lines


def _apply_balance(invoice: Invoice, customer: Customer, now: datetime) -> CustomerBalanceTransaction | None:
    """Stripe's customer balance: credit (negative) reduces what is due; debt adds to it; a negative
    total becomes credit. A balance held in another currency is left alone. Changes `customer` (locked)
    in memory; returns the balance transaction to store, if any."""
    if customer.currency not in (None, invoice.currency):
        invoice.starting_balance = invoice.ending_balance = 0
        invoice.amount_due = invoice.amount_remaining = max(invoice.total, 0)
        return None
    invoice.starting_balance = customer.balance
    position = invoice.total + customer.balance
    invoice.amount_due = max(position, 0)
    invoice.amount_remaining = invoice.amount_due
    invoice.ending_balance = min(position, 0)
    change = invoice.ending_balance - customer.balance
    if not change:
        return None
    customer.balance = invoice.ending_balance
    return CustomerBalanceTransaction(
        id=new_id("cbtxn"), customer_id=customer.id, amount=change, currency=invoice.currency,
        ending_balance=invoice.ending_balance, invoice_id=invoice.id, type="applied_to_invoice", created=now,
    )


def _take_number(customer: Customer) -> str:
    number = f"{customer.invoice_prefix}-{customer.next_invoice_sequence:04d}"
    customer.next_invoice_sequence += 1
    return number


async def finalize(invoice: Invoice, now: datetime) -> Invoice:
    """DRAFT -> OPEN: number, balance, due date. An invoice with nothing due is paid at once."""
    await finalize_many([(invoice, now)])
    return invoice


async def finalize_many(batch: list[tuple[Invoice, datetime]], *, save: bool = True) -> None:
    """finalize for many invoices, in order, with a constant number of statements per round. A round
    holds each customer once, so each invoice sees the balance and ONCE discounts the previous left.
    `save=False` leaves saving the invoices themselves to the caller (who changes them further)."""
    rounds: list[list[tuple[Invoice, datetime]]] = []
    for invoice, now in batch:
        target = next((r for r in rounds[-1:] if all(i.customer_id != invoice.customer_id for i, _ in r)), None)
        if target is None:
            rounds.append(target := [])
        target.append((invoice, now))
    for round_ in rounds:
        await _finalize_round(round_)
    if save:
        await writes.update([invoice for invoice, _ in batch], writes.fields_of(Invoice))


async def _finalize_round(batch: list[tuple[Invoice, datetime]]) -> None:
    for invoice, _ in batch:
        check_transition(invoice, "open")
    # One finalization per customer at a time, so its balance and a ONCE discount are used exactly once.
    customers = {c.id: c for c in await Customer.filter(id__in=[i.customer_id for i, _ in batch])
                 .order_by("id").select_for_update()}
    lines_of: dict[str, list[InvoiceLineItem]] = defaultdict(list)
    for line in await InvoiceLineItem.filter(invoice_id__in=[i.id for i, _ in batch]).order_by("position", "id"):
        lines_of[line.invoice_id].append(line)
    stored = {line.id: line.discount_amounts for lines in lines_of.values() for line in lines}
    await compute_totals_many([(invoice, lines_of[invoice.id], now) for invoice, now in batch])
    await writes.update([line for lines in lines_of.values() for line in lines
                         if line.discount_amounts != stored[line.id]], ["discount_amounts"])
    await catalog_reads.preload({line.price_id for lines in lines_of.values() for line in lines if line.price_id})
    transactions = []
    for invoice, now in batch:
        await credit_grants.apply(invoice, lines_of[invoice.id], now)
        customer = customers[invoice.customer_id]
        transactions += [t for t in [_apply_balance(invoice, customer, now)] if t]
        invoice.number = _take_number(customer)
        invoice.status = "open"
        invoice.finalized_at = now
        invoice.automatically_finalizes_at = None
        if invoice.collection_method == "send_invoice":
            invoice.due_date = invoice.due_date or now + timedelta(days=invoice.days_until_due or 30)
    await writes.update(list(customers.values()), ["balance", "next_invoice_sequence"])
    await writes.insert(transactions)
    for transaction in transactions:  # the customer's other drafts preview its new balance
        await draft_balance.refresh(transaction.customer_id, exclude=transaction.invoice_id)
    await _end_once_discounts(batch)
    for invoice, now in batch:
        await events.record("invoice.finalized", invoice, created=now)
        if invoice.amount_due == 0:
            await mark_paid(invoice, now, save=False)


async def _end_once_discounts(batch: list[tuple[Invoice, datetime]]) -> None:
    """A ONCE coupon's discount ends with the first invoice it was applied to."""
    now_of = {d: now for invoice, now in reversed(batch) for d in invoice.discount_ids}
    if not now_of:
        return
    discounts = await Discount.filter(id__in=now_of, ended_at=None)
    coupons = {c.id: c for c in await Coupon.filter(id__in={d.coupon_id for d in discounts})}
    ended = [d for d in discounts if coupons[d.coupon_id].duration == "once" and d.invoice_id is None]
    for discount in ended:
        discount.ended_at = discount.end = now_of[discount.id]
    await writes.update(ended, ["ended_at", "end"])


async def mark_paid(invoice: Invoice, now: datetime, *, out_of_band: bool = False, save: bool = True) -> Invoice:
    """OPEN or UNCOLLECTIBLE -> PAID; `save=False` leaves saving the invoice to the caller."""
    check_transition(invoice, "paid")
    before = events.snapshot(invoice)
    invoice.status = "paid"
    invoice.amount_paid = invoice.amount_due
    invoice.amount_remaining = 0
    invoice.paid_at = now
    invoice.paid_out_of_band = out_of_band
    invoice.next_payment_attempt = None
    if save:
        await invoice.save()
    await events.record_update("invoice.updated", invoice, before, created=now)
    await events.record("invoice.paid", invoice, created=now)
    return invoice


async def void(invoice: Invoice, now: datetime) -> Invoice:
    check_transition(invoice, "void")
    invoice.status = "void"
    invoice.voided_at = now
    invoice.amount_remaining = 0
    invoice.next_payment_attempt = None
    await invoice.save()
    await _restore_balance(invoice, now)
    await credit_grants.give_back(invoice, now)
    await events.record("invoice.voided", invoice, created=now)
    return invoice


async def _restore_balance(invoice: Invoice, now: datetime) -> None:
    """Voiding gives back the customer balance the invoice consumed or credited."""
    applied = await CustomerBalanceTransaction.filter(invoice_id=invoice.id, type="applied_to_invoice").first()
    if applied is None:
        return
    locked = await Customer.filter(id=invoice.customer_id).select_for_update().first()
    balance = locked.balance - applied.amount
    await Customer.filter(id=locked.id).update(balance=balance)
    await CustomerBalanceTransaction.create(
        id=new_id("cbtxn"), customer_id=locked.id, amount=-applied.amount, currency=invoice.currency,
        ending_balance=balance, invoice_id=invoice.id, type="unapplied_from_invoice", created=now,
    )
    await draft_balance.refresh(locked.id)


async def mark_uncollectible(invoice: Invoice, now: datetime) -> Invoice:
    check_transition(invoice, "uncollectible")
    invoice.status = "uncollectible"
    invoice.marked_uncollectible_at = now
    invoice.next_payment_attempt = None
    await invoice.save()
    await events.record("invoice.marked_uncollectible", invoice, created=now)
    return invoice


async def delete_draft(invoice: Invoice, now: datetime) -> Invoice:
    """Only one-off drafts can be deleted (a subscription's invoice is voided instead, as in Stripe);
    their invoice items become pending again."""
    require_draft(invoice)
    if invoice.billing_reason != "manual":
        raise invalid("A subscription's invoice cannot be deleted; finalize and void it instead.", "id")
    await InvoiceItem.filter(invoice_id=invoice.id).update(invoice_id=None)
    invoice.deleted = True
    invoice.cycle_key = None
    await invoice.save(update_fields=["deleted", "cycle_key"])
    await InvoiceLineItem.filter(invoice_id=invoice.id).delete()
    await events.record("invoice.deleted", invoice, created=now)
    return invoice
