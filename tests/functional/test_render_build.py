"""Every kustomization of a rendered tree builds with the real `kubectl kustomize`, and the Talos
patches produce valid machine configs with the real `talosctl`.

Upstream charts and manifests cannot be downloaded here (and a test must never reach the
network), so each test first checks that every upstream reference is the pinned one, then
rewrites those references to small local stand-ins (a tiny chart that renders the values it was
given, a tiny CRD manifest) and builds the rest for real: our own YAML is always built, and the
values we pass reach Helm intact. No http(s) reference is left in what kustomize sees, and
proxies point at a closed loopback port so any attempted download fails instead of leaving.

Binaries: kubectl and talosctl from the harness cache (scripts/build-harness.sh), helm from
scripts/build-helm.sh; kubectl and helm fall back to PATH. Missing binaries skip these tests
unless TALOS_PLATFORM_REQUIRE_HARNESS is set, then they fail.
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

from talos_platform.engine.config.loading import load_config
from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.versions import TalosFeatures, kubernetes_supported_by
from talos_platform.engine.render import render_repository
from talos_platform.engine.render.upstream import (
    argocd_chart,
    cilium_chart,
    gateway_api_manifest_url,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
EXAMPLE_NAMES = ("metal-3cp-3w", "docker-single")
REQUIRE_HARNESS = "TALOS_PLATFORM_REQUIRE_HARNESS"
CLOSED_PORT_PROXY = "http://127.0.0.1:9"

STANDIN_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gateways.gateway.networking.k8s.io"},
    "spec": {
        "group": "gateway.networking.k8s.io",
        "names": {"kind": "Gateway", "listKind": "GatewayList", "plural": "gateways", "singular": "gateway"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}

# The stand-in chart renders one ConfigMap holding exactly the values Helm received.
STANDIN_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-standin-values
  namespace: {{ .Release.Namespace }}
  labels:
    chart: {{ .Chart.Name }}-{{ .Chart.Version }}
data:
  values.yaml: |
{{ toYaml .Values | indent 4 }}
"""


def _missing(what: str) -> None:
    if os.environ.get(REQUIRE_HARNESS):
        pytest.fail(f"{what} is required ({REQUIRE_HARNESS} is set) but was not found")
    pytest.skip(f"{what} not found")


def _script_output(script: str, flag: str) -> Path | None:
    path = REPO_ROOT / "scripts" / script
    if not path.is_file():
        return None
    completed = subprocess.run(["bash", str(path), flag], capture_output=True, text=True, timeout=30)
    return Path(completed.stdout.strip()) if completed.returncode == 0 and completed.stdout.strip() else None


def _harness_binary(name: str) -> Path | None:
    bin_dir = _script_output("build-harness.sh", "--print-bin-dir")
    if bin_dir and os.access(bin_dir / name, os.X_OK):
        return bin_dir / name
    return None


def _on_path(name: str) -> Path | None:
    found = shutil.which(name)
    return Path(found) if found else None


@pytest.fixture(scope="module")
def kubectl() -> Path:
    path = _harness_binary("kubectl") or _on_path("kubectl")
    if path is None:
        _missing("kubectl (scripts/build-harness.sh kubectl, or kubectl on PATH)")
    return path


@pytest.fixture(scope="module")
def helm() -> Path:
    built = _script_output("build-helm.sh", "--print-path")
    path = built if built and os.access(built, os.X_OK) else _on_path("helm")
    if path is None:
        _missing("helm (scripts/build-helm.sh)")
    return path


@pytest.fixture(scope="module")
def talosctl() -> Path:
    path = _harness_binary("talosctl")
    if path is None:
        _missing("talosctl (scripts/build-harness.sh talosctl)")
    return path


def offline_env(home: Path) -> dict[str, str]:
    """A private HOME and proxies on a closed loopback port: nothing can be fetched."""
    env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
    env.update(
        HOME=str(home),
        HTTP_PROXY=CLOSED_PORT_PROXY,
        HTTPS_PROXY=CLOSED_PORT_PROXY,
        http_proxy=CLOSED_PORT_PROXY,
        https_proxy=CLOSED_PORT_PROXY,
        HELM_CACHE_HOME=str(home / "helm-cache"),
        HELM_CONFIG_HOME=str(home / "helm-config"),
        HELM_DATA_HOME=str(home / "helm-data"),
    )
    return env


def render(name: str, tmp_path: Path) -> tuple[PlatformConfig, Path]:
    config = load_config(EXAMPLES / f"{name}.yaml")
    out = tmp_path / "rendered"
    render_repository(config, out)
    return config, out


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def is_remote(reference: str) -> bool:
    return reference.startswith(("http://", "https://", "git@", "ssh://", "github.com/"))


