"""Active entitlements: the features a customer may use now, stored and kept current.

A customer's active entitlements are the features of the products on its TRIALING, ACTIVE and PAST_DUE
subscriptions, each feature once; archived features still attached count, as Stripe documents. As Stripe
also documents, attaching a feature to a product (or removing it) reaches existing subscriptions at the
start of their next period: each subscription keeps a snapshot of its products' features taken when its
current period began, and takes the features of a product that joins it mid-period (an upgrade) then.

`sync_changed` runs in the transaction of every change, before it commits (app/billing/events.atomic): it
recomputes the entitlements of each customer whose subscriptions changed, and records one
`entitlements.active_entitlement_summary.updated` event when they moved.
"""
from datetime import datetime

from app.billing import events, writes
from app.ids import new_id
from app.models.catalog import Feature, ProductFeature
from app.models.entitlements import ActiveEntitlement, EntitlementLock, SubscriptionFeatures
from app.models.events import Event
from app.models.subscriptions import Subscription, SubscriptionItem
from app.stripe_json import active_entitlement_summary

ENTITLING = ("trialing", "active", "past_due")
UPDATED = "entitlements.active_entitlement_summary.updated"
SUBSCRIPTION_EVENTS = "customer.subscription."


def changed_customers(recorded: list[Event]) -> dict[str, datetime]:
    """The customers whose subscriptions the events changed, each with the time of its latest change."""
    customers: dict[str, datetime] = {}
    for event in recorded:
        if not event.type.startswith(SUBSCRIPTION_EVENTS):
            continue
        customer = (event.data.get("object") or {}).get("customer")
        if customer and (customer not in customers or customers[customer] < event.created):
            customers[customer] = event.created
    return customers


async def sync_changed(recorded: list[Event]) -> None:
    """Recompute the entitlements of the customers whose subscriptions changed in this transaction."""
    changed = changed_customers(recorded)
    if changed:
        await _sync_many(changed)


async def _lock(customer_ids: list[str]) -> None:
    """The customers' lock rows, in id order (so two recomputes never wait for each other in a cycle)."""
    await EntitlementLock.bulk_create([EntitlementLock(customer_id=c) for c in customer_ids], ignore_conflicts=True)
    await EntitlementLock.filter(customer_id__in=customer_ids).order_by("customer_id").select_for_update()


async def _features_of(product_ids) -> dict[str, list[str]]:
    """Each product's features as attached now, oldest attachment first."""
    features: dict[str, list[str]] = {product: [] for product in product_ids}
    if features:
        for product, feature in await ProductFeature.filter(product_id__in=list(features)).order_by(
                "created", "id").values_list("product_id", "feature_id"):
            features[product].append(feature)
    return features


async def _granted(subs: list[Subscription]) -> dict[str, set[str]]:
    """The features each subscription grants in its current period, its snapshot brought up to date: taken
    afresh when a period began since, else kept for its products and extended by products added since."""
    ids = [sub.id for sub in subs]
    products: dict[str, set[str]] = {sub.id: set() for sub in subs}
    if ids:
        for sub_id, product in await SubscriptionItem.filter(subscription_id__in=ids, deleted=False).values_list(
                "subscription_id", "price__product_id"):
            products[sub_id].add(product)
    stored = {s.subscription_id: s for s in await SubscriptionFeatures.filter(subscription_id__in=ids)} if ids else {}
    kept_of = {}
    for sub in subs:
        snapshot = stored.get(sub.id) or SubscriptionFeatures(subscription_id=sub.id,
                                                              period_start=sub.current_period_start, products={})
        if snapshot.period_start != sub.current_period_start:
            snapshot.period_start, kept = sub.current_period_start, {}
        else:
            kept = {product: features for product, features in snapshot.products.items() if product in products[sub.id]}
        stored[sub.id], kept_of[sub.id] = snapshot, kept
    joined = await _features_of({p for sub in subs for p in products[sub.id] - kept_of[sub.id].keys()})
    granted, new, changed = {}, [], []
    for sub in subs:
        snapshot, kept = stored[sub.id], kept_of[sub.id]
        products_features = {**kept, **{p: joined[p] for p in products[sub.id] - kept.keys()}}
        if not snapshot._saved_in_db:
            snapshot.products = products_features
            new.append(snapshot)
        elif products_features != snapshot.products:
            snapshot.products = products_features
            changed.append(snapshot)
        granted[sub.id] = {feature for features in products_features.values() for feature in features}
    await writes.insert(new)
    await writes.update(changed, ["period_start", "products"])
    return granted


async def sync(customer_id: str, at: datetime) -> Event | None:
    """Bring the customer's stored entitlements in line with its subscriptions; record the change at `at`."""
    return (await _sync_many({customer_id: at})).get(customer_id)


async def _sync_many(changed: dict[str, datetime]) -> dict[str, Event]:
    """sync for many customers, with a constant number of statements (and one per customer whose
    entitlements lost features)."""
    customers = sorted(changed)
    await _lock(customers)
    subs = await Subscription.filter(customer_id__in=customers, status__in=ENTITLING).order_by("created", "id")
    granted = await _granted(subs)
    wanted: dict[str, set[str]] = {customer: set() for customer in customers}
    for sub in subs:
        wanted[sub.customer_id] |= granted[sub.id]
    current: dict[str, dict[str, ActiveEntitlement]] = {customer: {} for customer in customers}
    for entitlement in await ActiveEntitlement.filter(customer_id__in=customers):
        current[entitlement.customer_id][entitlement.feature_id] = entitlement
    added = {c: wanted[c] - current[c].keys() for c in customers}
    features = await Feature.filter(id__in={f for fs in added.values() for f in fs}).order_by(
        "created", "id") if any(added.values()) else []
    recorded, new_rows = {}, []
    for customer in customers:
        removed = current[customer].keys() - wanted[customer]
        if not removed and not added[customer]:
            continue
        before = active_entitlement_summary(customer, list(current[customer].values()))
        if removed:
            await ActiveEntitlement.filter(customer_id=customer, feature_id__in=list(removed)).delete()
        new = [ActiveEntitlement(id=new_id("ent"), customer_id=customer, feature_id=f.id, lookup_key=f.lookup_key,
                                 created=changed[customer]) for f in features if f.id in added[customer]]
        new_rows += new
        kept = [e for feature, e in current[customer].items() if feature not in removed]
        after = active_entitlement_summary(customer, kept + new)
        recorded[customer] = await events.record(UPDATED, after, {"entitlements": before["entitlements"]},
                                                 created=changed[customer])
    await writes.insert(new_rows)
    return recorded


async def active_entitlements(customer_id: str) -> list[ActiveEntitlement]:
    return await ActiveEntitlement.filter(customer_id=customer_id).order_by("-created", "-id")
