"""Entitlement features and their attachment to products."""
from tortoise.exceptions import IntegrityError

from app.billing import events, validation
from app.billing.errors import invalid
from app.billing.lookup import get
from app.ids import new_id
from app.models.catalog import Feature, Product, ProductFeature


async def create_feature(*, name: str, lookup_key: str, metadata=None) -> Feature:
    validation.string(name, "name", max_length=80, required=True)
    validation.string(lookup_key, "lookupKey", max_length=80, required=True)
    feature = Feature(id=new_id("feat"), name=name, lookup_key=lookup_key, active_lookup_key=lookup_key,
                      metadata=validation.new_metadata(metadata))
    if await Feature.filter(active_lookup_key=lookup_key).exists():
        raise _key_taken(lookup_key)
    try:
        await feature.save(force_create=True)
    except IntegrityError:
        raise _key_taken(lookup_key) from None
    await events.record("entitlements.feature.created", feature)
    return feature


def _key_taken(lookup_key: str):
    return invalid(f"An active feature already uses the lookup key '{lookup_key}'.", "lookupKey")


async def update_feature(id: str, changes: dict) -> Feature:
    feature = await get(Feature, id, kind="entitlements.feature", lock=True)
    if not feature.active:
        raise invalid("This feature is archived: archived features cannot be edited or unarchived.", "id")
    before = events.snapshot(feature)
    if "name" in changes:
        feature.name = validation.string(changes["name"], "name", max_length=80, required=True)
    if "metadata" in changes:
        feature.metadata = validation.merge_metadata(feature.metadata, changes["metadata"])
    if changes.get("active") is False:
        feature.active = False
        feature.active_lookup_key = None
    elif "active" in changes and changes["active"] is None:
        raise invalid("active cannot be null.", "active")
    await feature.save()
    await events.record_update("entitlements.feature.updated", feature, before)
    return feature


async def attach_feature(product_id: str, feature_id: str) -> ProductFeature:
    product = await get(Product, product_id, "product", kind="product")
    feature = await get(Feature, feature_id, "entitlementFeature", kind="entitlements.feature", lock=True)
    if not feature.active:
        raise invalid("Archived features cannot be attached to products.", "entitlementFeature")
    attachment = ProductFeature(id=new_id("prodft"), product_id=product.id, feature_id=feature.id)
    if await ProductFeature.filter(product_id=product.id, feature_id=feature.id).exists():
        raise _already_attached(feature.id)
    try:
        await attachment.save(force_create=True)
    except IntegrityError:
        raise _already_attached(feature.id) from None
    await events.record("product_feature.created", attachment)
    return attachment


def _already_attached(feature_id: str):
    return invalid(f"Feature '{feature_id}' is already attached to this product.", "entitlementFeature")


async def detach_feature(product_id: str, id: str) -> ProductFeature:
    attachment = await get(ProductFeature, id, kind="product_feature", lock=True)
    if attachment.product_id != product_id:
        raise invalid(f"Product feature '{id}' does not belong to product '{product_id}'.", "id")
    await attachment.delete()
    await events.record("product_feature.deleted", attachment)
    return attachment
