"""Subscriptions: create, update (with prorations), cancel, pause and resume.

Every function takes the instant it acts at (`now`): the customer's test clock time for API
calls, the due time of a step when the cycle runs them.
"""
from datetime import datetime, timedelta

from app.billing import catalog_reads, discounts, events, proration_discounts, usage, usage_records, validation
from app.billing.errors import BillingError, invalid, missing_param
from app.billing.invoicing import LineSpec, create_invoice, finalize, pending_items
from app.billing.payments import collect
from app.billing.periods import interval_length, next_boundary, period_after, previous_boundary
from app.billing.pricing import amount_for, unit_amount_of
from app.billing.proration import proration_line
from app.billing.subscription_status import set_status
from app.clock import now_for
from app.ids import new_id
from app.models.catalog import Price
from app.models.coupons import Discount
from app.models.customers import Customer, PaymentMethod
from app.models.invoices import Invoice, InvoiceItem, PaymentIntent
from app.models.subscriptions import Subscription, SubscriptionItem

MAX_ITEMS = 20
MAX_TRIAL_DAYS = 730
LIVE = ("trialing", "active", "past_due", "unpaid", "paused", "incomplete")


# ---------------------------------------------------------------- items and lines

async def _price(price_id: str, param: str) -> Price:
    price = await Price.get_or_none(id=price_id)
    if price is None:
        raise BillingError(f"No such price: '{price_id}'", code="resource_missing", param=param)
    if not price.active:
        raise invalid(f"Price '{price_id}' is archived and cannot be subscribed to.", param)
    if price.type != "recurring":
        raise invalid(f"Price '{price_id}' is a one-time price: subscription items need recurring prices.", param)
    return price


def _quantity(price: Price, quantity: int | None, param: str) -> int | None:
    if price.recurring_usage_type == "metered":
        if quantity is not None:
            raise invalid("Metered prices take no quantity: usage is reported instead.", param)
        return None
    quantity = 1 if quantity is None else quantity
    if quantity < 0:
        raise invalid("quantity must be at least 0.", param)
    return quantity


def _check_compatible(prices: list[Price], param: str = "items") -> tuple[str, str, int]:
    """All items share one currency and one billing interval."""
    first = prices[0]
    for i, price in enumerate(prices):
        if price.currency != first.currency:
            raise invalid("All items of a subscription must share one currency.", f"{param}.{i}.price")
        if (price.recurring_interval, price.recurring_interval_count) != (
                first.recurring_interval, first.recurring_interval_count):
            raise invalid("All items of a subscription must share one billing interval.", f"{param}.{i}.price")
    return first.currency, first.recurring_interval, first.recurring_interval_count


async def _product_name(price: Price) -> str:
    return await catalog_reads.product_name(price.product_id) or price.product_id


async def period_lines(sub: Subscription, items: list[SubscriptionItem], start: datetime, end: datetime, *,
                       trial: bool = False, whole: timedelta | None = None) -> list[LineSpec]:
    """Licensed items billed in advance for [start, end). A period shorter than a whole interval (a
    billing_cycle_anchor ahead of the start, a cancel_at before the next boundary) is prorated against
    the interval's length `whole`."""
    lines = []
    for item in items:
        price = await catalog_reads.price(item.price_id)
        if price.recurring_usage_type == "metered":
            continue
        name = await _product_name(price)
        quantity = item.quantity or 0
        amount = 0 if trial else amount_for(price, quantity)
        description = f"{quantity} × {name}" + (" (Trial period)" if trial else "")
        proration = False
        if not trial and whole is not None:
            line = await proration_line(price=price, quantity=quantity, start=end - whole, end=end, at=start,
                                        credit=False, subscription_id=sub.id, subscription_item_id=item.id)
            amount = line.amount if line else 0
            proration = True
        lines.append(LineSpec(
            amount=amount, currency=sub.currency, period_start=start, period_end=end, description=description,
            price_id=price.id, quantity=quantity, proration=proration,
            unit_amount_excluding_tax=None if price.billing_scheme == "tiered" else unit_amount_of(price),
            subscription_id=sub.id, subscription_item_id=item.id,
        ))
    return lines


async def metered_lines(sub: Subscription, items: list[SubscriptionItem], start: datetime,
                        end: datetime) -> list[LineSpec]:
    """Usage billed in arrears for [start, end), never prorated: meters, and usage records of metered prices
    without one."""
    return [*await usage.meter_lines(sub, items, start, end),
            *await usage_records.record_lines(sub, items, start, end)]


