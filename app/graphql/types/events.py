"""Event."""
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from app.graphql.types.common import Node, model_type
from app.models import events as m


@strawberry.type(name="Event")
class Event(Node):
    is_type_of = model_type(m.Event)
    id: strawberry.ID
    type: str
    created: datetime
    data: JSON = strawberry.field(
        description="Stripe event data: { object: <the object as Stripe's JSON>, previous_attributes?: {...} }")
    pending_webhooks: int
