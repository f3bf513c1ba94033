"""Waiting with list + watch: relist on 410 Gone, reconnect after a dropped connection, and a
clear last status when time runs out."""

import pytest
from support.drivers import FakeKube

from talos_platform.engine.drivers.protocols import NODES, WatchExpired
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.layers import bootstrap
from talos_platform.engine.layers.waiting import NOTHING_SEEN, WaitTimedOut, wait_for_objects

from .helpers import make_context, platform_config


def node(name):
    return {"metadata": {"name": name}}


class FlakyKube(FakeKube):
    """Lists fail `refusals` times; the first watch ends with 410 Gone, the next one drops."""

    def __init__(self, refusals: int = 0, script=("expired", "dropped")):
        super().__init__()
        self.refusals = refusals
        self.script = list(script)

    async def list(self, resource, namespace=None, label_selector=""):
        if self.refusals:
            self.refusals -= 1
            raise ConnectionError("connection refused")
        return await super().list(resource, namespace, label_selector)

    async def watch(self, resource, resource_version, namespace=None, timeout_seconds=300):
        what = self.script.pop(0) if self.script else "deliver"
        if what != "deliver":
            self.calls.append(("watch", resource.plural, resource_version))
        if what == "expired":
            raise WatchExpired("too old resource version")
        if what == "dropped":
            raise ConnectionError("watch dropped")
            yield  # pragma: no cover - makes this an async generator
        async for event in super().watch(resource, resource_version, namespace, timeout_seconds):
            yield event


def registered(count):
    return lambda objects: (len(objects) >= count, f"{len(objects)} nodes")


async def test_relists_after_410_and_reconnects_after_a_drop(tmp_path, monkeypatch):
    from talos_platform.engine.layers import waiting

    monkeypatch.setattr(waiting, "RECONNECT_DELAYS", (0.0,))
    kube = FlakyKube().put(NODES, node("cp-1")).later(NODES, node("w-1"), type="ADDED")
    ctx, lines = make_context(platform_config(), tmp_path, kube=kube)
    assert await wait_for_objects(ctx, NODES, registered(2), timeout=5) == "2 nodes"
    assert [c[0] for c in kube.calls] == ["list", "watch", "list", "watch", "list", "watch"]


async def test_an_api_that_never_answers_is_named_as_such(tmp_path, monkeypatch):
    from talos_platform.engine.layers import waiting

    monkeypatch.setattr(waiting, "RECONNECT_DELAYS", (0.01,))
    ctx, _ = make_context(platform_config(), tmp_path, kube=FlakyKube(refusals=10**6))
    with pytest.raises(WaitTimedOut) as timed_out:
        await wait_for_objects(ctx, NODES, registered(1), timeout=0.2)
    assert timed_out.value.status == f"{NOTHING_SEEN} (last connection error: connection refused)"

    step = bootstrap.KubernetesApi(platform_config())
    step.timeout = 0.3
    with pytest.raises(PermanentError) as failure:
        await step.wait(ctx)
    assert failure.value.message.startswith("the Kubernetes API at 10.0.0.10:6443 did not answer")


async def test_nodes_that_never_register_are_not_blamed_on_the_api(tmp_path):
    config = platform_config(workers=2)
    ctx, _ = make_context(config, tmp_path, kube=FakeKube().put(NODES, node("cp-1")))
    step = bootstrap.KubernetesApi(config)
    step.timeout = 0.3
    with pytest.raises(PermanentError) as failure:
        await step.wait(ctx)
    assert failure.value.message.startswith("not every node registered within 0.3s: 1/3 nodes registered: cp-1")
