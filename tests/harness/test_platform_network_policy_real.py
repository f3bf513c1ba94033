"""The policies of the platform namespaces, applied to the real API server with Cilium's real
CiliumNetworkPolicy CRD (of each Cilium release the rehearsal registers) the way ArgoCD applies
them: each rendered `platform/network-policies/<namespace>/` folder built by kustomize into the
component's namespace, server-side. Each is accepted and kept as rendered (nothing pruned by the
CRD's schema), and the schema of what they use is live (ports, protocols, deny rules)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from talos_platform.engine.config.loading import read_config
from talos_platform.engine.render import render_tree
from talos_platform.engine.render.platform_network_policy import FOLDER, POLICY_FILE, POLICY_NAME
from talos_platform.rehearsal.binaries import cilium_crds_dir, pinned_versions
from talos_platform.rehearsal.cluster import wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CRD = "ciliumnetworkpolicies.cilium.io"
CILIUM_VERSIONS = pinned_versions()["CILIUM_CRD_VERSIONS"].split()
PREFIX = f"platform/{FOLDER}/"


def rendered_folders(example: str) -> dict[str, dict[str, bytes]]:
    """Policed namespace -> the files of its folder, as the render writes them."""
    folders: dict[str, dict[str, bytes]] = {}
    for path, content in render_tree(read_config(EXAMPLES / f"{example}.yaml")).items():
        if path.startswith(PREFIX):
            namespace, name = path.removeprefix(PREFIX).split("/", 1)
            folders.setdefault(namespace, {})[name] = content
    return folders


CASES = [
    (example, namespace) for example in ("metal-3cp-3w", "docker-single") for namespace in rendered_folders(example)
]


def _established(api_client) -> bool:
    crd = client.ApiextensionsV1Api(api_client).read_custom_resource_definition(CRD)
    return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])


def _register_crd(rehearsal_cluster, api_client, cilium: str) -> None:
    # Registered as the cilium-operator registers it when it starts.
    crd_file = cilium_crds_dir(cilium) / "ciliumnetworkpolicies.yaml"
    rehearsal_cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "--field-manager", "cilium-operator", "-f", str(crd_file)
    )
    wait_for(lambda: _established(api_client), f"Cilium {cilium}'s {CRD} to be Established", timeout=30)


def test_the_render_polices_the_namespaces_whose_flows_are_known():
    assert sorted(rendered_folders("metal-3cp-3w")) == ["cloudflare-tunnel", "monitoring", "vault"]
    assert sorted(rendered_folders("docker-single")) == ["monitoring", "vault"]


@pytest.mark.parametrize("cilium", CILIUM_VERSIONS)
@pytest.mark.parametrize("example, policed", CASES)
def test_each_rendered_platform_policy_is_accepted_by_ciliums_crd_as_rendered(
    cilium, example, policed, rehearsal_cluster, kube_api_client, kube_namespace, tmp_path
):
    _register_crd(rehearsal_cluster, kube_api_client, cilium)
    folder = tmp_path / policed
    folder.mkdir()
    for name, content in rendered_folders(example)[policed].items():
        (folder / name).write_bytes(content)

    # As ArgoCD applies the Application's second source: kustomize builds the folder, the
    # objects go into the destination namespace (here the test's own), server-side.
    rehearsal_cluster.kubectl("apply", "--server-side", "-n", kube_namespace, "-k", str(folder))
    rendered = yaml.safe_load((folder / POLICY_FILE).read_text())
    stored = client.CustomObjectsApi(kube_api_client).get_namespaced_custom_object(
        "cilium.io", "v2", kube_namespace, "ciliumnetworkpolicies", POLICY_NAME
    )
    assert stored["spec"] == rendered["spec"], "the API server kept the policy as rendered (nothing pruned)"

    # The schema of the port rules is live: a protocol Cilium does not know is refused.
    wrong = copy.deepcopy(rendered)
    wrong["metadata"]["name"] = "wrong-protocol"
    ported = next(rule for rule in wrong["spec"]["ingress"] if "toPorts" in rule)
    ported["toPorts"][0]["ports"][0]["protocol"] = "HTTP"
    refused = rehearsal_cluster.kubectl(
        "apply", "--server-side", "-n", kube_namespace, "-f", "-", check=False, input_text=yaml.safe_dump(wrong)
    )
    assert refused.returncode != 0 and "protocol" in refused.stderr
