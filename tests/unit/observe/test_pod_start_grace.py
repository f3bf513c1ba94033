"""A pod that just started is not a problem: Pending or ContainerCreating within its start grace is
`Starting`; after the grace, or with a real reason, it is a problem at once."""

from datetime import UTC, datetime

import pytest
from support.clock import ManualClock
from support.drivers import RaisingTalos, ScriptedKube

from talos_platform.engine.drivers.protocols import Drivers
from talos_platform.engine.observe import Observer
from talos_platform.engine.observe.blockers import pod_note
from talos_platform.engine.observe.observer import summarise_pods
from talos_platform.engine.observe.pods import POD_START_GRACE_SECONDS, classify_pod

CREATED = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
T0 = CREATED.timestamp()
SCHEDULED_AFTER = 30.0
NOT_READY = (
    "0/4 nodes are available: 4 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. "
    "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
)


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pending_pod(waiting="", scheduled=True, unschedulable="", name="web-1"):
    conditions = []
    containers = []
    if unschedulable:
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": unschedulable,
                "lastTransitionTime": stamp(T0),
            }
        )
    elif scheduled:
        conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp(T0 + SCHEDULED_AFTER)})
        if waiting:
            containers.append({"name": "web", "ready": False, "state": {"waiting": {"reason": waiting}}})
    return {
        "metadata": {"name": name, "namespace": "shop", "creationTimestamp": stamp(T0)},
        "spec": {"nodeName": "worker-1" if scheduled and not unschedulable else ""},
        "status": {"phase": "Pending", "conditions": conditions, "containerStatuses": containers},
    }


@pytest.mark.parametrize(
    ("pod", "since"),
    [
        (pending_pod("ContainerCreating"), T0 + SCHEDULED_AFTER),
        (pending_pod("PodInitializing"), T0 + SCHEDULED_AFTER),
        (pending_pod(scheduled=False), T0),
        (pending_pod(unschedulable=NOT_READY), T0),
    ],
    ids=["container-creating", "pod-initializing", "not-scheduled-yet", "nodes-not-ready-before-the-cni"],
)
def test_a_pod_that_just_started_is_starting_until_its_grace_ends(pod, since):
    health = classify_pod(pod)
    assert health.problem is not None and health.starting_since == since
    within = health.problem_at(since + POD_START_GRACE_SECONDS - 1)
    assert within is not None and within.starting and within.kind == "Starting"
    after = health.problem_at(since + POD_START_GRACE_SECONDS)
    assert after is not None and not after.starting and after.kind == "Pending"


@pytest.mark.parametrize(
    "pod",
    [
        pending_pod("ImagePullBackOff"),
        pending_pod("CrashLoopBackOff"),
        pending_pod("CreateContainerConfigError"),
        pending_pod(unschedulable="0/3 nodes are available: 3 Insufficient memory."),
        pending_pod(
            unschedulable="0/4 nodes are available: 2 Insufficient cpu, 2 node(s) had untolerated taint "
            "{node.kubernetes.io/not-ready: }."
        ),
    ],
    ids=["image-pull", "crash-loop", "config-error", "insufficient-memory", "not-ready-and-insufficient"],
)
def test_a_real_reason_is_a_problem_at_once(pod):
    problem = classify_pod(pod).problem_at(T0 + 1)
    assert problem is not None and not problem.starting


def test_a_pod_without_timestamps_gets_no_grace():
    pod = pending_pod("ContainerCreating")
    del pod["metadata"]["creationTimestamp"]
    del pod["status"]["conditions"][0]["lastTransitionTime"]
    assert not classify_pod(pod).problem_at(T0 + 1).starting


def test_the_summary_lists_starting_pods_last_and_counts_them_per_namespace():
    crash = pending_pod("CrashLoopBackOff", name="api-1")
    pods = [classify_pod(pending_pod("ContainerCreating")), classify_pod(crash)]
    problems, namespaces, healthy = summarise_pods(pods, now=T0 + SCHEDULED_AFTER + 5)
    assert [(p.name, p.kind) for p in problems] == [("api-1", "CrashLoopBackOff"), ("web-1", "Starting")]
    assert (namespaces[0].healthy, namespaces[0].starting, namespaces[0].total) == (0, 1, 2)
    assert healthy == ()
    # Without a time every grace is over: the old view, every Pending pod a problem.
    assert [p.kind for p in summarise_pods(pods)[0]] == ["CrashLoopBackOff", "Pending"]


def test_the_blocked_line_says_a_starting_pod_is_starting():
    problem = classify_pod(pending_pod("ContainerCreating")).problem_at(T0 + SCHEDULED_AFTER)
    assert pod_note(problem) == "pod web-1 starting: web: ContainerCreating"


def test_the_observer_turns_a_starting_pod_into_a_problem_when_its_grace_runs_out():
    """Nothing about the pod changes: the observer's clock alone moves it from starting to a problem."""
    clock = ManualClock(start=T0 + SCHEDULED_AFTER + 1)
    observer = Observer(Drivers(talos=RaisingTalos({}), kube=ScriptedKube()), clock, talos_interval=0)
    observer.pods.replace([pending_pod("ContainerCreating")], "1")
    first = observer.snapshot()
    assert [p.kind for p in first.pod_problems] == ["Starting"] and first.real_pod_problems == ()
    assert observer.snapshot().pod_problems is first.pod_problems  # unchanged: not recomputed
    clock.time = T0 + SCHEDULED_AFTER + POD_START_GRACE_SECONDS
    late = observer.snapshot()
    assert [p.kind for p in late.pod_problems] == ["Pending"] and late.namespaces[0].starting == 0
