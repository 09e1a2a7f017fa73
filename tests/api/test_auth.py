"""Secret keys: every GraphQL operation needs one; only digests are stored; revoked keys are refused."""
import hashlib

from aiohttp.test_utils import TestClient, TestServer

from app import keys
from app.config import Settings
from app.http import create_app
from app.models.access import ApiKey

QUERY = {"query": "{ products { nodes { id } } }"}
UNAUTHENTICATED = {"code": "unauthenticated", "type": "authentication_error", "param": None}


async def _post(api, headers: dict):
    response = await api.client.post("/graphql", json=QUERY, headers=headers)
    return response.status, await response.json()


async def test_missing_key_is_refused(api):
    status, body = await _post(api, {})
    assert status == 401
    assert body["errors"][0]["extensions"] == UNAUTHENTICATED
    assert "Authorization: Bearer" in body["errors"][0]["message"]
    assert "data" not in body


async def test_wrong_scheme_is_refused(api):
    for header in (f"Basic {api.secret}", api.secret, "Bearer", "Bearer  "):
        status, body = await _post(api, {"Authorization": header})
        assert status == 401, header
        assert body["errors"][0]["extensions"] == UNAUTHENTICATED


async def test_wrong_key_is_refused(api):
    status, body = await _post(api, {"Authorization": f"Bearer {keys.generate()}"})
    assert status == 401
    assert body["errors"][0] == {"message": "Invalid API key provided.", "extensions": UNAUTHENTICATED}
    status, _ = await _post(api, {"Authorization": f"Bearer {api.secret[:-1]}"})
    assert status == 401


async def test_good_key_is_accepted(api):
    status, body = await _post(api, {"Authorization": f"Bearer {api.secret}"})
    assert (status, body) == (200, {"data": {"products": {"nodes": []}}})
    status, _ = await _post(api, {"Authorization": f"bearer {api.secret}"})
    assert status == 200


async def test_get_query_needs_a_key(api):
    response = await api.client.get("/graphql", params=QUERY)
    assert response.status == 401
    assert (await response.json())["errors"][0]["extensions"]["type"] == "authentication_error"
    response = await api.client.get("/graphql", params=QUERY, headers={"Authorization": f"Bearer {api.secret}"})
    assert response.status == 200
    assert await response.json() == {"data": {"products": {"nodes": []}}}


async def test_graphiql_page_needs_no_key(api):
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status == 200
    assert response.content_type == "text/html"
    assert "graphiql" in (await response.text()).lower()


async def test_revoked_key_is_refused(api):
    await ApiKey.filter(digest=keys.digest(api.secret)).update(revoked=True)
    status, body = await _post(api, {"Authorization": f"Bearer {api.secret}"})
    assert status == 401
    assert body["errors"][0]["extensions"] == UNAUTHENTICATED


async def test_keys_are_random_and_stored_as_digests(db):
    secrets = {keys.generate() for _ in range(100)}
    assert len(secrets) == 100
    assert all(s.startswith("sk_test_") and len(s) >= 32 for s in secrets)
    secret = secrets.pop()
    stored = await keys.store(secret, name="ops")
    row = await ApiKey.filter(id=stored.id).values()
    assert row[0]["digest"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row[0]["last4"] == secret[-4:]
    assert not any(secret in str(value) or secret[8:] in str(value) for value in row[0].values())
    assert (await keys.authenticate(secret)).id == stored.id
    assert await keys.authenticate(secret.upper()) is None


async def test_bootstrap_key_from_settings(db, redis, redis_url):
    secret = keys.generate()
    for _ in range(2):  # every start stores it again: still one key
        app = create_app(Settings(secret_key=secret), redis_url, manage_db=False)
        async with TestClient(TestServer(app)) as client:
            response = await client.post("/graphql", json=QUERY, headers={"Authorization": f"Bearer {secret}"})
            assert response.status == 200
            assert await response.json() == {"data": {"products": {"nodes": []}}}
    rows = await ApiKey.all().values()
    assert [(r["name"], r["digest"], r["revoked"]) for r in rows] == [("bootstrap", keys.digest(secret), False)]
    assert not any(secret in str(value) for value in rows[0].values())
