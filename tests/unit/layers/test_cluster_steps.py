"""Layers 1-4: given what the Kubernetes API and Vault report, the calls a step makes, its waits
(watch-driven) and its failures with hints."""

import asyncio
import base64
import dataclasses
import json
import stat
import time
from datetime import UTC, datetime

import pytest
from support.cluster_data import pod_object
from support.drivers import FakeGit, FakeKube, FakeVault

from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.protocols import (
    APPLICATIONS,
    CRDS,
    DAEMONSETS,
    DEPLOYMENTS,
    NODES,
    PODS,
    SECRETS,
    STATEFULSETS,
)
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.layers import apps, cluster_bootstrap, git, layer0, platform, platform_steps
from talos_platform.engine.observe.apps import app_view, group_by_wave
from talos_platform.engine.observe.observer import summarise_pods
from talos_platform.engine.observe.pods import POD_START_GRACE_SECONDS, classify_pod

from .helpers import make_context, platform_config

SECRETS_GIVEN = Secrets(
    git_username="robot",
    git_token="ghp-token-value",
    cloudflare_api_token="cf-api-value",
    cloudflare_tunnel_token="cf-tunnel-value",
)


def crd(name, established=True, names_accepted=True):
    conditions = [
        {
            "type": "NamesAccepted",
            "status": "True" if names_accepted else "False",
            "message": "conflict with kind Gateway",
        }
    ]
    if established:
        conditions.append({"type": "Established", "status": "True"})
    return {"metadata": {"name": name}, "status": {"conditions": conditions}}


def daemonset(available, desired=3, generation=2, observed=2):
    return {
        "metadata": {"name": "cilium", "namespace": "kube-system", "generation": generation},
        "status": {
            "desiredNumberScheduled": desired,
            "updatedNumberScheduled": available,
            "numberAvailable": available,
            "observedGeneration": observed,
        },
    }


def node(name, ready):
    return {
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def deployment(name, available=True, replicas=1):
    return {
        "metadata": {"name": name, "namespace": "argocd", "generation": 1},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": 1,
            "updatedReplicas": replicas,
            "availableReplicas": replicas if available else 0,
            "conditions": [{"type": "Available", "status": "True" if available else "False"}],
        },
    }


def statefulset(name, ready=1, replicas=1):
    return {
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"replicas": replicas},
        "status": {"readyReplicas": ready, "updatedReplicas": replicas},
    }


