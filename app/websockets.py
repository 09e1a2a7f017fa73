"""GraphQL over websockets at /graphql: graphql-transport-ws and the older graphql-ws, as strawberry serves them,
with our rules on top.

- A connection authenticates in connection_init ({"authorization": "Bearer <secret key or session secret>"}),
  checked by the view's on_ws_connect. No or a wrong secret: closed without an ack (graphql-transport-ws:
  4403; graphql-ws: connection_error, then closed). No connection_init within INIT_TIMEOUT: closed with 4408
  (both protocols; strawberry has no such timeout for graphql-ws).
- A customer session's connection is closed (4403) when the session expires.
- Errors reach the client as over HTTP: Stripe's fields in extensions (app/graphql/errors.py).
"""
import asyncio
from collections.abc import AsyncGenerator
from contextlib import suppress
from datetime import timedelta

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from app.graphql.errors import format_error

INIT_TIMEOUT = timedelta(seconds=10)
FORBIDDEN, INIT_TIMED_OUT = 4403, 4408


class _FormattedErrors:
    """The schema as the websocket handlers use it: each result's errors formatted as over HTTP."""

    def __init__(self, schema, context) -> None:
        self._schema, self._context = schema, context

    def __getattr__(self, name: str):
        return getattr(self._schema, name)

    async def _formatted(self, results) -> AsyncGenerator:
        request_id = getattr(self._context, "request_id", "")
        try:
            async for result in results:
                if getattr(result, "errors", None):
                    result.errors = [format_error(error, request_id) for error in result.errors]
                yield result
        finally:
            await results.aclose()

    async def stream(self, *args, **kwargs):
        return self._formatted(await self._schema.stream(*args, **kwargs))

    async def subscribe(self, *args, **kwargs):
        return self._formatted(await self._schema.subscribe(*args, **kwargs))


def _stop_expiry(context) -> None:
    timer = getattr(context, "expiry", None)
    if timer is not None:
        timer.cancel()


class TransportWSHandler(BaseGraphQLTransportWSHandler):
    def __init__(self, *, schema, context, **kwargs) -> None:
        super().__init__(schema=_FormattedErrors(schema, context), context=context, **kwargs)

    async def shutdown(self) -> None:
        _stop_expiry(self.context)
        await super().shutdown()


class LegacyWSHandler(BaseGraphQLWSHandler):
    def __init__(self, *, schema, context, **kwargs) -> None:
        super().__init__(schema=_FormattedErrors(schema, context), context=context, **kwargs)

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(INIT_TIMEOUT.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(code=INIT_TIMED_OUT, reason="Connection initialisation timeout")

    async def handle(self) -> None:
        timer = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            timer.cancel()
            with suppress(asyncio.CancelledError):
                await timer
            _stop_expiry(self.context)


def close_at_expiry(context, websocket, expires_at_in: float) -> None:
    """Close the connection `expires_at_in` seconds from now (a customer session's end)."""

    def close() -> None:
        asyncio.ensure_future(websocket.close(code=FORBIDDEN, message=b"Customer session expired"))

    context.expiry = asyncio.get_running_loop().call_later(max(expires_at_in, 0.0), close)