def check_pins_and_use_standins(config: PlatformConfig, folder: Path) -> dict[str, Any]:
    """Check the upstream references of `folder/kustomization.yaml` against the config's pins,
    then point them at local stand-ins. Returns {chart name: values file content}."""
    kustomization_path = folder / "kustomization.yaml"
    kustomization = load(kustomization_path)
    expected_charts = {chart.name: chart for chart in (cilium_chart(config), argocd_chart(config))}
    resources = []
    for resource in kustomization.get("resources", []):
        if is_remote(resource):
            assert resource == gateway_api_manifest_url(config)
            (folder / "standin-gateway-api-crds.yaml").write_text(yaml.safe_dump(STANDIN_CRD))
            resource = "standin-gateway-api-crds.yaml"
        resources.append(resource)
    kustomization["resources"] = resources
    values_by_chart = {}
    for chart in kustomization.get("helmCharts", []):
        pinned = expected_charts[chart["name"]]
        assert (chart["repo"], chart["version"], chart["releaseName"], chart["namespace"]) == (
            pinned.repo,
            pinned.version,
            pinned.release,
            pinned.namespace,
        )
        del chart["repo"]  # kustomize then uses the chart in charts/<name> instead of pulling
        chart_dir = folder / "charts" / chart["name"]
        (chart_dir / "templates").mkdir(parents=True)
        (chart_dir / "Chart.yaml").write_text(
            yaml.safe_dump({"apiVersion": "v2", "name": chart["name"], "version": chart["version"]})
        )
        (chart_dir / "templates" / "values.yaml").write_text(STANDIN_TEMPLATE)
        values_by_chart[chart["name"]] = load(folder / chart["valuesFile"])
    kustomization_path.write_text(yaml.safe_dump(kustomization))
    text = kustomization_path.read_text()
    assert "http://" not in text and "https://" not in text, "a URL is left for kustomize to fetch"
    return values_by_chart


def build(kubectl: Path, helm: Path | None, folder: Path, home: Path) -> list[dict[str, Any]]:
    command = [str(kubectl), "kustomize", str(folder)]
    if helm is not None:
        command += ["--enable-helm", "--helm-command", str(helm)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, env=offline_env(home))
    assert completed.returncode == 0, f"kubectl kustomize {folder} failed:\n{completed.stderr}"
    built = [document for document in yaml.safe_load_all(completed.stdout) if document]
    assert built, f"{folder} built nothing"
    for document in built:
        assert document.get("apiVersion") and document.get("kind") and document["metadata"].get("name")
    return built


def kustomization_folders(root: Path) -> list[Path]:
    return sorted(path.parent for path in root.rglob("kustomization.yaml"))


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_kustomization_builds(name: str, tmp_path: Path, kubectl: Path, helm: Path) -> None:
    config, root = render(name, tmp_path)
    folders = kustomization_folders(root)
    assert {folder.relative_to(root).as_posix() for folder in folders} >= {
        "bootstrap",
        "layer-0",
        "apps",
        "apps/hello",
    }
    built_by_folder = {}
    for folder in folders:
        values_by_chart = check_pins_and_use_standins(config, folder)
        built = build(kubectl, helm if values_by_chart else None, folder, tmp_path / "home")
        built_by_folder[folder.relative_to(root).as_posix()] = built
        # Each chart received exactly the values file we rendered.
        for chart, values in values_by_chart.items():
            standins = [
                document
                for document in built
                if document["kind"] == "ConfigMap"
                and document["metadata"]["name"].endswith("-standin-values")
                and document["metadata"]["labels"]["chart"].startswith(f"{chart}-")
            ]
            assert len(standins) == 1, chart
            assert yaml.safe_load(standins[0]["data"]["values.yaml"]) == values

    layer0 = built_by_folder["layer-0"]
    assert {document["kind"] for document in layer0} == {"Application"}
    expected_waves = {
        "gateway-api-crds": "-100",
        "cilium": "-99",
        "cert-manager": "-98",
        "external-dns": "-97",
        "argocd": "-96",
        "platform": "0",
        "apps": "10",
    }
    for app in layer0:
        name = app["metadata"]["name"]
        assert app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == expected_waves[name]
    assert {app["metadata"]["name"] for app in layer0} >= {"gateway-api-crds", "cilium", "argocd", "apps"}
    bootstrap = built_by_folder["bootstrap"]
    kinds = {(document["kind"], document["metadata"]["name"]) for document in bootstrap}
    assert ("CustomResourceDefinition", "gateways.gateway.networking.k8s.io") in kinds
    assert ("Namespace", "argocd") in kinds
    assert [document["kind"] for document in built_by_folder["apps"]] == ["ApplicationSet"]
    assert {document["kind"] for document in built_by_folder["apps/hello"]} == {"Deployment", "Service"}


