"""Idempotency-Key: a retried mutation replays its first answer and never runs twice."""
import asyncio
import json
from datetime import timedelta

from tortoise import Tortoise

from app import idempotency, keys
from app.clock import utcnow
from app.models.access import IdempotencyRecord
from app.models.catalog import Price, Product
from app.models.events import Event

CREATE = "mutation($name: String!) { createProduct(input: {name: $name}) { id name } }"
CREATE_PRICE = ("mutation($product: ID!) { createPrice(input: {product: $product, currency: \"usd\", "
                "unitAmount: 500}) { id } }")


async def _send(api, query: str, variables: dict, key: str | None, secret: str | None = None):
    headers = {"Authorization": f"Bearer {secret or api.secret}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    response = await api.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    return response.status, response.headers, await response.read()


async def test_retry_replays_the_first_answer_without_running_again(api):
    first = await _send(api, CREATE, {"name": "Pro"}, "key-1")
    second = await _send(api, CREATE, {"name": "Pro"}, "key-1")
    assert first[0] == second[0] == 200
    assert second[2] == first[2]
    assert "Idempotent-Replayed" not in first[1]
    assert second[1]["Idempotent-Replayed"] == "true"
    assert second[1]["Request-Id"] != first[1]["Request-Id"]
    assert await Product.all().count() == 1
    assert await Event.filter(type="product.created").count() == 1


async def test_without_a_key_every_request_runs(api):
    for _ in range(2):
        status, headers, _ = await _send(api, CREATE, {"name": "Pro"}, None)
        assert status == 200 and "Idempotent-Replayed" not in headers
    assert await Product.all().count() == 2
    assert await IdempotencyRecord.all().count() == 0


async def test_same_key_with_another_request_is_refused(api):
    await _send(api, CREATE, {"name": "Pro"}, "key-1")
    other_variables = await _send(api, CREATE, {"name": "Basic"}, "key-1")
    other_text = await _send(api, CREATE.replace("id name", "id"), {"name": "Pro"}, "key-1")
    for status, headers, body in (other_variables, other_text):
        assert status == 400
        assert "Idempotent-Replayed" not in headers
        error = json.loads(body)["errors"][0]
        assert error["extensions"] == {"code": "idempotency_key_reused", "type": "idempotency_error", "param": None}
    assert await Product.all().count() == 1


async def test_keys_are_scoped_per_api_key(api):
    other = keys.generate()
    await keys.store(other, name="other")
    mine = await _send(api, CREATE, {"name": "Pro"}, "shared")
    theirs = await _send(api, CREATE, {"name": "Pro"}, "shared", secret=other)
    assert "Idempotent-Replayed" not in theirs[1]
    assert theirs[2] != mine[2]
    assert await Product.all().count() == 2
    assert await IdempotencyRecord.filter(key="shared").count() == 2


async def test_an_expired_key_can_be_used_afresh(api):
    first = await _send(api, CREATE, {"name": "Pro"}, "key-1")
    await IdempotencyRecord.filter(key="key-1").update(expires_at=utcnow() - timedelta(seconds=1))
    again = await _send(api, CREATE, {"name": "Basic"}, "key-1")
    assert again[0] == 200 and "Idempotent-Replayed" not in again[1]
    assert again[2] != first[2]
    assert sorted(await Product.all().values_list("name", flat=True)) == ["Basic", "Pro"]
    record = await IdempotencyRecord.get(key="key-1")
    assert record.expires_at > utcnow() + timedelta(hours=23)


async def test_a_key_abandoned_in_progress_is_freed(api):
    """A process that died mid-request leaves an in-progress record: it blocks the key only for a while."""
    key_id = (await keys.authenticate(api.secret)).id
    now = utcnow()
    fingerprint = idempotency._fingerprint({"query": CREATE, "variables": {"name": "Pro"}})
    await IdempotencyRecord.create(scope=key_id, key="stuck", request_hash=fingerprint, created=now,
                                   expires_at=now + timedelta(hours=24))
    blocked = await _send(api, CREATE, {"name": "Pro"}, "stuck")
    assert blocked[0] == 409
    await IdempotencyRecord.filter(key="stuck").update(created=now - idempotency.ABANDONED_AFTER)
    freed = await _send(api, CREATE, {"name": "Pro"}, "stuck")
    assert freed[0] == 200 and "Idempotent-Replayed" not in freed[1]
    assert await Product.all().count() == 1


async def test_a_refused_mutation_is_stored_and_replayed(api):
    first = await _send(api, CREATE_PRICE, {"product": "prod_later"}, "key-1")
    error = json.loads(first[2])["errors"][0]
    assert error["extensions"]["code"] == "resource_missing"
    await api.ok('mutation { createProduct(input: {id: "prod_later", name: "Later"}) { id } }')
    # The product exists now, but the retry still gets the first answer and creates nothing.
    retry = await _send(api, CREATE_PRICE, {"product": "prod_later"}, "key-1")
    assert retry[1]["Idempotent-Replayed"] == "true"
    assert (retry[0], retry[2]) == (first[0], first[2])
    assert await Price.all().count() == 0


async def test_an_unexpected_error_is_not_stored(api):
    conn = Tortoise.get_connection("default")
    cascade = " CASCADE" if conn.capabilities.dialect == "postgres" else ""
    await conn.execute_script(f'DROP TABLE "events"{cascade}')
    first = await _send(api, CREATE, {"name": "Pro"}, "key-1")
    assert json.loads(first[2])["errors"][0]["extensions"]["type"] == "api_error"
    assert await IdempotencyRecord.all().count() == 0
    retry = await _send(api, CREATE, {"name": "Pro"}, "key-1")
    assert "Idempotent-Replayed" not in retry[1]
    assert json.loads(retry[2])["errors"][0]["extensions"]["requestId"] == retry[1]["Request-Id"]
    assert await Product.all().count() == 0


async def test_queries_ignore_the_header(api):
    query = "query Products { products { nodes { id } } }"
    empty = await _send(api, query, {}, "key-1")
    await api.ok(CREATE, {"name": "Pro"})
    after = await _send(api, query, {}, "key-1")
    assert "Idempotent-Replayed" not in after[1]
    assert after[2] != empty[2]
    assert await IdempotencyRecord.all().count() == 0


async def test_an_overlong_key_is_refused(api):
    status, _, body = await _send(api, CREATE, {"name": "Pro"}, "k" * 256)
    assert status == 400
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "idempotency_key_invalid"
    assert await Product.all().count() == 0
    status, _, _ = await _send(api, CREATE, {"name": "Pro"}, "k" * 255)
    assert status == 200


async def test_purge_expired(db):
    now = utcnow()
    for key, expires_at in (("old", now - timedelta(minutes=1)), ("live", now + timedelta(hours=1))):
        await IdempotencyRecord.create(scope="key_x", key=key, request_hash="h", created=now, expires_at=expires_at)
    assert await idempotency.purge_expired() == 1
    assert await IdempotencyRecord.all().values_list("key", flat=True) == ["live"]
    assert await idempotency.purge_expired() == 0


async def test_concurrent_requests_with_one_key_run_once(pg_api):
    results = await asyncio.gather(*(_send(pg_api, CREATE, {"name": "Pro"}, "race") for _ in range(10)))
    assert await Product.all().count() == 1
    assert await Event.filter(type="product.created").count() == 1
    executed = [r for r in results if r[0] == 200 and "Idempotent-Replayed" not in r[1]]
    assert len(executed) == 1
    for status, _, body in results:
        if status == 409:
            error = json.loads(body)["errors"][0]
            assert error["extensions"] == {"code": "idempotency_key_in_use", "type": "idempotency_error",
                                           "param": None}
        else:
            assert (status, body) == (200, executed[0][2])
    replay = await _send(pg_api, CREATE, {"name": "Pro"}, "race")
    assert replay[1]["Idempotent-Replayed"] == "true" and replay[2] == executed[0][2]

