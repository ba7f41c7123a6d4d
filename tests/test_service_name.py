"""The default service.name under a known server is the application it serves (issue 11)."""

from __future__ import annotations

import sys

import pytest

from vaquero._config import load_settings
from vaquero._pipeline.install import build_resource
from vaquero._pipeline.service_name import served_application


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/venv/bin/uvicorn", "shop.api:app"], "shop.api"),
        (["/venv/bin/uvicorn", "--host", "127.0.0.1", "--port", "8000", "main:app"], "main"),
        (["/usr/lib/python3/site-packages/uvicorn/__main__.py", "shop.api:app"], "shop.api"),
        (["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-b", "localhost:8000",
          "shop.wsgi:create_app()"], "shop.wsgi"),
        (["/venv/bin/hypercorn", "-b", "127.0.0.1:80", "svc.api:app"], "svc.api"),
        (["/venv/bin/gunicorn", "-b", "unix:/tmp/s.sock", "shop.api:app"], "shop.api"),
        (["/venv/bin/uvicorn", "--factory"], None),  # no application argument
        (["myscript.py", "shop.api:app"], None),  # not a known server
        ([], None),
    ],
)
def test_the_served_application_is_read_from_a_servers_command_line(argv, expected):
    assert served_application(argv) == expected


@pytest.fixture
def under_uvicorn(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setattr(sys, "argv", ["/venv/bin/uvicorn", "shop.api:app", "--port", "8000"])
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    return monkeypatch


def _service_name(**options: object) -> object:
    return build_resource(load_settings(options)).attributes["service.name"]


def test_under_a_server_the_service_is_named_after_the_application(under_uvicorn):
    assert _service_name() == "shop.api"


def test_otel_service_name_and_init_still_win(under_uvicorn):
    assert _service_name(service_name="orders") == "orders"
    under_uvicorn.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=billing")
    assert _service_name() == "billing"
    under_uvicorn.setenv("OTEL_SERVICE_NAME", "shop")
    assert _service_name() == "shop"
