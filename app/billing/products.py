"""Products: create, update, soft delete."""
import re

from tortoise.exceptions import IntegrityError

from app.billing import events, validation
from app.billing.errors import BillingError, invalid
from app.billing.lookup import get
from app.clock import utcnow
from app.ids import new_id
from app.models.catalog import Price, Product

_CUSTOM_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


async def create_product(*, name: str, description: str | None = None, active: bool | None = None,
                         metadata=None, id: str | None = None) -> Product:
    validation.string(name, "name", max_length=5000, required=True)
    validation.string(description, "description", max_length=40000)
    if id is not None and not _CUSTOM_ID.match(id):
        raise invalid("A product id may hold only letters, digits, '_' and '-', up to 64 characters.", "id")
    now = utcnow()
    try:
        product = await Product.create(
            id=id or new_id("prod"), name=name, description=description,
            active=True if active is None else active, metadata=validation.new_metadata(metadata),
            created=now, updated=now,
        )
    except IntegrityError:
        raise BillingError(f"Product already exists with ID '{id}'.", code="resource_already_exists",
                           param="id") from None
    await events.record("product.created", product)
    return product


async def update_product(id: str, changes: dict) -> Product:
    product = await get(Product, id, kind="product", lock=True)
    before = events.snapshot(product)
    if "name" in changes:
        product.name = validation.string(changes["name"], "name", max_length=5000, required=True)
    if "description" in changes:
        product.description = validation.string(changes["description"], "description", max_length=40000)
    if "active" in changes:
        if changes["active"] is None:
            raise invalid("active cannot be null.", "active")
        product.active = changes["active"]
    if "metadata" in changes:
        product.metadata = validation.merge_metadata(product.metadata, changes["metadata"])
    if "default_price" in changes:
        product.default_price_id = await _default_price(product, changes["default_price"])
    if events.changed(before, events.snapshot(product)):  # a no-op update moves nothing, `updated` included
        product.updated = utcnow()
        await product.save()
        await events.record_update("product.updated", product, before)
    return product


async def _default_price(product: Product, price_id: str | None) -> str | None:
    if price_id is None:
        return None
    price = await get(Price, price_id, "defaultPrice", kind="price")
    if price.product_id != product.id:
        raise invalid(f"Price '{price_id}' belongs to another product.", "defaultPrice")
    if not price.active:
        raise invalid(f"Price '{price_id}' is archived; an archived price cannot be the default.", "defaultPrice")
    return price.id


async def delete_product(id: str) -> Product:
    """Only a product with no prices can be deleted (Stripe); deletion is soft."""
    product = await get(Product, id, kind="product", lock=True)
    if await Price.filter(product_id=product.id).exists():
        raise invalid("This product cannot be deleted because it has one or more prices. "
                      "Archive it instead (active: false).", "id")
    product.deleted = True
    product.active = False
    product.updated = utcnow()
    await product.save()
    await events.record("product.deleted", product)
    return product
