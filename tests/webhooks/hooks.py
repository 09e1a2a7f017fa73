"""Webhook test helpers: real HTTP receivers (aiohttp test servers) whose answers a test scripts, and the
GraphQL calls on endpoints and their delivery logs."""
import asyncio
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer

ENDPOINT_FIELDS = "id url enabledEvents status description secret created"
DELIVERY_FIELDS = """id attempts succeeded status lastStatusCode lastError nextRetryAt created
  event { id type pendingWebhooks } attemptLog { at statusCode error durationMs }"""


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next scripted answer (a status, or a coroutine function taking the request),
    200 once the script is used up; records every request it got."""

    server: TestServer
    script: list = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/hook") -> str:
        return str(self.server.make_url(path))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(Received(request.path, dict(request.headers), await request.read()))
        self.arrived.set()
        answer = self.script.pop(0) if self.script else 200
        if callable(answer):
            return await answer(request)
        return web.Response(status=answer, text="ok" if answer < 300 else "no")

    def bodies(self, path: str = "/hook") -> list[bytes]:
        return [r.body for r in self.received if r.path == path]


async def start_receiver() -> Receiver:
    app = web.Application()
    receiver = Receiver(TestServer(app, host="127.0.0.1"))
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    await receiver.server.start_server()
    return receiver


async def create_endpoint(api, url: str, events: list[str] | None = None, **extra) -> dict:
    data = await api.ok(
        "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { "
        f"{ENDPOINT_FIELDS} }} }}", {"input": {"url": url, "enabledEvents": events or ["*"], **extra}})
    return data["createWebhookEndpoint"]


async def deliveries(api, endpoint: str) -> list[dict]:
    """The endpoint's deliveries, oldest first."""
    data = await api.ok(f"query($id: ID!) {{ webhookEndpoint(id: $id) {{ deliveries(first: 100) {{ nodes {{ "
                        f"{DELIVERY_FIELDS} }} }} }} }}", {"id": endpoint})
    return list(reversed(data["webhookEndpoint"]["deliveries"]["nodes"]))


async def create_product(api, name: str = "Widget") -> str:
    data = await api.ok("mutation($n: String!) { createProduct(input: {name: $n}) { id } }", {"n": name})
    return data["createProduct"]["id"]
