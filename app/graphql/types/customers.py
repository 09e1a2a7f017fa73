"""Customer, PaymentMethod (Card), InvoiceSettings and CustomerBalanceTransaction."""
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.graphql.enums import InvoiceStatus, SubscriptionStatus
from app.graphql.pagination import Connection
from app.graphql.scalars import BigInt
from app.graphql.types.common import Node, model_type
from app.models import clocks, coupons, credit_grants, entitlements, invoices, subscriptions
from app.models import customers as m

TestClock = Annotated["TestClock", strawberry.lazy("app.graphql.types.clocks")]
Subscription = Annotated["Subscription", strawberry.lazy("app.graphql.types.billing")]
Invoice = Annotated["Invoice", strawberry.lazy("app.graphql.types.billing")]
Discount = Annotated["Discount", strawberry.lazy("app.graphql.types.coupons")]
CreditGrant = Annotated["CreditGrant", strawberry.lazy("app.graphql.types.credit_grants")]
ActiveEntitlement = Annotated["ActiveEntitlement", strawberry.lazy("app.graphql.types.entitlements")]


@strawberry.type
class Card:
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@strawberry.type(name="PaymentMethod")
class PaymentMethod(Node):
    is_type_of = model_type(m.PaymentMethod)
    id: strawberry.ID
    type: str
    created: datetime

    @strawberry.field
    def card(self) -> Card | None:
        return Card(brand=self.card_brand, last4=self.card_last4, exp_month=self.card_exp_month,
                    exp_year=self.card_exp_year)

    @strawberry.field
    async def customer(self, info: Info) -> "Customer | None":
        return await info.context.loaders.load(m.Customer, self.customer_id)


@strawberry.type
class InvoiceSettings:
    default_payment_method_id: strawberry.Private[str | None]

    @strawberry.field
    async def default_payment_method(self, info: Info) -> PaymentMethod | None:
        return await info.context.loaders.load(m.PaymentMethod, self.default_payment_method_id)


@strawberry.type(name="Customer")
class Customer(Node):
    is_type_of = model_type(m.Customer)
    id: strawberry.ID
    deleted: bool
    email: str | None
    name: str | None
    description: str | None
    phone: str | None
    metadata: JSON
    balance: BigInt = strawberry.field(
        description="Stripe semantics: negative is credit the customer holds, applied to the next invoices.")
    currency: str | None
    invoice_prefix: str
    created: datetime

    @strawberry.field
    def invoice_settings(self) -> InvoiceSettings:
        return InvoiceSettings(default_payment_method_id=self.default_payment_method_id)

    @strawberry.field
    async def test_clock(self, info: Info) -> TestClock | None:
        return await info.context.loaders.load(clocks.TestClock, self.test_clock_id)

    @strawberry.field
    async def discount(self, info: Info) -> Discount | None:
        return await info.context.loaders.one_child(
            coupons.Discount, "customer_id", subscription_id=None, invoice_id=None, ended_at=None).load(self.id)

    @strawberry.field
    async def payment_methods(self, info: Info, first: int | None = None,
                              after: str | None = None) -> Connection[PaymentMethod]:
        return await info.context.loaders.page(m.PaymentMethod, "customer_id", self.id, first, after)

    @strawberry.field
    async def active_entitlements(self, info: Info, first: int | None = None,
                                  after: str | None = None) -> Connection[ActiveEntitlement]:
        return await info.context.loaders.page(entitlements.ActiveEntitlement, "customer_id", self.id, first, after)

    @strawberry.field
    async def balance_transactions(self, info: Info, first: int | None = None,
                                   after: str | None = None) -> Connection["CustomerBalanceTransaction"]:
        return await info.context.loaders.page(m.CustomerBalanceTransaction, "customer_id", self.id, first, after)

    @strawberry.field
    async def credit_grants(self, info: Info, first: int | None = None,
                            after: str | None = None) -> Connection[CreditGrant]:
        return await info.context.loaders.page(credit_grants.CreditGrant, "customer_id", self.id, first, after)

    @strawberry.field
    async def subscriptions(self, info: Info, first: int | None = None, after: str | None = None,
                            status: SubscriptionStatus | None = None) -> Connection[Subscription]:
        filters = {"status": status.value} if status else {"status__not_in": ("canceled", "incomplete_expired")}
        return await info.context.loaders.page(subscriptions.Subscription, "customer_id", self.id, first, after,
                                               **filters)

    @strawberry.field
    async def invoices(self, info: Info, first: int | None = None, after: str | None = None,
                       status: InvoiceStatus | None = None) -> Connection[Invoice]:
        filters = {"status": status.value} if status else {}
        return await info.context.loaders.page(invoices.Invoice, "customer_id", self.id, first, after,
                                               deleted=False, **filters)


@strawberry.type(name="CustomerBalanceTransaction")
class CustomerBalanceTransaction(Node):
    is_type_of = model_type(m.CustomerBalanceTransaction)
    id: strawberry.ID
    amount: BigInt
    currency: str
    description: str | None
    ending_balance: BigInt
    type: str
    created: datetime

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return await info.context.loaders.load(m.Customer, self.customer_id)

    @strawberry.field
    async def invoice(self, info: Info) -> Invoice | None:
        return await info.context.loaders.load(invoices.Invoice, self.invoice_id)
