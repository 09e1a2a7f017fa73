"""Prices: Stripe's creation rules (amounts, tiers, recurring, lookup keys) and the few updatable fields."""
from tortoise.exceptions import IntegrityError

from app.billing import events, validation
from app.billing.errors import invalid, missing_param, not_found
from app.billing.lookup import get
from app.ids import new_id
from app.models.catalog import Price, Product
from app.models.meters import Meter

# Stripe: a recurring interval is at most three years.
MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}
MAX_LOOKUP_KEY = 200


async def _recurring(recurring: dict | None, price_type: str) -> dict:
    if recurring is None:
        if price_type == "recurring":
            raise missing_param("recurring", "A recurring price needs `recurring` (interval).")
        return {}
    if price_type != "recurring":
        raise invalid("A one-time price cannot have `recurring`.", "recurring")
    interval = recurring["interval"]
    count = recurring.get("interval_count")
    count = 1 if count is None else count
    if count < 1 or count > MAX_INTERVAL_COUNT[interval]:
        raise invalid(f"interval_count must be between 1 and {MAX_INTERVAL_COUNT[interval]} for interval "
                      f"'{interval}': the maximum billing period is three years.", "recurring.intervalCount")
    usage_type = recurring.get("usage_type") or "licensed"
    aggregate_usage = recurring.get("aggregate_usage")
    meter = recurring.get("meter")
    if usage_type != "metered":
        if aggregate_usage is not None:
            raise invalid("aggregate_usage is only for metered prices (usageType METERED).",
                          "recurring.aggregateUsage")
        if meter is not None:
            raise invalid("A meter is only for metered prices (usageType METERED).", "recurring.meter")
    elif meter is not None and aggregate_usage is not None:
        raise invalid("A price with a meter aggregates as its meter does: leave aggregateUsage out.",
                      "recurring.aggregateUsage")
    elif aggregate_usage is None and meter is None:
        aggregate_usage = "sum"
    if meter is not None and not await Meter.exists(id=meter):
        raise not_found("billing.meter", meter, "recurring.meter")
    return {
        "recurring_interval": interval, "recurring_interval_count": count,
        "recurring_usage_type": usage_type, "recurring_aggregate_usage": aggregate_usage,
        "recurring_meter_id": meter,
    }


def _tier(tier: dict, index: int, last: bool) -> dict:
    param = f"tiers.{index}"
    up_to = tier.get("up_to")
    if up_to is None and not last:
        raise invalid("Only the last tier may be open-ended (upTo: null).", f"{param}.upTo")
    if up_to is not None and last:
        raise invalid("The last tier must be open-ended (upTo: null, meaning infinity).", f"{param}.upTo")
    if up_to is not None and up_to < 1:
        raise invalid("upTo must be a positive integer.", f"{param}.upTo")
    if tier.get("unit_amount") is not None and tier.get("unit_amount_decimal") is not None:
        raise invalid("A tier takes only one of unitAmount and unitAmountDecimal.", f"{param}.unitAmountDecimal")
    if tier.get("flat_amount") is not None and tier.get("flat_amount_decimal") is not None:
        raise invalid("A tier takes only one of flatAmount and flatAmountDecimal.", f"{param}.flatAmountDecimal")
    unit_amount = validation.amount(tier.get("unit_amount"), f"{param}.unitAmount")
    unit_decimal = validation.decimal_amount(tier.get("unit_amount_decimal"), f"{param}.unitAmountDecimal")
    flat_amount = validation.amount(tier.get("flat_amount"), f"{param}.flatAmount")
    flat_decimal = validation.decimal_amount(tier.get("flat_amount_decimal"), f"{param}.flatAmountDecimal")
    if unit_amount is None and unit_decimal is None and flat_amount is None and flat_decimal is None:
        raise invalid("Each tier needs a unit amount, a flat amount, or both.", param)
    return {
        "up_to": up_to, "unit_amount": unit_amount,
        "unit_amount_decimal": validation.decimal_str(unit_decimal),
        "flat_amount": flat_amount, "flat_amount_decimal": validation.decimal_str(flat_decimal),
    }


def _tiers(tiers: list[dict] | None, tiers_mode: str | None) -> dict:
    if tiers_mode is None:
        raise missing_param("tiersMode", "A tiered price needs tiersMode (GRADUATED or VOLUME).")
    if not tiers:
        raise missing_param("tiers", "A tiered price needs at least one tier.")
    checked = [_tier(tier, i, i == len(tiers) - 1) for i, tier in enumerate(tiers)]
    bounds = [t["up_to"] for t in checked if t["up_to"] is not None]
    for i in range(1, len(bounds)):
        if bounds[i] <= bounds[i - 1]:
            raise invalid("Tiers' upTo values must be in strictly ascending order.", f"tiers.{i}.upTo")
    return {"tiers": checked, "tiers_mode": tiers_mode}


def _transform(transform: dict | None) -> dict | None:
    if transform is None:
        return None
    if transform["divide_by"] < 1:
        raise invalid("divideBy must be a positive integer.", "transformQuantity.divideBy")
    return {"divide_by": transform["divide_by"], "round": transform["round"]}


