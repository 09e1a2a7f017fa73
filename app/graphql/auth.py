"""Who is calling, and what a customer session may do.

`authenticate(secret)` turns a bearer secret into a Principal: a secret key (the whole API) or a
customer session (one customer's frontend). HTTP calls it per request and websockets in connection_init.

A customer session is default-deny. `CustomerSessionBoundary` checks each operation of a session before
anything runs: every field it selects must be listed in SESSION_FIELDS (per type, by name), and the
root fields and arguments with a RULE are checked against the session's customer: its own objects, or
the active catalog. Anything else refuses the whole operation with a `permission_error`, so fields and
types added later stay out of a session's reach until they are listed here. A listed field must lead
only to the session customer's own objects, or to catalog objects they reference.
"""
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_operation_ast,
    visit,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.extensions import SchemaExtension

from app import keys
from app.billing import customer_sessions
from app.billing.errors import BillingError
from app.billing.lookup import could_exist
from app.clock import utcnow
from app.graphql.loaders import Loaders
from app.graphql.queries import find_node
from app.models import catalog, coupons, customers, invoices, subscriptions

SECRET_KEY, CUSTOMER_SESSION = "secret_key", "customer_session"
SESSION_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Principal:
    """A secret key (id: the key's) or a customer session (id: the session's, with its customer)."""

    kind: str
    id: str
    customer_id: str | None = None
    expires_at: datetime | None = None

    @property
    def is_secret_key(self) -> bool:
        return self.kind == SECRET_KEY

    @property
    def is_session(self) -> bool:
        return self.kind == CUSTOMER_SESSION

    @property
    def cache_scope(self) -> tuple:
        """Whose answers the catalog read cache may share: one key's, or every session's (sessions read
        the same active catalog whatever their customer)."""
        return (SECRET_KEY, self.id) if self.is_secret_key else (CUSTOMER_SESSION,)


_sessions: OrderedDict[str, tuple[float, Principal]] = OrderedDict()  # digest -> (until, principal)


async def authenticate(secret: str) -> Principal | None:
    """The principal for a bearer secret, or None for an unknown, revoked or expired one.

    Like keys, a session found is remembered for BILLING_API_KEY_CACHE_SECONDS, never past its expiry."""
    if not secret:
        return None
    if not customer_sessions.is_session_secret(secret):
        key = await keys.authenticate(secret)
        return Principal(SECRET_KEY, key.id) if key is not None else None
    wanted, now = keys.digest(secret), time.monotonic()
    until, principal = _sessions.get(wanted, (0.0, None))
    if until > now:
        return principal
    _sessions.pop(wanted, None)
    session = await customer_sessions.find_active(secret)
    if session is None:
        return None
    principal = Principal(CUSTOMER_SESSION, session.id, session.customer_id, session.expires_at)
    lifetime = min(keys.CACHE_SECONDS, (session.expires_at - utcnow()).total_seconds())
    if lifetime > 0:
        _sessions[wanted] = (now + lifetime, principal)
        while len(_sessions) > SESSION_CACHE_SIZE:
            _sessions.popitem(last=False)
    return principal


def forget_sessions() -> None:
    """Drop the remembered sessions (tests that expire one by hand)."""
    _sessions.clear()


# ---------------------------------------------------------------- what a session may select

def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


