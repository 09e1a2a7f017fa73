"""The per-request context: who is calling, DataLoaders, the dispatcher for recorded events, and
`enqueue(job name, *args, _job_id=...)` for work the workers do (the seam in front of arq)."""
from dataclasses import dataclass, field

from app.graphql.loaders import Loaders


@dataclass
class Context:
    principal: object | None
    dispatch: object
    enqueue: object = None
    request_id: str = ""
    request: object = None
    loaders: Loaders = field(default_factory=Loaders)