async def live_items(sub: Subscription) -> list[SubscriptionItem]:
    return await SubscriptionItem.filter(subscription_id=sub.id, deleted=False).order_by("created", "id")


# ---------------------------------------------------------------- invoices of a subscription

async def invoice_now(sub: Subscription, customer: Customer, now: datetime, *, billing_reason: str,
                      specs: list[LineSpec], period_start: datetime, period_end: datetime,
                      cycle_key: str | None = None, charge: bool = True, preview: bool = False) -> Invoice:
    """Create, finalize and (charge_automatically) charge an invoice of the subscription at once. A
    preview's invoice (an upcoming invoice, rolled back by the caller) stays a draft, never charged."""
    invoice, _ = await create_invoice(
        customer, now=now, billing_reason=billing_reason, specs=specs, currency=sub.currency,
        period_start=period_start, period_end=period_end, subscription=sub,
        collection_method=sub.collection_method, days_until_due=sub.days_until_due,
        pending=await pending_items(customer.id, subscription_id=sub.id), cycle_key=cycle_key,
    )
    sub.latest_invoice_id = invoice.id
    if preview:
        return invoice
    await finalize(invoice, now)
    if charge and invoice.status == "open" and sub.collection_method == "charge_automatically":
        await sub.save()  # the payment moves the stored subscription's status (after_payment): keep it
        await collect(invoice, now)
        await sub.refresh_from_db(fields=["status", "canceled_at", "ended_at"])
    return invoice


def cycle_key(sub: Subscription, period_start: datetime) -> str:
    return f"{sub.id}:{int(period_start.timestamp())}"


# ---------------------------------------------------------------- create

async def _payment_method(customer: Customer, pm_id: str | None, param: str) -> str | None:
    if pm_id is None:
        return None
    pm = await PaymentMethod.get_or_none(id=pm_id)
    if pm is None:
        raise BillingError(f"No such PaymentMethod: '{pm_id}'", code="resource_missing", param=param)
    if pm.customer_id != customer.id:
        raise invalid(f"PaymentMethod '{pm_id}' is not attached to this customer.", param)
    return pm.id


async def apply_subscription_coupon(sub: Subscription, coupon_id: str, now: datetime, param: str = "coupon") -> None:
    """Replace the subscription's discount with one for this coupon."""
    coupon = await discounts.redeem(coupon_id, now, param, currency=sub.currency)
    await end_subscription_discount(sub, now)
    discount = await Discount.create(id=new_id("di"), coupon_id=coupon.id, customer_id=sub.customer_id,
                                     subscription_id=sub.id, start=now, end=discounts.ends_at(coupon, now),
                                     created=now)
    await events.record("customer.discount.created", discount, created=now)


async def end_subscription_discount(sub: Subscription, now: datetime) -> Discount | None:
    discount = await Discount.filter(subscription_id=sub.id, ended_at=None).first()
    if discount is not None:
        discount.ended_at = now
        await discount.save(update_fields=["ended_at"])
        await events.record("customer.discount.deleted", discount, created=now)
    return discount


def _trial_end(now: datetime, trial_period_days: int | None, trial_end: datetime | None) -> datetime | None:
    if trial_period_days is not None and trial_end is not None:
        raise invalid("Pass only one of trialPeriodDays or trialEnd.", "trialEnd")
    if trial_period_days is not None:
        if not 0 <= trial_period_days <= MAX_TRIAL_DAYS:
            raise invalid(f"trialPeriodDays must be between 0 and {MAX_TRIAL_DAYS}.", "trialPeriodDays")
        return now + timedelta(days=trial_period_days) if trial_period_days else None
    if trial_end is not None:
        validation.future(trial_end, now, "trialEnd")
        return trial_end.replace(microsecond=0)
    return None


def _collection(method: str | None, days_until_due: int | None) -> tuple[str, int | None]:
    method = method or "charge_automatically"
    if method == "send_invoice":
        if days_until_due is None:
            raise missing_param("daysUntilDue", "SEND_INVOICE needs daysUntilDue.")
        if not 0 <= days_until_due <= 365:
            raise invalid("daysUntilDue must be between 0 and 365.", "daysUntilDue")
    elif days_until_due is not None:
        raise invalid("daysUntilDue is only for SEND_INVOICE.", "daysUntilDue")
    return method, days_until_due


