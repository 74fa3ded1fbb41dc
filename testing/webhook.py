"""The webhook server in process, on a free loopback port, against the in-process fake Bot API."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from fiml_bot.adapters.telegram import build_application
from fiml_bot.adapters.webhook import WebhookServer
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.ports import StorageUnavailable
from testing.fakebotapi import FakeBotApi
from testing.tutor_driver import make_tutor

CHAT = 5151
SECRET = "s3cret-token_for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class InProcess:
    """A WebhookServer on 127.0.0.1 (a free port) whose Application talks to the in-process fake."""

    def __init__(self, tutor: Tutor, fake: FakeBotApi) -> None:
        self.fake = fake
        self.tutor = tutor
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram"
        application = build_application(
            tutor, fake.default_token, builder=fake.application_builder().updater(None), rate_limit=False
        )
        self.application = application
        self.server = WebhookServer(
            application, tutor, url=self.url, secret_token=SECRET, listen="127.0.0.1", port=self.port
        )
        self.client = httpx.AsyncClient(trust_env=False, timeout=10)

    async def __aenter__(self) -> InProcess:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self.server.stop()

    def base(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def tutor_with_outage(published: Path) -> tuple[Tutor, dict[str, bool]]:
    """A tutor whose database is down while `down["yes"]` (it starts down)."""
    working, content = make_tutor(published)
    down = {"yes": True}

    class Units:
        def __call__(self) -> object:
            if down["yes"]:
                raise StorageUnavailable("could not connect to the database")
            return working.unit_of_work()

        def schema_revision(self) -> str | None:
            return working.unit_of_work.schema_revision()

    return Tutor(content, Units()), down  # type: ignore[arg-type]