SESSION_FIELDS: dict[str, frozenset[str]] = {
    # the session's own objects
    "Customer": _names("id deleted email name description phone metadata balance currency invoicePrefix created "
                       "invoiceSettings discount paymentMethods subscriptions invoices activeEntitlements "
                       "creditGrants"),
    "InvoiceSettings": _names("defaultPaymentMethod"),
    "PaymentMethod": _names("id type created card customer"),
    "Card": _names("brand last4 expMonth expYear"),
    "Subscription": _names("id status currency collectionMethod daysUntilDue created startDate billingCycleAnchor "
                           "currentPeriodStart currentPeriodEnd trialStart trialEnd cancelAtPeriodEnd cancelAt "
                           "canceledAt endedAt metadata customer defaultPaymentMethod pauseCollection discount "
                           "latestInvoice items invoices upcomingInvoice"),
    "PauseCollection": _names("behavior resumesAt"),
    "SubscriptionItem": _names("id quantity metadata created subscription price usageRecordSummaries"),
    "UsageRecordSummary": _names("id totalUsage period subscriptionItem invoice"),
    # its credit grants and what they paid, without the grants' ledger
    "CreditGrant": _names("id name amount currency category effectiveAt expiresAt voidedAt availableBalance priority "
                          "metadata created updated customer applicabilityConfig"),
    "CreditGrantApplicabilityConfig": _names("scope"),
    "CreditGrantScope": _names("priceType"),
    "InvoicePretaxCreditAmount": _names("amount creditGrant"),
    "Invoice": _names("id number status billingReason collectionMethod currency description created periodStart "
                      "periodEnd dueDate subtotal total startingBalance endingBalance amountDue amountPaid "
                      "amountRemaining attemptCount attempted autoAdvance nextPaymentAttempt paidOutOfBand metadata "
                      "customer subscription paid totalDiscountAmounts discounts statusTransitions paymentIntent "
                      "hostedInvoiceUrl invoicePdf lines totalPretaxCreditAmounts"),
    "InvoiceStatusTransitions": _names("finalizedAt paidAt voidedAt markedUncollectibleAt"),
    "InvoiceLineItem": _names("id type amount currency description discountable proration quantity "
                              "unitAmountExcludingTax metadata discountAmounts period price subscription "
                              "subscriptionItem invoiceItem"),
    "InvoiceItem": _names("id amount currency quantity unitAmountDecimal description discountable proration metadata "
                          "created customer invoice subscription price period"),
    "Period": _names("start end"),
    "PaymentIntent": _names("id amount amountReceived currency status created customer invoice paymentMethod "
                            "lastPaymentError"),
    "PaymentError": _names("code declineCode message"),
    "Discount": _names("id start end coupon customer subscription"),
    "DiscountAmount": _names("amount discount"),
    # a coupon only as the session's discounts reference it: not how often others redeemed it
    "Coupon": _names("id deleted name amountOff currency percentOff duration durationInMonths redeemBy valid "
                     "appliesToProducts metadata created"),
    "ActiveEntitlement": _names("id feature lookupKey"),
    "ActiveEntitlementSummary": _names("customer entitlements"),
    # the catalog
    "Product": _names("id deleted name description active metadata created updated defaultPrice prices features"),
    "Price": _names("id active currency type billingScheme unitAmount unitAmountDecimal tiersMode tiers lookupKey "
                    "nickname metadata created product transformQuantity recurring"),
    "PriceTier": _names("upTo unitAmount unitAmountDecimal flatAmount flatAmountDecimal"),
    "Recurring": _names("interval intervalCount usageType aggregateUsage"),
    "TransformQuantity": _names("divideBy round"),
    "Feature": _names("id name lookupKey active metadata created"),
    "ProductFeature": _names("id product entitlementFeature"),
    "Node": _names("id"),
    "PageInfo": _names("hasNextPage hasPreviousPage startCursor endCursor"),
}
for _node in ("Customer", "PaymentMethod", "Subscription", "SubscriptionItem", "Invoice", "InvoiceLineItem",
              "InvoiceItem", "ActiveEntitlement", "Product", "Price", "Feature", "ProductFeature", "CreditGrant",
              "UsageRecordSummary"):
    SESSION_FIELDS[f"{_node}Connection"] = _names("edges nodes pageInfo totalCount")
    SESSION_FIELDS[f"{_node}Edge"] = _names("cursor node")

# ---------------------------------------------------------------- root fields, and arguments checked

Rule = Callable[[dict, Principal, Loaders], Awaitable[None]]  # (field arguments, ...): raises _Refused


class _Refused(Exception):
    def __init__(self, reason: str, param: str | None) -> None:
        super().__init__(reason)
        self.reason, self.param = reason, param


