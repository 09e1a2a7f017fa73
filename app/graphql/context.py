"""The per-request context: who is calling, DataLoaders, and the dispatcher for recorded events."""
from dataclasses import dataclass, field

from app.graphql.loaders import Loaders


@dataclass
class Context:
    principal: object | None
    dispatch: object
    request_id: str = ""
    request: object = None
    loaders: Loaders = field(default_factory=Loaders)
