"""Mutations on subscriptions, invoices, invoice items, and advancing test clocks."""
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON
from strawberry.types import Info

from app.billing import clocks, invoices, subscriptions
from app.graphql.enums import (
    BillingCycleAnchorChoice,
    CollectionMethod,
    LineRemovalBehavior,
    PauseCollectionBehavior,
    PaymentBehavior,
    PendingInvoiceItemsBehavior,
    ProrationBehavior,
)
from app.graphql.mutations import flush_usage, plain, run
from app.graphql.scalars import BigInt
from app.graphql.types.billing import Invoice, InvoiceItem, Subscription
from app.graphql.types.clocks import TestClock
from app.graphql.types.common import DeletedObject


@strawberry.input
class SubscriptionItemInput:
    price: strawberry.ID
    quantity: BigInt | None = UNSET
    metadata: JSON | None = UNSET


@strawberry.input
class CreateSubscriptionInput:
    customer: strawberry.ID
    items: list[SubscriptionItemInput]
    trial_period_days: int | None = UNSET
    trial_end: datetime | None = UNSET
    cancel_at_period_end: bool | None = UNSET
    cancel_at: datetime | None = UNSET
    billing_cycle_anchor: datetime | None = UNSET
    backdate_start_date: datetime | None = UNSET
    collection_method: CollectionMethod | None = UNSET
    days_until_due: int | None = UNSET
    default_payment_method: strawberry.ID | None = UNSET
    coupon: strawberry.ID | None = UNSET
    proration_behavior: ProrationBehavior | None = UNSET
    payment_behavior: PaymentBehavior | None = UNSET
    metadata: JSON | None = UNSET


@strawberry.input
class UpdateSubscriptionItemInput:
    id: strawberry.ID | None = strawberry.field(default=UNSET, description="an existing item to change or delete; "
                                                                            "omit to add a new item")
    price: strawberry.ID | None = UNSET
    quantity: BigInt | None = UNSET
    deleted: bool | None = UNSET
    clear_usage: bool | None = strawberry.field(
        default=UNSET, description="with deleted: drop the item's usage records of the current period "
                                  "(needed to delete an item that has some)")
    metadata: JSON | None = UNSET


@strawberry.input
class PauseCollectionInput:
    behavior: PauseCollectionBehavior
    resumes_at: datetime | None = UNSET


@strawberry.input
class UpcomingSubscriptionDetailsInput:
    items: list[UpdateSubscriptionItemInput] | None = UNSET
    proration_behavior: ProrationBehavior | None = UNSET
    proration_date: datetime | None = UNSET
    billing_cycle_anchor: BillingCycleAnchorChoice | None = UNSET
    cancel_at_period_end: bool | None = UNSET
    cancel_at: datetime | None = UNSET
    trial_end: datetime | None = UNSET
    end_trial_now: bool | None = UNSET
    coupon: strawberry.ID | None = UNSET


@strawberry.input
class UpdateSubscriptionInput(UpcomingSubscriptionDetailsInput):
    """What a preview can change, and more."""

    default_payment_method: strawberry.ID | None = UNSET
    collection_method: CollectionMethod | None = UNSET
    days_until_due: int | None = UNSET
    pause_collection: PauseCollectionInput | None = UNSET
    metadata: JSON | None = UNSET


@strawberry.input
class CancelSubscriptionInput:
    invoice_now: bool | None = UNSET
    prorate: bool | None = UNSET


@strawberry.input
class ResumeSubscriptionInput:
    billing_cycle_anchor: BillingCycleAnchorChoice | None = UNSET
    proration_behavior: ProrationBehavior | None = UNSET


@strawberry.input
class PeriodInput:
    start: datetime
    end: datetime


