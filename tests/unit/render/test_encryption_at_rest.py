"""The key that encrypts Secrets at rest: no rendered patch may touch it, and a generated
control-plane config must hold it in the form its Talos version reads."""

from __future__ import annotations

import sys

import pytest
import yaml
from render_helpers import variant

from talos_platform.engine.config.loading import ConfigInvalid
from talos_platform.engine.config.versions import TalosFeatures, kubernetes_supported_by, supported_talos_versions
from talos_platform.engine.render import encryption_at_rest, talos_patches
from talos_platform.engine.render.encryption_at_rest import machine_config_problem, patch_problems
from talos_platform.engine.render.validation_gate import ensure_valid

LEGACY = {"version": "v1alpha1", "cluster": {"clusterName": "demo", "secretboxEncryptionSecret": "a-key"}}


def encryption_document(*providers: dict) -> dict:
    return {
        "apiVersion": "v1alpha1",
        "kind": "KubeEtcdEncryptionConfig",
        "config": {"resources": [{"resources": ["secrets"], "providers": list(providers)}]},
    }


SECRETBOX = {"secretbox": {"keys": [{"name": "key2", "secret": "a-key"}]}}


def text(*documents: dict) -> str:
    return yaml.safe_dump_all(documents)


@pytest.mark.parametrize("version", supported_talos_versions())
@pytest.mark.parametrize("example", ["metal-3cp-3w", "docker-single"])
def test_our_patches_leave_the_key_alone(example, version):
    kubernetes = f"{kubernetes_supported_by(f'{version}.0')[-1]}.0"
    config = variant(example, **{"cluster.talosVersion": f"{version}.0", "cluster.kubernetesVersion": kubernetes})
    assert patch_problems(talos_patches(config)) == []
    ensure_valid(config)


@pytest.mark.parametrize(
    "patch, said",
    [
        ({"cluster": {"secretboxEncryptionSecret": "mine"}}, "sets `cluster.secretboxEncryptionSecret`"),
        ({"cluster": {"aescbcEncryptionSecret": "mine"}}, "sets `cluster.aescbcEncryptionSecret`"),
        ({"cluster": {"$patch": "delete"}}, "deletes the `cluster` section"),
        ({"$patch": "delete"}, "deletes the whole v1alpha1 document"),
        ({"apiVersion": "v1alpha1", "kind": "KubeEtcdEncryptionConfig", "$patch": "delete"}, "replaces or deletes"),
        ([{"op": "remove", "path": "/cluster/secretboxEncryptionSecret"}], "JSON patch operation"),
        ([{"op": "replace", "path": "/cluster", "value": {}}], "JSON patch operation"),
    ],
)
def test_a_patch_that_sets_replaces_or_removes_the_key_is_named(patch, said):
    patches = {"all.yaml": "machine: {}\n", "controlplane.yaml": yaml.safe_dump(patch)}
    [problem] = patch_problems(patches)
    assert problem.path == "talos/controlplane.yaml" and said in problem.message
    assert "secrets bundle" in problem.hint


def test_patches_about_other_settings_pass():
    patches = {
        "controlplane.yaml": text({"cluster": {"proxy": {"disabled": True}}}, {"kind": "KubeProxyConfig"}),
        "worker.yaml": text([{"op": "add", "path": "/machine/sysctls", "value": {}}]),  # type: ignore[arg-type]
    }
    assert patch_problems(patches) == []


def test_render_refuses_a_patch_that_would_drop_the_key(monkeypatch):
    config = variant("metal-3cp-3w")
    broken = {**talos_patches(config), "controlplane.yaml": "cluster:\n  secretboxEncryptionSecret: ''\n"}
    monkeypatch.setattr(sys.modules["talos_platform.engine.render.talos_patches"], "talos_patches", lambda _: broken)
    with pytest.raises(ConfigInvalid) as raised:
        ensure_valid(config)
    assert [problem.path for problem in raised.value.problems] == ["talos/controlplane.yaml"]
    assert encryption_at_rest.rendered_patch_problems(config)


OLD, NEW = TalosFeatures.for_version("v1.13.0"), TalosFeatures.for_version("v1.14.1")


@pytest.mark.parametrize(
    "documents, features, expected",
    [
        ((LEGACY,), OLD, ""),
        (({"cluster": {"aescbcEncryptionSecret": "an-old-key"}},), OLD, ""),
        ((LEGACY,), NEW, ""),  # 1.14 still accepts the legacy key
        (({"cluster": {}}, encryption_document(SECRETBOX)), NEW, ""),
        (({"cluster": {}}, encryption_document({"kms": {"name": "vault"}}, {"identity": {}})), NEW, ""),
        (({"cluster": {}},), OLD, "expected `cluster.secretboxEncryptionSecret`"),
        (({"cluster": {"secretboxEncryptionSecret": ""}},), OLD, "no key"),
        (({"cluster": {}},), NEW, "expected a KubeEtcdEncryptionConfig document"),
        # The document is a 1.14 kind: an older Talos does not read it.
        (({"cluster": {}}, encryption_document(SECRETBOX)), OLD, "no key"),
        (({"cluster": {}}, encryption_document({"identity": {}}, SECRETBOX)), NEW, "plain text is written"),
        (({"cluster": {}}, encryption_document({"secretbox": {"keys": []}})), NEW, "plain text is written"),
    ],
)
def test_a_control_plane_config_must_hold_the_key_its_talos_version_reads(documents, features, expected):
    problem = machine_config_problem(text(*documents), features)
    assert (expected in problem and problem) if expected else problem == ""


def test_a_config_that_is_not_yaml_is_named_as_such():
    assert "not valid YAML" in machine_config_problem("cluster: [", OLD)