def own_customer(arg: str) -> Rule:
    """The argument names the session's customer."""

    async def rule(args: dict, principal: Principal, loaders: Loaders) -> None:
        if args.get(arg) != principal.customer_id:
            raise _Refused(f"`{arg}` must be the session's own customer, {principal.customer_id}.", arg)

    return rule


async def _owner(obj, loaders: Loaders) -> str | None:
    """The customer an object belongs to, for the objects a session may read by id."""
    if isinstance(obj, customers.Customer):
        return obj.id
    if isinstance(obj, subscriptions.SubscriptionItem | coupons.Discount) and getattr(obj, "customer_id", None) is None:
        sub = await loaders.load(subscriptions.Subscription, obj.subscription_id)
        return sub.customer_id if sub is not None else None
    if isinstance(obj, subscriptions.Subscription | invoices.Invoice | invoices.InvoiceItem | invoices.PaymentIntent
                  | customers.PaymentMethod | coupons.Discount):
        return obj.customer_id
    return None


async def _in_active_catalog(obj, loaders: Loaders) -> bool:
    if isinstance(obj, catalog.ProductFeature):
        obj = await loaders.load(catalog.Product, obj.product_id)
    return isinstance(obj, catalog.Product | catalog.Price | catalog.Feature) and obj.active \
        and not getattr(obj, "deleted", False)


async def _visible(obj, principal: Principal, loaders: Loaders) -> bool:
    return obj is not None and (await _owner(obj, loaders) == principal.customer_id
                                or await _in_active_catalog(obj, loaders))


async def _load(loaders: Loaders, model, id):
    return await loaders.load(model, id) if isinstance(id, str) and could_exist(model, id) else None


def owned(model) -> Rule:
    """`id` names one of the session customer's own objects."""

    async def rule(args: dict, principal: Principal, loaders: Loaders) -> None:
        if await _owner(await _load(loaders, model, args.get("id")), loaders) != principal.customer_id:
            raise _Refused("A customer session reads its own customer's objects only.", "id")

    return rule


def in_active_catalog(model) -> Rule:
    """`id` names an active product, price or feature."""

    async def rule(args: dict, principal: Principal, loaders: Loaders) -> None:
        if not await _in_active_catalog(await _load(loaders, model, args.get("id")), loaders):
            raise _Refused("A customer session reads the active catalog only.", "id")

    return rule


async def active_only(args: dict, principal: Principal, loaders: Loaders) -> None:
    if args.get("active") is not True:
        raise _Refused("A customer session lists the active catalog only: pass `active: true`.", "active")


async def visible_node(args: dict, principal: Principal, loaders: Loaders) -> None:
    if not await _visible(await find_node(loaders, args["id"]), principal, loaders):
        raise _Refused("A customer session reads its own customer's objects and the active catalog only.", "id")


async def own_upcoming_invoice(args: dict, principal: Principal, loaders: Loaders) -> None:
    """The session customer's upcoming invoice, optionally previewing a change to active prices."""
    if args.get("customer") is None and args.get("subscription") is None:
        raise _Refused("A customer session passes its own customer or subscription.", "customer")
    if args.get("customer") is not None:
        await own_customer("customer")(args, principal, loaders)
    if args.get("subscription") is not None:
        await owned(subscriptions.Subscription)({"id": args["subscription"]}, principal, loaders)
    details = args.get("subscriptionDetails") or {}
    if details.get("coupon") is not None:
        raise _Refused("A customer session cannot preview coupons.", "subscriptionDetails.coupon")
    for i, item in enumerate(details.get("items") or ()):
        price = item.get("price")
        if price is not None and not await _in_active_catalog(await _load(loaders, catalog.Price, price), loaders):
            raise _Refused("A customer session previews active prices only.", f"subscriptionDetails.items.{i}.price")


