"""Billing credits: credit grants and the ledger of what was applied, voided or given back."""
from tortoise import fields

from app.models.base import StripeObject, metadata_field


class CreditGrant(StripeObject):
    """`remaining` is what has not been applied (or voided) yet. It is only ever changed by atomic
    updates under the grant's row lock, with a CreditBalanceTransaction for each change."""

    customer = fields.ForeignKeyField("models.Customer", related_name="credit_grants", on_delete=fields.RESTRICT)
    name = fields.CharField(max_length=100, null=True)
    amount = fields.BigIntField()
    remaining = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    category = fields.CharField(max_length=16)
    priority = fields.IntField(default=50)
    applicability_price_type = fields.CharField(max_length=16, default="metered")
    effective_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(null=True)
    voided_at = fields.DatetimeField(null=True)
    test_clock_id = fields.CharField(max_length=64, null=True)
    metadata = metadata_field()
    updated = fields.DatetimeField()

    class Meta:
        table = "credit_grants"
        indexes = (("customer_id", "created", "id"),)


class CreditBalanceTransaction(StripeObject):
    """Stripe's billing.credit_balance_transaction: a credit (granted, or given back by a voided
    invoice) or a debit (applied to an invoice, or voided with the grant) of one grant."""

    credit_grant = fields.ForeignKeyField("models.CreditGrant", related_name="balance_transactions",
                                          on_delete=fields.RESTRICT)
    customer_id = fields.CharField(max_length=64, db_index=True)
    type = fields.CharField(max_length=8)
    kind = fields.CharField(max_length=40)
    amount = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    invoice_id = fields.CharField(max_length=64, null=True, db_index=True)
    effective_at = fields.DatetimeField()

    class Meta:
        table = "credit_balance_transactions"
        indexes = (("credit_grant_id", "created", "id"),)
