"""Invoices, their lines, pending invoice items, and payment intents."""
from tortoise import fields

from app.models.base import StripeObject, metadata_field


class Invoice(StripeObject):
    customer = fields.ForeignKeyField("models.Customer", related_name="invoices", on_delete=fields.RESTRICT)
    subscription = fields.ForeignKeyField("models.Subscription", null=True, related_name="invoices",
                                          on_delete=fields.RESTRICT, db_index=True)
    # Unique per customer once assigned, at finalization: <invoice_prefix>-0001, -0002, ...
    number = fields.CharField(max_length=40, null=True, unique=True)
    status = fields.CharField(max_length=16, db_index=True)
    billing_reason = fields.CharField(max_length=32)
    # "<subscription id>:<period start>" for SUBSCRIPTION_CYCLE invoices only: one cycle invoice per period.
    cycle_key = fields.CharField(max_length=100, null=True, unique=True)
    collection_method = fields.CharField(max_length=24)
    currency = fields.CharField(max_length=3)
    description = fields.TextField(null=True)
    period_start = fields.DatetimeField()
    period_end = fields.DatetimeField()
    due_date = fields.DatetimeField(null=True)
    days_until_due = fields.IntField(null=True)
    subtotal = fields.BigIntField(default=0)
    total_discount_amounts = fields.JSONField(default=list)
    # Billing credits applied at finalization: [{"amount", "credit_grant", "credit_balance_transaction"}]
    total_pretax_credit_amounts = fields.JSONField(default=list)
    total = fields.BigIntField(default=0)
    starting_balance = fields.BigIntField(default=0)
    ending_balance = fields.BigIntField(null=True)
    amount_due = fields.BigIntField(default=0)
    amount_paid = fields.BigIntField(default=0)
    amount_remaining = fields.BigIntField(default=0)
    attempt_count = fields.IntField(default=0)
    attempted = fields.BooleanField(default=False)
    auto_advance = fields.BooleanField(default=True)
    automatically_finalizes_at = fields.DatetimeField(null=True, db_index=True)
    next_payment_attempt = fields.DatetimeField(null=True, db_index=True)
    paid_out_of_band = fields.BooleanField(default=False)
    finalized_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)
    voided_at = fields.DatetimeField(null=True)
    marked_uncollectible_at = fields.DatetimeField(null=True)
    past_due_notified = fields.BooleanField(default=False)
    discount_ids = fields.JSONField(default=list)
    payment_intent_id = fields.CharField(max_length=64, null=True)
    test_clock_id = fields.CharField(max_length=64, null=True, db_index=True)
    deleted = fields.BooleanField(default=False)
    metadata = metadata_field()

    class Meta:
        table = "invoices"
        indexes = (("customer_id", "created", "id"),)


class InvoiceLineItem(StripeObject):
    invoice = fields.ForeignKeyField("models.Invoice", related_name="lines", on_delete=fields.CASCADE)
    type = fields.CharField(max_length=16)
    amount = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    description = fields.TextField(null=True)
    discountable = fields.BooleanField(default=True)
    discount_amounts = fields.JSONField(default=list)
    period_start = fields.DatetimeField()
    period_end = fields.DatetimeField()
    price_id = fields.CharField(max_length=64, null=True)
    proration = fields.BooleanField(default=False)
    quantity = fields.BigIntField(null=True)
    unit_amount_excluding_tax = fields.DecimalField(max_digits=32, decimal_places=12, null=True)
    subscription_id = fields.CharField(max_length=64, null=True)
    subscription_item_id = fields.CharField(max_length=64, null=True)
    invoice_item_id = fields.CharField(max_length=64, null=True)
    position = fields.IntField(default=0)
    metadata = metadata_field()

    class Meta:
        table = "invoice_line_items"
        indexes = (("invoice_id", "position", "id"),)


class InvoiceItem(StripeObject):
    """A pending charge or credit: it joins the customer's next invoice (or the one it names)."""

    customer = fields.ForeignKeyField("models.Customer", related_name="invoice_items", on_delete=fields.RESTRICT)
    invoice = fields.ForeignKeyField("models.Invoice", null=True, related_name="invoice_items",
                                     on_delete=fields.SET_NULL)
    subscription_id = fields.CharField(max_length=64, null=True, db_index=True)
    subscription_item_id = fields.CharField(max_length=64, null=True)
    price_id = fields.CharField(max_length=64, null=True)
    amount = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    quantity = fields.BigIntField(default=1)
    unit_amount_decimal = fields.DecimalField(max_digits=32, decimal_places=12, null=True)
    description = fields.TextField(null=True)
    discountable = fields.BooleanField(default=True)
    proration = fields.BooleanField(default=False)
    # A proration's discount, taken when it was made (Stripe's proration_details.discount_amounts).
    discount_amounts = fields.JSONField(default=list)
    period_start = fields.DatetimeField()
    period_end = fields.DatetimeField()
    deleted = fields.BooleanField(default=False)
    metadata = metadata_field()

    class Meta:
        table = "invoice_items"
        indexes = (("customer_id", "invoice_id"),)


class PaymentIntent(StripeObject):
    amount = fields.BigIntField()
    amount_received = fields.BigIntField(default=0)
    currency = fields.CharField(max_length=3)
    status = fields.CharField(max_length=32)
    customer_id = fields.CharField(max_length=64, null=True)
    invoice_id = fields.CharField(max_length=64, null=True, db_index=True)
    payment_method_id = fields.CharField(max_length=64, null=True)
    last_payment_error = fields.JSONField(null=True)

    class Meta:
        table = "payment_intents"


class TestCharge(StripeObject):
    """The built-in test processor's ledger: one row per idempotency key, so a retried job never charges twice."""

    idempotency_key = fields.CharField(max_length=120, unique=True)
    payment_method_id = fields.CharField(max_length=64)
    amount = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    succeeded = fields.BooleanField()
    failure_code = fields.CharField(max_length=40, null=True)
    decline_code = fields.CharField(max_length=40, null=True)

    class Meta:
        table = "test_charges"
