"""Each namespace's PodSecurity level, checked against the real upstream charts.

Talos enforces `baseline` in every namespace but kube-system, so the render labels each namespace
it creates with the level its pods need (engine/render/pod_security.py, docs/platform.md). This
test renders every Helm Application of both examples with real `helm template`, from the packaged
charts in `../shared/charts` at the pinned version and at the newest one there, with exactly the
values the Application carries, and checks every pod template (hooks included) against the Pod
Security Standards: the namespace's level must admit every pod, and must be the strictest level
that does (no namespace gets more than it needs). The rules are the standard's `baseline` and
`restricted` checks for what these charts use; the rehearsal's real API server remains the judge.

Needs helm (scripts/build-helm.sh or PATH) and the chart folder; skipped without them unless
TALOS_PLATFORM_REQUIRE_HARNESS is set. Nothing is downloaded: charts are local files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.applications import chart_source

from talos_platform.engine.config.loading import load_config
from talos_platform.engine.render import render_tree
from talos_platform.engine.render.pod_security import ENFORCE_LABEL

REPO_ROOT = Path(__file__).resolve().parents[2]
CHARTS = Path(os.environ.get("TALOS_PLATFORM_CHARTS", REPO_ROOT.parent / "shared" / "charts"))
REQUIRE_HARNESS = "TALOS_PLATFORM_REQUIRE_HARNESS"
LEVELS = ("restricted", "baseline", "privileged")

_BASELINE_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
_RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def _missing(what: str) -> None:
    if os.environ.get(REQUIRE_HARNESS):
        pytest.fail(f"{what} is required ({REQUIRE_HARNESS} is set) but was not found")
    pytest.skip(f"{what} not found")


@pytest.fixture(scope="module")
def helm() -> Path:
    script = REPO_ROOT / "scripts" / "build-helm.sh"
    built = subprocess.run(
        ["bash", str(script), "--print-path"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    path = (
        Path(built)
        if built and os.access(built, os.X_OK)
        else (Path(shutil.which("helm")) if shutil.which("helm") else None)
    )
    if path is None:
        _missing("helm (scripts/build-helm.sh)")
    if not CHARTS.is_dir():
        _missing(f"the packaged charts in {CHARTS}")
    return path


# --- the Pod Security Standards, for pod templates -----------------------------------------------


def baseline_failures(spec: dict[str, Any]) -> list[str]:
    found = [key for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)]
    found += [f"hostPath {v['name']}" for v in spec.get("volumes") or [] if "hostPath" in v]
    pod_seccomp = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        found.append("seccomp Unconfined")
    for container in _containers(spec):
        context = container.get("securityContext") or {}
        name = container.get("name", "")
        if context.get("privileged"):
            found.append(f"{name} privileged")
        added = set((context.get("capabilities") or {}).get("add") or []) - _BASELINE_CAPABILITIES
        if added:
            found.append(f"{name} adds {sorted(added)}")
        if any(port.get("hostPort") for port in container.get("ports") or []):
            found.append(f"{name} hostPort")
        if ((context.get("seccompProfile") or {}).get("type")) == "Unconfined":
            found.append(f"{name} seccomp Unconfined")
        if context.get("procMount") not in (None, "Default"):
            found.append(f"{name} procMount")
    return found


def restricted_failures(spec: dict[str, Any]) -> list[str]:
    found = [f"volume {v['name']}" for v in spec.get("volumes") or [] if not set(v) - {"name"} <= _RESTRICTED_VOLUMES]
    pod = spec.get("securityContext") or {}
    for container in _containers(spec):
        context = container.get("securityContext") or {}
        name = container.get("name", "")
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name} allowPrivilegeEscalation")
        if not context.get("runAsNonRoot", pod.get("runAsNonRoot")):
            found.append(f"{name} runAsNonRoot")
        if context.get("runAsUser", pod.get("runAsUser")) == 0:
            found.append(f"{name} runAsUser 0")
        seccomp = (context.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name} seccomp {seccomp}")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"{name} keeps capabilities")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"{name} adds capabilities")
    return found


def needed_level(spec: dict[str, Any]) -> str:
    if baseline_failures(spec):
        return "privileged"
    return "baseline" if restricted_failures(spec) else "restricted"


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def pod_specs(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    kind = document.get("kind")
    spec = document.get("spec") or {}
    name = f"{kind}/{(document.get('metadata') or {}).get('name', '')}"
    if kind in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"):
        return [(name, (spec.get("template") or {}).get("spec") or {})]
    if kind == "CronJob":
        return [(name, spec["jobTemplate"]["spec"]["template"]["spec"])]
    if kind == "Pod":
        annotations = (document.get("metadata") or {}).get("annotations") or {}
        if annotations.get("helm.sh/hook") == "test":
            return []  # helm test pods: ArgoCD never runs them
        return [(name, spec)]
    return []


# --- the rendered Applications and the charts ----------------------------------------------------


def chart_files(name: str, pinned: str) -> list[Path]:
    """The packaged chart at the pinned version, and the newest one in the folder."""
    pattern = re.compile(rf"^{re.escape(name)}-(v?\d+(?:\.\d+)*)\.tgz$")
    found = {match.group(1): path for path in CHARTS.iterdir() if (match := pattern.match(path.name))}
    if pinned not in found:
        pytest.fail(f"{name} {pinned} is not in {CHARTS}")
    newest = max(found, key=lambda version: tuple(int(part) for part in version.lstrip("v").split(".")))
    return sorted({found[pinned], found[newest]})


def helm_applications(example: str) -> list[dict[str, Any]]:
    tree = render_tree(load_config(REPO_ROOT / "examples" / f"{example}.yaml"))
    apps = []
    for path, content in tree.items():
        if path.endswith(".yaml") and path.count("/") == 1:
            for document in yaml.safe_load_all(content):
                if (document or {}).get("kind") == "Application" and chart_source(document):
                    apps.append(document)
    return apps


def namespace_level(app: dict[str, Any]) -> str:
    labels = ((app["spec"]["syncPolicy"].get("managedNamespaceMetadata") or {}).get("labels")) or {}
    namespace = app["spec"]["destination"]["namespace"]
    return "privileged" if namespace == "kube-system" else labels.get(ENFORCE_LABEL, "baseline")


@pytest.mark.parametrize("example", ["metal-3cp-3w", "docker-single"])
def test_every_helm_namespace_gets_exactly_the_level_its_pods_need(example: str, helm: Path, tmp_path: Path) -> None:
    checked = 0
    kubernetes = load_config(REPO_ROOT / "examples" / f"{example}.yaml").cluster.kubernetes_version.lstrip("v")
    apps = helm_applications(example)
    for app in apps:
        source = chart_source(app)
        assert source is not None
        namespace = app["spec"]["destination"]["namespace"]
        values = tmp_path / f"{app['metadata']['name']}.values.yaml"
        values.write_text(yaml.safe_dump((source.get("helm") or {}).get("valuesObject") or {}))
        for chart in chart_files(source["chart"], source["targetRevision"]):
            rendered = subprocess.run(
                [
                    str(helm),
                    "template",
                    source["helm"]["releaseName"],
                    str(chart),
                    "--namespace",
                    namespace,
                    "--values",
                    str(values),
                    "--kube-version",
                    kubernetes,
                    "--api-versions",
                    "monitoring.coreos.com/v1",
                    "--api-versions",
                    "gateway.networking.k8s.io/v1",
                ],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "HOME": str(tmp_path)},
            )
            assert rendered.returncode == 0, f"{chart.name}: {rendered.stderr[-2000:]}"
            needs = {
                f"{name}: {needed_level(spec)}": LEVELS.index(needed_level(spec))
                for document in yaml.safe_load_all(rendered.stdout)
                if document
                for name, spec in pod_specs(document)
            }
            assert needs, f"{chart.name} renders no pods"
            strictest_needed = LEVELS[max(needs.values())]
            if namespace == "kube-system":
                continue  # exempt, and never labelled
            assert namespace_level(app) == strictest_needed, (
                f"{app['metadata']['name']} ({chart.name}) in namespace {namespace} is labelled "
                f"{namespace_level(app)}, "
                f"its pods need {strictest_needed}: {sorted(needs)}"
            )
            checked += 1
    # Every chart outside kube-system, at least once (twice when the pinned one is not the newest).
    assert checked >= len([app for app in apps if app["spec"]["destination"]["namespace"] != "kube-system"]) >= 5


def test_our_own_workloads_fit_their_namespaces() -> None:
    tree = render_tree(load_config(REPO_ROOT / "examples" / "metal-3cp-3w.yaml"))
    tunnel = yaml.safe_load(tree["platform/cloudflare-tunnel/deployment.yaml"])
    assert needed_level(tunnel["spec"]["template"]["spec"]) == "restricted"
    assert (
        yaml.safe_load(tree["platform/cloudflare-tunnel/namespace.yaml"])["metadata"]["labels"][ENFORCE_LABEL]
        == "restricted"
    )
    # The local-path provisioner itself fits baseline; the helper pods it makes for each volume
    # mount the volume's parent folder from the host, which only `privileged` admits.
    provisioner = yaml.safe_load(tree["platform/local-path-storage/deployment.yaml"])
    assert needed_level(provisioner["spec"]["template"]["spec"]) != "privileged"
    config = yaml.safe_load(tree["platform/local-path-storage/configmap.yaml"])["data"]
    helper = yaml.safe_load(config["helperPod.yaml"])["spec"]
    helper["volumes"] = [
        {"name": "data", "hostPath": {"path": "/var/mnt/local-path-provisioner", "type": "DirectoryOrCreate"}}
    ]
    assert needed_level(helper) == "privileged"
    app = yaml.safe_load(tree["platform/local-path-storage.yaml"])
    assert namespace_level(app) == "privileged"