async def create_subscription(*, customer: str, items: list[dict], now: datetime | None = None, trial_period_days=None,
                              trial_end=None, cancel_at_period_end=None, cancel_at=None, billing_cycle_anchor=None,
                              backdate_start_date=None, collection_method=None, days_until_due=None,
                              default_payment_method=None, coupon=None, proration_behavior=None,
                              payment_behavior=None, metadata=None) -> Subscription:
    owner = await Customer.filter(id=customer, deleted=False).select_for_update().first()
    if owner is None:
        raise BillingError(f"No such customer: '{customer}'", code="resource_missing", param="customer")
    now = now or await now_for(owner)
    if not items:
        raise missing_param("items", "A subscription needs at least one item.")
    if len(items) > MAX_ITEMS:
        raise invalid(f"A subscription can have at most {MAX_ITEMS} items.", "items")
    prices = [await _price(item["price"], f"items.{i}.price") for i, item in enumerate(items)]
    if len({p.id for p in prices}) != len(prices):
        raise invalid("Each price may appear only once in a subscription.", "items")
    currency, interval, count = _check_compatible(prices)
    quantities = [_quantity(p, item.get("quantity"), f"items.{i}.quantity")
                  for i, (p, item) in enumerate(zip(prices, items, strict=True))]
    method, days_until_due = _collection(collection_method, days_until_due)
    trial = _trial_end(now, trial_period_days, trial_end)
    start = now
    if backdate_start_date is not None:
        if backdate_start_date > now:
            raise invalid("backdateStartDate must be in the past.", "backdateStartDate")
        start = backdate_start_date.replace(microsecond=0)
    validation.future(cancel_at, now, "cancelAt")
    anchor = (trial or start)
    if billing_cycle_anchor is not None:
        billing_cycle_anchor = billing_cycle_anchor.replace(microsecond=0)
        if billing_cycle_anchor <= (trial or now):
            raise invalid("billingCycleAnchor must be in the future (after the trial, if any).", "billingCycleAnchor")
        if billing_cycle_anchor > period_after(trial or start, interval, count):
            raise invalid("billingCycleAnchor cannot be more than one billing period ahead.", "billingCycleAnchor")
        anchor = billing_cycle_anchor
    period_start = max(start, previous_boundary(anchor, interval, count, now))  # backdated: the period of now
    sub = Subscription(
        id=new_id("sub"), customer_id=owner.id, status="incomplete", currency=currency, interval=interval,
        interval_count=count, collection_method=method, days_until_due=days_until_due,
        default_payment_method_id=await _payment_method(owner, default_payment_method, "defaultPaymentMethod"),
        start_date=start, billing_cycle_anchor=anchor, current_period_start=trial and now or period_start,
        current_period_end=trial or next_boundary(anchor, interval, count, period_start),
        trial_start=now if trial else None, trial_end=trial, cancel_at_period_end=bool(cancel_at_period_end),
        cancel_at=cancel_at, test_clock_id=owner.test_clock_id, metadata=validation.new_metadata(metadata),
        created=now,
    )
    await sub.save(force_create=True)
    sub_items = [SubscriptionItem(id=new_id("si"), subscription_id=sub.id, price_id=p.id, quantity=q,
                                  metadata=validation.new_metadata(item.get("metadata"), f"items.{i}.metadata"),
                                  created=now)
                 for i, (p, q, item) in enumerate(zip(prices, quantities, items, strict=True))]
    await SubscriptionItem.bulk_create(sub_items)
    if coupon is not None:
        await apply_subscription_coupon(sub, coupon, now)
    partial = None if trial or sub.current_period_end == period_after(period_start, interval, count) else True
    if partial and proration_behavior == "none":
        specs = await period_lines(sub, sub_items, sub.current_period_start, sub.current_period_end, trial=True)
    else:
        specs = await period_lines(sub, sub_items, sub.current_period_start, sub.current_period_end,
                                   trial=bool(trial),
                                   whole=partial and interval_length(interval, count, sub.current_period_end))
    past, moment = [], start
    while not trial and moment < sub.current_period_start:  # a backdate over whole periods bills each of them
        following = next_boundary(anchor, interval, count, moment)
        past += await period_lines(sub, sub_items, moment, following)
        moment = following
    specs = [*past, *specs]
    if not trial and proration_behavior != "none":  # a cancel_at inside the first period credits the rest of it
        credits = await _cancel_at_prorations(sub, sub_items, None, sub.current_period_end, now, whole=partial and (
            interval_length(interval, count, sub.current_period_end)))
        await _pending_proration_items(sub, credits, now)
    behavior = payment_behavior or "allow_incomplete"
    invoice = await invoice_now(sub, owner, now, billing_reason="subscription_create", specs=specs,
                                period_start=min(start, sub.current_period_start), period_end=sub.current_period_end,
                                charge=False)
    paid = invoice.status == "paid"
    if not paid and method == "charge_automatically" and behavior != "default_incomplete":
        paid = await collect(invoice, now, automatic=False, update_subscription=False)
        if not paid and behavior == "error_if_incomplete":
            error = (await PaymentIntent.get(id=invoice.payment_intent_id)).last_payment_error
            raise BillingError(f"{error['message']} The subscription was not created.", type="card_error",
                               code=error["code"], decline_code=error["decline_code"], param="defaultPaymentMethod")
    if trial:
        sub.status = "trialing"
    elif paid or method == "send_invoice":
        sub.status = "active"
    await sub.save()
    await events.record("customer.subscription.created", sub, created=now)
    return sub


