"""Each model as Stripe's JSON (snake_case keys, unix times): the `data.object` of events and webhooks."""
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from app.billing.validation import decimal_str
from app.models.access import ApiKey
from app.models.catalog import Feature, Price, Product, ProductFeature
from app.models.clocks import TestClock
from app.models.coupons import Coupon, Discount
from app.models.credit_grants import CreditBalanceTransaction, CreditGrant
from app.models.customers import Customer, CustomerBalanceTransaction, PaymentMethod
from app.models.entitlements import ActiveEntitlement
from app.models.events import Event
from app.models.invoices import Invoice, InvoiceItem, PaymentIntent
from app.models.meters import BillingAlert, Meter
from app.models.subscriptions import Subscription, SubscriptionItem
from app.models.webhooks import WebhookEndpoint


def unix(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def product(p: Product) -> dict:
    return {
        "id": p.id, "object": "product", "active": p.active, "created": unix(p.created),
        "default_price": p.default_price_id, "deleted": p.deleted or None, "description": p.description,
        "livemode": False, "metadata": p.metadata, "name": p.name, "updated": unix(p.updated),
    }


def price(p: Price) -> dict:
    recurring = None
    if p.recurring_interval:
        recurring = {
            "interval": p.recurring_interval, "interval_count": p.recurring_interval_count,
            "usage_type": p.recurring_usage_type, "aggregate_usage": p.recurring_aggregate_usage,
            "meter": p.recurring_meter_id,
        }
    return {
        "id": p.id, "object": "price", "active": p.active, "billing_scheme": p.billing_scheme,
        "created": unix(p.created), "currency": p.currency, "livemode": False, "lookup_key": p.lookup_key,
        "metadata": p.metadata, "nickname": p.nickname, "product": p.product_id, "recurring": recurring,
        "tiers": p.tiers, "tiers_mode": p.tiers_mode, "transform_quantity": p.transform_quantity,
        "type": p.type, "unit_amount": p.unit_amount, "unit_amount_decimal": decimal_str(
            p.unit_amount_decimal if p.unit_amount_decimal is not None
            else (Decimal(p.unit_amount) if p.unit_amount is not None else None)),
    }


def feature(f: Feature) -> dict:
    return {
        "id": f.id, "object": "entitlements.feature", "active": f.active, "livemode": False,
        "lookup_key": f.lookup_key, "metadata": f.metadata, "name": f.name,
    }


def product_feature(pf: ProductFeature) -> dict:
    return {
        "id": pf.id, "object": "product_feature", "livemode": False, "product": pf.product_id,
        "entitlement_feature": pf.feature_id,
    }


def customer(c: Customer) -> dict:
    return {
        "id": c.id, "object": "customer", "balance": c.balance, "created": unix(c.created),
        "currency": c.currency, "deleted": c.deleted or None, "description": c.description, "email": c.email,
        "invoice_prefix": c.invoice_prefix,
        "invoice_settings": {"default_payment_method": c.default_payment_method_id},
        "livemode": False, "metadata": c.metadata, "name": c.name, "next_invoice_sequence": c.next_invoice_sequence,
        "phone": c.phone, "test_clock": c.test_clock_id,
    }


def payment_method(pm: PaymentMethod) -> dict:
    return {
        "id": pm.id, "object": "payment_method", "type": pm.type, "created": unix(pm.created),
        "customer": pm.customer_id, "livemode": False,
        "card": {"brand": pm.card_brand, "last4": pm.card_last4, "exp_month": pm.card_exp_month,
                 "exp_year": pm.card_exp_year},
    }


def balance_transaction(t: CustomerBalanceTransaction) -> dict:
    return {
        "id": t.id, "object": "customer_balance_transaction", "amount": t.amount, "created": unix(t.created),
        "currency": t.currency, "customer": t.customer_id, "description": t.description,
        "ending_balance": t.ending_balance, "invoice": t.invoice_id, "livemode": False, "type": t.type,
    }


def coupon(c: Coupon) -> dict:
    return {
        "id": c.id, "object": "coupon", "amount_off": c.amount_off,
        "applies_to": {"products": c.applies_to_products} if c.applies_to_products else None,
        "created": unix(c.created), "currency": c.currency, "deleted": c.deleted or None,
        "duration": c.duration, "duration_in_months": c.duration_in_months, "livemode": False,
        "max_redemptions": c.max_redemptions, "metadata": c.metadata, "name": c.name,
        "percent_off": float(c.percent_off) if c.percent_off is not None else None,
        "redeem_by": unix(c.redeem_by), "times_redeemed": c.times_redeemed,
    }


def discount(d: Discount) -> dict:
    return {
        "id": d.id, "object": "discount", "coupon": d.coupon_id, "customer": d.customer_id,
        "subscription": d.subscription_id, "start": unix(d.start), "end": unix(d.end),
    }


def test_clock(t: TestClock) -> dict:
    return {
        "id": t.id, "object": "test_helpers.test_clock", "created": unix(t.created),
        "deleted": t.deleted or None, "frozen_time": unix(t.frozen_time), "livemode": False, "name": t.name,
        "status": t.status,
    }


def api_key(k: ApiKey) -> dict:
    return {"id": k.id, "object": "api_key", "created": unix(k.created), "last4": k.last4, "name": k.name}


_SERIALIZERS: dict[type, Callable[[object], dict]] = {
    Product: product, Price: price, Feature: feature, ProductFeature: product_feature, Customer: customer,
    PaymentMethod: payment_method, CustomerBalanceTransaction: balance_transaction, Coupon: coupon,
    Discount: discount, TestClock: test_clock, ApiKey: api_key,
}


def to_json(obj) -> dict:
    return _SERIALIZERS[type(obj)](obj)


def subscription(s: Subscription) -> dict:
    pause = ({"behavior": s.pause_collection_behavior, "resumes_at": unix(s.pause_collection_resumes_at)}
             if s.pause_collection_behavior else None)
    return {
        "id": s.id, "object": "subscription", "billing_cycle_anchor": unix(s.billing_cycle_anchor),
        "cancel_at": unix(s.cancel_at), "cancel_at_period_end": s.cancel_at_period_end,
        "canceled_at": unix(s.canceled_at), "collection_method": s.collection_method, "created": unix(s.created),
        "currency": s.currency, "current_period_end": unix(s.current_period_end),
        "current_period_start": unix(s.current_period_start), "customer": s.customer_id,
        "days_until_due": s.days_until_due, "default_payment_method": s.default_payment_method_id,
        "ended_at": unix(s.ended_at), "latest_invoice": s.latest_invoice_id, "livemode": False,
        "metadata": s.metadata, "pause_collection": pause,
        "plan": {"interval": s.interval, "interval_count": s.interval_count},
        "start_date": unix(s.start_date), "status": s.status, "test_clock": s.test_clock_id,
        "trial_end": unix(s.trial_end), "trial_start": unix(s.trial_start),
    }


def subscription_item(i: SubscriptionItem) -> dict:
    return {"id": i.id, "object": "subscription_item", "created": unix(i.created), "metadata": i.metadata,
            "price": i.price_id, "quantity": i.quantity, "subscription": i.subscription_id}


def invoice(i: Invoice) -> dict:
    return {
        "id": i.id, "object": "invoice", "amount_due": i.amount_due, "amount_paid": i.amount_paid,
        "amount_remaining": i.amount_remaining, "attempt_count": i.attempt_count, "attempted": i.attempted,
        "auto_advance": i.auto_advance, "billing_reason": i.billing_reason, "collection_method": i.collection_method,
        "created": unix(i.created), "currency": i.currency, "customer": i.customer_id, "description": i.description,
        "discounts": i.discount_ids, "due_date": unix(i.due_date), "ending_balance": i.ending_balance,
        "livemode": False, "metadata": i.metadata, "next_payment_attempt": unix(i.next_payment_attempt),
        "number": i.number, "paid": i.status == "paid", "paid_out_of_band": i.paid_out_of_band,
        "payment_intent": i.payment_intent_id, "period_end": unix(i.period_end),
        "period_start": unix(i.period_start), "starting_balance": i.starting_balance, "status": i.status,
        "status_transitions": {"finalized_at": unix(i.finalized_at), "paid_at": unix(i.paid_at),
                               "voided_at": unix(i.voided_at),
                               "marked_uncollectible_at": unix(i.marked_uncollectible_at)},
        "subscription": i.subscription_id, "subtotal": i.subtotal, "test_clock": i.test_clock_id, "total": i.total,
        "total_discount_amounts": i.total_discount_amounts,
        "total_pretax_credit_amounts": [
            {"amount": a["amount"], "credit_balance_transaction": a.get("credit_balance_transaction"),
             "type": "credit_balance_transaction"} for a in i.total_pretax_credit_amounts or []],
    }


def invoice_item(i: InvoiceItem) -> dict:
    return {
        "id": i.id, "object": "invoiceitem", "amount": i.amount, "currency": i.currency, "customer": i.customer_id,
        "date": unix(i.created), "description": i.description, "discountable": i.discountable,
        "invoice": i.invoice_id, "livemode": False, "metadata": i.metadata,
        "period": {"start": unix(i.period_start), "end": unix(i.period_end)}, "price": i.price_id,
        "proration": i.proration, "proration_details": {"discount_amounts": i.discount_amounts},
        "quantity": i.quantity, "subscription": i.subscription_id,
        "unit_amount_decimal": decimal_str(i.unit_amount_decimal),
    }


def payment_intent(p: PaymentIntent) -> dict:
    return {
        "id": p.id, "object": "payment_intent", "amount": p.amount, "amount_received": p.amount_received,
        "created": unix(p.created), "currency": p.currency, "customer": p.customer_id, "invoice": p.invoice_id,
        "last_payment_error": p.last_payment_error, "livemode": False, "payment_method": p.payment_method_id,
        "status": p.status,
    }


def credit_grant(g: CreditGrant) -> dict:
    return {
        "id": g.id, "object": "billing.credit_grant",
        "amount": {"monetary": {"currency": g.currency, "value": g.amount}, "type": "monetary"},
        "applicability_config": {"scope": {"price_type": g.applicability_price_type}}, "category": g.category,
        "created": unix(g.created), "customer": g.customer_id, "effective_at": unix(g.effective_at),
        "expires_at": unix(g.expires_at), "livemode": False, "metadata": g.metadata, "name": g.name,
        "priority": g.priority, "test_clock": g.test_clock_id, "updated": unix(g.updated),
        "voided_at": unix(g.voided_at),
    }


def credit_balance_transaction(t: CreditBalanceTransaction) -> dict:
    amount = {"amount": {"monetary": {"currency": t.currency, "value": t.amount}, "type": "monetary"},
              "type": t.kind}
    if t.invoice_id and t.type == "debit":
        amount["credits_applied"] = {"invoice": t.invoice_id}
    if t.invoice_id and t.type == "credit":
        amount["credits_application_invoice_voided"] = {"invoice": t.invoice_id}
    return {
        "id": t.id, "object": "billing.credit_balance_transaction", "created": unix(t.created),
        "credit_grant": t.credit_grant_id, "effective_at": unix(t.effective_at), "livemode": False,
        "type": t.type, "credit": amount if t.type == "credit" else None,
        "debit": amount if t.type == "debit" else None,
    }


_SERIALIZERS.update({
    CreditGrant: credit_grant, CreditBalanceTransaction: credit_balance_transaction,
    Subscription: subscription, SubscriptionItem: subscription_item, Invoice: invoice, InvoiceItem: invoice_item,
    PaymentIntent: payment_intent,
})


# ---------------------------------------------------------------- meters and alerts

def meter(m: Meter) -> dict:
    return {
        "id": m.id, "object": "billing.meter", "created": unix(m.created),
        "customer_mapping": {"event_payload_key": m.customer_payload_key, "type": "by_id"},
        "default_aggregation": {"formula": m.formula}, "display_name": m.display_name,
        "event_name": m.event_name, "livemode": False, "status": m.status, "updated": unix(m.updated),
        "value_settings": {"event_payload_key": m.value_payload_key},
    }


def billing_alert(a: BillingAlert) -> dict:
    filters = [{"customer": a.customer_id, "type": "customer"}] if a.customer_id else None
    return {
        "id": a.id, "object": "billing.alert", "alert_type": "usage_threshold", "livemode": False,
        "status": a.status, "title": a.title,
        "usage_threshold": {"filters": filters, "gte": a.gte, "meter": a.meter_id, "recurrence": "one_time"},
    }


_SERIALIZERS.update({Meter: meter, BillingAlert: billing_alert})


def webhook_endpoint(w: WebhookEndpoint) -> dict:
    """Never the secret: Stripe shows it only in the answer that creates it."""
    return {
        "id": w.id, "object": "webhook_endpoint", "api_version": None, "created": unix(w.created),
        "deleted": w.deleted or None, "description": w.description, "enabled_events": w.enabled_events,
        "livemode": False, "metadata": {}, "status": w.status, "url": w.url,
    }


def event(e: Event) -> dict:
    """The event as a webhook carries it."""
    return {
        "id": e.id, "object": "event", "api_version": None, "created": unix(e.created), "data": e.data,
        "livemode": False, "pending_webhooks": e.pending_webhooks,
        "request": {"id": None, "idempotency_key": None}, "type": e.type,
    }


_SERIALIZERS.update({WebhookEndpoint: webhook_endpoint, Event: event})


SUMMARY_LIMIT = 10  # Stripe's summary lists the first entitlements, and says when there are more


def active_entitlement(e: ActiveEntitlement) -> dict:
    return {"id": e.id, "object": "entitlements.active_entitlement", "feature": e.feature_id, "livemode": False,
            "lookup_key": e.lookup_key}


def active_entitlement_summary(customer_id: str, entitlements: list[ActiveEntitlement]) -> dict:
    """A customer's entitlements, newest first, at most SUMMARY_LIMIT of them with has_more."""
    newest = sorted(entitlements, key=lambda e: (e.created, e.id), reverse=True)
    return {
        "object": "entitlements.active_entitlement_summary", "customer": customer_id, "livemode": False,
        "entitlements": {"object": "list", "data": [active_entitlement(e) for e in newest[:SUMMARY_LIMIT]],
                         "has_more": len(newest) > SUMMARY_LIMIT, "url": f"/v1/customers/{customer_id}/entitlements"},
    }


_SERIALIZERS[ActiveEntitlement] = active_entitlement
