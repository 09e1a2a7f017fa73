"""Customers, their payment methods and their balance transactions."""
from tortoise import fields

from app.models.base import StripeObject, metadata_field


class Customer(StripeObject):
    deleted = fields.BooleanField(default=False)
    email = fields.CharField(max_length=512, null=True, db_index=True)
    name = fields.CharField(max_length=256, null=True)
    description = fields.TextField(null=True)
    phone = fields.CharField(max_length=32, null=True)
    metadata = metadata_field()
    balance = fields.BigIntField(default=0)
    currency = fields.CharField(max_length=3, null=True)
    invoice_prefix = fields.CharField(max_length=12, unique=True)
    next_invoice_sequence = fields.IntField(default=1)
    # A payment method id (invoice_settings.default_payment_method), not a foreign key: payment methods
    # reference their customer, and the cycle would stop schema creation.
    default_payment_method_id = fields.CharField(max_length=64, null=True)
    test_clock = fields.ForeignKeyField(
        "models.TestClock", null=True, related_name="customers", on_delete=fields.SET_NULL
    )

    class Meta:
        table = "customers"


class PaymentMethod(StripeObject):
    """A card. `behavior` says how the built-in test processor treats it (ok, decline, ...)."""

    type = fields.CharField(max_length=16, default="card")
    card_brand = fields.CharField(max_length=16)
    card_last4 = fields.CharField(max_length=4)
    card_exp_month = fields.IntField()
    card_exp_year = fields.IntField()
    behavior = fields.CharField(max_length=32, default="ok")
    customer = fields.ForeignKeyField(
        "models.Customer", null=True, related_name="payment_methods", on_delete=fields.SET_NULL
    )

    class Meta:
        table = "payment_methods"
        indexes = (("customer_id", "created", "id"),)


class CustomerBalanceTransaction(StripeObject):
    customer = fields.ForeignKeyField(
        "models.Customer", related_name="balance_transactions", on_delete=fields.RESTRICT
    )
    amount = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    description = fields.CharField(max_length=350, null=True)
    ending_balance = fields.BigIntField()
    invoice_id = fields.CharField(max_length=64, null=True)
    type = fields.CharField(max_length=32, default="adjustment")

    class Meta:
        table = "customer_balance_transactions"
        indexes = (("customer_id", "created", "id"),)