# ---------------------------------------------------------------- update

async def _item_changes(sub: Subscription, changes: list[dict], current: list[SubscriptionItem]):
    """Validate item changes: returns (updated, added, deleted) lists of (item, old price, old quantity)."""
    by_id = {item.id: item for item in current}
    updated, added, deleted = [], [], []
    for i, change in enumerate(changes):
        param = f"items.{i}"
        item_id = change.get("id")
        if item_id is None:
            if change.get("deleted"):
                raise invalid("deleted needs the id of an existing item.", f"{param}.deleted")
            if not change.get("price"):
                raise missing_param(f"{param}.price", "A new item needs a price.")
            price = await _price(change["price"], f"{param}.price")
            item = SubscriptionItem(id=new_id("si"), subscription_id=sub.id, price_id=price.id,
                                    quantity=_quantity(price, change.get("quantity"), f"{param}.quantity"),
                                    metadata=validation.new_metadata(change.get("metadata"), f"{param}.metadata"))
            added.append((item, price))
            continue
        item = by_id.get(item_id)
        if item is None:
            raise BillingError(f"No such subscription item: '{item_id}'", code="resource_missing", param=f"{param}.id")
        old_price = await Price.get(id=item.price_id)
        if change.get("deleted"):
            await usage_records.clear_for_removal(sub, item, old_price, bool(change.get("clear_usage")),
                                                  f"{param}.clearUsage")
            deleted.append((item, old_price, item.quantity))
            continue
        old_quantity = item.quantity
        price = await _price(change["price"], f"{param}.price") if change.get("price") else old_price
        if "quantity" in change or price.id != old_price.id:
            item.quantity = _quantity(price, change.get("quantity", item.quantity if price.recurring_usage_type
                                                         != "metered" else None), f"{param}.quantity")
        item.price_id = price.id
        if "metadata" in change:
            item.metadata = validation.merge_metadata(item.metadata, change["metadata"], f"{param}.metadata")
        updated.append((item, old_price, old_quantity))
    return updated, added, deleted


async def _prorations(sub: Subscription, at: datetime, before: dict, remaining: list[SubscriptionItem], *,
                      restart: bool) -> list[LineSpec]:
    """Credit the unused time of each item that changed or went (at its old price and quantity) and
    charge the rest of the period (up to cancel_at, if sooner) for what replaced it. On a restart (a new
    period or a new trial) every item's unused time is credited and nothing is charged: the new period
    is billed whole."""
    start, end = sub.current_period_start, uncut_end(sub)
    until = _stop(sub.cancel_at, end)

    async def line(price: Price, quantity: int | None, item_id: str, credit: bool) -> LineSpec | None:
        return await proration_line(price=price, quantity=quantity, start=start, end=end, at=at, credit=credit,
                                    subscription_id=sub.id, subscription_item_id=item_id, until=until)

    kept = {item.id: item for item in remaining}
    lines = []
    for item_id, (old_price, old_quantity) in before.items():
        new = kept.get(item_id)
        if restart or new is None or (new.price_id, new.quantity) != (old_price.id, old_quantity):
            lines.append(await line(old_price, old_quantity, item_id, True))
            if new is not None and not restart:
                lines.append(await line(await Price.get(id=new.price_id), new.quantity, item_id, False))
    for item in remaining:
        if item.id not in before and not restart:
            lines.append(await line(await Price.get(id=item.price_id), item.quantity, item.id, False))
    specs = [spec for spec in lines if spec is not None]
    now_priced = [(await Price.get(id=item.price_id), item.quantity) for item in remaining]
    await proration_discounts.apply(sub, specs, at, credited=proration_discounts.whole_period(list(before.values())),
                                    charged=proration_discounts.whole_period(now_priced))
    return specs


