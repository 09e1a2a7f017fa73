"""The GraphQL schema: queries, mutations and live updates (subscriptions), with request limits."""
import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from app.config import load
from app.graphql.auth import CustomerSessionBoundary
from app.graphql.billing_queries import BillingQueries
from app.graphql.entitlement_queries import EntitlementQueries
from app.graphql.limits import QueryCostLimiter
from app.graphql.live import LiveUpdates
from app.graphql.meter_queries import MeterQueries
from app.graphql.mutations.billing import BillingMutations
from app.graphql.mutations.catalog import CatalogMutations
from app.graphql.mutations.clocks import ClockMutations
from app.graphql.mutations.coupons import CouponMutations
from app.graphql.mutations.credit_grants import CreditGrantMutations
from app.graphql.mutations.customer_sessions import CustomerSessionMutations
from app.graphql.mutations.customers import CustomerMutations
from app.graphql.mutations.meters import MeterMutations
from app.graphql.mutations.usage_records import UsageRecordMutations
from app.graphql.mutations.webhooks import WebhookMutations
from app.graphql.queries import Query as CatalogQueries
from app.graphql.read_cache import CachedCatalogReads
from app.graphql.scalars import SCALARS
from app.graphql.types.catalog import ProductFeature
from app.graphql.types.common import DeletedObject
from app.graphql.types.coupons import Discount
from app.graphql.types.customers import CustomerBalanceTransaction, PaymentMethod
from app.graphql.webhook_queries import WebhookQueries

MAX_ALIASES = 30
MAX_TOKENS = 5000
CACHE_SIZE = 512


@strawberry.type
class Query(CatalogQueries, BillingQueries, MeterQueries, WebhookQueries, EntitlementQueries):
    pass


@strawberry.type
class Mutation(CatalogMutations, CustomerMutations, CustomerSessionMutations, CouponMutations, ClockMutations,
               BillingMutations, UsageRecordMutations, CreditGrantMutations, MeterMutations, WebhookMutations):
    pass


def build_schema(max_depth: int = load().max_query_depth) -> strawberry.Schema:
    """Extensions are built per request, but the depth and alias rules are built once here: the rule
    classes are part of ValidationCache's key, so new ones per request would never hit the cache."""
    rules = (*QueryDepthLimiter(max_depth=max_depth).validation_rules,
             *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=LiveUpdates,
        types=[ProductFeature, PaymentMethod, CustomerBalanceTransaction, Discount, DeletedObject],
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[
            lambda: ParserCache(maxsize=CACHE_SIZE),
            lambda: ValidationCache(maxsize=CACHE_SIZE),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: AddValidationRules(list(rules)),
            CustomerSessionBoundary,
            QueryCostLimiter,
            CachedCatalogReads,
        ],
    )


schema = build_schema()
