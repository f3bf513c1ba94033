"""The wave line names the leaf: an app of apps that only waits on a child is followed down to
the Application that is unhealthy, the resource it waits on, and the pods behind it."""

from talos_platform.engine.observe.apps import app_view, group_by_wave
from talos_platform.engine.observe.blockers import pods_behind, trace
from talos_platform.engine.observe.snapshot import PodProblem


def application(name, wave, sync="Synced", health="Healthy", message="", resources=(), operation=None):
    status = {"sync": {"status": sync}, "health": {"status": health}, "resources": list(resources)}
    if message:
        status["health"]["message"] = message
    if operation:
        status["operationState"] = {"phase": "Running", "message": operation}
    return {
        "metadata": {"name": name, "namespace": "argocd", "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}},
        "status": status,
    }


def child(name, health, wave=0, message=""):
    entry = {"group": "argoproj.io", "kind": "Application", "namespace": "argocd", "name": name, "status": "Synced"}
    entry["health"] = {"status": health, **({"message": message} if message else {})}
    if wave:
        entry["syncWave"] = wave
    return entry


PROMETHEUS = {
    "group": "apps",
    "kind": "StatefulSet",
    "namespace": "monitoring",
    "name": "prometheus",
    "status": "Synced",
    "health": {"status": "Progressing", "message": "Waiting for 1 pods to be ready..."},
}

# ArgoCD's own words for the crash-loop scenario: the root waits on `platform`, which is
# Progressing because its child `monitoring` (wave 2) waits for a crash-looping Prometheus.
APPS = [
    application(
        "layer-0",
        0,
        "OutOfSync",
        "Missing",
        resources=[child("platform", "Progressing"), {"kind": "Application", "name": "apps", "status": "OutOfSync"}],
        operation="waiting for healthy state of argoproj.io/Application/platform",
    ),
    application(
        "platform",
        0,
        "Synced",
        "Progressing",
        "Waiting for 1 pods to be ready...",
        resources=[
            child("vault", "Healthy"),
            child("monitoring", "Progressing", 2, "Waiting for 1 pods to be ready..."),
        ],
    ),
    application("vault", 0),
    application("monitoring", 2, "Synced", "Progressing", "Waiting for 1 pods to be ready...", resources=[PROMETHEUS]),
]
OOM = PodProblem(
    "monitoring", "prometheus-0", "OOMKilled", "prometheus: OOMKilled (exit 137)", 0, 4, "worker-1", "monitoring"
)


def test_the_wave_line_names_the_leaf_application_its_resource_and_the_pod_behind_it():
    waves, blocked = group_by_wave([app_view(a) for a in APPS], [OOM])
    assert blocked == (
        "wave 0 is blocked by monitoring: StatefulSet monitoring/prometheus Progressing — "
        "Waiting for 1 pods to be ready... (pod prometheus-0 CrashLoopBackOff, OOMKilled)"
    )
    assert [w.state for w in waves] == ["blocked", "waiting"]


def test_a_parent_that_only_waits_is_shown_as_waiting_not_missing():
    root = app_view(APPS[0])
    assert root.only_waiting and root.waiting_for == "Application/platform"
    assert not app_view(APPS[3]).only_waiting  # the leaf is unhealthy itself


def test_trace_follows_the_children_and_records_the_way_down():
    views = {v.name: v for v in map(app_view, APPS)}
    blocker = trace(views["layer-0"], views)
    assert blocker.app.name == "monitoring" and blocker.via == ("layer-0", "platform")
    assert blocker.resource is not None and blocker.resource.label == "StatefulSet monitoring/prometheus"


def test_a_cycle_of_parents_ends_instead_of_looping():
    a = application("a", 0, "Synced", "Progressing", resources=[child("b", "Progressing")])
    b = application("b", 0, "Synced", "Progressing", resources=[child("a", "Progressing")])
    views = {v.name: v for v in map(app_view, (a, b))}
    assert trace(views["a"], views).app.name == "b"


def test_the_earliest_sync_wave_of_the_worst_health_is_the_blocker():
    resources = [
        {"kind": "Deployment", "namespace": "x", "name": "late", "syncWave": "5", "health": {"status": "Progressing"}},
        {"kind": "Deployment", "namespace": "x", "name": "early", "syncWave": "1", "health": {"status": "Progressing"}},
        {"kind": "Service", "namespace": "x", "name": "not-yet", "status": "OutOfSync"},
    ]
    view = app_view(application("x", 0, "OutOfSync", "Missing", resources=resources))
    views = {"x": view}
    assert trace(view, views).resource.name == "early"


def test_pods_behind_a_deployment_are_found_by_name_else_by_application():
    views = {v.name: v for v in map(app_view, APPS)}
    blocker = trace(views["layer-0"], views)
    other = PodProblem("monitoring", "grafana-1", "Pending", "x", 2, app="monitoring")
    assert pods_behind(blocker, [other, OOM]) == [OOM]
    assert pods_behind(blocker, [other]) == [other]


def test_a_wave_whose_pods_only_start_waits_and_is_not_blocked():
    """Progressing, and every pod behind it within its start grace: on its way, in plain words."""
    apps = [app_view(application("monitoring", 2, "Synced", "Progressing", resources=[PROMETHEUS]))]
    starting = PodProblem("monitoring", "prometheus-0", "Starting", "prometheus: ContainerCreating", 5)
    waves, line = group_by_wave(apps, [starting])
    assert [w.state for w in waves] == ["starting"]
    assert line.startswith("wave 2 waits for monitoring: StatefulSet monitoring/prometheus Progressing")
    assert line.endswith("(pod prometheus-0 starting: prometheus: ContainerCreating)")
    # The same pod past its grace (Pending) blocks the wave, as does a crash behind a starting one.
    pending = PodProblem("monitoring", "prometheus-0", "Pending", "prometheus: ContainerCreating", 2)
    assert group_by_wave(apps, [pending])[0][0].state == "blocked"
    crashing = PodProblem("monitoring", "prometheus-1", "CrashLoopBackOff", "back-off", 0)
    assert group_by_wave(apps, [crashing, starting])[0][0].state == "blocked"