def test_argocd_receives_the_application_health_check(tmp_path: Path, kubectl: Path, helm: Path) -> None:
    config, root = render("metal-3cp-3w", tmp_path)
    values = check_pins_and_use_standins(config, root / "bootstrap")["argo-cd"]
    lua = values["configs"]["cm"]["resource.customizations.health.argoproj.io_Application"]
    built = build(kubectl, helm, root / "bootstrap", tmp_path / "home")
    argocd = [document for document in built if document["metadata"]["name"] == "argocd-standin-values"]
    assert len(argocd) == 1
    received = yaml.safe_load(argocd[0]["data"]["values.yaml"])
    assert received["configs"]["cm"]["resource.customizations.health.argoproj.io_Application"] == lua
    assert argocd[0]["metadata"]["namespace"] == "argocd"


def _client_version(talosctl: Path, home: Path) -> str:
    completed = subprocess.run(
        [str(talosctl), "version", "--client"], capture_output=True, text=True, timeout=60, env=offline_env(home)
    )
    found = re.search(r"Tag:\s*(v\d+\.\d+\.\d+)", completed.stdout)
    assert found, f"no version in `talosctl version --client`: {completed.stdout}{completed.stderr}"
    return found.group(1)


def test_talos_patches_make_valid_machine_configs(tmp_path: Path, talosctl: Path) -> None:
    """At the harness talosctl's own Talos version (tests/harness/test_talos_versions.py covers
    the others): gen config with our patches, apply each per-node patch, and let talosctl
    validate the result for metal."""
    config = load_config(EXAMPLES / "metal-3cp-3w.yaml")
    config.cluster.talos_version = _client_version(talosctl, tmp_path / "home")
    config.cluster.kubernetes_version = kubernetes_supported_by(config.cluster.talos_version)[-1] + ".0"
    root = tmp_path / "rendered"
    render_repository(config, root)
    contract = TalosFeatures.for_version(config.cluster.talos_version).contract
    env = offline_env(tmp_path / "home")
    work = tmp_path / "talos"
    work.mkdir()

    def run(*args: str) -> None:
        completed = subprocess.run(
            [str(talosctl), *args], capture_output=True, text=True, timeout=120, env=env, cwd=work
        )
        assert completed.returncode == 0, f"talosctl {' '.join(args)} failed:\n{completed.stderr}"

    patches = root / "talos"
    run("gen", "secrets", "-o", "secrets.yaml")
    run(
        "gen",
        "config",
        config.cluster.name,
        f"https://{config.api_endpoint_host}:6443",
        "--with-secrets",
        "secrets.yaml",
        "--talos-version",
        contract,
        "--kubernetes-version",
        config.cluster.kubernetes_version.lstrip("v"),
        "--config-patch",
        f"@{patches / 'all.yaml'}",
        "--config-patch-control-plane",
        f"@{patches / 'controlplane.yaml'}",
        "--config-patch-worker",
        f"@{patches / 'worker.yaml'}",
        "--with-docs=false",
        "--with-examples=false",
        "--output-dir",
        "generated",
    )
    for node in config.nodes:
        base = "controlplane.yaml" if node in config.control_planes else "worker.yaml"
        run(
            "machineconfig",
            "patch",
            f"generated/{base}",
            "--patch",
            f"@{patches / 'nodes' / (node.name + '.yaml')}",
            "--output",
            f"{node.name}.yaml",
        )
        run("validate", "--config", f"{node.name}.yaml", "--mode", "metal", "--strict")
        machine_config = load(work / f"{node.name}.yaml")
        assert machine_config["machine"]["network"]["hostname"] == node.name
        assert machine_config["machine"]["install"]["disk"] == node.install_disk
        assert machine_config["cluster"]["network"]["cni"]["name"] == "none"
        assert machine_config["cluster"]["proxy"]["disabled"] is True
        assert "127.0.0.1" in machine_config["machine"]["certSANs"]
        if node in config.control_planes:
            assert machine_config["cluster"]["apiServer"]["certSANs"][0] == config.cluster.vip
            interfaces = machine_config["machine"]["network"]["interfaces"]
            assert interfaces[0]["vip"]["ip"] == config.cluster.vip
