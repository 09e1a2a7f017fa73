"""Webhook endpoints through the API: create (the secret shown once), update, disable, delete, rotate the
secret (both signatures verify until the old one expires), and URLs refused by the address policy."""
import json

import pytest
import stripe

from app.models.events import Event
from app.models.webhooks import WebhookEndpoint
from tests.webhooks.hooks import ENDPOINT_FIELDS, create_endpoint, create_product

UPDATE = ("mutation($id: ID!, $input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(id: $id, input: $input) "
          f"{{ {ENDPOINT_FIELDS} }} }}")
ROTATE = ("mutation($id: ID!, $h: Int) { rotateWebhookEndpointSecret(id: $id, expireCurrentAfterHours: $h) "
          f"{{ {ENDPOINT_FIELDS} }} }}")
READ = f"query($id: ID!) {{ webhookEndpoint(id: $id) {{ {ENDPOINT_FIELDS} }} }}"
LIST = f"query {{ webhookEndpoints(first: 100) {{ nodes {{ {ENDPOINT_FIELDS} }} }} }}"
CREATE = "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { id } }"


async def test_the_secret_is_shown_once(hook_api):
    created = await create_endpoint(hook_api, "https://hooks.example.com/billing", ["invoice.paid", "customer.*"],
                                    description="ops")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["enabledEvents"] == ["invoice.paid", "customer.*"] and created["description"] == "ops"
    assert created["id"].startswith("we_") and created["status"] == "ENABLED"
    read = (await hook_api.ok(READ, {"id": created["id"]}))["webhookEndpoint"]
    listed = (await hook_api.ok(LIST))["webhookEndpoints"]["nodes"]
    node = (await hook_api.ok("query($id: ID!) { node(id: $id) { id ... on WebhookEndpoint { secret url } } }",
                              {"id": created["id"]}))["node"]
    assert read["secret"] is None and [e["secret"] for e in listed] == [None] and node["secret"] is None
    assert read == {**created, "secret": None}
    [event] = await Event.filter(type="webhook_endpoint.created")
    assert event.data["object"]["url"] == created["url"] and created["secret"] not in json.dumps(event.data)


async def test_update_disable_enable_and_delete(hook_api):
    endpoint = await create_endpoint(hook_api, "https://a.example.com/x", ["product.created"])
    updated = (await hook_api.ok(UPDATE, {"id": endpoint["id"], "input": {
        "url": "https://b.example.com/y", "enabledEvents": ["*"], "description": "all"}}))["updateWebhookEndpoint"]
    assert (updated["url"], updated["enabledEvents"], updated["description"], updated["secret"]) == \
        ("https://b.example.com/y", ["*"], "all", None)
    disabled = (await hook_api.ok(UPDATE, {"id": endpoint["id"], "input": {"disabled": True}}))
    assert disabled["updateWebhookEndpoint"]["status"] == "DISABLED"
    assert disabled["updateWebhookEndpoint"]["url"] == "https://b.example.com/y"  # omitted fields stay
    cleared = (await hook_api.ok(UPDATE, {"id": endpoint["id"], "input": {"disabled": False, "description": None}}))
    assert cleared["updateWebhookEndpoint"]["status"] == "ENABLED"
    assert cleared["updateWebhookEndpoint"]["description"] is None
    updates = await Event.filter(type="webhook_endpoint.updated").order_by("id")
    assert [e.data["previous_attributes"].get("status") for e in updates] == [None, "enabled", "disabled"]
    deleted = await hook_api.ok("mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { id deleted } }",
                                {"id": endpoint["id"]})
    assert deleted["deleteWebhookEndpoint"] == {"id": endpoint["id"], "deleted": True}
    assert (await hook_api.ok(READ, {"id": endpoint["id"]}))["webhookEndpoint"] is None
    assert (await hook_api.ok(LIST))["webhookEndpoints"]["nodes"] == []
    error = await hook_api.error(UPDATE, {"id": endpoint["id"], "input": {"description": "x"}})
    assert error["extensions"]["code"] == "resource_missing"
    assert await Event.filter(type="webhook_endpoint.deleted").count() == 1


