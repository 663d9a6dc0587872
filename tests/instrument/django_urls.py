"""The shop's Django URLs (tests/instrument/apps.py)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from vigil.instrument import bind, client_ip

log = logging.getLogger("shop")


def item(request: HttpRequest, item_id: int) -> HttpResponse:
    bind(appointment_id=item_id)
    log.info("item %s", item_id)
    return JsonResponse({"client_ip": client_ip(), "state": request.client_ip})  # type: ignore[attr-defined]


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


urlpatterns = [
    path("items/<int:item_id>", item),
    path("health", health),
    path("boom", boom),
]
