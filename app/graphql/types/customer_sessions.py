"""CustomerSession."""
from datetime import datetime

import strawberry
from strawberry.types import Info

from app.graphql.types.customers import Customer
from app.models import customers


@strawberry.type(name="CustomerSession",
                 description="A short-lived token that lets a customer's own frontend read that customer's data "
                             "and nothing else.")
class CustomerSession:
    client_secret: str = strawberry.field(description="Send it as `Authorization: Bearer <clientSecret>`; "
                                                      "shown only here, stored only as a digest.")
    expires_at: datetime

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return await info.context.loaders.load(customers.Customer, self.customer_id)
