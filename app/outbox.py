"""After commit, recorded events go out: published on Redis for live updates, and handed to webhooks (a
delivery per subscribed endpoint, each a queued job). An event whose hand-off was lost to a crash stays
undispatched and the worker's sweep sends it."""
import json
from datetime import timedelta

from tortoise.expressions import Q

from app.billing import webhooks
from app.clock import utcnow
from app.ids import made_before
from app.models.events import Event

CHANNEL = "billing:events"
SWEEP_AFTER = timedelta(seconds=30)
DELIVER_JOB = "deliver_webhook"


def channel(redis) -> str:
    """The channel of this Redis database: Redis channels span the whole server, so deployments (or test
    runs) on other databases of one server each have their own. Database 0 keeps the plain name."""
    db = int(redis.connection_pool.connection_kwargs.get("db") or 0)
    return CHANNEL if db == 0 else f"{CHANNEL}:{db}"


def _message(event: Event) -> str:
    return json.dumps({"id": event.id, "type": event.type, "created": int(event.created.timestamp()),
                       "data": event.data})


def delivery_job_id(delivery_id: str, attempts: int) -> str:
    """One arq job id per attempt: a finished attempt's kept result never swallows the next one."""
    return f"webhook:{delivery_id}:{attempts}"


async def enqueue_deliveries(queue, delivery_ids: list[str]) -> None:
    for delivery_id in delivery_ids:
        await queue.enqueue_job(DELIVER_JOB, delivery_id, _job_id=delivery_job_id(delivery_id, 0))


async def dispatch(redis, events: list[Event], queue=None) -> None:
    """`queue`: the arq connection for delivery jobs (`redis` itself when it is one, as in workers)."""
    if not events:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for event in events:
            pipe.publish(channel(redis), _message(event))
        await pipe.execute()
    await enqueue_deliveries(queue or redis, await webhooks.plan_deliveries(events))


def dispatcher(redis):
    """`dispatch` bound to a worker's Redis (which is also its arq queue), for app/billing's callbacks."""
    return lambda events: dispatch(redis, events)


async def sweep(redis, limit: int = 500) -> int:
    """Dispatch events left undispatched for a while (their API process died after commit). Their age is
    read from `created`, or from their ids, which sort by real creation time: `created` is a test clock's
    time for its events, maybe in the future."""
    old = Q(created__lt=utcnow() - SWEEP_AFTER) | Q(id__lt=made_before("evt", SWEEP_AFTER.total_seconds()))
    stale = await Event.filter(old, dispatched=False).order_by("id").limit(limit)
    await dispatch(redis, list(stale))
    return len(stale)
