"""The Query root for the catalog, customers, coupons, events and test clocks."""
import strawberry
from strawberry.types import Info
from tortoise.models import Model

from app.billing.errors import invalid
from app.billing.lookup import could_exist
from app.graphql.enums import PriceType
from app.graphql.loaders import Loaders
from app.graphql.pagination import Connection, paginate
from app.graphql.types.catalog import Feature, Price, Product
from app.graphql.types.clocks import TestClock
from app.graphql.types.common import Node
from app.graphql.types.coupons import Coupon
from app.graphql.types.customers import Customer
from app.graphql.types.events import Event
from app.models import catalog, clocks, coupons, credit_grants, customers, events, usage_records, webhooks

# Id prefix -> model, for node(id). Products and coupons may carry ids the caller chose.
NODE_PREFIXES: dict[str, type[Model]] = {
    "prod": catalog.Product, "price": catalog.Price, "feat": catalog.Feature, "prodft": catalog.ProductFeature,
    "cus": customers.Customer, "pm": customers.PaymentMethod, "cbtxn": customers.CustomerBalanceTransaction,
    "di": coupons.Discount, "evt": events.Event, "clock": clocks.TestClock,
    "mbur": usage_records.UsageRecord, "credgr": credit_grants.CreditGrant,
    "credbtxn": credit_grants.CreditBalanceTransaction,
    "we": webhooks.WebhookEndpoint, "whdel": webhooks.WebhookDelivery,
}
GONE_WHEN_DELETED = (clocks.TestClock, webhooks.WebhookEndpoint)  # types with no `deleted` field
MAX_EVENT_TYPES = 20


async def _get(info: Info, model: type[Model], id: str):
    return await info.context.loaders.load(model, id) if could_exist(model, id) else None


async def find_node(loaders: Loaders, id: str) -> Model | None:
    """The object node(id) answers with."""
    prefixed = NODE_PREFIXES.get(id.split("_", 1)[0])
    # A caller-chosen product or coupon id may look like any prefix ("cus_promo"), so those come last.
    candidates = [model for model in (prefixed, catalog.Product, coupons.Coupon) if model is not None]
    for candidate in dict.fromkeys(candidates):
        obj = await loaders.load(candidate, id) if could_exist(candidate, id) else None
        if obj is not None:
            return None if isinstance(obj, GONE_WHEN_DELETED) and obj.deleted else obj
    return None


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await find_node(info.context.loaders, id)

    @strawberry.field
    async def product(self, info: Info, id: strawberry.ID) -> Product | None:
        return await _get(info, catalog.Product, id)

    @strawberry.field
    async def products(self, first: int | None = None, after: str | None = None,
                       active: bool | None = None) -> Connection[Product]:
        query = catalog.Product.filter(deleted=False)
        if active is not None:
            query = query.filter(active=active)
        return await paginate(query, first, after)

    @strawberry.field
    async def price(self, info: Info, id: strawberry.ID) -> Price | None:
        return await _get(info, catalog.Price, id)

    @strawberry.field
    async def prices(self, first: int | None = None, after: str | None = None, product: strawberry.ID | None = None,
                     active: bool | None = None, type: PriceType | None = None,
                     lookup_keys: list[str] | None = None) -> Connection[Price]:
        query = catalog.Price.all()
        if product is not None:
            query = query.filter(product_id=product)
        if active is not None:
            query = query.filter(active=active)
        if type is not None:
            query = query.filter(type=type.value)
        if lookup_keys is not None:
            query = query.filter(active_lookup_key__in=lookup_keys)
        return await paginate(query, first, after)

    @strawberry.field
    async def feature(self, info: Info, id: strawberry.ID) -> Feature | None:
        return await _get(info, catalog.Feature, id)

    @strawberry.field
    async def features(self, first: int | None = None, after: str | None = None, lookup_key: str | None = None,
                       active: bool | None = None) -> Connection[Feature]:
        query = catalog.Feature.all()
        if lookup_key is not None:
            query = query.filter(lookup_key=lookup_key)
        if active is not None:
            query = query.filter(active=active)
        return await paginate(query, first, after)

    @strawberry.field
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        return await _get(info, customers.Customer, id)

    @strawberry.field
    async def customers(self, first: int | None = None, after: str | None = None,
                        email: str | None = None) -> Connection[Customer]:
        query = customers.Customer.filter(deleted=False)
        if email is not None:
            query = query.filter(email=email)
        return await paginate(query, first, after)

    @strawberry.field
    async def coupon(self, info: Info, id: strawberry.ID) -> Coupon | None:
        return await _get(info, coupons.Coupon, id)

    @strawberry.field
    async def coupons(self, first: int | None = None, after: str | None = None) -> Connection[Coupon]:
        return await paginate(coupons.Coupon.filter(deleted=False), first, after)

    @strawberry.field
    async def events(self, first: int | None = None, after: str | None = None, type: str | None = None,
                     types: list[str] | None = None) -> Connection[Event]:
        """Newest first. `type` may end in `.*` to match a family (customer.*); as in Stripe, `types` takes up
        to 20 names, and only one of type or types may be given."""
        if type is not None and types is not None:
            raise invalid("Pass either type or types, but not both.", "types")
        if types is not None and len(types) > MAX_EVENT_TYPES:
            raise invalid(f"types can hold at most {MAX_EVENT_TYPES} event names.", "types")
        query = events.Event.all()
        if type is not None:
            query = query.filter(type__startswith=type[:-1]) if type.endswith(".*") else query.filter(type=type)
        if types is not None:
            query = query.filter(type__in=types)
        return await paginate(query, first, after)

    @strawberry.field
    async def event(self, info: Info, id: strawberry.ID) -> Event | None:
        return await _get(info, events.Event, id)

    @strawberry.field
    async def test_clock(self, info: Info, id: strawberry.ID) -> TestClock | None:
        """A deleted clock reads as null: TestClock has no `deleted`, and Stripe no longer finds it."""
        clock = await _get(info, clocks.TestClock, id)
        return None if clock is None or clock.deleted else clock

    @strawberry.field
    async def test_clocks(self, first: int | None = None, after: str | None = None) -> Connection[TestClock]:
        return await paginate(clocks.TestClock.filter(deleted=False), first, after)
