"""CreditGrant, its applicability, and its CreditBalanceTransaction ledger."""
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.billing.credit_grants import available_balance
from app.clock import utcnow
from app.graphql.enums import CreditGrantCategory, CreditGrantPriceType
from app.graphql.pagination import Connection
from app.graphql.scalars import BigInt
from app.graphql.types.common import Node, model_type
from app.models import clocks, customers, invoices
from app.models import credit_grants as m

Customer = Annotated["Customer", strawberry.lazy("app.graphql.types.customers")]
Invoice = Annotated["Invoice", strawberry.lazy("app.graphql.types.billing")]


@strawberry.type
class CreditGrantScope:
    price_type: CreditGrantPriceType


@strawberry.type
class CreditGrantApplicabilityConfig:
    scope: CreditGrantScope


@strawberry.type(name="CreditGrant")
class CreditGrant(Node):
    is_type_of = model_type(m.CreditGrant)
    id: strawberry.ID
    name: str | None
    amount: BigInt
    currency: str
    category: CreditGrantCategory
    effective_at: datetime
    expires_at: datetime | None
    voided_at: datetime | None
    priority: int = strawberry.field(description="0 is applied first, 100 last; default 50.")
    metadata: JSON
    created: datetime
    updated: datetime

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return await info.context.loaders.load(customers.Customer, self.customer_id)

    @strawberry.field(description="What is left of the grant now.")
    async def available_balance(self, info: Info) -> BigInt:
        owner = await info.context.loaders.load(customers.Customer, self.customer_id)
        clock = await info.context.loaders.load(clocks.TestClock, owner.test_clock_id)
        return available_balance(self, clock.frozen_time if clock else utcnow())

    @strawberry.field
    def applicability_config(self) -> CreditGrantApplicabilityConfig:
        return CreditGrantApplicabilityConfig(
            scope=CreditGrantScope(price_type=CreditGrantPriceType(self.applicability_price_type)))

    @strawberry.field(description="The grant's ledger, newest first: granted, applied, voided, given back.")
    async def balance_transactions(self, info: Info, first: int | None = None,
                                   after: str | None = None) -> Connection["CreditBalanceTransaction"]:
        return await info.context.loaders.page(m.CreditBalanceTransaction, "credit_grant_id", self.id, first, after)


@strawberry.type(name="CreditBalanceTransaction")
class CreditBalanceTransaction(Node):
    """Stripe's billing.credit_balance_transaction: type CREDIT or DEBIT of one grant; kind says why
    (credits_granted, credits_applied, credits_voided, credits_application_invoice_voided)."""

    is_type_of = model_type(m.CreditBalanceTransaction)
    id: strawberry.ID
    type: str
    kind: str
    amount: BigInt
    currency: str
    effective_at: datetime
    created: datetime

    @strawberry.field
    async def credit_grant(self, info: Info) -> CreditGrant:
        return await info.context.loaders.load(m.CreditGrant, self.credit_grant_id)

    @strawberry.field
    async def invoice(self, info: Info) -> Invoice | None:
        return await info.context.loaders.load(invoices.Invoice, self.invoice_id)


@strawberry.type
class InvoicePretaxCreditAmount:
    """A billing credit applied to an invoice (Stripe's total_pretax_credit_amounts entry)."""

    amount: BigInt
    credit_grant_id: strawberry.Private[str]
    transaction_id: strawberry.Private[str | None]

    @strawberry.field
    async def credit_grant(self, info: Info) -> CreditGrant:
        return await info.context.loaders.load(m.CreditGrant, self.credit_grant_id)

    @strawberry.field(description="null on an upcoming invoice: nothing is spent before finalization.")
    async def credit_balance_transaction(self, info: Info) -> CreditBalanceTransaction | None:
        return await info.context.loaders.load(m.CreditBalanceTransaction, self.transaction_id)


def pretax_credit_amounts(raw: list[dict]) -> list[InvoicePretaxCreditAmount]:
    return [InvoicePretaxCreditAmount(amount=a["amount"], credit_grant_id=a["credit_grant"],
                                      transaction_id=a.get("credit_balance_transaction")) for a in raw or []]
