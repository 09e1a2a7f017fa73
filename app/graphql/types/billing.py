"""Subscription, SubscriptionItem, Invoice (with lines), InvoiceItem and PaymentIntent."""
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.graphql.enums import (
    BillingReason,
    CollectionMethod,
    InvoiceLineType,
    InvoiceStatus,
    PauseCollectionBehavior,
    PaymentIntentStatus,
    SubscriptionStatus,
)
from app.graphql.pagination import IN_POSITION, NEWEST_FIRST, Connection, Edge, PageInfo, page_of
from app.graphql.scalars import BigInt
from app.graphql.types.common import Node, Period, model_type
from app.models import catalog, clocks, coupons, customers
from app.models import invoices as inv
from app.models import subscriptions as subs

Customer = Annotated["Customer", strawberry.lazy("app.graphql.types.customers")]
PaymentMethod = Annotated["PaymentMethod", strawberry.lazy("app.graphql.types.customers")]
Price = Annotated["Price", strawberry.lazy("app.graphql.types.catalog")]
Discount = Annotated["Discount", strawberry.lazy("app.graphql.types.coupons")]
TestClock = Annotated["TestClock", strawberry.lazy("app.graphql.types.clocks")]
InvoicePretaxCreditAmount = Annotated["InvoicePretaxCreditAmount", strawberry.lazy("app.graphql.types.credit_grants")]
UsageRecordSummary = Annotated["UsageRecordSummary", strawberry.lazy("app.graphql.types.usage_records")]


@strawberry.type
class PauseCollection:
    behavior: PauseCollectionBehavior
    resumes_at: datetime | None


@strawberry.type(name="SubscriptionItem")
class SubscriptionItem(Node):
    is_type_of = model_type(subs.SubscriptionItem)
    id: strawberry.ID
    quantity: BigInt | None
    metadata: JSON
    created: datetime

    @strawberry.field
    async def subscription(self, info: Info) -> "Subscription":
        return await info.context.loaders.load(subs.Subscription, self.subscription_id)

    @strawberry.field
    async def price(self, info: Info) -> Price:
        return await info.context.loaders.load(catalog.Price, self.price_id)

    @strawberry.field(description="Usage per billing period, newest first: each billed period, then the current "
                                  "one (invoice null).")
    async def usage_record_summaries(self, first: int | None = None,
                                     after: str | None = None) -> Connection[UsageRecordSummary]:
        from app.billing.usage_records import read_totals, summary_periods

        page = page_of(await summary_periods(self), first, after, NEWEST_FIRST)
        await read_totals(page.nodes)
        return page


@strawberry.type(name="Subscription")
class Subscription(Node):
    is_type_of = model_type(subs.Subscription)
    id: strawberry.ID
    status: SubscriptionStatus
    currency: str
    collection_method: CollectionMethod
    days_until_due: int | None
    created: datetime
    start_date: datetime
    billing_cycle_anchor: datetime
    current_period_start: datetime
    current_period_end: datetime
    trial_start: datetime | None
    trial_end: datetime | None
    cancel_at_period_end: bool
    cancel_at: datetime | None
    canceled_at: datetime | None
    ended_at: datetime | None
    metadata: JSON

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return await info.context.loaders.load(customers.Customer, self.customer_id)

    @strawberry.field
    async def default_payment_method(self, info: Info) -> PaymentMethod | None:
        return await info.context.loaders.load(customers.PaymentMethod, self.default_payment_method_id)

    @strawberry.field
    def pause_collection(self) -> PauseCollection | None:
        if not self.pause_collection_behavior:
            return None
        return PauseCollection(behavior=PauseCollectionBehavior(self.pause_collection_behavior),
                               resumes_at=self.pause_collection_resumes_at)

    @strawberry.field
    async def discount(self, info: Info) -> Discount | None:
        return await info.context.loaders.one_child(coupons.Discount, "subscription_id", ended_at=None).load(self.id)

    @strawberry.field
    async def latest_invoice(self, info: Info) -> "Invoice | None":
        return await info.context.loaders.load(inv.Invoice, self.latest_invoice_id)

    @strawberry.field
    async def test_clock(self, info: Info) -> TestClock | None:
        return await info.context.loaders.load(clocks.TestClock, self.test_clock_id)

    @strawberry.field
    async def items(self, info: Info, first: int | None = None,
                    after: str | None = None) -> Connection[SubscriptionItem]:
        return await info.context.loaders.page(subs.SubscriptionItem, "subscription_id", self.id, first, after,
                                               deleted=False)

    @strawberry.field
    async def invoices(self, info: Info, first: int | None = None,
                       after: str | None = None) -> Connection["Invoice"]:
        return await info.context.loaders.page(inv.Invoice, "subscription_id", self.id, first, after, deleted=False)

    @strawberry.field
    async def upcoming_invoice(self, info: Info) -> "Invoice | None":
        from app.billing.upcoming import next_invoice, renews

        if not renews(self):
            return None
        invoice, lines = await next_invoice(self)
        invoice.preview_lines = lines
        return invoice


