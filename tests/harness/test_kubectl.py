"""The real kubectl against the rehearsal cluster: server-side apply of CRDs, kustomize."""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client

from talos_platform.rehearsal.cluster import wait_for

WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.rehearsal.talos-platform.test
spec:
  group: rehearsal.talos-platform.test
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer, minimum: 1}
"""


def _established(api_client, name: str) -> bool:
    crd = client.ApiextensionsV1Api(api_client).read_custom_resource_definition(name)
    return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])


def test_crd_applied_server_side_becomes_established(
    rehearsal_cluster, kube_api_client, kube_namespace, tmp_path: Path
):
    manifest = tmp_path / "crd.yaml"
    manifest.write_text(WIDGET_CRD)
    applied = rehearsal_cluster.kubectl(
        "apply", "--server-side", "--field-manager", "rehearsal-test", "-f", str(manifest)
    )
    assert "serverside-applied" in applied.stdout
    wait_for(
        lambda: _established(kube_api_client, "widgets.rehearsal.talos-platform.test"),
        "the Widget CRD to be Established",
        timeout=30,
    )

    # The new kind is served and validated: a valid object applies, an invalid one is refused.
    widget = {
        "apiVersion": "rehearsal.talos-platform.test/v1",
        "kind": "Widget",
        "metadata": {"name": "small", "namespace": kube_namespace},
        "spec": {"size": 2},
    }
    rehearsal_cluster.kubectl("apply", "--server-side", "-f", "-", input_text=yaml.safe_dump(widget))
    widget["spec"]["size"] = 0
    refused = rehearsal_cluster.kubectl(
        "apply", "--server-side", "-f", "-", check=False, input_text=yaml.safe_dump(widget)
    )
    assert refused.returncode != 0 and "spec.size" in refused.stderr
    managed = client.CustomObjectsApi(kube_api_client).get_namespaced_custom_object(
        "rehearsal.talos-platform.test", "v1", kube_namespace, "widgets", "small"
    )
    assert managed["spec"]["size"] == 2
    rehearsal_cluster.kubectl("delete", "crd", "widgets.rehearsal.talos-platform.test")


def test_kubectl_kustomize_builds_a_local_kustomization(harness_bin, tmp_path: Path):
    import subprocess

    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": "platform",
                "namePrefix": "rehearsal-",
                "commonLabels": {"app.kubernetes.io/part-of": "rehearsal"},
                "resources": ["service.yaml"],
                "configMapGenerator": [{"name": "settings", "literals": ["mode=rehearsal"]}],
            }
        )
    )
    (tmp_path / "service.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}},
            }
        )
    )
    built = subprocess.run(
        [str(harness_bin("kubectl")), "kustomize", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all(built.stdout)}
    assert documents["Service"]["metadata"]["name"] == "rehearsal-web"
    assert documents["Service"]["metadata"]["namespace"] == "platform"
    assert documents["Service"]["spec"]["selector"]["app.kubernetes.io/part-of"] == "rehearsal"
    config_map = documents["ConfigMap"]
    # The generator appends a content hash to the name.
    assert config_map["metadata"]["name"].startswith("rehearsal-settings-")
    assert config_map["data"] == {"mode": "rehearsal"}
