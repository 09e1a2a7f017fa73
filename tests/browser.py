"""Headless Chromium driven over the Chrome DevTools Protocol, with aiohttp's websocket client."""
import asyncio
import base64
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path

import aiohttp

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--window-size=1280,900", "--remote-debugging-port=0"]
TIMEOUT = 15  # seconds, for one command or one wait_for
START_TIMEOUT = 30


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium", path="/usr/bin")


class Page:
    """One page target: commands wait for their reply; events are kept in `events`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = count(1)
        self.events: list[dict] = []

    async def send(self, method: str, **params) -> dict:
        message_id = next(self.ids)
        await self.ws.send_json({"id": message_id, "method": method, "params": params})
        async with asyncio.timeout(TIMEOUT):
            while True:
                message = await self.ws.receive_json()
                if message.get("id") == message_id:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    return message["result"]
                self.events.append(message)

    async def evaluate(self, expression: str):
        """The JSON value of a JavaScript expression (promises are awaited)."""
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str):
        """Poll until the expression is truthy, and return its value."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                if value := await self.evaluate(expression):
                    return value
                await asyncio.sleep(0.1)

    async def load(self, url: str | None = None) -> None:
        """Navigate to url (or reload the page) and wait for its load event."""
        seen = len(self.events)
        await (self.send("Page.navigate", url=url) if url else self.send("Page.reload"))
        async with asyncio.timeout(TIMEOUT):
            while not any(e.get("method") == "Page.loadEventFired" for e in self.events[seen:]):
                self.events.append(await self.ws.receive_json())

    async def screenshot(self, path: Path) -> None:
        result = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(result["data"]))

    def errors(self) -> list[dict]:
        """Uncaught exceptions and error log entries (failed loads, console.error) seen so far."""
        return [e["params"] for e in self.events
                if e.get("method") == "Runtime.exceptionThrown"
                or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]


def _written_port(user_data_dir: str) -> int | None:
    """The port Chromium writes to DevToolsActivePort once it listens."""
    path = Path(user_data_dir, "DevToolsActivePort")
    lines = path.read_text().split() if path.exists() else []
    return int(lines[0]) if lines else None


async def _devtools_port(user_data_dir: str, process: asyncio.subprocess.Process) -> int:
    async with asyncio.timeout(START_TIMEOUT):
        while (port := _written_port(user_data_dir)) is None:
            if process.returncode is not None:
                raise RuntimeError(f"chromium exited with {process.returncode}")
            await asyncio.sleep(0.05)
    return port


@contextlib.asynccontextmanager
async def chromium(binary: str) -> AsyncIterator[Page]:
    """Start a headless Chromium with a fresh profile and yield its first page; always stop it."""
    with tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True) as user_data_dir:
        process = await asyncio.create_subprocess_exec(
            binary, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
        try:
            port = await _devtools_port(user_data_dir, process)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=START_TIMEOUT)) as session:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                    targets = await response.json()
                target = next(t for t in targets if t["type"] == "page")
                async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    page = Page(ws)
                    for domain in ("Page", "Runtime", "Log"):
                        await page.send(f"{domain}.enable")
                    yield page
        finally:
            await _stop(process)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the browser (it stops its renderers), then SIGKILL whatever lingers in its process group."""
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), 5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