async def _pending_proration_items(sub: Subscription, specs: list[LineSpec], at: datetime) -> None:
    for spec in specs:
        item = await InvoiceItem.create(
            id=new_id("ii"), customer_id=sub.customer_id, subscription_id=sub.id,
            subscription_item_id=spec.subscription_item_id, price_id=spec.price_id, amount=spec.amount,
            currency=spec.currency, quantity=spec.quantity or 1, description=spec.description, discountable=False,
            proration=True, discount_amounts=spec.discount_amounts, period_start=spec.period_start,
            period_end=spec.period_end, created=at,
        )
        await events.record("invoiceitem.created", item, created=at)


def uncut_end(sub: Subscription) -> datetime:
    """The current period's end had cancel_at not cut it short (final_period): its next boundary."""
    if sub.cancel_at is None or sub.cancel_at != sub.current_period_end or sub.status == "trialing":
        return sub.current_period_end
    return max(sub.current_period_end, next_boundary(sub.billing_cycle_anchor, sub.interval, sub.interval_count,
                                                     sub.current_period_start))


def _stop(cancel_at: datetime | None, end: datetime) -> datetime:
    """Where the current period (to `end`, uncut) stops being used: cancel_at, if sooner."""
    return end if cancel_at is None else min(cancel_at, end)


async def _span(sub: Subscription, items: list[SubscriptionItem], start: datetime, until: datetime, end: datetime,
                at: datetime, *, credit: bool, whole: timedelta | None = None) -> list[LineSpec]:
    """Every item's time [start, until) of the current period (to `end`, uncut), credited or charged, net
    of the discount in effect at `at`; priced against the interval's length `whole` when the period was
    billed so (a first period shorter than its interval)."""
    basis = end - whole if whole else sub.current_period_start
    lines, priced = [], []
    for item in items:
        price = await Price.get(id=item.price_id)
        priced.append((price, item.quantity))
        line = await proration_line(price=price, quantity=item.quantity, start=basis, end=end, at=start, until=until,
                                    credit=credit, subscription_id=sub.id, subscription_item_id=item.id)
        lines += [line] if line else []
    amounts = proration_discounts.whole_period(priced)
    await proration_discounts.apply(sub, lines, at, credited=amounts, charged=amounts)
    return lines


async def _credit_unused(sub: Subscription, items: list[SubscriptionItem], at: datetime) -> list[LineSpec]:
    """Unused time of every item from `at` to the period's end or cancel_at (cancellations)."""
    end = uncut_end(sub)
    return await _span(sub, items, at, _stop(sub.cancel_at, end), end, at, credit=True)


async def _cancel_at_prorations(sub: Subscription, items: list[SubscriptionItem], old: datetime | None,
                                end: datetime, at: datetime, *, whole: timedelta | None = None) -> list[LineSpec]:
    """A cancel_at moved from `old` (None: unset) changes where the current period, to `end` uncut, stops
    being used: the time given up is credited, the time added back charged."""
    before, after = _stop(old, end), _stop(sub.cancel_at, end)
    if before == after:
        return []
    return await _span(sub, items, min(before, after), max(before, after), end, at, credit=after < before,
                       whole=whole)


async def _reset_anchor(sub: Subscription, customer: Customer, items: list[SubscriptionItem], at: datetime,
                        credits: list[LineSpec], *, preview: bool = False) -> None:
    """A new period from `at`, invoiced at once, with the unused time of the old one credited."""
    await _pending_proration_items(sub, credits, at)
    usage = await metered_lines(sub, items, sub.current_period_start, at)  # the old period's usage to date
    sub.billing_cycle_anchor = at
    sub.current_period_start = at
    sub.current_period_end = period_after(at, sub.interval, sub.interval_count)
    specs = [*await period_lines(sub, items, at, sub.current_period_end), *usage]
    await invoice_now(sub, customer, at, billing_reason="subscription_update", specs=specs,
                      period_start=at, period_end=sub.current_period_end, preview=preview)