@strawberry.type
class DiscountAmount:
    amount: BigInt
    discount_id: strawberry.Private[str]

    @strawberry.field
    async def discount(self, info: Info) -> Discount:
        return await info.context.loaders.load(coupons.Discount, self.discount_id)


def _discount_amounts(raw: list[dict]) -> list[DiscountAmount]:
    return [DiscountAmount(amount=d["amount"], discount_id=d["discount"]) for d in raw or []]


@strawberry.type
class InvoiceStatusTransitions:
    finalized_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    marked_uncollectible_at: datetime | None


@strawberry.type(name="InvoiceItem")
class InvoiceItem(Node):
    is_type_of = model_type(inv.InvoiceItem)
    id: strawberry.ID
    amount: BigInt
    currency: str
    quantity: BigInt
    unit_amount_decimal: Decimal | None
    description: str | None
    discountable: bool
    proration: bool
    metadata: JSON
    created: datetime

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return await info.context.loaders.load(customers.Customer, self.customer_id)

    @strawberry.field
    async def invoice(self, info: Info) -> "Invoice | None":
        return await info.context.loaders.load(inv.Invoice, self.invoice_id)

    @strawberry.field
    async def subscription(self, info: Info) -> Subscription | None:
        return await info.context.loaders.load(subs.Subscription, self.subscription_id)

    @strawberry.field
    async def price(self, info: Info) -> Price | None:
        return await info.context.loaders.load(catalog.Price, self.price_id)

    @strawberry.field
    def period(self) -> Period:
        return Period(start=self.period_start, end=self.period_end)


@strawberry.type(name="InvoiceLineItem")
class InvoiceLineItem(Node):
    is_type_of = model_type(inv.InvoiceLineItem)
    id: strawberry.ID
    type: InvoiceLineType
    amount: BigInt
    currency: str
    description: str | None
    discountable: bool
    proration: bool
    quantity: BigInt | None
    unit_amount_excluding_tax: Decimal | None
    metadata: JSON

    @strawberry.field
    def discount_amounts(self) -> list[DiscountAmount]:
        return _discount_amounts(self.discount_amounts)

    @strawberry.field
    def period(self) -> Period:
        return Period(start=self.period_start, end=self.period_end)

    @strawberry.field
    async def price(self, info: Info) -> Price | None:
        return await info.context.loaders.load(catalog.Price, self.price_id)

    @strawberry.field
    async def subscription(self, info: Info) -> Subscription | None:
        return await info.context.loaders.load(subs.Subscription, self.subscription_id)

    @strawberry.field
    async def subscription_item(self, info: Info) -> SubscriptionItem | None:
        return await info.context.loaders.load(subs.SubscriptionItem, self.subscription_item_id)

    @strawberry.field
    async def invoice_item(self, info: Info) -> InvoiceItem | None:
        return await info.context.loaders.load(inv.InvoiceItem, self.invoice_item_id)


@strawberry.type
class InvoiceLineItemConnection:
    edges: list[Edge[InvoiceLineItem]]
    nodes: list[InvoiceLineItem]
    page_info: PageInfo
    total_count: int


@strawberry.type
class PaymentError:
    code: str
    decline_code: str | None
    message: str


