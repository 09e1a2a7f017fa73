"""A small client of both websocket protocols for in-process tests (the cross-process test uses `gql`)."""
import asyncio
import itertools
import json
from contextlib import asynccontextmanager

import aiohttp

TRANSPORT_WS, LEGACY_WS = "graphql-transport-ws", "graphql-ws"
WAIT = 10.0


class LiveClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, protocol: str) -> None:
        self.ws, self.protocol = ws, protocol
        self._ids = itertools.count(1)
        self._inbox: dict[str, asyncio.Queue] = {}
        self._reader: asyncio.Task | None = None

    async def init(self, secret: str | None) -> dict:
        """Send connection_init; the first answer (connection_ack, or connection_error)."""
        await self.ws.send_json({"type": "connection_init",
                                 "payload": {"authorization": f"Bearer {secret}"} if secret else {}})
        while True:
            message = await self.receive()
            if message.get("type") != "ka":
                break
        if message.get("type") == "connection_ack":
            self._reader = asyncio.create_task(self._read())
        return message

    async def receive(self, seconds: float | None = WAIT) -> dict:
        """The next message, or {"closed": code} when the server closed the connection."""
        frame = await self.ws.receive(timeout=seconds)
        if frame.type == aiohttp.WSMsgType.TEXT:
            return json.loads(frame.data)
        return {"closed": self.ws.close_code, "reason": frame.extra}

    async def _read(self) -> None:
        while True:
            message = await self.receive(None)
            if "closed" in message:
                for queue in self._inbox.values():
                    queue.put_nowait(message)
                return
            if "id" in message:
                self._inbox.setdefault(message["id"], asyncio.Queue()).put_nowait(message)

    async def subscribe(self, query: str, variables: dict | None = None) -> str:
        id = str(next(self._ids))
        self._inbox.setdefault(id, asyncio.Queue())
        start = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.ws.send_json({"id": id, "type": start, "payload": {"query": query, "variables": variables or {}}})
        return id

    async def message(self, id: str, seconds: float = WAIT) -> dict:
        """The next message of an operation: next/data, error, complete, or {"closed": code}."""
        return await asyncio.wait_for(self._inbox[id].get(), seconds)

    async def next(self, id: str, seconds: float = WAIT) -> dict:
        """The payload of the operation's next result ({data, errors?})."""
        message = await self.message(id, seconds)
        assert message.get("type") in ("next", "data"), message
        return message["payload"]

    async def nothing(self, id: str, seconds: float = 0.3) -> None:
        """No message comes for the operation within `seconds`."""
        try:
            message = await asyncio.wait_for(self._inbox[id].get(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message {message}")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.ws.close()


@asynccontextmanager
async def connect(session, url: str, secret: str | None = None, *, protocol: str = TRANSPORT_WS):
    """A connection that has sent connection_init with `secret` and was acknowledged."""
    ws = await session.ws_connect(url, protocols=[protocol])
    client = LiveClient(ws, protocol)
    try:
        answer = await client.init(secret)
        assert answer.get("type") == "connection_ack", answer
        yield client
    finally:
        await client.close()
