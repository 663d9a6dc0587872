"""`client_ip` against the real Tomcat: the same X-Forwarded-For table through Tomcat 10's
RemoteIpFilter (Debian's libtomcat10-java, driven by a small Java program) and through the
agent's ClientIP stage, with Tomcat's default internal proxies on both sides."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vigil.exporter.logs.stages import ClientIP

JARS = [
    Path(f"/usr/share/java/tomcat10-{name}.jar")
    for name in ("catalina", "servlet-api", "juli", "util", "api", "coyote")
]
pytestmark = pytest.mark.slow

SOURCE = Path(__file__).with_name("java") / "RemoteIp.java"

CASES = [
    "203.0.113.7",
    "1.2.3.4, 203.0.113.7",
    "1.2.3.4, 203.0.113.7, 10.0.0.2",
    "203.0.113.7, 10.0.0.2, 172.16.5.4",
    "203.0.113.7,10.0.0.2",
    "  203.0.113.7 ,  192.168.1.1  ",
    "10.1.1.1, 192.168.0.9",
    "198.51.100.4, 172.31.255.255",
    "198.51.100.4, 172.32.0.1",
    "198.51.100.4, 100.64.0.1",
    "198.51.100.4, 100.128.0.1",
    "198.51.100.4, 169.254.3.3",
    "198.51.100.4, 127.0.0.1",
    "8.8.8.8, 9.9.9.9, 10.0.0.1",
    "2001:db8::1",
    "2001:db8::1, 10.0.0.1",
]
# Where vigil answers differently on purpose: Tomcat takes any text as an address; a
# client_ip that is not an IP address (or carries a port) is no use as metadata to filter on.
DIFFERENT = {
    "garbage, 10.0.0.1": ("garbage", None),
    "[2001:db8::1]:4711, 10.0.0.1": ("[2001:db8::1]:4711", "2001:db8::1"),
    "198.51.100.1:5555": ("198.51.100.1:5555", "198.51.100.1"),
}


@pytest.fixture(scope="module")
def tomcat(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Tomcat's answers for CASES then DIFFERENT, with the load balancer at 10.0.0.1."""
    for jar in JARS:
        assert jar.exists(), f"{jar} missing: install Debian's libtomcat10-java"
    out = tmp_path_factory.mktemp("remoteip")
    classpath = ":".join(map(str, JARS))
    subprocess.run(["javac", "-d", str(out), "-cp", classpath, str(SOURCE)], check=True)
    rows = "".join(f"10.0.0.1\t{xff}\n" for xff in [*CASES, *DIFFERENT])
    done = subprocess.run(
        ["java", "-cp", f"{out}:{classpath}", "RemoteIp"],
        input=rows,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def test_client_ip_agrees_with_tomcat_remote_ip_filter(tomcat: list[str]) -> None:
    stage = ClientIP()
    assert [stage.client(xff) for xff in CASES] == tomcat[: len(CASES)]


def test_client_ip_differs_from_tomcat_only_where_declared(tomcat: list[str]) -> None:
    stage = ClientIP()
    got = {xff: (tomcat[len(CASES) + i], stage.client(xff)) for i, xff in enumerate(DIFFERENT)}
    assert got == DIFFERENT