async def _snapshot(sub: Subscription) -> dict:
    """The subscription's Stripe JSON with its items, so previous_attributes show item changes."""
    items = [events.snapshot(item) for item in await live_items(sub)]
    return {**events.snapshot(sub), "items": {"object": "list", "data": items}}


async def update_subscription(id: str, changes: dict, now: datetime | None = None, *,
                              preview: bool = False) -> Subscription:
    """Apply `changes` at `now`. `preview` is for upcoming invoices (the caller rolls the change back):
    an invoice the change makes at once stays a draft and nothing is charged."""
    sub = await _locked(id)
    now = await _now(sub, now)
    if sub.status in ("canceled", "incomplete_expired"):
        raise invalid(f"This subscription is {sub.status} and can no longer be updated.", "id")
    if changes.get("proration_date") is not None and changes.get("billing_cycle_anchor") == "now":
        raise invalid("prorationDate cannot be used with billingCycleAnchor NOW: the new cycle starts now.",
                      "prorationDate")
    customer = await Customer.get(id=sub.customer_id)
    before = await _snapshot(sub)
    cancel_at, end = sub.cancel_at, uncut_end(sub)
    at = (changes.get("proration_date") or now).replace(microsecond=0)
    if not sub.current_period_start <= at <= sub.current_period_end:
        raise invalid("prorationDate must fall within the current period.", "prorationDate")
    behavior = changes.get("proration_behavior") or "create_prorations"
    current = await live_items(sub)
    old = {item.id: (await Price.get(id=item.price_id), item.quantity) for item in current}
    updated, added, deleted = await _item_changes(sub, changes.get("items") or [], current)
    remaining = [i for i in current if all(i is not d[0] for d in deleted)] + [i for i, _ in added]
    if changes.get("items") is not None and not remaining:
        raise invalid("A subscription needs at least one item; cancel it instead.", "items")
    if len(remaining) > MAX_ITEMS:
        raise invalid(f"A subscription can have at most {MAX_ITEMS} items.", "items")
    if len({i.price_id for i in remaining}) != len(remaining):
        raise invalid("Each price may appear only once in a subscription.", "items")
    try:
        currency, interval, count = _check_compatible([await Price.get(id=i.price_id) for i in remaining])
    except BillingError as error:
        error.param = "items"  # the items as they would be, not one index of the request
        raise
    if currency != sub.currency:
        raise invalid("Items cannot change the subscription's currency.", "items")
    trialing = sub.status == "trialing"
    new_trial = changes.get("trial_end") is not None and not trialing
    if changes.get("billing_cycle_anchor") == "now" and (trialing or new_trial) and not changes.get("end_trial_now"):
        raise invalid("A trial's end starts the billing cycle: billingCycleAnchor NOW needs endTrialNow.",
                      "billingCycleAnchor")
    # A new interval starts a new cycle at once, unless a trial (running or starting now) starts it at its end.
    restart = changes.get("billing_cycle_anchor") == "now" or (
        (interval, count) != (sub.interval, sub.interval_count) and not trialing and not new_trial)
    credits = [] if trialing or behavior == "none" else await _prorations(
        sub, at, old, remaining, restart=restart or new_trial)
    for item, _, _ in deleted:
        item.deleted = True
        await item.save(update_fields=["deleted"])
    for item, _, _ in updated:
        await item.save()
    for item, _ in added:
        item.created = now
        await item.save(force_create=True)
    sub.interval, sub.interval_count = interval, count
    await _apply_simple_fields(sub, changes, now)
    moved = sub.cancel_at != cancel_at
    if moved:
        sub.current_period_end = end  # a period the old cancel_at cut short runs to its boundary again
    if "coupon" in changes:
        if changes["coupon"] is None:
            await end_subscription_discount(sub, now)
        else:
            await apply_subscription_coupon(sub, changes["coupon"], now)
    trial_ended = _apply_trial_change(sub, changes, now)
    if moved and not (trialing or new_trial or trial_ended or restart or behavior == "none"):
        credits += await _cancel_at_prorations(sub, remaining, cancel_at, end, at)
    if trial_ended or restart:
        await _reset_anchor(sub, customer, remaining, now, credits, preview=preview)
    elif credits:
        await _pending_proration_items(sub, credits, now)
        if behavior == "always_invoice":
            await invoice_now(sub, customer, now, billing_reason="subscription_update", specs=[],
                              period_start=at, period_end=sub.current_period_end, preview=preview)
    await sub.save()
    after = await _snapshot(sub)
    previous = events.changed(before, after)
    if previous:
        await events.record("customer.subscription.updated", after, previous, created=now)
    return sub