@pytest.mark.parametrize(("input", "param"), [
    ({"url": "ftp://example.com/x", "enabledEvents": ["*"]}, "url"),
    ({"url": "/relative", "enabledEvents": ["*"]}, "url"),
    ({"url": "https://user:pw@example.com/", "enabledEvents": ["*"]}, "url"),
    ({"url": "https://example.com/" + "x" * 2100, "enabledEvents": ["*"]}, "url"),
    ({"url": "https://example.com/", "enabledEvents": []}, "enabledEvents"),
    ({"url": "https://example.com/", "enabledEvents": ["invoice.paid", "Not A Type"]}, "enabledEvents.1"),
])
async def test_invalid_input_is_refused_and_writes_nothing(hook_api, input, param):
    error = await hook_api.error(CREATE, {"input": input})
    assert error["extensions"]["param"] == param and error["extensions"]["type"] == "invalid_request_error"
    assert await WebhookEndpoint.all().count() == 0


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/hook",
                                 "http://192.168.0.10/hook", "http://169.254.169.254/latest/meta-data",
                                 "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook", "http://0.0.0.0/hook",
                                 "http://100.64.0.1/hook"])
async def test_private_addresses_are_refused_when_saved(api, url):
    error = await api.error(CREATE, {"input": {"url": url, "enabledEvents": ["*"]}})
    assert error["extensions"]["code"] == "url_invalid" and error["extensions"]["param"] == "url"
    assert "public addresses" in error["message"]
    assert await WebhookEndpoint.all().count() == 0


async def test_a_public_address_is_accepted_and_updates_are_checked_too(api):
    created = (await api.ok(CREATE, {"input": {"url": "https://93.184.216.34/hook", "enabledEvents": ["*"]}}))[
        "createWebhookEndpoint"]
    error = await api.error(UPDATE, {"id": created["id"], "input": {"url": "http://127.0.0.1/x"}})
    assert error["extensions"]["code"] == "url_invalid"
    assert (await WebhookEndpoint.get(id=created["id"])).url == "https://93.184.216.34/hook"


async def test_rotation_signs_with_both_secrets_until_the_old_one_expires(hook_api, receiver, run_worker):
    endpoint = await create_endpoint(hook_api, receiver.url(), ["product.created"])
    rotated = (await hook_api.ok(ROTATE, {"id": endpoint["id"]}))["rotateWebhookEndpointSecret"]
    new, old = rotated["secret"], endpoint["secret"]
    assert new.startswith("whsec_") and new != old
    assert (await hook_api.ok(READ, {"id": endpoint["id"]}))["webhookEndpoint"]["secret"] is None
    stored = await WebhookEndpoint.get(id=endpoint["id"])
    hours = (stored.previous_secret_expires_at - stored.created).total_seconds() / 3600
    assert 23.9 < hours < 24.1
    await create_product(hook_api, "one")
    await run_worker()
    [received] = receiver.received
    header = received.headers["Stripe-Signature"]
    assert [part.split("=")[0] for part in header.split(",")] == ["t", "v1", "v1"]
    for secret in (new, old):
        assert stripe.Webhook.construct_event(received.body.decode(), header, secret).type == "product.created"
    # rotating with expireCurrentAfterHours 0 ends the old secret at once
    newest = (await hook_api.ok(ROTATE, {"id": endpoint["id"], "h": 0}))["rotateWebhookEndpointSecret"]["secret"]
    await create_product(hook_api, "two")
    await run_worker()
    received = receiver.received[-1]
    header = received.headers["Stripe-Signature"]
    assert header.count("v1=") == 1
    assert stripe.Webhook.construct_event(received.body.decode(), header, newest)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(received.body.decode(), header, new)


async def test_rotation_expiry_is_bounded(hook_api):
    endpoint = await create_endpoint(hook_api, "https://example.com/h")
    for hours in (-1, 24 * 7 + 1):
        error = await hook_api.error(ROTATE, {"id": endpoint["id"], "h": hours})
        assert error["extensions"]["param"] == "expireCurrentAfterHours"
    error = await hook_api.error(ROTATE, {"id": "we_missing"})
    assert error["extensions"]["code"] == "resource_missing"
