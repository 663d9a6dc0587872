"""The same small shop in FastAPI, Starlette, Flask and Django, each instrumented: an item
page (logs a line, binds an appointment id, answers what it knows of its client), a health
page, a page that raises, and whatever else 404s."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import django
import flask
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from fastapi import FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from vigil.instrument import bind, client_ip, instrument

log = logging.getLogger("shop")
App = Callable[..., Any]


def fastapi_app(**options: Any) -> Any:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int, request: Request) -> dict[str, object]:
        bind(appointment_id=item_id)
        log.info("item %s", item_id)
        return {"client_ip": client_ip(), "state": request.state.client_ip}

    @app.get("/health")
    def health() -> str:
        return "ok"

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    return instrument(app, service_name="shop-fastapi", **options)


def starlette_app(**options: Any) -> Any:
    async def item(request: Request) -> Response:
        item_id = request.path_params["item_id"]
        bind(appointment_id=item_id)
        log.info("item %s", item_id)
        return JSONResponse({"client_ip": client_ip(), "state": request.state.client_ip})

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def boom(request: Request) -> Response:
        raise RuntimeError("boom")

    app = Starlette(
        routes=[
            Route("/items/{item_id:int}", item),
            Route("/health", health),
            Route("/boom", boom),
            Mount("/shops/{shop}", routes=[Route("/items/{item_id:int}", item)]),
        ]
    )
    return instrument(app, service_name="shop-starlette", **options)


def flask_app(**options: Any) -> Any:
    app = flask.Flask("shop")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, object]:
        bind(appointment_id=item_id)
        log.info("item %s", item_id)
        return {"client_ip": client_ip(), "state": flask.g.client_ip}

    @app.get("/health")
    def health() -> str:
        return "ok"

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    return instrument(app, service_name="shop-flask", **options)


def django_app(**options: Any) -> Any:
    """Django's settings and OpenTelemetry's Django instrumentation are per process: one
    Django app per test session."""
    if not settings.configured:
        settings.configure(
            ROOT_URLCONF="tests.instrument.django_urls",
            ALLOWED_HOSTS=["*"],
            DEBUG=False,
            SECRET_KEY="test",
            MIDDLEWARE=[],
            LOGGING_CONFIG=None,
        )
        django.setup()
    return instrument(get_wsgi_application(), service_name="shop-django", **options)


ROUTES = {
    "fastapi": "/items/{item_id}",
    "starlette": "/items/{item_id:int}",
    "flask": "/items/<int:item_id>",
    "django": "/items/<int:item_id>",
}
