"""The agent's ClientIP stage against the real Tomcat on the shared client-IP table
(tests/model/remote_ip.py): the header of a line written behind the load balancer."""

from __future__ import annotations

import pytest

from tests.model.remote_ip import AGREED, BALANCER, DIFFERENT, tomcat_table
from vigil.exporter.logs.stages import ClientIP

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tomcat(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    return tomcat_table(tmp_path_factory.mktemp("remoteip"))


def test_client_ip_agrees_with_tomcat_remote_ip_filter(tomcat: dict[tuple[str, str], str]) -> None:
    stage = ClientIP()
    assert [stage.client(xff) for xff in AGREED] == [tomcat[BALANCER, xff] for xff in AGREED]


def test_client_ip_differs_from_tomcat_only_where_declared(
    tomcat: dict[tuple[str, str], str],
) -> None:
    stage = ClientIP()
    got = {xff: (tomcat[BALANCER, xff], stage.client(xff)) for xff in DIFFERENT}
    assert got == {xff: (want[0], want[1]) for xff, want in DIFFERENT.items()}
