"""Authenticated API keys are remembered for a few seconds; unknown and revoked ones never are."""
import asyncio

from app import keys
from app.models.access import ApiKey


async def test_revocation_takes_effect_within_the_cache_time(db, monkeypatch):
    monkeypatch.setattr(keys, "CACHE_SECONDS", 0.3)
    secret = keys.generate()
    stored = await keys.store(secret, name="ops")
    assert (await keys.authenticate(secret)).id == stored.id
    await ApiKey.filter(id=stored.id).update(revoked=True)
    assert (await keys.authenticate(secret)).id == stored.id  # remembered
    await asyncio.sleep(0.35)
    assert await keys.authenticate(secret) is None
    await ApiKey.filter(id=stored.id).update(revoked=False)
    assert (await keys.authenticate(secret)).id == stored.id  # the refusal was not remembered


async def test_a_key_made_after_a_refusal_works_at_once(db):
    secret = keys.generate()
    assert await keys.authenticate(secret) is None
    stored = await keys.store(secret)
    assert (await keys.authenticate(secret)).id == stored.id