# Root fields by operation type: only these, and only as their rule allows. Mutations: none.
ROOT_RULES: dict[str, dict[str, Rule]] = {
    "query": {
        "node": visible_node,
        "customer": own_customer("id"),
        "subscription": owned(subscriptions.Subscription),
        "subscriptions": own_customer("customer"),
        "invoice": owned(invoices.Invoice),
        "invoices": own_customer("customer"),
        "invoiceItems": own_customer("customer"),
        "upcomingInvoice": own_upcoming_invoice,
        "activeEntitlements": own_customer("customer"),
        "product": in_active_catalog(catalog.Product),
        "products": active_only,
        "price": in_active_catalog(catalog.Price),
        "prices": active_only,
        "feature": in_active_catalog(catalog.Feature),
        "features": active_only,
    },
    "mutation": {},
    "subscription": {
        "activeEntitlementsChanged": own_customer("customer"),
    },
}
# Nested fields whose arguments are checked too.
FIELD_RULES: dict[tuple[str, str], Rule] = {
    ("Product", "prices"): active_only,
}
INTROSPECTION = frozenset({"__schema", "__type"})


class _SessionFields(Visitor):
    """Collects the refusal of the first field a session may not select, and the rules to run."""

    def __init__(self, schema: GraphQLSchema, type_info: TypeInfo, variables: VariableValues | None) -> None:
        super().__init__()
        self.type_info = type_info
        self.variables = variables
        self.roots = {t.name: ROOT_RULES[op] for op, t in (("query", schema.query_type),
                                                             ("mutation", schema.mutation_type),
                                                             ("subscription", schema.subscription_type))
                      if t is not None}
        self.refusal: _Refused | None = None
        self.checks: list[tuple[Rule, dict]] = []

    def enter_field(self, node: FieldNode, *_):
        name, parent = node.name.value, self.type_info.get_parent_type()
        if self.refusal is not None or name == "__typename" or (parent is not None and parent.name.startswith("__")):
            return
        if parent is None:
            rule, allowed = None, False
        elif parent.name in self.roots:
            rule = self.roots[parent.name].get(name)
            allowed = rule is not None or name in INTROSPECTION
        else:
            rule = FIELD_RULES.get((parent.name, name))
            allowed = name in SESSION_FIELDS.get(parent.name, ())
        if not allowed:
            where = f"{parent.name}.{name}" if parent is not None else name
            self.refusal = _Refused(f"A customer session cannot read {where}: it reads its own "
                                    "customer's data and the active catalog only.", None)
        elif rule is not None and self.variables is not None:
            field = self.type_info.get_field_def()
            try:
                args = get_argument_values(field, node, self.variables)
            except GraphQLError:  # execution refuses these arguments before anything runs
                return
            self.checks.append((rule, args))


async def check_session_operation(schema: GraphQLSchema, document: DocumentNode, variables: dict | None,
                                  operation_name: str | None, principal: Principal, loaders: Loaders) -> None:
    """Raise a permission_error unless the session may run this operation (the one `operation_name` picks)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return  # execution reports that, running nothing
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    type_info = TypeInfo(schema)
    fields = _SessionFields(schema, type_info, None if isinstance(coerced, list) else coerced)
    fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    for definition in (operation, *fragments):
        visit(definition, TypeInfoVisitor(type_info, fields))
    try:
        if fields.refusal is not None:
            raise fields.refusal
        for rule, args in fields.checks:
            await rule(args, principal, loaders)
    except _Refused as refused:
        raise BillingError(refused.reason, code="forbidden", type="permission_error", param=refused.param) from None


class CustomerSessionBoundary(SchemaExtension):
    """Refuses, before anything runs, what a customer session may not do; secret keys pass, and a caller with
    no principal at all is refused everything."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        principal = getattr(context.context, "principal", None)
        if not isinstance(principal, Principal):
            raise BillingError("No API key or customer session was given.", code="unauthenticated",
                               type="authentication_error")
        if principal.is_session and context.graphql_document is not None:
            await check_session_operation(context.schema._schema, context.graphql_document, context.variables,
                                          context.operation_name, principal, context.context.loaders)
        yield
