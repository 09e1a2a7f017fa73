"""TestClock."""
from datetime import datetime

import strawberry

from app.graphql.enums import TestClockStatus
from app.graphql.types.common import Node, model_type
from app.models import clocks as m


@strawberry.type(name="TestClock")
class TestClock(Node):
    is_type_of = model_type(m.TestClock)
    id: strawberry.ID
    name: str | None
    frozen_time: datetime
    status: TestClockStatus
    created: datetime
