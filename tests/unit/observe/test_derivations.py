"""Pure derivations: pod problems, apps by wave, nodes merged from Kubernetes and Talos."""

from talos_platform.engine.drivers.protocols import TalosNodeFacts
from talos_platform.engine.observe.apps import app_view, group_by_wave
from talos_platform.engine.observe.nodes import TalosTarget, UsageHistory, kube_node, merge_nodes
from talos_platform.engine.observe.pods import classify_pod, owning_app, sort_problems


def a_pod(phase="Running", containers=None, conditions=None, **metadata):
    return {
        "metadata": {"name": "p", "namespace": "ns", **metadata},
        "spec": {"nodeName": "w1"},
        "status": {"phase": phase, "containerStatuses": containers or [], "conditions": conditions or []},
    }


def test_crash_loop_shows_the_oom_kill_behind_it():
    pod = a_pod(
        containers=[
            {
                "name": "api",
                "restartCount": 7,
                "ready": False,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
            }
        ]
    )
    problem = classify_pod(pod).problem
    assert (problem.kind, problem.severity, problem.restarts) == ("OOMKilled", 0, 7)
    assert "OOMKilled (exit 137)" in problem.detail


def test_plain_crash_loop_names_the_last_exit():
    pod = a_pod(
        containers=[
            {
                "name": "api",
                "restartCount": 2,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
            }
        ]
    )
    problem = classify_pod(pod).problem
    assert problem.kind == "CrashLoopBackOff" and "last exit Error 1" in problem.detail


def test_pending_carries_the_scheduler_reason():
    pod = a_pod(
        phase="Pending",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient memory.",
            }
        ],
    )
    problem = classify_pod(pod).problem
    assert problem.kind == "Pending"
    assert problem.detail == "Unschedulable: 0/3 nodes are available: 3 Insufficient memory."


def test_image_pull_error_and_restarts_and_healthy():
    pulling = a_pod(
        phase="Pending",
        containers=[{"name": "web", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}}],
    )
    assert classify_pod(pulling).problem.kind == "ImagePull"
    restarted = a_pod(containers=[{"name": "web", "ready": True, "restartCount": 5, "state": {"running": {}}}])
    assert classify_pod(restarted).problem.kind == "Restarts"
    healthy = a_pod(containers=[{"name": "web", "ready": True, "restartCount": 1, "state": {"running": {}}}])
    assert classify_pod(healthy).healthy
    assert classify_pod(a_pod(phase="Succeeded")).healthy


def test_problems_sort_worst_first():
    pending = classify_pod(a_pod(phase="Pending")).problem
    crash = classify_pod(
        a_pod(containers=[{"name": "x", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}])
    ).problem
    assert [p.kind for p in sort_problems([pending, crash])] == ["CrashLoopBackOff", "Pending"]


def test_owning_app_from_label_or_tracking_annotation():
    assert owning_app(a_pod(labels={"app.kubernetes.io/instance": "grafana"})) == "grafana"
    assert (
        owning_app(a_pod(annotations={"argocd.argoproj.io/tracking-id": "vault:apps/StatefulSet:vault/vault"}))
        == "vault"
    )
    assert owning_app(a_pod()) == ""


def application(name, wave, sync="Synced", health="Healthy", message=""):
    return {
        "metadata": {"name": name, "namespace": "argocd", "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}},
        "status": {"sync": {"status": sync}, "health": {"status": health, "message": message}},
    }


def test_waves_are_ordered_and_the_first_unfinished_one_names_its_blocker():
    apps = [
        app_view(a)
        for a in (
            application("vault", 0, "Synced", "Progressing"),
            application("cilium", -99),
            application(
                "cert-manager", -98, "OutOfSync", "Degraded", "Deployment cert-manager-webhook has 0 ready replicas"
            ),
            application("external-dns", -98),
            application("gateway-api", -100),
        )
    ]
    waves, blocked = group_by_wave(apps)
    assert [(w.wave, w.state) for w in waves] == [(-100, "done"), (-99, "done"), (-98, "blocked"), (0, "waiting")]
    assert blocked == "wave -98 is blocked by cert-manager: Deployment cert-manager-webhook has 0 ready replicas"
    assert waves[2].apps[0].name == "cert-manager"  # unsettled first


def test_missing_or_odd_wave_annotation_means_wave_zero():
    app = application("x", 0)
    del app["metadata"]["annotations"]
    assert app_view(app).wave == 0
    assert group_by_wave([app_view(app)])[1] == ""


def test_unreachable_and_unknown_nodes_are_rows_not_failures():
    cp = kube_node(
        {
            "metadata": {"name": "cp-1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "status": {
                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "nodeInfo": {"kubeletVersion": "v1.34.1"},
            },
        }
    )
    facts = {
        "10.0.0.1": TalosNodeFacts(
            "10.0.0.1", True, stage="running", talos_version="v1.11.5", cpu_percent=12.0, memory_percent=40.0
        ),
        "10.0.0.9": TalosNodeFacts("10.0.0.9", False, error="connection refused"),
    }
    history = UsageHistory()
    for f in facts.values():
        history.record(f)
    nodes = merge_nodes(
        [cp],
        facts,
        [TalosTarget("10.0.0.1", "cp-1", "control-plane"), TalosTarget("10.0.0.9", "w-9", "worker")],
        history,
    )
    assert [(n.name, n.reachable, n.ready) for n in nodes] == [("cp-1", True, True), ("w-9", False, None)]
    assert nodes[0].cpu_history == (12.0,) and nodes[0].kubernetes_version == "v1.34.1"
    assert nodes[1].error == "connection refused"


def test_a_configured_node_kubernetes_knows_by_name_is_one_row():
    cp = kube_node(
        {"metadata": {"name": "cp-1"}, "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}
    )
    nodes = merge_nodes([cp], {}, [TalosTarget("10.0.0.99", "cp-1", "control-plane")])
    assert [(n.name, n.address) for n in nodes] == [("cp-1", "10.0.0.1")]


def test_targets_from_config_drop_the_prefix_length():
    from talos_platform.engine.config.models import Node

    assert TalosTarget.from_config(Node(name="cp-1", address="10.0.0.11/24", role="control-plane")) == TalosTarget(
        "10.0.0.11", "cp-1", "control-plane"
    )


def test_a_pod_security_refusal_event_becomes_a_problem_row_in_plain_words():
    from talos_platform.engine.observe.pods import refusal_problem

    event = {
        "reason": "FailedCreate",
        "type": "Warning",
        "involvedObject": {"kind": "DaemonSet", "namespace": "monitoring", "name": "node-exporter"},
        "message": 'Error creating: pods "node-exporter-x2x9k" is forbidden: violates PodSecurity "baseline:latest": '
        "host namespaces (hostNetwork=true, hostPID=true)",
    }
    problem = refusal_problem(event)
    assert (problem.namespace, problem.name, problem.kind) == ("monitoring", "node-exporter", "PodSecurity")
    assert problem.detail.startswith(
        'DaemonSet cannot create pods: PodSecurity level "baseline" of namespace monitoring refuses host namespaces'
    )
    assert refusal_problem({**event, "reason": "FailedScheduling"}) is None
    assert refusal_problem({**event, "message": "Error creating: quota exceeded"}) is None
