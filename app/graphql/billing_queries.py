"""The Query fields of subscriptions, invoices and invoice items."""
import strawberry
from strawberry.types import Info

from app.billing.upcoming import upcoming_invoice
from app.graphql.enums import InvoiceStatus, SubscriptionStatus
from app.graphql.mutations import plain
from app.graphql.mutations.billing import UpcomingSubscriptionDetailsInput
from app.graphql.pagination import Connection, paginate
from app.graphql.types.billing import Invoice, InvoiceItem, Subscription
from app.models import invoices, subscriptions

ENDED = ("canceled", "incomplete_expired")


@strawberry.type
class BillingQueries:
    @strawberry.field
    async def subscription(self, info: Info, id: strawberry.ID) -> Subscription | None:
        return await info.context.loaders.load(subscriptions.Subscription, id)

    @strawberry.field(description="Without status: every subscription except CANCELED and INCOMPLETE_EXPIRED, "
                                  "as Stripe's default.")
    async def subscriptions(self, first: int | None = None, after: str | None = None,
                            customer: strawberry.ID | None = None, price: strawberry.ID | None = None,
                            status: SubscriptionStatus | None = None) -> Connection[Subscription]:
        query = subscriptions.Subscription.all()
        query = query.filter(status=status.value) if status else query.filter(status__not_in=ENDED)
        if customer is not None:
            query = query.filter(customer_id=customer)
        if price is not None:
            query = query.filter(id__in=subscriptions.SubscriptionItem.filter(price_id=price, deleted=False)
                                 .values("subscription_id"))
        return await paginate(query, first, after)

    @strawberry.field
    async def invoice(self, info: Info, id: strawberry.ID) -> Invoice | None:
        invoice = await info.context.loaders.load(invoices.Invoice, id)
        return None if invoice is None or invoice.deleted else invoice

    @strawberry.field
    async def invoices(self, first: int | None = None, after: str | None = None, customer: strawberry.ID | None = None,
                       subscription: strawberry.ID | None = None,
                       status: InvoiceStatus | None = None) -> Connection[Invoice]:
        query = invoices.Invoice.filter(deleted=False)
        if customer is not None:
            query = query.filter(customer_id=customer)
        if subscription is not None:
            query = query.filter(subscription_id=subscription)
        if status is not None:
            query = query.filter(status=status.value)
        return await paginate(query, first, after)

    @strawberry.field(description="Stripe's upcoming invoice: what the next invoice would hold now, or, with\n"
                                  "subscriptionDetails, what it would hold after that change. Never stored.\n"
                                  "One of customer or subscription is required.")
    async def upcoming_invoice(self, customer: strawberry.ID | None = None, subscription: strawberry.ID | None = None,
                               subscription_details: UpcomingSubscriptionDetailsInput | None = None) -> Invoice | None:
        invoice, lines = await upcoming_invoice(customer=customer, subscription=subscription,
                                                details=plain(subscription_details))
        invoice.preview_lines = lines
        return invoice

    @strawberry.field
    async def invoice_items(self, first: int | None = None, after: str | None = None,
                            customer: strawberry.ID | None = None, invoice: strawberry.ID | None = None,
                            pending: bool | None = None) -> Connection[InvoiceItem]:
        query = invoices.InvoiceItem.filter(deleted=False)
        if customer is not None:
            query = query.filter(customer_id=customer)
        if invoice is not None:
            query = query.filter(invoice_id=invoice)
        if pending is not None:
            query = query.filter(invoice_id__isnull=pending)
        return await paginate(query, first, after)
