"""The default policy of application namespaces, applied to the real API server with Cilium's
real CiliumNetworkPolicy CRD (of each Cilium release the rehearsal registers): it is accepted
as rendered, and the CRD's schema is live (a policy naming an unknown entity is refused)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from talos_platform.engine.config.loading import read_config
from talos_platform.engine.render.app_network_policy import POLICY_NAME, app_network_policy
from talos_platform.rehearsal.binaries import cilium_crds_dir, pinned_versions
from talos_platform.rehearsal.cluster import wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CRD = "ciliumnetworkpolicies.cilium.io"
CILIUM_VERSIONS = pinned_versions()["CILIUM_CRD_VERSIONS"].split()


def _established(api_client) -> bool:
    crd = client.ApiextensionsV1Api(api_client).read_custom_resource_definition(CRD)
    return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])


@pytest.mark.parametrize("cilium", CILIUM_VERSIONS)
@pytest.mark.parametrize("example", ["metal-3cp-3w", "docker-single"])
def test_the_rendered_app_policy_is_accepted_by_ciliums_crd(
    cilium, example, rehearsal_cluster, kube_api_client, kube_namespace
):
    # Registered as the cilium-operator registers it when it starts.
    crd_file = cilium_crds_dir(cilium) / "ciliumnetworkpolicies.yaml"
    rehearsal_cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "--field-manager", "cilium-operator", "-f", str(crd_file)
    )
    wait_for(lambda: _established(kube_api_client), f"Cilium {cilium}'s {CRD} to be Established", timeout=30)

    policy = app_network_policy(read_config(EXAMPLES / f"{example}.yaml"))
    # As ArgoCD applies it: into the application's namespace, server-side.
    rehearsal_cluster.kubectl(
        "apply", "--server-side", "-n", kube_namespace, "-f", "-", input_text=yaml.safe_dump(policy)
    )
    stored = client.CustomObjectsApi(kube_api_client).get_namespaced_custom_object(
        "cilium.io", "v2", kube_namespace, "ciliumnetworkpolicies", POLICY_NAME
    )
    assert stored["spec"] == policy["spec"], "the API server kept the policy as rendered (nothing pruned)"

    wrong = copy.deepcopy(policy)
    wrong["metadata"]["name"] = "wrong-entity"
    wrong["spec"]["ingress"][1]["fromEntities"] = ["gateway"]
    refused = rehearsal_cluster.kubectl(
        "apply", "--server-side", "-n", kube_namespace, "-f", "-", check=False, input_text=yaml.safe_dump(wrong)
    )
    assert refused.returncode != 0 and "fromEntities" in refused.stderr