@strawberry.input
class CreateInvoiceInput:
    customer: strawberry.ID
    subscription: strawberry.ID | None = UNSET
    auto_advance: bool | None = UNSET
    collection_method: CollectionMethod | None = UNSET
    days_until_due: int | None = UNSET
    description: str | None = UNSET
    pending_invoice_items_behavior: PendingInvoiceItemsBehavior | None = UNSET
    coupon: strawberry.ID | None = UNSET
    metadata: JSON | None = UNSET


@strawberry.input
class UpdateInvoiceInput:
    auto_advance: bool | None = strawberry.field(default=UNSET, description="drafts only, except autoAdvance and "
                                                                            "metadata")
    collection_method: CollectionMethod | None = UNSET
    days_until_due: int | None = UNSET
    due_date: datetime | None = UNSET
    description: str | None = UNSET
    metadata: JSON | None = UNSET


@strawberry.input
class CreateInvoiceItemInput:
    customer: strawberry.ID
    invoice: strawberry.ID | None = UNSET
    subscription: strawberry.ID | None = UNSET
    price: strawberry.ID | None = UNSET
    amount: BigInt | None = UNSET
    unit_amount_decimal: Decimal | None = UNSET
    quantity: BigInt | None = UNSET
    currency: str | None = UNSET
    description: str | None = UNSET
    discountable: bool | None = UNSET
    period: PeriodInput | None = UNSET
    metadata: JSON | None = UNSET


@strawberry.input
class AddInvoiceLineInput:
    invoice_item: strawberry.ID | None = strawberry.field(default=UNSET, description="an existing pending invoice "
                                                                                      "item to move onto the invoice")
    amount: BigInt | None = UNSET
    description: str | None = UNSET
    price: strawberry.ID | None = UNSET
    quantity: BigInt | None = UNSET
    discountable: bool | None = UNSET
    period: PeriodInput | None = UNSET
    metadata: JSON | None = UNSET


@strawberry.input
class RemoveInvoiceLineInput:
    id: strawberry.ID
    behavior: LineRemovalBehavior


@strawberry.input
class UpdateInvoiceLineInput:
    id: strawberry.ID
    amount: BigInt | None = UNSET
    description: str | None = UNSET
    quantity: BigInt | None = UNSET
    discountable: bool | None = UNSET
    period: PeriodInput | None = UNSET
    metadata: JSON | None = UNSET


@strawberry.input
class PayInvoiceInput:
    payment_method: strawberry.ID | None = UNSET
    paid_out_of_band: bool | None = UNSET