async def _apply_simple_fields(sub: Subscription, changes: dict, now: datetime) -> None:
    if "cancel_at_period_end" in changes:
        sub.cancel_at_period_end = bool(changes["cancel_at_period_end"])
        sub.canceled_at = now if sub.cancel_at_period_end else None
    if "cancel_at" in changes:
        sub.cancel_at = validation.future(changes["cancel_at"], now, "cancelAt")
    if "default_payment_method" in changes:
        customer = await Customer.get(id=sub.customer_id)
        sub.default_payment_method_id = await _payment_method(customer, changes["default_payment_method"],
                                                              "defaultPaymentMethod")
    if "collection_method" in changes or "days_until_due" in changes:
        method = changes.get("collection_method") or sub.collection_method
        days = changes.get("days_until_due", sub.days_until_due if method == "send_invoice" else None)
        sub.collection_method, sub.days_until_due = _collection(method, days)
    if "pause_collection" in changes:
        pause = changes["pause_collection"]
        sub.pause_collection_behavior = pause["behavior"] if pause else None
        resumes_at = pause.get("resumes_at") if pause else None
        sub.pause_collection_resumes_at = validation.future(resumes_at, now, "pauseCollection.resumesAt")
    if "metadata" in changes:
        sub.metadata = validation.merge_metadata(sub.metadata, changes["metadata"])


def _apply_trial_change(sub: Subscription, changes: dict, now: datetime) -> bool:
    """trialEnd extends a trial, or starts one (a new period that ends with it); endTrialNow ends it.
    True when the trial ended now."""
    if changes.get("end_trial_now"):
        if sub.status != "trialing":
            raise invalid("This subscription is not trialing.", "endTrialNow")
        sub.trial_end = now
        sub.status = "active"
        return True
    if changes.get("trial_end") is not None:
        trial_end = validation.future(changes["trial_end"], now, "trialEnd").replace(microsecond=0)
        if sub.status != "trialing":
            sub.trial_start = sub.current_period_start = now
            sub.status = "trialing"
        sub.trial_end = sub.current_period_end = sub.billing_cycle_anchor = trial_end
        sub.trial_will_end_notified = False
    return False


async def _locked(id: str) -> Subscription:
    sub = await Subscription.filter(id=id).select_for_update().first()
    if sub is None:
        raise BillingError(f"No such subscription: '{id}'", code="resource_missing", param="id")
    return sub


async def _now(sub: Subscription, now: datetime | None) -> datetime:
    return now or await now_for(await Customer.get(id=sub.customer_id))


# ---------------------------------------------------------------- cancel, pause, resume

async def _stop_retries(sub: Subscription, now: datetime) -> None:
    """As Stripe, canceling (or pausing) stops the automatic collection of the subscription's open invoices
    (auto_advance off: turning it back on resumes it)."""
    for invoice in await Invoice.filter(subscription_id=sub.id, status="open").select_for_update():
        if invoice.next_payment_attempt is None and not invoice.auto_advance:
            continue
        before = events.snapshot(invoice)
        invoice.next_payment_attempt = None
        invoice.auto_advance = False
        await invoice.save(update_fields=["next_payment_attempt", "auto_advance"])
        await events.record_update("invoice.updated", invoice, before, created=now)