def _amounts(*, billing_scheme, unit_amount, unit_amount_decimal, tiers, tiers_mode, transform_quantity) -> dict:
    if billing_scheme == "tiered":
        if unit_amount is not None or unit_amount_decimal is not None:
            raise invalid("A tiered price takes its amounts from its tiers, not unitAmount.", "unitAmount")
        if transform_quantity is not None:
            raise invalid("transformQuantity cannot be combined with tiers.", "transformQuantity")
        return _tiers(tiers, tiers_mode) | {"unit_amount": None, "unit_amount_decimal": None,
                                            "transform_quantity": None}
    if tiers is not None or tiers_mode is not None:
        param = "tiers" if tiers is not None else "tiersMode"
        raise invalid("tiers and tiersMode need billingScheme TIERED.", param)
    if (unit_amount is None) == (unit_amount_decimal is None):
        if unit_amount is None:
            raise missing_param("unitAmount", "A per-unit price needs exactly one of unitAmount or "
                                              "unitAmountDecimal.")
        raise invalid("Pass only one of unitAmount or unitAmountDecimal.", "unitAmountDecimal")
    return {
        "unit_amount": validation.amount(unit_amount, "unitAmount"),
        "unit_amount_decimal": validation.decimal_amount(unit_amount_decimal, "unitAmountDecimal"),
        "tiers": None, "tiers_mode": None, "transform_quantity": _transform(transform_quantity),
    }


def _lookup_key(key: str | None) -> str | None:
    return validation.string(key, "lookupKey", max_length=MAX_LOOKUP_KEY, required=key is not None)


async def _claim_lookup_key(price: Price, key: str | None, transfer: bool) -> None:
    """Make `key` the price's lookup key; with transfer, take it from the active price that holds it."""
    price.lookup_key = key
    price.active_lookup_key = key if price.active else None
    if key is None or not price.active:
        return
    holder = await Price.filter(active_lookup_key=key).exclude(id=price.id).select_for_update().first()
    if holder is None:
        return
    if not transfer:
        raise invalid(f"A price (`{holder.id}`) already uses that lookup key. Pass transferLookupKey: true "
                      "to move it to this price.", "lookupKey")
    before = events.snapshot(holder)
    holder.lookup_key = None
    holder.active_lookup_key = None
    await holder.save(update_fields=["lookup_key", "active_lookup_key"])
    await events.record_update("price.updated", holder, before)


async def _save(price: Price, *, create: bool) -> None:
    try:
        await price.save(force_create=create)
    except IntegrityError:
        raise invalid("Another active price already uses that lookup key.", "lookupKey") from None


async def create_price(*, product: str, currency: str, unit_amount=None, unit_amount_decimal=None,
                       type: str | None = None, recurring: dict | None = None, billing_scheme: str | None = None,
                       tiers_mode: str | None = None, tiers: list[dict] | None = None,
                       transform_quantity: dict | None = None, lookup_key: str | None = None,
                       transfer_lookup_key: bool | None = None, nickname: str | None = None,
                       active: bool | None = None, metadata=None) -> Price:
    owner = await get(Product, product, "product", kind="product")
    currency = validation.currency(currency)
    price_type = type or ("recurring" if recurring is not None else "one_time")
    fields = await _recurring(recurring, price_type) | _amounts(
        billing_scheme=billing_scheme or "per_unit", unit_amount=unit_amount,
        unit_amount_decimal=unit_amount_decimal, tiers=tiers, tiers_mode=tiers_mode,
        transform_quantity=transform_quantity,
    )
    price = Price(
        id=new_id("price"), product_id=owner.id, currency=currency, type=price_type,
        billing_scheme=billing_scheme or "per_unit", active=True if active is None else active,
        nickname=validation.string(nickname, "nickname", max_length=5000),
        metadata=validation.new_metadata(metadata), **fields,
    )
    await _claim_lookup_key(price, _lookup_key(lookup_key), bool(transfer_lookup_key))
    await _save(price, create=True)
    await events.record("price.created", price)
    return price


async def update_price(id: str, changes: dict) -> Price:
    price = await get(Price, id, kind="price", lock=True)
    before = events.snapshot(price)
    if "active" in changes:
        if changes["active"] is None:
            raise invalid("active cannot be null.", "active")
        if not changes["active"] and await Product.filter(id=price.product_id, default_price_id=price.id).exists():
            raise invalid("This price cannot be archived because it is the default price of its product.", "active")
        price.active = changes["active"]
    if "nickname" in changes:
        price.nickname = validation.string(changes["nickname"], "nickname", max_length=5000)
    if "metadata" in changes:
        price.metadata = validation.merge_metadata(price.metadata, changes["metadata"])
    key = _lookup_key(changes["lookup_key"]) if "lookup_key" in changes else price.lookup_key
    await _claim_lookup_key(price, key, bool(changes.get("transfer_lookup_key")))
    await _save(price, create=False)
    await events.record_update("price.updated", price, before)
    return price

