"""`sigv4`: AWS Signature Version 4 signing, for Alertmanager and remote write endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.config._yaml import Node
from vigil.config.http import Secret

_NO_SECRET = Secret("")


@dataclass(frozen=True, slots=True)
class SigV4Config:
    region: str = ""
    access_key: str = ""
    secret_key: Secret = _NO_SECRET
    profile: str = ""
    role_arn: str = ""
    use_fips_sts_endpoint: bool = False


def parse_sigv4(node: Node | None) -> SigV4Config | None:
    if node is None:
        return None
    keys = ("region", "access_key", "secret_key", "profile", "role_arn", "use_fips_sts_endpoint")
    fields = node.mapping(keys, "sigv4")
    sigv4 = SigV4Config(
        fields.string("region"),
        fields.string("access_key"),
        Secret(fields.secret("secret_key")),
        fields.string("profile"),
        fields.string("role_arn"),
        fields.boolean("use_fips_sts_endpoint", False),
    )
    if bool(sigv4.access_key) != bool(sigv4.secret_key):
        raise node.error("sigv4 access_key and secret_key go together")
    return sigv4