def app(name, wave=0, sync="Synced", health="Healthy", message="", owner=None, resources=()):
    metadata = {"name": name, "namespace": "argocd", "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}}
    if owner:
        metadata["ownerReferences"] = [{"kind": "ApplicationSet", "name": owner}]
    health_block = {"status": health}
    if message:
        health_block["message"] = message
    return {
        "metadata": metadata,
        "status": {"sync": {"status": sync}, "health": health_block, "resources": list(resources)},
    }


# --- layer 1 ----------------------------------------------------------------------------------------


async def test_render_writes_the_tree_once(tmp_path):
    config = platform_config()
    ctx, _ = make_context(config, tmp_path)
    step = cluster_bootstrap.RenderRepository(config)
    first = await step.check(ctx)
    assert not first.done
    await step.apply(ctx, first)
    assert (ctx.state.rendered / "bootstrap" / "kustomization.yaml").exists()
    assert (ctx.state.rendered / "bootstrap-app.yaml").exists()
    assert (await step.check(ctx)).done


@pytest.mark.parametrize(
    "present, done",
    [((), False), (("argocd",), False), (("argocd", "cilium"), True)],
    ids=["fresh", "half", "applied"],
)
async def test_bootstrap_is_applied_unless_argocd_and_cilium_run(tmp_path, present, done):
    config = platform_config()
    kube = FakeKube()
    if "argocd" in present:
        kube.put(DEPLOYMENTS, deployment("argocd-server"))
    if "cilium" in present:
        kube.put(DAEMONSETS, daemonset(3))
    ctx, _ = make_context(config, tmp_path, kube=kube)
    result = await cluster_bootstrap.ApplyBootstrap(config).check(ctx)
    assert result.done is done
    if not done:
        folder = str(ctx.state.rendered / "bootstrap")
        assert result.actions[0].command == ("kubectl", "kustomize", "--enable-helm", folder)
        apply = result.actions[1].command
        assert apply[:4] == ("kubectl", "--kubeconfig", str(ctx.state.kubeconfig), "apply")
        assert "--server-side" in apply and "--force-conflicts" in apply


async def test_bootstrap_waits_for_crds_to_be_established_through_the_watch(tmp_path):
    config = platform_config()
    kube = FakeKube().put(CRDS, crd("gateways.gateway.networking.k8s.io", established=False))
    kube.later(CRDS, crd("gateways.gateway.networking.k8s.io"))
    ctx, lines = make_context(config, tmp_path, kube=kube)
    step = cluster_bootstrap.ApplyBootstrap(config)
    await step.apply(ctx, await step.check(ctx))
    await step.wait(ctx)
    assert ("apply_kustomization", ctx.state.rendered / "bootstrap") in kube.calls
    assert lines[-1] == "1 CRDs Established"
    assert ("watch", "customresourcedefinitions", "1") in kube.calls


async def test_a_crd_that_never_becomes_established_fails_with_its_name_and_why(tmp_path):
    config = platform_config()
    kube = FakeKube().put(
        CRDS,
        crd("applications.argoproj.io"),
        crd("gateways.gateway.networking.k8s.io", established=False, names_accepted=False),
    )
    ctx, _ = make_context(config, tmp_path, kube=kube)
    step = cluster_bootstrap.ApplyBootstrap(config)
    step.timeout = 0.3
    with pytest.raises(PermanentError) as failure:
        await step.wait(ctx)
    assert "gateways.gateway.networking.k8s.io: names not accepted: conflict with kind Gateway" in failure.value.message
    assert "kubectl get crd" in failure.value.hint


async def test_bootstrap_secrets_come_from_the_secrets_and_are_never_shown(tmp_path):
    config = platform_config(private=True)
    kube = FakeKube()
    ctx, lines = make_context(config, tmp_path, kube=kube, secrets=SECRETS_GIVEN)
    step = cluster_bootstrap.BootstrapSecrets(config)
    result = await step.check(ctx)
    names = [a.api_call for a in result.actions]
    assert names == [
        "server-side apply Namespace argocd, Namespace cert-manager, Namespace external-dns, "
        "Namespace cloudflare-tunnel, Secret argocd/gitops-repository, Secret cert-manager/cloudflare-api-token, "
        "Secret external-dns/cloudflare-api-token, Secret cloudflare-tunnel/cloudflared-token"
    ]
    await step.apply(ctx, result)
    repository = next(o for o in kube.applied if o["metadata"]["name"] == "gitops-repository")
    assert repository["metadata"]["labels"] == {"argocd.argoproj.io/secret-type": "repository"}
    decoded = {k: base64.b64decode(v).decode() for k, v in repository["data"].items()}
    assert decoded == {"password": "ghp-token-value", "type": "git", "url": config.gitops.repo_url, "username": "robot"}
    assert [o["kind"] for o in kube.applied].count("Namespace") == 4
    shown = json.dumps([a.__dict__ for a in result.actions]) + result.reason + "\n".join(lines)
    for value in SECRETS_GIVEN.values():
        assert value not in shown
    # In place with the same data: done, nothing applied again.
    for obj in kube.applied:
        if obj["kind"] == "Secret":
            kube.put(SECRETS, obj)
    assert (await step.check(ctx)).done


async def test_a_missing_secret_is_named_with_where_to_put_it(tmp_path):
    config = platform_config()
    ctx, _ = make_context(config, tmp_path, secrets=Secrets())
    with pytest.raises(PermanentError) as failure:
        await cluster_bootstrap.BootstrapSecrets(config).check(ctx)
    assert "`cloudflareApiToken`" in failure.value.message
    assert "TALOS_PLATFORM_CLOUDFLARE_API_TOKEN" in failure.value.hint


async def test_cilium_rollout_is_followed_until_every_node_runs_it(tmp_path):
    config = platform_config()
    kube = FakeKube().put(DAEMONSETS, daemonset(0)).later(DAEMONSETS, daemonset(1), daemonset(3))
    ctx, lines = make_context(config, tmp_path, kube=kube)
    step = cluster_bootstrap.CiliumRollout(config)
    assert not (await step.check(ctx)).done
    await step.wait(ctx)
    assert lines == ["0/3 available, 0/3 updated", "1/3 available, 1/3 updated", "3/3 available, 3/3 updated"]


async def test_a_rollout_the_controller_has_not_seen_is_not_done(tmp_path):
    ok, text = cluster_bootstrap.daemonset_rollout(daemonset(3, generation=3, observed=2))
    assert not ok and "not yet seen" in text


async def test_nodes_ready_names_the_nodes_it_waits_for(tmp_path):
    config = platform_config(workers=1)
    kube = FakeKube().put(NODES, node("cp-1", True), node("w-1", False))
    ctx, _ = make_context(config, tmp_path, kube=kube)
    step = cluster_bootstrap.NodesReady(config)
    result = await step.check(ctx)
    assert result.reason == "1/2 nodes Ready; waiting for w-1"
    step.timeout = 0.2
    with pytest.raises(PermanentError) as failure:
        await step.wait(ctx)
    assert "waiting for w-1" in failure.value.message and "kubectl describe node" in failure.value.hint


async def test_argocd_available(tmp_path):
    config = platform_config()
    kube = FakeKube().put(STATEFULSETS, statefulset("argocd-application-controller", ready=0))
    kube.put(DEPLOYMENTS, deployment("argocd-server", available=False), deployment("argocd-repo-server"))
    kube.later(STATEFULSETS, statefulset("argocd-application-controller", ready=1))
    kube.later(DEPLOYMENTS, deployment("argocd-server"))
    ctx, lines = make_context(config, tmp_path, kube=kube)
    step = cluster_bootstrap.ArgoCDAvailable(config)
    assert "argocd-server 0/1 available" in (await step.check(ctx)).reason
    await step.wait(ctx)
    assert lines[-1] == "ArgoCD is Available (2 Deployments, 1 StatefulSets)"


# --- layer 2 ----------------------------------------------------------------------------------------


async def rendered(ctx, config):
    step = cluster_bootstrap.RenderRepository(config)
    await step.apply(ctx, await step.check(ctx))


async def test_root_application_is_applied_from_the_rendered_file_once(tmp_path):
    config = platform_config()
    kube = FakeKube()
    ctx, _ = make_context(config, tmp_path, kube=kube)
    await rendered(ctx, config)
    step = layer0.RootApplication(config, needs=())
    result = await step.check(ctx)
    assert result.reason == "Application layer-0 does not exist yet"
    await step.apply(ctx, result)
    assert ("apply_objects", ["Application/argocd/layer-0"]) in kube.calls
    kube.put(APPLICATIONS, app("layer-0"))
    assert (await step.check(ctx)).done


def test_waves_follow_each_other_and_skip_disabled_components():
    config = platform_config(externalDns={"enabled": False})
    steps = layer0.wave_steps(config, first_needs=("L2.root-app",))
    assert [(s.id, s.needs) for s in steps] == [
        ("L2.wave-100", ("L2.root-app",)),
        ("L2.wave-99", ("L2.wave-100",)),
        ("L2.wave-98", ("L2.wave-99",)),
        ("L2.wave-96", ("L2.wave-98",)),
    ]


async def test_a_wave_converges_as_its_apps_turn_synced_and_healthy(tmp_path):
    config = platform_config()
    kube = FakeKube().put(APPLICATIONS, app("layer-0"), app("cilium", wave=-99, sync="OutOfSync", health="Missing"))
    kube.later(APPLICATIONS, app("cilium", wave=-99, health="Progressing"), app("cilium", wave=-99))
    ctx, lines = make_context(config, tmp_path, kube=kube)
    [wave] = [s for s in layer0.wave_steps(config, first_needs=()) if s.id == "L2.wave-99"]
    assert not (await wave.check(ctx)).done
    await wave.wait(ctx)
    assert lines[-1] == "wave -99: 1 Applications Synced and Healthy"


@pytest.mark.parametrize(
    "cert_manager, expected",
    [
        (
            app(
                "cert-manager",
                wave=-98,
                health="Degraded",
                message="Deployment cert-manager-webhook exceeded its progress deadline",
            ),
            "wave -98 is blocked by cert-manager: Synced/Degraded: Deployment cert-manager-webhook exceeded its "
            "progress deadline",
        ),
        (
            app(
                "cert-manager",
                wave=-98,
                health="Progressing",
                resources=[
                    {
                        "kind": "Deployment",
                        "namespace": "cert-manager",
                        "name": "cert-manager",
                        "health": {"status": "Degraded", "message": "ImagePullBackOff"},
                    }
                ],
            ),
            "wave -98 is blocked by cert-manager: Deployment cert-manager/cert-manager Degraded — ImagePullBackOff",
        ),
        (None, "wave -98 is waiting for Application cert-manager to be created"),
        (
            {
                "metadata": {
                    "name": "cert-manager",
                    "namespace": "argocd",
                    "annotations": {"argocd.argoproj.io/sync-wave": "-98"},
                }
            },
            "wave -98 is blocked by cert-manager: not reconciled by ArgoCD yet",
        ),
    ],
    ids=["degraded", "unhealthy-resource", "missing", "no-status"],
)
async def test_a_blocked_wave_names_the_app_and_why(tmp_path, cert_manager, expected):
    config = platform_config()
    kube = FakeKube().put(APPLICATIONS, app("layer-0"))
    if cert_manager:
        kube.put(APPLICATIONS, cert_manager)
    ctx, _ = make_context(config, tmp_path, kube=kube)
    [wave] = [s for s in layer0.wave_steps(config, first_needs=()) if s.id == "L2.wave-98"]
    wave.timeout = 0.3
    with pytest.raises(PermanentError) as failure:
        # As the runner does: the step's own message must come before the runner's timeout.
        await asyncio.wait_for(wave.wait(ctx), wave.timeout)
    assert failure.value.message.startswith(expected)
    assert "kubectl -n argocd get application cert-manager -o yaml" in failure.value.hint


def starting_cert_manager(seconds_since_scheduled: float) -> tuple[dict, dict]:
    """cert-manager Progressing on its Deployment, and the Deployment's pod scheduled that long ago
    with its container still being created."""
    resource = {
        "group": "apps",
        "kind": "Deployment",
        "namespace": "cert-manager",
        "name": "cert-manager",
        "health": {"status": "Progressing", "message": "Waiting for rollout to finish: 0 of 1 updated replicas"},
    }
    scheduled = datetime.fromtimestamp(time.time() - seconds_since_scheduled, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    pod = pod_object("cert-manager", "cert-manager-7d9f-2xq", "cert-manager", "worker-1", phase="Pending")
    pod["metadata"]["creationTimestamp"] = scheduled
    pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": scheduled}]
    pod["status"]["containerStatuses"][0].update(ready=False, state={"waiting": {"reason": "ContainerCreating"}})
    return app("cert-manager", wave=-98, health="Progressing", resources=[resource]), pod


async def test_a_wave_whose_pods_only_start_waits_for_its_app_as_the_dashboard_says(tmp_path):
    config = platform_config()
    cert_manager, pod = starting_cert_manager(seconds_since_scheduled=20)
    kube = FakeKube().put(APPLICATIONS, app("layer-0"), cert_manager).put(PODS, pod)
    ctx, lines = make_context(config, tmp_path, kube=kube)
    [wave] = [s for s in layer0.wave_steps(config, first_needs=()) if s.id == "L2.wave-98"]
    wave.timeout = 0.3
    with pytest.raises(PermanentError):
        await asyncio.wait_for(wave.wait(ctx), wave.timeout)
    assert lines[0] == (
        "wave -98 waits for cert-manager: Deployment cert-manager/cert-manager Progressing — Waiting for rollout "
        "to finish: 0 of 1 updated replicas (pod cert-manager-7d9f-2xq starting: cert-manager: ContainerCreating)"
    )
    assert not any("blocked" in line for line in lines)
    # The dashboard's judgement of the same cluster, word for word.
    problems, _, _ = summarise_pods([classify_pod(pod)], now=time.time())
    _, dashboard = group_by_wave([app_view(cert_manager)], problems)
    assert lines[0] == dashboard


async def test_a_wave_whose_pods_outstay_their_start_grace_is_blocked_again_without_any_app_changing(tmp_path):
    config = platform_config()
    cert_manager, pod = starting_cert_manager(seconds_since_scheduled=POD_START_GRACE_SECONDS - 1)
    kube = FakeKube().put(APPLICATIONS, app("layer-0"), cert_manager).put(PODS, pod)
    ctx, lines = make_context(config, tmp_path, kube=kube)
    [wave] = [s for s in layer0.wave_steps(config, first_needs=()) if s.id == "L2.wave-98"]
    wave.timeout = 4
    with pytest.raises(PermanentError) as failure:
        await asyncio.wait_for(wave.wait(ctx), wave.timeout)
    assert lines[0].startswith("wave -98 waits for cert-manager: ")
    assert lines[-1].startswith("wave -98 is blocked by cert-manager: Deployment cert-manager/cert-manager Progressing")
    assert lines[-1].endswith("(pod cert-manager-7d9f-2xq Pending: cert-manager: ContainerCreating)")
    assert failure.value.message.startswith(lines[-1])


# --- push -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, asked, pushes",
    [
        ("file:///srv/git/platform.git", None, True),
        ("/srv/git/platform.git", None, True),
        ("https://git.example.com/platform.git", None, False),
        ("https://git.example.com/platform.git", True, True),
        ("file:///srv/git/platform.git", False, False),
    ],
)
def test_when_the_tree_is_pushed(url, asked, pushes):
    config = platform_config(repo_url=url)
    assert git.should_push(config, asked) is pushes
    assert any(s.id == "L2.push" for s in platform_steps(config, push=asked)) is pushes


async def test_push_publishes_the_rendered_tree(tmp_path):
    config = platform_config(repo_url="file:///srv/git/platform.git")
    fake = FakeGit()
    ctx, lines = make_context(config, tmp_path, git=fake)
    step = git.PushRepository(config)
    await step.apply(ctx, await step.check(ctx))
    assert fake.calls == [("publish", ctx.state.rendered, "file:///srv/git/platform.git", "main", ".")]


# --- layer 3 ----------------------------------------------------------------------------------------


async def test_vault_is_initialised_once_and_the_keys_are_kept_0600_never_shown(tmp_path):
    config = platform_config()
    vault = FakeVault()
    ctx, lines = make_context(config, tmp_path, vault=vault)
    step = platform.VaultInitialise(config)
    result = await step.check(ctx)
    assert result.actions[0].api_call.startswith("PUT /v1/sys/init ")
    await step.apply(ctx, result)
    assert stat.S_IMODE(ctx.state.vault_init.stat().st_mode) == 0o600
    saved = json.loads(ctx.state.vault_init.read_text())
    assert saved["root_token"] == "hvs.root-token-value" and len(saved["unseal_keys"]) == 5
    assert not any("hvs.root-token-value" in line or "key-1" in line for line in lines)
    vault.calls.clear()
    assert (await step.check(ctx)).done
    assert vault.calls == [("status",)]


async def test_vault_initialised_by_someone_else_stops_with_what_to_do(tmp_path):
    config = platform_config()
    ctx, _ = make_context(config, tmp_path, vault=FakeVault(initialized=True))
    with pytest.raises(PermanentError) as failure:
        await platform.VaultInitialise(config).check(ctx)
    assert "initialised by someone else" in failure.value.message
    assert str(ctx.state.vault_init) in failure.value.hint


async def test_vault_is_unsealed_with_the_saved_keys_until_it_opens(tmp_path):
    config = platform_config()
    vault = FakeVault(initialized=True)
    ctx, _ = make_context(config, tmp_path, vault=vault)
    ctx.state.write_secret(ctx.state.vault_init, json.dumps({"unseal_keys": vault.keys, "root_token": "t"}))
    step = platform.VaultUnseal(config)
    await step.apply(ctx, await step.check(ctx))
    assert [c for c in vault.calls if c[0] == "unseal"] == [
        ("unseal", "key-1"),
        ("unseal", "key-2"),
        ("unseal", "key-3"),
    ]
    assert (await step.check(ctx)).done


async def test_kubernetes_auth_and_secrets_use_the_root_token(tmp_path):
    config = platform_config()
    vault = FakeVault(initialized=True, sealed=False)
    ctx, _ = make_context(config, tmp_path, vault=vault, secrets=SECRETS_GIVEN)
    ctx.state.write_secret(ctx.state.vault_init, json.dumps({"unseal_keys": ["k"], "root_token": "hvs.root"}))
    auth = platform.VaultKubernetesAuth(config)
    await auth.apply(ctx, await auth.check(ctx))
    load = platform.VaultSecrets(config)
    result = await load.check(ctx)
    assert [a.description for a in result.actions] == [
        "write secret/platform/cloudflare (api-token, tunnel-token)",
        "write secret/platform/git (token, username)",
        "write secret/platform/grafana (admin-password, admin-user)",
        "write secret/platform/argocd (admin-password, admin-password-bcrypt-base64, admin-user)",
    ]
    await load.apply(ctx, result)
    assert vault.changes() == [
        ("enable_kubernetes_auth", "hvs.root"),
        ("write_secret", "hvs.root", "platform/cloudflare", ["api-token", "tunnel-token"]),
        ("write_secret", "hvs.root", "platform/git", ["token", "username"]),
        ("write_secret", "hvs.root", "platform/grafana", ["admin-password", "admin-user"]),
        (
            "write_secret",
            "hvs.root",
            "platform/argocd",
            ["admin-password", "admin-password-bcrypt-base64", "admin-user"],
        ),
    ]


async def _loaded(ctx, config) -> None:
    load = platform.VaultSecrets(config)
    await load.apply(ctx, await load.check(ctx))


async def test_grafana_password_is_generated_once_kept_and_written_to_vault(tmp_path):
    config = platform_config()
    vault = FakeVault(initialized=True, sealed=False)
    ctx, lines = make_context(config, tmp_path, vault=vault)
    ctx.state.write_secret(ctx.state.vault_init, json.dumps({"unseal_keys": ["k"], "root_token": "hvs.root"}))
    load = platform.VaultSecrets(config)
    first = await load.check(ctx)
    assert not first.done and "platform/grafana" in first.reason
    await load.apply(ctx, first)
    saved = ctx.state.grafana_admin_password
    password = saved.read_text().strip()
    assert len(password) >= 24 and oct(saved.stat().st_mode & 0o777) == "0o600"
    assert vault.stored["platform/grafana"] == {"admin-user": "admin", "admin-password": password}
    # A resume (or a later install) finds it in Vault and makes no other.
    assert (await load.check(ctx)).done
    await _loaded(ctx, config)
    assert saved.read_text().strip() == password and vault.stored["platform/grafana"]["admin-password"] == password
    assert password not in " ".join(lines) + " ".join(str(c) for c in vault.calls)


async def test_a_lost_state_directory_keeps_the_password_vault_holds(tmp_path):
    config = platform_config()
    vault = FakeVault(initialized=True, sealed=False)
    vault.stored["platform/grafana"] = {"admin-user": "admin", "admin-password": "from-an-earlier-install"}
    argocd_login = {
        "admin-user": "admin",
        "admin-password": "argocd-from-an-earlier-install",
        "admin-password-bcrypt-base64": "JDJhJDEwJGVhcmxpZXI=",
    }
    vault.stored["platform/argocd"] = dict(argocd_login)
    ctx, _ = make_context(config, tmp_path, vault=vault)
    ctx.state.write_secret(ctx.state.vault_init, json.dumps({"unseal_keys": ["k"], "root_token": "hvs.root"}))
    assert (await platform.VaultSecrets(config).check(ctx)).done
    await _loaded(ctx, config)
    assert vault.stored["platform/grafana"]["admin-password"] == "from-an-earlier-install"
    assert vault.stored["platform/argocd"] == argocd_login
    assert not ctx.state.grafana_admin_password.exists() and not ctx.state.argocd_admin_password.exists()


async def test_a_given_grafana_password_wins_and_none_is_generated(tmp_path):
    config = platform_config()
    vault = FakeVault(initialized=True, sealed=False)
    ctx, _ = make_context(config, tmp_path, vault=vault, secrets=Secrets(grafana_admin_password="chosen-by-me-123"))
    ctx.state.write_secret(ctx.state.vault_init, json.dumps({"unseal_keys": ["k"], "root_token": "hvs.root"}))
    await _loaded(ctx, config)
    assert vault.stored["platform/grafana"] == {"admin-user": "admin", "admin-password": "chosen-by-me-123"}
    assert not ctx.state.grafana_admin_password.exists()


async def test_without_the_operator_no_grafana_secret_goes_to_vault(tmp_path):
    config = platform_config(vault={"secretsOperator": {"enabled": False}})
    vault = FakeVault(initialized=True, sealed=False)
    ctx, _ = make_context(config, tmp_path, vault=vault)
    ctx.state.write_secret(ctx.state.vault_init, json.dumps({"unseal_keys": ["k"], "root_token": "hvs.root"}))
    load = platform.VaultSecrets(config)
    loading = await load.check(ctx)
    assert loading.facts["stale"] == ["platform/argocd"]  # ArgoCD's login needs Vault, not the operator
    await load.apply(ctx, loading)
    assert "platform/grafana" not in vault.stored and not ctx.state.grafana_admin_password.exists()


async def test_vault_auth_and_secrets_are_done_when_vault_reads_them_back_the_same(tmp_path):
    config = platform_config()
    vault = FakeVault(initialized=True, sealed=False)
    ctx, lines = make_context(config, tmp_path, vault=vault, secrets=SECRETS_GIVEN)
    ctx.state.write_secret(ctx.state.vault_init, json.dumps({"unseal_keys": ["k"], "root_token": "hvs.root"}))
    auth, load = platform.VaultKubernetesAuth(config), platform.VaultSecrets(config)
    for step in (auth, load):
        check = await step.check(ctx)
        assert not check.done
        await step.apply(ctx, check)
    written = vault.changes()
    # A resume: both read back as wanted, so nothing is written again.
    assert (await auth.check(ctx)).done
    result = await load.check(ctx)
    assert result.done and "compared by digest" in result.reason
    assert vault.changes() == written
    # A role someone edited, or one secret changed: only that is done again.
    vault.auth = {**vault.auth, "audience": "other"}
    assert "audience" in (await auth.check(ctx)).reason
    ctx = dataclasses.replace(ctx, secrets=dataclasses.replace(SECRETS_GIVEN, git_token="a-new-token"))
    stale = await load.check(ctx)
    assert not stale.done and [a.description for a in stale.actions] == ["write secret/platform/git (token, username)"]
    await load.apply(ctx, stale)
    assert vault.changes()[len(written) :] == [("write_secret", "hvs.root", "platform/git", ["token", "username"])]
    shown = " ".join(lines) + " ".join(str(c) for c in vault.calls) + stale.reason
    assert all(value not in shown for value in (*SECRETS_GIVEN.values(), "a-new-token"))


async def test_vault_pod_running_is_enough_to_initialise(tmp_path):
    config = platform_config()
    pending = {"metadata": {"name": "vault-0", "namespace": "vault"}, "status": {"phase": "Pending"}}
    running = {
        "metadata": {"name": "vault-0", "namespace": "vault"},
        "status": {"phase": "Running", "containerStatuses": [{"ready": False, "state": {"running": {}}}]},
    }
    kube = FakeKube().put(PODS, pending).later(PODS, running)
    ctx, lines = make_context(config, tmp_path, kube=kube)
    step = platform.VaultRunning(config, needs=())
    assert not (await step.check(ctx)).done
    await step.wait(ctx)
    assert lines[-1] == "pod vault/vault-0 is Running"


# --- layer 4 ----------------------------------------------------------------------------------------


async def test_applications_generated_by_the_applicationset_are_followed(tmp_path):
    config = platform_config()
    kube = FakeKube().put(
        APPLICATIONS,
        app("apps", wave=10),
        app("hello", owner="apps", health="Progressing"),
        app("unrelated", health="Degraded"),
    )
    kube.later(APPLICATIONS, app("hello", owner="apps"))
    ctx, lines = make_context(config, tmp_path, kube=kube)
    [step] = apps.application_steps(config, needs=())
    assert "blocked by hello" in (await step.check(ctx)).reason
    await step.wait(ctx)
    assert lines[-1] == "layer 4: 2 Applications Synced and Healthy"


def test_every_step_needs_only_earlier_steps_and_ids_are_unique():
    for config in (platform_config(control_planes=3, workers=2), platform_config(vip=None, workers=0)):
        seen: set[str] = set()
        for step in platform_steps(config, push=True):
            assert step.id not in seen
            assert set(step.needs) <= seen, step.id
            seen.add(step.id)
        assert {s.layer for s in platform_steps(config)} == {0, 1, 2, 3, 4}


async def test_a_changed_config_never_initialises_vault_again(tmp_path):
    config = platform_config()
    vault = FakeVault(initialized=True)
    ctx, _ = make_context(config, tmp_path, vault=vault)
    ctx.state.write_secret(ctx.state.vault_init, json.dumps({"unseal_keys": ["k"], "root_token": "t"}))
    step = platform.VaultInitialise(config)
    await step.apply(ctx, await step.check(ctx))  # the runner applies when the inputs changed
    assert [c for c in vault.calls if c[0] == "initialize"] == []


def test_a_missing_app_names_the_earliest_app_that_holds_it_back():
    from talos_platform.engine.layers.applications import applications_status

    objects = {
        ("argocd", "layer-0"): app(
            "layer-0",
            wave=0,
            sync="OutOfSync",
            health="Missing",
            resources=[{"kind": "Application", "name": "apps", "health": {"status": "Missing"}}],
        ),
        ("argocd", "platform"): app("platform", wave=0, health="Progressing"),
        ("argocd", "monitoring"): app(
            "monitoring", wave=0, health="Progressing", message="Waiting for 1 pods to be ready..."
        ),
        ("argocd", "vault"): app("vault", wave=0),
    }
    ok, text, _ = applications_status(
        objects,
        lambda a: a["metadata"]["name"] == "cert-manager-issuer",
        group="Application cert-manager-issuer",
        expected=("cert-manager-issuer",),
    )
    assert not ok
    assert text == (
        "Application cert-manager-issuer does not exist yet: waiting for its app of apps to create it; "
        "the earliest app not ready is monitoring: Synced/Progressing: Waiting for 1 pods to be ready..."
    )
