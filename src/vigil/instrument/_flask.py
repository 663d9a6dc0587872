"""Flask's side: the url_rule matched, and `flask.g.client_ip`."""

from __future__ import annotations

from typing import Any

import flask

from vigil.instrument._context import current
from vigil.instrument._wsgi import set_route


def connect(app: flask.Flask) -> None:
    """Listen to `request_started`: sent after matching, before any before_request."""

    def started(sender: flask.Flask, **extra: Any) -> None:
        context = current()
        rule = flask.request.url_rule
        set_route(context, None if rule is None else rule.rule)
        if context is not None:
            flask.g.client_ip = context.client_ip

    flask.request_started.connect(started, app, weak=False)
