"""Tortoise models, one module per domain. MODULES is what Tortoise loads."""

MODULES = [
    "app.models.catalog",
    "app.models.customers",
    "app.models.coupons",
    "app.models.clocks",
    "app.models.events",
    "app.models.access",
    "app.models.subscriptions",
    "app.models.invoices",
    "app.models.usage_records",
    "app.models.credit_grants",
    "app.models.meters",
    "app.models.webhooks",
    "app.models.entitlements",
]
