"""The boundary holds for subscription operations too (websockets run them through the same schema
extension): a session subscribes to its own customer's activeEntitlementsChanged and nothing else.

The LiveUpdates root here stands in for the one built in parallel, with the contract's field names."""
from collections.abc import AsyncGenerator

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig

from app.graphql.auth import CUSTOMER_SESSION, SECRET_KEY, CustomerSessionBoundary, Principal
from app.graphql.context import Context
from app.graphql.scalars import SCALARS
from app.graphql.schema import Query

OWN, OTHER = "cus_own", "cus_other"


@strawberry.type
class LiveUpdates:
    @strawberry.subscription
    async def active_entitlements_changed(self, customer: strawberry.ID) -> AsyncGenerator[str, None]:
        yield customer

    @strawberry.subscription
    async def events(self, types: list[str] | None = None) -> AsyncGenerator[str, None]:
        yield "evt_1"


live_schema = strawberry.Schema(query=Query, subscription=LiveUpdates, extensions=[CustomerSessionBoundary],
                                config=StrawberryConfig(scalar_map=SCALARS))


async def _first(principal: Principal | None, query: str, variables: dict | None = None):
    stream = await live_schema.subscribe(query, variable_values=variables,
                                         context_value=Context(principal=principal, dispatch=None))
    async for result in stream:
        return result


SESSION = Principal(CUSTOMER_SESSION, "cuss_1", OWN)


async def test_a_session_subscribes_to_its_own_entitlements():
    result = await _first(SESSION, "subscription($c: ID!) { activeEntitlementsChanged(customer: $c) }", {"c": OWN})
    assert result.errors is None and result.data == {"activeEntitlementsChanged": OWN}


@pytest.mark.parametrize("query,variables", [
    ("subscription($c: ID!) { activeEntitlementsChanged(customer: $c) }", {"c": OTHER}),
    ("subscription { events }", None),
    ('subscription { events(types: ["invoice.paid"]) }', None),
])
async def test_a_session_is_refused_other_subscriptions(query, variables):
    result = await _first(SESSION, query, variables)
    assert result.data is None
    error = result.errors[0]
    assert (error.original_error.type, error.original_error.code) == ("permission_error", "forbidden")


async def test_secret_keys_subscribe_to_anything_and_no_principal_to_nothing():
    result = await _first(Principal(SECRET_KEY, "key_1"), "subscription { events }")
    assert result.data == {"events": "evt_1"}
    result = await _first(None, "subscription { events }")
    assert result.data is None and result.errors[0].original_error.type == "authentication_error"
