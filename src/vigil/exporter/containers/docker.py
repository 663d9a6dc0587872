"""A few calls of the Docker engine API (plain HTTP over its unix socket), decoded into typed values:
the container list, inspect, and the event stream. No Docker SDK."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")


class DockerError(Exception):
    """The Docker socket refused, timed out, or answered something that is not the engine API."""


@dataclass(frozen=True, slots=True)
class Container:
    """What inspect says about one container; `name` without Docker's leading slash."""

    id: str
    name: str
    image: str
    status: str
    """created, restarting, running, removing, paused, exited or dead."""
    running: bool
    exit_code: int
    oom_killed: bool
    pid: int
    """PID 1 of the container on the host; 0 when it does not run."""
    restart_count: int
    restart_policy: str
    """As `docker run --restart` spells it: no, always, unless-stopped, on-failure:N."""
    memory_limit: int | None


@dataclass(frozen=True, slots=True)
class DockerEvent:
    type: str
    action: str
    """create, start, die, oom, kill, stop, restart, destroy, … (`exec_start: sh` carries a suffix)."""
    id: str
    attributes: Mapping[str, str]
    time_nano: int


def container_id_in(cgroup_path: str) -> str | None:
    """The 64-hex container id in a cgroup path, for both drivers:
    `/docker/<id>` (cgroupfs) and `/system.slice/docker-<id>.scope` (systemd)."""
    found = _CONTAINER_ID.findall(cgroup_path)
    return found[-1] if found else None


def _as_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DockerError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def parse_container(data: Any) -> Container:
    """Decodes `GET /containers/{id}/json`."""
    body = _as_dict(data, "container inspect")
    try:
        state = _as_dict(body["State"], "State")
        host = _as_dict(body.get("HostConfig") or {}, "HostConfig")
        config = _as_dict(body.get("Config") or {}, "Config")
        policy = _as_dict(host.get("RestartPolicy") or {}, "RestartPolicy")
        policy_name = str(policy.get("Name") or "no")
        retries = int(policy.get("MaximumRetryCount") or 0)
        memory = int(host.get("Memory") or 0)
        return Container(
            id=str(body["Id"]),
            name=str(body["Name"]).lstrip("/"),
            image=str(config.get("Image") or body.get("Image") or ""),
            status=str(state["Status"]),
            running=bool(state["Running"]),
            exit_code=int(state["ExitCode"]),
            oom_killed=bool(state.get("OOMKilled", False)),
            pid=int(state.get("Pid") or 0),
            restart_count=int(body.get("RestartCount") or 0),
            restart_policy=f"{policy_name}:{retries}"
            if policy_name == "on-failure" and retries
            else policy_name,
            memory_limit=memory or None,
        )
    except KeyError as err:
        raise DockerError(f"container inspect: missing field {err}") from None
    except (TypeError, ValueError) as err:
        raise DockerError(f"container inspect: {err}") from None


def parse_event(data: Any) -> DockerEvent:
    """Decodes one object of `GET /events`."""
    body = _as_dict(data, "event")
    actor = _as_dict(body.get("Actor") or {}, "event Actor")
    attributes = _as_dict(actor.get("Attributes") or {}, "event Attributes")
    try:
        time_nano = int(body.get("timeNano") or int(body["time"]) * 1_000_000_000)
        return DockerEvent(
            type=str(body.get("Type") or "container"),
            action=str(body.get("Action") or body.get("status") or ""),
            id=str(actor.get("ID") or body.get("id") or ""),
            attributes={str(k): str(v) for k, v in attributes.items()},
            time_nano=time_nano,
        )
    except KeyError as err:
        raise DockerError(f"event: missing field {err}") from None
    except (TypeError, ValueError) as err:
        raise DockerError(f"event: {err}") from None


class DockerClient:
    """The engine API at a unix socket. Not shared between threads: each user builds its own."""

    def __init__(self, socket: Path, timeout: float) -> None:
        self.socket = socket
        self._timeout = timeout
        self._built: httpx.Client | None = None

    def _http(self, path: str) -> httpx.Client:
        """The HTTP client, built by the first request that finds the socket: a host without
        Docker never imports it, and a missing socket fails without a connection attempt."""
        if not self.socket.exists():
            raise DockerError(f"GET {path} on {self.socket}: no such socket")
        if self._built is None:
            import httpx

            self._built = httpx.Client(
                # Plain HTTP over the socket: no TLS context (loading the system CAs costs ~40 ms).
                transport=httpx.HTTPTransport(uds=str(self.socket), verify=False),
                base_url="http://docker",
                timeout=self._timeout,
            )
        return self._built

    def close(self) -> None:
        if self._built is not None:
            self._built.close()

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        http = self._http(path)
        import httpx

        try:
            response = http.get(path, params=params)
        except httpx.HTTPError as err:
            raise DockerError(f"GET {path} on {self.socket}: {err or type(err).__name__}") from None
        if response.status_code != 200:
            raise DockerError(
                f"GET {path} on {self.socket}: HTTP {response.status_code} {response.text[:120]!r}"
            )
        try:
            return response.json()
        except ValueError:
            raise DockerError(
                f"GET {path} on {self.socket}: not JSON: {response.text[:80]!r}"
            ) from None

    def container_ids(self) -> list[str]:
        """Every container, running or not (`GET /containers/json?all=true`)."""
        listing = self._get("/containers/json", {"all": "true"})
        if not isinstance(listing, list):
            raise DockerError(f"GET /containers/json on {self.socket}: expected a JSON array")
        try:
            return [str(_as_dict(item, "container")["Id"]) for item in listing]
        except KeyError:
            raise DockerError(f"GET /containers/json on {self.socket}: an item has no Id") from None

    def inspect(self, container_id: str) -> Container | None:
        """None when the container is gone (404): removed between list and inspect."""
        try:
            return parse_container(self._get(f"/containers/{container_id}/json"))
        except DockerError as err:
            if "HTTP 404" in str(err):
                return None
            raise

    def containers(self) -> list[Container]:
        return [c for c in map(self.inspect, self.container_ids()) if c is not None]

    def events(self, since: str | None, read_timeout: float) -> Iterator[DockerEvent]:
        """Container events from `since` (Docker's `SECONDS.NANOS`) on, until the daemon closes the
        stream or sends nothing for `read_timeout` seconds (then the iterator just ends)."""
        params = {"filters": json.dumps({"type": ["container"]})}
        if since is not None:
            params["since"] = since
        http = self._http("/events")
        import httpx

        timeout = httpx.Timeout(self._timeout, read=read_timeout)
        try:
            with http.stream("GET", "/events", params=params, timeout=timeout) as response:
                if response.status_code != 200:
                    raise DockerError(f"GET /events on {self.socket}: HTTP {response.status_code}")
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    try:
                        data = json.loads(line)
                    except ValueError:
                        raise DockerError(
                            f"GET /events on {self.socket}: not JSON: {line[:80]!r}"
                        ) from None
                    yield parse_event(data)
        except httpx.ReadTimeout:
            return
        except httpx.HTTPError as err:
            raise DockerError(
                f"GET /events on {self.socket}: {err or type(err).__name__}"
            ) from None
