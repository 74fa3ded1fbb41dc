"""The private parts of libraries the adapters rely on still exist (issue 23: dependencies).

pyproject.toml bounds these libraries to the tested minor releases; when a bound is raised, this test
says which private name went away, instead of a failure deep inside an update.
"""

from __future__ import annotations

import asyncio
import importlib

import pytest


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("telegram._utils.defaultvalue", "DefaultValue"),  # adapters/bot_api_http.py
        ("telegram._utils.types", "ODVInput"),
        ("httpcore._utils", "is_socket_readable"),  # adapters/asyncio_network.py
    ],
)
def test_private_module_names_exist(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name), f"{module}.{name} is gone: see pyproject's bounds"


def test_httpx_transport_keeps_its_pool_and_ssl_context() -> None:
    import httpx

    transport = httpx.AsyncHTTPTransport()
    assert hasattr(transport, "_pool"), "httpx.AsyncHTTPTransport._pool is gone (adapters/asyncio_network.py)"
    assert hasattr(transport._pool, "_ssl_context"), "the pool's _ssl_context is gone"


def test_ptb_httpx_request_keeps_its_client() -> None:
    from telegram.request import HTTPXRequest

    assert hasattr(HTTPXRequest(), "_client"), "HTTPXRequest._client is gone (adapters/bot_api_http.py)"


def test_asyncio_lock_keeps_its_waiters() -> None:
    lock = asyncio.Lock()
    assert hasattr(lock, "_waiters"), "asyncio.Lock._waiters is gone (adapters/telegram.py)"


def test_fiml_bot_without_its_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from fiml_bot import entry

    real = importlib.util.find_spec
    monkeypatch.setattr(
        entry.importlib.util, "find_spec", lambda name, *a: None if name == "telegram" else real(name, *a)
    )
    with pytest.raises(SystemExit) as ended:
        entry.main()
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert "pip install 'fiml-cms[bot]'" in err and "python-telegram-bot" in err