@strawberry.type
class BillingMutations:
    @strawberry.mutation
    async def create_subscription(self, info: Info, input: CreateSubscriptionInput) -> Subscription:
        return await run(info, lambda: subscriptions.create_subscription(**plain(input)))

    @strawberry.mutation
    async def update_subscription(self, info: Info, id: strawberry.ID, input: UpdateSubscriptionInput) -> Subscription:
        await flush_usage(info)  # an anchor reset or interval change invoices the period's usage at once
        return await run(info, lambda: subscriptions.update_subscription(id, plain(input)))

    @strawberry.mutation
    async def cancel_subscription(self, info: Info, id: strawberry.ID,
                                  input: CancelSubscriptionInput | None = None) -> Subscription:
        options = plain(input)
        if options.get("invoice_now"):
            await flush_usage(info)
        return await run(info, lambda: subscriptions.cancel_subscription(
            id, invoice_now=bool(options.get("invoice_now")), prorate=bool(options.get("prorate"))))

    @strawberry.mutation
    async def pause_subscription(self, info: Info, id: strawberry.ID) -> Subscription:
        return await run(info, lambda: subscriptions.pause_subscription(id))

    @strawberry.mutation
    async def resume_subscription(self, info: Info, id: strawberry.ID,
                                  input: ResumeSubscriptionInput | None = None) -> Subscription:
        return await run(info, lambda: subscriptions.resume_subscription(id, **plain(input)))

    @strawberry.mutation
    async def delete_subscription_discount(self, info: Info, id: strawberry.ID) -> DeletedObject:
        discount = await run(info, lambda: subscriptions.delete_subscription_discount(id))
        return DeletedObject(id=discount.id)

    @strawberry.mutation
    async def create_invoice(self, info: Info, input: CreateInvoiceInput) -> Invoice:
        return await run(info, lambda: invoices.create_manual_invoice(**plain(input)))

    @strawberry.mutation
    async def update_invoice(self, info: Info, id: strawberry.ID, input: UpdateInvoiceInput) -> Invoice:
        return await run(info, lambda: invoices.update_invoice(id, plain(input)))

    @strawberry.mutation
    async def create_invoice_item(self, info: Info, input: CreateInvoiceItemInput) -> InvoiceItem:
        return await run(info, lambda: invoices.create_invoice_item(**plain(input)))

    @strawberry.mutation
    async def delete_invoice_item(self, info: Info, id: strawberry.ID) -> DeletedObject:
        item = await run(info, lambda: invoices.delete_invoice_item(id))
        return DeletedObject(id=item.id)

    @strawberry.mutation
    async def add_invoice_lines(self, info: Info, invoice: strawberry.ID, lines: list[AddInvoiceLineInput],
                                invoice_metadata: JSON | None = None) -> Invoice:
        return await run(info, lambda: invoices.add_lines(invoice, [plain(line) for line in lines], invoice_metadata))

    @strawberry.mutation
    async def remove_invoice_lines(self, info: Info, invoice: strawberry.ID, lines: list[RemoveInvoiceLineInput],
                                   invoice_metadata: JSON | None = None) -> Invoice:
        return await run(info, lambda: invoices.remove_lines(invoice, [plain(line) for line in lines],
                                                             invoice_metadata))

    @strawberry.mutation
    async def update_invoice_lines(self, info: Info, invoice: strawberry.ID, lines: list[UpdateInvoiceLineInput],
                                   invoice_metadata: JSON | None = None) -> Invoice:
        return await run(info, lambda: invoices.update_lines(invoice, [plain(line) for line in lines],
                                                             invoice_metadata))

    @strawberry.mutation
    async def finalize_invoice(self, info: Info, id: strawberry.ID, auto_advance: bool | None = None) -> Invoice:
        await flush_usage(info)  # a renewal draft takes the latest usage of its period
        return await run(info, lambda: invoices.finalize_invoice(id, auto_advance))

    @strawberry.mutation
    async def pay_invoice(self, info: Info, id: strawberry.ID, input: PayInvoiceInput | None = None) -> Invoice:
        """A declined charge is recorded on the invoice, then reported as a card_error."""
        invoice, declined = await run(info, lambda: invoices.pay_invoice(id, **plain(input)))
        if declined is not None:
            raise declined
        return invoice

    @strawberry.mutation
    async def void_invoice(self, info: Info, id: strawberry.ID) -> Invoice:
        return await run(info, lambda: invoices.void_invoice(id))

    @strawberry.mutation
    async def mark_invoice_uncollectible(self, info: Info, id: strawberry.ID) -> Invoice:
        return await run(info, lambda: invoices.mark_invoice_uncollectible(id))

    @strawberry.mutation
    async def delete_invoice(self, info: Info, id: strawberry.ID) -> DeletedObject:
        invoice = await run(info, lambda: invoices.delete_invoice(id))
        return DeletedObject(id=invoice.id)

    @strawberry.mutation(description="Moves the clock forward; the workers then run every billing step due up to "
                                     "that time and set status back to READY.")
    async def advance_test_clock(self, info: Info, id: strawberry.ID, frozen_time: datetime) -> TestClock:
        clock = await run(info, lambda: clocks.start_advance(id, frozen_time))
        await info.context.enqueue("advance_test_clock", clock.id,
                                   _job_id=f"advance_test_clock:{clock.id}:{int(clock.advance_to.timestamp())}")
        return clock
