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

from app.billing import events
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
    for customer, at in sorted(changed_customers(recorded).items()):
        await sync(customer, at)


async def _lock(customer_id: str) -> None:
    await EntitlementLock.bulk_create([EntitlementLock(customer_id=customer_id)], ignore_conflicts=True)
    await EntitlementLock.filter(customer_id=customer_id).select_for_update().first()


async def _features_of(product_ids) -> dict[str, list[str]]:
    """Each product's features as attached now, oldest attachment first."""
    features: dict[str, list[str]] = {product: [] for product in product_ids}
    if features:
        for product, feature in await ProductFeature.filter(product_id__in=list(features)).order_by(
                "created", "id").values_list("product_id", "feature_id"):
            features[product].append(feature)
    return features


async def _granted(sub: Subscription) -> set[str]:
    """The features the subscription grants in its current period, its snapshot brought up to date: taken
    afresh when a period began since, else kept for its products and extended by products added since."""
    products = set(await SubscriptionItem.filter(subscription_id=sub.id, deleted=False)
                   .values_list("price__product_id", flat=True))
    snapshot = await SubscriptionFeatures.get_or_none(subscription_id=sub.id)
    if snapshot is None:
        snapshot = SubscriptionFeatures(subscription_id=sub.id, period_start=sub.current_period_start, products={})
    if snapshot.period_start != sub.current_period_start:
        snapshot.period_start, kept = sub.current_period_start, {}
    else:
        kept = {product: features for product, features in snapshot.products.items() if product in products}
    granted = {**kept, **await _features_of(products - kept.keys())}
    if granted != snapshot.products or not snapshot._saved_in_db:
        snapshot.products = granted
        await snapshot.save()
    return {feature for features in granted.values() for feature in features}


async def sync(customer_id: str, at: datetime) -> Event | None:
    """Bring the customer's stored entitlements in line with its subscriptions; record the change at `at`."""
    await _lock(customer_id)
    wanted: set[str] = set()
    for sub in await Subscription.filter(customer_id=customer_id, status__in=ENTITLING):
        wanted |= await _granted(sub)
    current = {e.feature_id: e for e in await ActiveEntitlement.filter(customer_id=customer_id)}
    removed, added = current.keys() - wanted, wanted - current.keys()
    if not removed and not added:
        return None
    before = active_entitlement_summary(customer_id, list(current.values()))
    if removed:
        await ActiveEntitlement.filter(customer_id=customer_id, feature_id__in=list(removed)).delete()
    features = await Feature.filter(id__in=list(added)).order_by("created", "id")
    new = [ActiveEntitlement(id=new_id("ent"), customer_id=customer_id, feature_id=f.id, lookup_key=f.lookup_key,
                             created=at) for f in features]
    await ActiveEntitlement.bulk_create(new)
    kept = [e for feature, e in current.items() if feature not in removed]
    after = active_entitlement_summary(customer_id, kept + new)
    return await events.record(UPDATED, after, {"entitlements": before["entitlements"]}, created=at)


async def active_entitlements(customer_id: str) -> list[ActiveEntitlement]:
    return await ActiveEntitlement.filter(customer_id=customer_id).order_by("-created", "-id")
