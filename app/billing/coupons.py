"""Coupons: Stripe's creation rules; only name and metadata change afterwards."""
import re
from decimal import Decimal

from tortoise.exceptions import IntegrityError

from app.billing import events, validation
from app.billing.errors import BillingError, invalid, missing_param
from app.billing.lookup import get
from app.clock import utcnow
from app.ids import new_id
from app.models.catalog import Product
from app.models.coupons import Coupon

_CUSTOM_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def is_valid(coupon: Coupon, now) -> bool:
    """Stripe's `valid`: not deleted, not past redeem_by, redemptions left."""
    if coupon.deleted:
        return False
    if coupon.redeem_by is not None and coupon.redeem_by <= now:
        return False
    return coupon.max_redemptions is None or coupon.times_redeemed < coupon.max_redemptions


def _percent(percent_off) -> Decimal:
    value = validation.decimal_amount(percent_off, "percentOff")
    if value <= 0 or value > 100:
        raise invalid("percentOff must be greater than 0 and at most 100.", "percentOff")
    if value != value.quantize(Decimal("0.01")):
        raise invalid("percentOff can have at most 2 decimal places.", "percentOff")
    return value


async def create_coupon(*, duration: str, id: str | None = None, name: str | None = None,
                        duration_in_months: int | None = None, percent_off=None, amount_off: int | None = None,
                        currency: str | None = None, max_redemptions: int | None = None, redeem_by=None,
                        applies_to_products: list[str] | None = None, metadata=None) -> Coupon:
    if id is not None and not _CUSTOM_ID.match(id):
        raise invalid("A coupon id may hold only letters, digits, '_' and '-', up to 64 characters.", "id")
    validation.string(name, "name", max_length=40)
    if (percent_off is None) == (amount_off is None):
        if percent_off is None:
            raise missing_param("percentOff", "A coupon needs exactly one of percentOff or amountOff.")
        raise invalid("Pass only one of percentOff or amountOff.", "amountOff")
    if amount_off is not None:
        validation.amount(amount_off, "amountOff", positive=True)
        if currency is None:
            raise missing_param("currency", "amountOff needs a currency.")
        currency = validation.currency(currency)
    else:
        percent_off = _percent(percent_off)
        if currency is not None:
            currency = validation.currency(currency)
    if duration == "repeating":
        if duration_in_months is None:
            raise missing_param("durationInMonths", "A REPEATING coupon needs durationInMonths.")
        if duration_in_months < 1:
            raise invalid("durationInMonths must be at least 1.", "durationInMonths")
    elif duration_in_months is not None:
        raise invalid("durationInMonths is only for REPEATING coupons.", "durationInMonths")
    if max_redemptions is not None and max_redemptions < 1:
        raise invalid("maxRedemptions must be at least 1.", "maxRedemptions")
    validation.future(redeem_by, utcnow(), "redeemBy")
    if applies_to_products is not None:
        for i, product_id in enumerate(applies_to_products):
            await get(Product, product_id, f"appliesToProducts.{i}", kind="product")
    try:
        coupon = await Coupon.create(
            id=id or new_id("co", 8), name=name, duration=duration, duration_in_months=duration_in_months,
            percent_off=percent_off, amount_off=amount_off, currency=currency, max_redemptions=max_redemptions,
            redeem_by=redeem_by, applies_to_products=applies_to_products,
            metadata=validation.new_metadata(metadata),
        )
    except IntegrityError:
        raise BillingError("Coupon already exists.", code="resource_already_exists", param="id") from None
    await events.record("coupon.created", coupon)
    return coupon


async def update_coupon(id: str, changes: dict) -> Coupon:
    coupon = await get(Coupon, id, kind="coupon", lock=True)
    before = events.snapshot(coupon)
    if "name" in changes:
        coupon.name = validation.string(changes["name"], "name", max_length=40)
    if "metadata" in changes:
        coupon.metadata = validation.merge_metadata(coupon.metadata, changes["metadata"])
    await coupon.save()
    await events.record_update("coupon.updated", coupon, before)
    return coupon


async def delete_coupon(id: str) -> Coupon:
    """Soft: discounts already applied keep working, as in Stripe; no new redemptions."""
    coupon = await get(Coupon, id, kind="coupon", lock=True)
    coupon.deleted = True
    await coupon.save(update_fields=["deleted"])
    await events.record("coupon.deleted", coupon)
    return coupon
