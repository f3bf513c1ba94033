"""The simulator's container logs follow the pod's status: a running container's lines grow with
virtual time, a crashed instance ends as it died, and what the API refuses is refused."""

from __future__ import annotations

import math

import pytest
from support.object_data import api_pod

from talos_platform.engine.errors import PermanentError
from talos_platform.engine.sim import simulated_platform
from talos_platform.engine.sim.logs import LINE_EVERY_SECONDS, log_lines, seconds_of

NOW = seconds_of("2026-01-01T00:10:00Z")


def test_a_running_container_writes_a_line_per_interval_until_now():
    lines, last = log_lines(api_pod(), "log-shipper", previous=False, now=NOW)
    assert lines[0] == "2026-01-01T00:00:05Z starting log-shipper (fluent/fluent-bit:4.0.3)"
    assert len(lines) == 2 + int((NOW - seconds_of("2026-01-01T00:00:05Z")) // LINE_EVERY_SECONDS)
    assert last is not None and last <= NOW


def test_an_oom_killed_instance_just_stops_and_an_erroring_one_says_why():
    lines, last = log_lines(api_pod(), "api", previous=True, now=NOW)
    assert last is None and lines[-1].startswith("2026-01-01T00:04:40Z GET /healthz")
    pod = api_pod()
    pod["status"]["containerStatuses"][0]["lastState"]["terminated"].update(reason="Error", exitCode=1)
    lines, _ = log_lines(pod, "api", previous=True, now=NOW)
    assert lines[-1] == "2026-01-01T00:04:41Z fatal: Error, exiting with code 1"


@pytest.mark.parametrize(
    "container, previous, message",
    [
        ("log-shipper", True, 'previous terminated container "log-shipper" in pod "api-5d8f6-x2k9q" not found'),
        ("sidecar", False, "container sidecar is not valid for pod api-5d8f6-x2k9q"),
    ],
)
def test_what_the_api_refuses_is_refused(container, previous, message):
    with pytest.raises(PermanentError, match=message):
        log_lines(api_pod(), container, previous=previous, now=NOW)


def test_a_container_that_never_started_has_no_log():
    pod = api_pod()
    pod["status"]["containerStatuses"] = []
    with pytest.raises(PermanentError, match="is waiting to start: ContainerCreating"):
        log_lines(pod, "", previous=False, now=NOW)


async def test_the_simulated_kube_follows_a_running_container_in_virtual_time():
    platform = simulated_platform("default", speed=math.inf, installed=True)
    kube = platform.drivers.kube
    from talos_platform.engine.drivers.protocols import PODS

    pod = next(p for p in (await kube.list(PODS)).items if p["status"].get("phase") == "Running")
    meta = pod["metadata"]
    stream = kube.pod_log(meta["namespace"], meta["name"], tail_lines=3, follow=True)
    first = [await anext(stream) for _ in range(3)]
    more = [await anext(stream) for _ in range(2)]
    await stream.aclose()
    assert len(first) == 3 and all("GET /healthz" in line for line in more)
    assert more[0] > first[-1] and more[1] > more[0]  # later times, in order
    with pytest.raises(PermanentError, match='pods "nothing-here" not found'):
        async for _ in kube.pod_log("default", "nothing-here"):
            pass
