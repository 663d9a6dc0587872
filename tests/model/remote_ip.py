"""The client-IP table every consumer of `vigil.model.forwarded` is checked on, and Tomcat
10's RemoteIpFilter (Debian's libtomcat10-java, driven by java/RemoteIp.java) answering it
with its default internal proxies."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

JARS = [
    Path(f"/usr/share/java/tomcat10-{name}.jar")
    for name in ("catalina", "servlet-api", "juli", "util", "api", "coyote")
]
SOURCE = Path(__file__).with_name("java") / "RemoteIp.java"

BALANCER = "10.0.0.1"
# X-Forwarded-For values arriving from the load balancer, where vigil answers as Tomcat.
AGREED = [
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
# (peer, X-Forwarded-For) from a client connecting directly: its header is its own claim.
SPOOFED = [
    ("203.0.113.9", "1.2.3.4"),
    ("203.0.113.9", "1.2.3.4, 10.0.0.2"),
    ("198.51.100.20", "127.0.0.1"),
]
# Where vigil answers differently on purpose: Tomcat takes any text as an address; a client
# IP that is not an IP address (or carries a port) is no use to filter on. Values: (Tomcat's
# answer, the agent's client_ip of the header alone, a request's client behind BALANCER).
DIFFERENT = {
    "garbage, 10.0.0.1": ("garbage", None, BALANCER),
    "[2001:db8::1]:4711, 10.0.0.1": ("[2001:db8::1]:4711", "2001:db8::1", "2001:db8::1"),
    "198.51.100.1:5555": ("198.51.100.1:5555", "198.51.100.1", "198.51.100.1"),
}
ROWS = [
    *((BALANCER, xff) for xff in AGREED),
    *SPOOFED,
    *((BALANCER, xff) for xff in DIFFERENT),
]


def tomcat_answers(rows: Sequence[tuple[str, str]], workdir: Path) -> list[str]:
    """The remote address Tomcat's RemoteIpFilter derives for each (peer, X-Forwarded-For)."""
    for jar in JARS:
        assert jar.exists(), f"{jar} missing: install Debian's libtomcat10-java"
    classpath = ":".join(map(str, JARS))
    subprocess.run(["javac", "-d", str(workdir), "-cp", classpath, str(SOURCE)], check=True)
    done = subprocess.run(
        ["java", "-cp", f"{workdir}:{classpath}", "RemoteIp"],
        input="".join(f"{peer}\t{xff}\n" for peer, xff in rows),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def tomcat_table(workdir: Path) -> dict[tuple[str, str], str]:
    """ROWS → Tomcat's answer."""
    return dict(zip(ROWS, tomcat_answers(ROWS, workdir), strict=True))
