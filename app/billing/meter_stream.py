"""Accepted meter events on their way to the database: a Redis stream with a consumer group.

A request appends its valid events with one Lua script: for each identifier a `SET NX EX` key (the
synchronous duplicate check, kept BILLING_METER_DEDUP_SECONDS) and, for the new ones, one XADD of the
whole batch; the answer is sent after it. Workers read the group, store, then XACK + XDEL, so an entry
of a worker that died mid-batch stays pending and another worker claims it (XAUTOCLAIM). Memory: a
dedup key costs about 72 bytes (a 12-byte digest of the identifier, its entry and its expiry), so
10,000 events/s with the 10-minute default hold about 430 MB; stream entries live only until drained.
"""
import hashlib
import json
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

STREAM = "billing:meter_events"
GROUP = "drain"
DEDUP_PREFIX = b"billing:mev:"
CLAIM_IDLE_MS = 30_000

_APPEND = """
local flags = {}
local accepted = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    accepted[#accepted + 1] = ARGV[i]
    flags[i - 1] = 1
  else
    flags[i - 1] = 0
  end
end
if #accepted > 0 then
  redis.call('XADD', KEYS[1], '*', 'e', '[' .. table.concat(accepted, ',') .. ']')
end
return flags
"""


def dedup_key(identifier: str) -> bytes:
    return DEDUP_PREFIX + hashlib.blake2b(identifier.encode(), digest_size=12).digest()


async def append(redis: Redis, events: list[tuple[str, list]], ttl_seconds: int) -> list[bool]:
    """Append (identifier, encoded event) pairs; returns, per event, whether it was new (not a duplicate)."""
    if not events:
        return []
    keys = [STREAM, *(dedup_key(identifier) for identifier, _ in events)]
    args = [ttl_seconds, *(json.dumps(row, separators=(",", ":")) for _, row in events)]
    flags = await redis.eval(_APPEND, len(keys), *keys, *args)
    return [bool(flag) for flag in flags]


async def seen(redis: Redis, identifier: str) -> bool:
    """Whether the identifier was accepted within the dedup window."""
    return bool(await redis.exists(dedup_key(identifier)))


@dataclass
class Entry:
    id: str
    events: list[list]

    def ordinal(self, index: int) -> int:
        """Acceptance order: the entry id (milliseconds, sequence), then the position in the batch."""
        ms, seq = self.id.split("-")
        return (int(ms) << 20) + (int(seq) << 10) + index


def _entries(raw) -> list[Entry]:
    return [Entry(_text(entry_id), json.loads(fields[b"e"])) for entry_id, fields in raw if fields]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def ensure_group(redis: Redis) -> None:
    try:
        await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def read(redis: Redis, consumer: str, count: int, block_ms: int | None = None) -> list[Entry]:
    """New entries for this consumer (they stay pending until acked)."""
    result = await redis.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=count, block=block_ms)
    return _entries(result[0][1]) if result else []


async def claim(redis: Redis, consumer: str, count: int, min_idle_ms: int = CLAIM_IDLE_MS) -> list[Entry]:
    """Entries another consumer read but did not ack for min_idle_ms (it died or hangs). XAUTOCLAIM answers
    [cursor, entries] on Redis 6.2 (the embedded server of `billing dev`) and adds deleted ids from 7.0 on."""
    answer = await redis.xautoclaim(STREAM, GROUP, consumer, min_idle_ms, "0-0", count=count)
    return _entries(answer[1])


async def ack(redis: Redis, entries: list[Entry]) -> None:
    if entries:
        ids = [entry.id for entry in entries]
        async with redis.pipeline(transaction=True) as pipe:
            pipe.xack(STREAM, GROUP, *ids)
            pipe.xdel(STREAM, *ids)
            await pipe.execute()


async def backlog(redis: Redis, upto: str | None = None) -> int:
    """Entries up to `upto` (every one when None) not yet stored: undelivered plus pending."""
    info = {(_text(g["name"])): g for g in await redis.xinfo_groups(STREAM)}
    group = info.get(GROUP)
    if group is None:
        return await redis.xlen(STREAM)
    pending = await redis.xpending_range(STREAM, GROUP, min="-", max=upto or "+", count=1)
    undelivered = await redis.xrange(STREAM, min=f"({_text(group['last-delivered-id'])}", max=upto or "+", count=1)
    return len(pending) + len(undelivered)


async def last_id(redis: Redis) -> str | None:
    newest = await redis.xrevrange(STREAM, count=1)
    return _text(newest[0][0]) if newest else None
