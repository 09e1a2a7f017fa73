"""One Redis subscription per API process to the events channel, fanned out to what listens in the process.

app/outbox.py publishes every committed event on Redis (outbox.channel). Each API process subscribes once and hands
each event to its local subscribers by topic: live-update streams (GraphQL subscriptions over websockets)
and the catalog read cache. An event goes to the topics ALL, its type, and (type, customer) when its object
belongs to a customer (or is one), so a stream of one customer's changes sees only those.

The subscription is watched: Redis is pinged every HEARTBEAT seconds and the subscription counts as lost
after DEAD_AFTER seconds of silence; it is then made again every RETRY_AFTER seconds. Listeners hear when it
is confirmed and when it is lost (events may have been missed in between), and each feed is woken with a
RESYNC marker when it comes back, so that a stream of state (entitlements) sends the current state again.
"""
import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from app.outbox import channel

log = logging.getLogger("app.live_bus")

ALL = "*"
HEARTBEAT = 2.0
DEAD_AFTER = 3 * HEARTBEAT
RETRY_AFTER = 1.0
FEED_SIZE = 1000
RESYNC = None  # what a feed receives when the subscription came back after a loss


def topics_of(event: dict) -> list[Hashable]:
    type = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    customer = obj.get("id") if obj.get("object") == "customer" else obj.get("customer")
    return [ALL, type, (type, customer)] if isinstance(customer, str) else [ALL, type]


class Listener(Protocol):
    def connected(self) -> None: ...

    def lost(self) -> None: ...

    def saw(self, event_types: list[str]) -> None: ...


@dataclass(eq=False)
class Delivery:
    """One event as published, handed to every feed of its topics in this process; `shared` is for what its
    consumers compute once for all of them (the DataLoaders that read what the event changed)."""

    event: dict
    shared: dict = field(default_factory=dict)


class FeedOverflow(Exception):
    """A subscriber that fell FEED_SIZE events behind: its stream ends rather than the process's memory."""


class Feed:
    """The deliveries of one subscriber's topics, in order, and RESYNC markers."""

    def __init__(self, topics: tuple[Hashable, ...]) -> None:
        self.topics = topics
        self._queue: asyncio.Queue[Delivery | None] = asyncio.Queue(FEED_SIZE)
        self.overflowed = False

    def put(self, delivery: Delivery | None) -> None:
        try:
            self._queue.put_nowait(delivery)
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self) -> Delivery | None:
        if self.overflowed:
            raise FeedOverflow(f"more than {FEED_SIZE} events behind")
        return await self._queue.get()

    def drain(self) -> list[Delivery | None]:
        """What else is waiting now, without waiting."""
        waiting = []
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        return waiting


class LiveBus:
    def __init__(self) -> None:
        self.live = False
        self._feeds: dict[Hashable, set[Feed]] = defaultdict(set)
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @contextmanager
    def subscribe(self, *topics: Hashable) -> Iterator[Feed]:
        feed = Feed(topics)
        for topic in topics:
            self._feeds[topic].add(feed)
        try:
            yield feed
        finally:
            for topic in topics:
                feeds = self._feeds.get(topic)
                if feeds is not None:
                    feeds.discard(feed)
                    if not feeds:
                        del self._feeds[topic]

    @property
    def subscribers(self) -> int:
        return len({feed for feeds in self._feeds.values() for feed in feeds})

    def deliver(self, raw: bytes | str) -> None:
        """Hand one published event to its subscribers and listeners."""
        try:
            event = json.loads(raw)
            type = event["type"]
        except (ValueError, TypeError, KeyError):
            log.warning("unreadable event on the events channel")
            event, type = None, ""
        for listener in self._listeners:
            listener.saw([type])
        if event is None:
            return
        delivery = Delivery(event)
        for feed in {feed for topic in topics_of(event) for feed in self._feeds.get(topic, ())}:
            feed.put(delivery)

    def _connected(self) -> None:
        was_lost = not self.live
        self.live = True
        for listener in self._listeners:
            listener.connected()
        if was_lost:
            for feed in {feed for feeds in self._feeds.values() for feed in feeds}:
                feed.put(RESYNC)

    def _lost(self) -> None:
        self.live = False
        for listener in self._listeners:
            listener.lost()

    async def follow(self, redis) -> None:
        """Keep the subscription up until cancelled."""
        while True:
            try:
                await self._listen(redis)
            except Exception as exc:  # noqa: BLE001 - whatever ends the subscription, it is made again
                (log.warning if self.live else log.debug)("live bus: Redis subscription lost (%r)", exc)
            finally:
                self._lost()
            await asyncio.sleep(RETRY_AFTER)

    async def _listen(self, redis) -> None:
        loop = asyncio.get_running_loop()
        async with redis.pubsub() as pubsub:
            await pubsub.subscribe(channel(redis))
            heard = pinged = loop.time()
            while True:
                message = await pubsub.get_message(timeout=HEARTBEAT)
                now = loop.time()
                if message is not None:
                    heard = now
                    if message["type"] == "subscribe":  # from now on, no event is missed
                        self._connected()
                    elif message["type"] == "message":
                        self.deliver(message["data"])
                if now - heard > DEAD_AFTER:
                    raise ConnectionError(f"no answer from Redis in {DEAD_AFTER:.0f} s")
                if now - pinged >= HEARTBEAT:
                    await pubsub.ping()
                    pinged = now
