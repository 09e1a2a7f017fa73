"""After commit, recorded events go out: published on Redis for live updates (and, from the
webhooks issue on, enqueued for delivery). An event whose hand-off was lost to a crash stays
undispatched and the worker's sweep sends it."""
import json
from datetime import timedelta

from app.clock import utcnow
from app.models.events import Event

CHANNEL = "billing:events"
SWEEP_AFTER = timedelta(seconds=30)


def _message(event: Event) -> str:
    return json.dumps({"id": event.id, "type": event.type, "created": int(event.created.timestamp()),
                       "data": event.data})


async def dispatch(redis, events: list[Event]) -> None:
    if not events:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for event in events:
            pipe.publish(CHANNEL, _message(event))
        await pipe.execute()
    await Event.filter(id__in=[e.id for e in events]).update(dispatched=True)


async def sweep(redis, limit: int = 500) -> int:
    """Dispatch events left undispatched for a while (their API process died after commit)."""
    stale = await Event.filter(dispatched=False, created__lt=utcnow() - SWEEP_AFTER).order_by(
        "created").limit(limit)
    await dispatch(redis, list(stale))
    return len(stale)
