"""Discounts: coupons redeemed for a customer, a subscription or one invoice."""
from tortoise.expressions import F

from app.billing import events
from app.billing.coupons import is_valid
from app.billing.errors import invalid
from app.billing.lookup import get
from app.billing.periods import add_months
from app.ids import new_id
from app.models.coupons import Coupon, Discount
from app.models.customers import Customer


async def active_customer_discount(customer_id: str) -> Discount | None:
    return await Discount.filter(customer_id=customer_id, subscription_id=None, invoice_id=None, ended_at=None).first()


async def end_customer_discount(customer: Customer, now) -> None:
    discount = await active_customer_discount(customer.id)
    if discount is None:
        return
    discount.ended_at = now
    await discount.save(update_fields=["ended_at"])
    await events.record("customer.discount.deleted", discount, created=now)


async def redeem(coupon_id: str, now, param: str = "coupon", currency: str | None = None) -> Coupon:
    """Count one redemption of a coupon that can still be redeemed (in `currency`, for amount-off).

    The coupon row is locked while its redemptions are checked and counted, so max_redemptions holds
    under concurrent redemptions.
    """
    coupon = await get(Coupon, coupon_id, param, kind="coupon", lock=True)
    if not is_valid(coupon, now):
        raise invalid(f"Coupon '{coupon_id}' is no longer valid (deleted, expired or fully redeemed).", param)
    if currency is not None and coupon.amount_off is not None and coupon.currency != currency:
        raise invalid(f"Coupon '{coupon_id}' is in {coupon.currency}; this is billed in {currency}.", param)
    await Coupon.filter(id=coupon.id).update(times_redeemed=F("times_redeemed") + 1)
    return coupon


def ends_at(coupon: Coupon, start):
    """When a discount of this coupon stops applying: REPEATING after its months; else never by time."""
    return add_months(start, coupon.duration_in_months) if coupon.duration == "repeating" else None


async def apply_coupon(customer: Customer, coupon_id: str, now, param: str = "coupon") -> Discount:
    """Redeem the coupon for the customer, replacing the discount it had (Stripe's customer.discount.updated:
    "a customer is switched from one coupon to another")."""
    coupon = await redeem(coupon_id, now, param)
    replaced = await active_customer_discount(customer.id)
    if replaced is not None:
        replaced.ended_at = now
        await replaced.save(update_fields=["ended_at"])
    discount = await Discount.create(
        id=new_id("di"), coupon_id=coupon.id, customer_id=customer.id, start=now, end=ends_at(coupon, now),
        created=now,
    )
    if replaced is None:
        await events.record("customer.discount.created", discount, created=now)
    else:
        await events.record_update("customer.discount.updated", discount, events.snapshot(replaced), created=now)
    return discount