@strawberry.type(name="PaymentIntent")
class PaymentIntent(Node):
    is_type_of = model_type(inv.PaymentIntent)
    id: strawberry.ID
    amount: BigInt
    amount_received: BigInt
    currency: str
    status: PaymentIntentStatus
    created: datetime

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        return await info.context.loaders.load(customers.Customer, self.customer_id)

    @strawberry.field
    async def invoice(self, info: Info) -> "Invoice | None":
        return await info.context.loaders.load(inv.Invoice, self.invoice_id)

    @strawberry.field
    async def payment_method(self, info: Info) -> PaymentMethod | None:
        return await info.context.loaders.load(customers.PaymentMethod, self.payment_method_id)

    @strawberry.field
    def last_payment_error(self) -> PaymentError | None:
        error = self.last_payment_error
        if not error:
            return None
        return PaymentError(code=error.get("code") or "card_declined", decline_code=error.get("decline_code"),
                            message=error.get("message") or "")


@strawberry.type(name="Invoice")
class Invoice(Node):
    is_type_of = model_type(inv.Invoice)
    id: strawberry.ID = strawberry.field(
        description="Previews (upcoming invoices) have ids starting with upcoming_ and are never stored.")
    number: str | None
    status: InvoiceStatus
    billing_reason: BillingReason
    collection_method: CollectionMethod
    currency: str
    description: str | None
    created: datetime
    period_start: datetime
    period_end: datetime
    due_date: datetime | None
    subtotal: BigInt
    total: BigInt
    starting_balance: BigInt
    ending_balance: BigInt | None
    amount_due: BigInt
    amount_paid: BigInt
    amount_remaining: BigInt
    attempt_count: int
    attempted: bool
    auto_advance: bool
    next_payment_attempt: datetime | None
    paid_out_of_band: bool
    metadata: JSON

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return await info.context.loaders.load(customers.Customer, self.customer_id)

    @strawberry.field
    async def subscription(self, info: Info) -> Subscription | None:
        return await info.context.loaders.load(subs.Subscription, self.subscription_id)

    @strawberry.field
    def paid(self) -> bool:
        return self.status == "paid"

    @strawberry.field
    def total_discount_amounts(self) -> list[DiscountAmount]:
        return _discount_amounts(self.total_discount_amounts)

    @strawberry.field(description="Billing credits applied to the metered part (Stripe's "
                                  "total_pretax_credit_amounts of type credit_balance_transaction).")
    def total_pretax_credit_amounts(self) -> list[InvoicePretaxCreditAmount]:
        from app.graphql.types.credit_grants import pretax_credit_amounts

        return pretax_credit_amounts(self.total_pretax_credit_amounts)

    @strawberry.field
    async def discounts(self, info: Info) -> list[Discount]:
        found = await info.context.loaders.by_id(coupons.Discount).load_many(self.discount_ids or [])
        return [d for d in found if d is not None]

    @strawberry.field
    def status_transitions(self) -> InvoiceStatusTransitions:
        return InvoiceStatusTransitions(finalized_at=self.finalized_at, paid_at=self.paid_at,
                                        voided_at=self.voided_at, marked_uncollectible_at=self.marked_uncollectible_at)

    @strawberry.field
    async def payment_intent(self, info: Info) -> PaymentIntent | None:
        return await info.context.loaders.load(inv.PaymentIntent, self.payment_intent_id)

    @strawberry.field
    def hosted_invoice_url(self) -> str | None:
        return None

    @strawberry.field
    def invoice_pdf(self) -> str | None:
        return None

    @strawberry.field
    async def lines(self, info: Info, first: int | None = None,
                    after: str | None = None) -> InvoiceLineItemConnection:
        preview = getattr(self, "preview_lines", None)
        if preview is not None:
            for position, line in enumerate(preview):
                line.position = position
            page = page_of(preview, first, after, IN_POSITION)
            total = len(preview)
        else:
            page = await info.context.loaders.page(inv.InvoiceLineItem, "invoice_id", self.id, first, after,
                                                   IN_POSITION)
            total = await info.context.loaders.count(inv.InvoiceLineItem, "invoice_id").load(self.id)
        return InvoiceLineItemConnection(edges=page.edges, nodes=page.nodes, page_info=page.page_info,
                                         total_count=total)
