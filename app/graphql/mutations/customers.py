"""Mutations on customers, payment methods and balance transactions."""
import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON
from strawberry.types import Info

from app.billing import customers, payment_methods
from app.graphql.mutations import plain, provided, run
from app.graphql.scalars import BigInt
from app.graphql.types.common import DeletedObject
from app.graphql.types.customers import Customer, CustomerBalanceTransaction, PaymentMethod


@strawberry.input
class CreateCustomerInput:
    email: str | None = UNSET
    name: str | None = UNSET
    description: str | None = UNSET
    phone: str | None = UNSET
    metadata: JSON | None = UNSET
    payment_method: strawberry.ID | None = UNSET
    test_clock: strawberry.ID | None = UNSET
    invoice_prefix: str | None = UNSET
    coupon: strawberry.ID | None = UNSET
    balance: BigInt | None = UNSET


@strawberry.input
class UpdateCustomerInput:
    email: str | None = UNSET
    name: str | None = UNSET
    description: str | None = UNSET
    phone: str | None = UNSET
    metadata: JSON | None = UNSET
    default_payment_method: strawberry.ID | None = UNSET
    coupon: strawberry.ID | None = UNSET


@strawberry.input
class CustomerBalanceTransactionInput:
    customer: strawberry.ID
    amount: BigInt
    currency: str
    description: str | None = UNSET


@strawberry.type
class CustomerMutations:
    @strawberry.mutation
    async def create_customer(self, info: Info, input: CreateCustomerInput) -> Customer:
        return await run(info, lambda: customers.create_customer(**plain(input)))

    @strawberry.mutation
    async def update_customer(self, info: Info, id: strawberry.ID, input: UpdateCustomerInput) -> Customer:
        return await run(info, lambda: customers.update_customer(id, provided(input)))

    @strawberry.mutation
    async def delete_customer(self, info: Info, id: strawberry.ID) -> DeletedObject:
        customer = await run(info, lambda: customers.delete_customer(id))
        return DeletedObject(id=customer.id)

    @strawberry.mutation(description="Attach a test payment method (pm_card_visa, pm_card_chargeCustomerFail, ...) "
                                     "to a customer; returns the customer's own copy.")
    async def attach_payment_method(self, info: Info, customer: strawberry.ID,
                                    payment_method: strawberry.ID) -> PaymentMethod:
        return await run(info, lambda: payment_methods.attach_to_customer(customer, payment_method))

    @strawberry.mutation
    async def detach_payment_method(self, info: Info, id: strawberry.ID) -> PaymentMethod:
        return await run(info, lambda: payment_methods.detach(id))

    @strawberry.mutation
    async def create_customer_balance_transaction(
        self, info: Info, input: CustomerBalanceTransactionInput
    ) -> CustomerBalanceTransaction:
        return await run(info, lambda: customers.create_balance_transaction(**plain(input)))
