"""A config document as every view shows it (Prometheus's `/api/v1/status/config`, the
Alertmanager status, logs): whatever the parser read as a secret is `<secret>` and a URL's
password `xxxxx`, in whatever YAML style (flow, quoted keys, block scalars) the file used. The
parser marks those values while it reads them, so what is hidden follows from the config types,
not from key names."""

from __future__ import annotations

import yaml

from vigil.config._yaml import SECRET_TAG, URL_TAG, Node

_STR_TAG = "tag:yaml.org,2002:str"


def shown_text(root: Node | None) -> str:
    """The parsed document with its secrets hidden; call it once parsing is done (it rewrites
    the tree it was read from)."""
    if root is None:
        return ""
    _hide(root.raw, set())
    return str(yaml.serialize(root.raw, allow_unicode=True, width=100))


def _hide(node: yaml.Node, seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        if node.tag == SECRET_TAG:
            node.tag, node.value, node.style = _STR_TAG, "<secret>", None
        elif node.tag == URL_TAG:
            node.tag, node.value = _STR_TAG, redact_url(str(node.value))
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _hide(key, seen)
            _hide(value, seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _hide(item, seen)


def redact_url(url: str) -> str:
    """A URL with the password of its userinfo as `xxxxx` (Go's url.Redacted), for every
    view and log line that shows a configured URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:xxxxx@{host}{slash}{path}"