async def cancel(sub: Subscription, now: datetime, *, invoice_now_: bool = False, prorate: bool = False,
                 bill_usage: bool = False) -> None:
    """End the subscription at `now`; optionally credit unused time and invoice what is pending.
    invoice_now (and `bill_usage`, for cancellations the cycle runs) also bills the metered usage to date;
    `bill_usage` also invoices the subscription's own pending items (a cancel_at's credit)."""
    if sub.status in ("canceled", "incomplete_expired"):
        raise invalid(f"This subscription is already {sub.status}.", "id")
    customer = await Customer.get(id=sub.customer_id)
    await _stop_retries(sub, now)
    if prorate and sub.status != "trialing":
        await _pending_proration_items(sub, await _credit_unused(sub, await live_items(sub), now), now)
    usage = []
    if (invoice_now_ or bill_usage) and sub.status not in ("paused", "trialing"):
        # Canceling now bills usage through `now` itself (timestamps are whole seconds); a scheduled end
        # bills its period [start, end) like a renewal.
        through = now + timedelta(seconds=1) if invoice_now_ else now
        usage = await metered_lines(sub, await live_items(sub), sub.current_period_start, through)
        for line in usage:
            line.period_end = now
    pending = await pending_items(customer.id, subscription_id=sub.id) if invoice_now_ or bill_usage else []
    if usage or any(invoice_now_ or item.subscription_id == sub.id for item in pending):
        await invoice_now(sub, customer, now, billing_reason="subscription_update", specs=usage,
                          period_start=sub.current_period_start, period_end=now)
    for invoice in await Invoice.filter(subscription_id=sub.id, status="draft", deleted=False):
        invoice.auto_advance = False
        invoice.automatically_finalizes_at = None
        await invoice.save(update_fields=["auto_advance", "automatically_finalizes_at"])
    sub.canceled_at = sub.canceled_at or now
    await set_status(sub, "canceled", now)


async def cancel_subscription(id: str, now: datetime | None = None, *, invoice_now: bool = False,
                              prorate: bool = False) -> Subscription:
    sub = await _locked(id)
    now = await _now(sub, now)
    await cancel(sub, now, invoice_now_=invoice_now, prorate=prorate)
    return sub


async def cancel_for_customer(customer_id: str, now: datetime) -> None:
    """Deleting a customer cancels its subscriptions."""
    for sub in await Subscription.filter(customer_id=customer_id, status__in=LIVE).select_for_update():
        await cancel(sub, now)


async def pause_subscription(id: str, now: datetime | None = None) -> Subscription:
    sub = await _locked(id)
    now = await _now(sub, now)
    if sub.status not in ("active", "trialing", "past_due"):
        raise invalid(f"Only active, trialing or past-due subscriptions can be paused (this one is {sub.status}).",
                      "id")
    sub.status = "paused"
    await sub.save()
    await _stop_retries(sub, now)
    await events.record("customer.subscription.paused", sub, created=now)
    return sub


async def resume_subscription(id: str, now: datetime | None = None, *, billing_cycle_anchor: str | None = None,
                              proration_behavior: str | None = None) -> Subscription:
    """Back to ACTIVE: a new period from now, invoiced at once (NOW, the default), or the current
    cycle kept (UNCHANGED) with the rest of the period prorated per proration_behavior."""
    sub = await _locked(id)
    now = await _now(sub, now)
    if sub.status != "paused":
        raise invalid("Only paused subscriptions can be resumed.", "id")
    customer = await Customer.get(id=sub.customer_id)
    items = await live_items(sub)
    sub.status = "active"
    if (billing_cycle_anchor or "now") == "now":
        await _reset_anchor(sub, customer, items, now, [])
    elif (proration_behavior or "create_prorations") != "none":
        specs, priced = [], []
        for item in items:
            priced.append((await Price.get(id=item.price_id), item.quantity))
            line = await proration_line(price=priced[-1][0], quantity=item.quantity,
                                        start=sub.current_period_start, end=sub.current_period_end, at=now,
                                        credit=False, subscription_id=sub.id, subscription_item_id=item.id)
            specs += [line] if line else []
        whole = proration_discounts.whole_period(priced)
        await proration_discounts.apply(sub, specs, now, credited=whole, charged=whole)
        await _pending_proration_items(sub, specs, now)
        if proration_behavior == "always_invoice" and specs:
            await invoice_now(sub, customer, now, billing_reason="subscription_update", specs=[],
                              period_start=now, period_end=sub.current_period_end)
    await sub.save()
    await events.record("customer.subscription.resumed", sub, created=now)
    return sub


async def delete_subscription_discount(id: str, now: datetime | None = None) -> Discount:
    sub = await _locked(id)
    now = await _now(sub, now)
    discount = await end_subscription_discount(sub, now)
    if discount is None:
        raise BillingError("This subscription has no discount.", code="resource_missing", param="id")
    return discount
