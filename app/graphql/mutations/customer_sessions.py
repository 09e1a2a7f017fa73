"""createCustomerSession: secret keys only (a customer session may run no mutation, app/graphql/auth.py)."""
import strawberry
from strawberry.types import Info

from app.billing.customer_sessions import create_customer_session
from app.billing.errors import BillingError
from app.graphql.auth import Principal
from app.graphql.mutations import run
from app.graphql.types.customer_sessions import CustomerSession


@strawberry.type
class CustomerSessionMutations:
    @strawberry.mutation(description="A client secret for the customer's frontend, valid for 30 minutes.")
    async def create_customer_session(self, info: Info, customer: strawberry.ID) -> CustomerSession:
        principal = info.context.principal
        if not (isinstance(principal, Principal) and principal.is_secret_key):
            raise BillingError("Only a secret key can create customer sessions.", code="forbidden",
                               type="permission_error")
        return await run(info, lambda: create_customer_session(customer))
