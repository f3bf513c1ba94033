"""Stand-ins for what needs a kernel or a machine, each a small controller on the API.

Each does only what the real component does, and only when the render gave it what the real
component needs, so a stand-in never makes something succeed that would fail on Talos for a
reason we render:

- **Cilium operator, CRDs**: when the cilium-operator Deployment exists, Cilium's own CRDs of
  that release are registered (the operator does this when it starts; the chart does not).
- **Load-balancer addresses** (Cilium LB IPAM): a LoadBalancer Service gets the next free
  address of a CiliumLoadBalancerIPPool whose serviceSelector matches it; no pool, no address.
- **Gateways** (Cilium's Gateway API controller): a GatewayClass of controller
  `io.cilium/gateway-controller` is Accepted; each of its Gateways gets its LoadBalancer Service
  `cilium-gateway-<name>`, and is Programmed only once that Service has an address.
- **Volumes** (local-path-provisioner): a PVC of a StorageClass whose provisioner is
  `rancher.io/local-path` gets a PersistentVolume on the node the scheduler chose, only while a
  local-path-provisioner Deployment is Available in the cluster; any other class stays Pending.
- **Prometheus operator**: while the operator's Deployment is Available, each Prometheus and
  Alertmanager gets the StatefulSet the operator would make (replicas, the CR's pod security
  context, node selector, tolerations and volume claim template), so PodSecurity, scheduling and
  storage judge its pods; the CR is Available once the StatefulSet is ready.
- **cert-manager issuers**: while cert-manager's controller Deployment is Available, an ACME
  ClusterIssuer or Issuer is Ready (the ACME account registration needs the internet).
- **Webhook certificates** (cert-manager's cainjector, kube-prometheus-stack's certgen job): each
  webhook reached through a Service gets a serving certificate for `<service>.<namespace>.svc`
  (answered by pod_servers.py in the pod network) and its CA in caBundle.

What they could hide is listed in docs/harness.md.
"""

from __future__ import annotations

import base64
import ipaddress
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from talos_platform.rehearsal.pki import create_ca, issue_serving_certificate

CILIUM_GATEWAY_CONTROLLER = "io.cilium/gateway-controller"
LOCAL_PATH_PROVISIONER = "rancher.io/local-path"
LOCAL_PATH_IMAGE = "local-path-provisioner"
POOL_VERSIONS = ("v2", "v2alpha1")


def _matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions)."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and (not present or labels[key] not in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def pool_addresses(pool: dict[str, Any]) -> list[str]:
    """Every address a CiliumLoadBalancerIPPool offers, in order (`blocks` of cidr or start/stop)."""
    spec = pool.get("spec") or {}
    found: list[str] = []
    for block in spec.get("blocks") or spec.get("cidrs") or []:
        if block.get("cidr"):
            network = ipaddress.ip_network(block["cidr"], strict=False)
            hosts = list(network.hosts()) if network.num_addresses > 2 else list(network)
            found += [str(address) for address in hosts]
        elif block.get("start"):
            start = ipaddress.ip_address(block["start"])
            stop = ipaddress.ip_address(block.get("stop") or block["start"])
            found += [str(ipaddress.ip_address(value)) for value in range(int(start), int(stop) + 1)]
    return found


class StandIns:
    def __init__(self, api_client: Any, workdir: Path, cilium_crds: Callable[[str], Path], kubectl: Callable[..., Any]):
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.admission = client.AdmissionregistrationV1Api(api_client)
        self.storage = client.StorageV1Api(api_client)
        self.cilium_crds = cilium_crds
        self.kubectl = kubectl
        self.cert_dir = workdir / "webhook-certs"
        self.cert_dir.mkdir(parents=True, exist_ok=True)
        self.ca_cert, self.ca_key = create_ca(workdir / "webhook-ca", "rehearsal-webhook-ca")
        issue_serving_certificate(self.cert_dir, "default", "default", "DNS:localhost", self.ca_cert, self.ca_key)
        self.registered_cilium: str | None = None
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rehearsal-standins", daemon=True)

    def start(self) -> StandIns:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for step in (
                self.register_cilium_crds,
                self.assign_addresses,
                self.program_gateways,
                self.provision_volumes,
                self.serve_webhooks,
                self.run_monitoring,
                self.ready_issuers,
            ):
                try:
                    step()
                except Exception:  # noqa: BLE001 - keep the others going; reported in the logs
                    self.errors.append(traceback.format_exc(limit=3))
                    del self.errors[:-20]
            self._stop.wait(1.0)

    # --- Cilium operator: CRDs ---------------------------------------------------------------

    def register_cilium_crds(self) -> None:
        if self.registered_cilium:
            return
        try:
            operator = self.apps.read_namespaced_deployment("cilium-operator", "kube-system")
        except ApiException as error:
            if error.status == 404:
                return
            raise
        image = operator.spec.template.spec.containers[0].image
        version = image.split("@")[0].rsplit(":", 1)[-1]
        self.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager",
            "cilium-operator",
            "-f",
            str(self.cilium_crds(version)),
        )
        self.registered_cilium = version

    # --- Cilium LB IPAM ------------------------------------------------------------------------

    def _cluster_items(self, group: str, version: str, plural: str) -> list[dict[str, Any]]:
        """The items of a cluster-scoped custom resource list (the client returns the decoded JSON)."""
        listed = cast("dict[str, Any]", self.custom.list_cluster_custom_object(group, version, plural))
        items: list[dict[str, Any]] = listed["items"]
        return items

    def _pools(self) -> list[dict[str, Any]]:
        for version in POOL_VERSIONS:
            try:
                return self._cluster_items("cilium.io", version, "ciliumloadbalancerippools")
            except ApiException as error:
                if error.status != 404:
                    raise
        return []

    def assign_addresses(self) -> None:
        services = [s for s in self.core.list_service_for_all_namespaces().items if s.spec.type == "LoadBalancer"]
        waiting = [s for s in services if not (s.status.load_balancer and s.status.load_balancer.ingress)]
        if not waiting:
            return
        pools = [pool for pool in self._pools() if not (pool.get("spec") or {}).get("disabled")]
        taken = {
            ingress.ip
            for service in services
            if service.status.load_balancer and service.status.load_balancer.ingress
            for ingress in service.status.load_balancer.ingress
        }
        for service in waiting:
            if service.spec.load_balancer_class and not service.spec.load_balancer_class.startswith("io.cilium"):
                continue  # another load balancer's Service
            labels = {
                **(service.metadata.labels or {}),
                "io.kubernetes.service.namespace": service.metadata.namespace,
                "io.kubernetes.service.name": service.metadata.name,
            }
            for pool in pools:
                if not _matches((pool.get("spec") or {}).get("serviceSelector"), labels):
                    continue
                free = next((address for address in pool_addresses(pool) if address not in taken), None)
                if free:
                    taken.add(free)
                    self.core.patch_namespaced_service_status(
                        service.metadata.name,
                        service.metadata.namespace,
                        {"status": {"loadBalancer": {"ingress": [{"ip": free}]}}},
                    )
                    break

    # --- Cilium Gateway API --------------------------------------------------------------------

    def program_gateways(self) -> None:
        try:
            classes = self._cluster_items("gateway.networking.k8s.io", "v1", "gatewayclasses")
        except ApiException as error:
            if error.status == 404:
                return
            raise
        ours = {
            c["metadata"]["name"]: c for c in classes if c["spec"].get("controllerName") == CILIUM_GATEWAY_CONTROLLER
        }
        for name, gateway_class in ours.items():
            if not _condition_true(gateway_class, "Accepted"):
                self._set_status(
                    "gatewayclasses",
                    None,
                    name,
                    {"conditions": [_condition("Accepted", "True", "Accepted", "Valid GatewayClass", gateway_class)]},
                )
        gateways = self._cluster_items("gateway.networking.k8s.io", "v1", "gateways")
        for gateway in gateways:
            if gateway["spec"].get("gatewayClassName") in ours:
                self._program(gateway)

    def _program(self, gateway: dict[str, Any]) -> None:
        meta = gateway["metadata"]
        service_name = f"cilium-gateway-{meta['name']}"
        try:
            service = self.core.read_namespaced_service(service_name, meta["namespace"])
        except ApiException as error:
            if error.status != 404:
                raise
            ports = sorted({listener["port"] for listener in gateway["spec"].get("listeners") or []})
            service = self.core.create_namespaced_service(
                meta["namespace"],
                client.V1Service(
                    metadata=client.V1ObjectMeta(
                        name=service_name,
                        labels={"io.cilium.gateway/owning-gateway": meta["name"]},
                        owner_references=[
                            client.V1OwnerReference(
                                api_version="gateway.networking.k8s.io/v1",
                                kind="Gateway",
                                name=meta["name"],
                                uid=meta["uid"],
                                controller=True,
                            )
                        ],
                    ),
                    spec=client.V1ServiceSpec(
                        type="LoadBalancer",
                        ports=[client.V1ServicePort(name=f"port-{port}", port=port, protocol="TCP") for port in ports],
                    ),
                ),
            )
        ingress = (service.status.load_balancer.ingress or []) if service.status.load_balancer else []
        if ingress:
            programmed = _condition("Programmed", "True", "Programmed", "Gateway successfully reconciled", gateway)
            addresses = [{"type": "IPAddress", "value": item.ip} for item in ingress]
        else:
            programmed = _condition(
                "Programmed",
                "False",
                "AddressNotAssigned",
                f"Service {service_name} has no load-balancer address yet",
                gateway,
            )
            addresses = []
        status = {
            "addresses": addresses,
            "conditions": [
                _condition("Accepted", "True", "Accepted", "Gateway successfully scheduled", gateway),
                programmed,
            ],
            "listeners": [
                {
                    "name": listener["name"],
                    "attachedRoutes": 0,
                    "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                    "conditions": [
                        _condition(kind, "True", kind, "Listener " + kind.lower(), gateway)
                        for kind in ("Accepted", "Programmed", "ResolvedRefs")
                    ],
                }
                for listener in gateway["spec"].get("listeners") or []
            ],
        }
        current = gateway.get("status") or {}
        if [c.get("status") for c in current.get("conditions") or []] != [
            c["status"] for c in status["conditions"]
        ] or current.get("addresses", []) != addresses:
            self._set_status("gateways", meta["namespace"], meta["name"], status)

    def _set_status(self, plural: str, namespace: str | None, name: str, status: dict[str, Any]) -> None:
        body = {"status": status}
        if namespace:
            self.custom.patch_namespaced_custom_object_status(
                "gateway.networking.k8s.io", "v1", namespace, plural, name, body
            )
        else:
            self.custom.patch_cluster_custom_object_status("gateway.networking.k8s.io", "v1", plural, name, body)

    # --- local-path provisioner ----------------------------------------------------------------

    def _available(self, image_part: str) -> bool:
        """A Deployment running an image whose name holds `image_part` is Available."""
        for deployment in self.apps.list_deployment_for_all_namespaces().items:
            images = [c.image or "" for c in deployment.spec.template.spec.containers]
            if any(image_part in image for image in images) and (deployment.status.available_replicas or 0) > 0:
                return True
        return False

    def _local_path_running(self) -> bool:
        return self._available(LOCAL_PATH_IMAGE)

    def provision_volumes(self) -> None:
        pending = [
            c
            for c in self.core.list_persistent_volume_claim_for_all_namespaces().items
            if c.status.phase == "Pending" and not c.spec.volume_name
        ]
        if not pending or not self._local_path_running():
            return
        classes = {c.metadata.name: c for c in self.storage.list_storage_class().items}
        for claim in pending:
            storage_class = classes.get(claim.spec.storage_class_name or "")
            if storage_class is None or storage_class.provisioner != LOCAL_PATH_PROVISIONER:
                continue
            node = (claim.metadata.annotations or {}).get("volume.kubernetes.io/selected-node")
            if storage_class.volume_binding_mode == "WaitForFirstConsumer" and not node:
                continue  # the scheduler picks the node first
            name = f"pvc-{claim.metadata.uid}"
            affinity = None
            if node:
                affinity = client.V1VolumeNodeAffinity(
                    required=client.V1NodeSelector(
                        node_selector_terms=[
                            client.V1NodeSelectorTerm(
                                match_expressions=[
                                    client.V1NodeSelectorRequirement(
                                        key="kubernetes.io/hostname", operator="In", values=[node]
                                    )
                                ]
                            )
                        ]
                    )
                )
            volume = client.V1PersistentVolume(
                metadata=client.V1ObjectMeta(
                    name=name, annotations={"pv.kubernetes.io/provisioned-by": LOCAL_PATH_PROVISIONER}
                ),
                spec=client.V1PersistentVolumeSpec(
                    capacity={"storage": (claim.spec.resources.requests or {})["storage"]},
                    access_modes=claim.spec.access_modes,
                    storage_class_name=storage_class.metadata.name,
                    persistent_volume_reclaim_policy=storage_class.reclaim_policy or "Delete",
                    host_path=client.V1HostPathVolumeSource(
                        path=f"/var/mnt/local-path-provisioner/{name}", type="DirectoryOrCreate"
                    ),
                    claim_ref=client.V1ObjectReference(
                        namespace=claim.metadata.namespace, name=claim.metadata.name, uid=claim.metadata.uid
                    ),
                    node_affinity=affinity,
                ),
            )
            try:
                self.core.create_persistent_volume(volume)
            except ApiException as error:
                if error.status != 409:
                    raise

    # --- Prometheus operator ----------------------------------------------------------------

    def run_monitoring(self) -> None:
        for plural, kind in (("prometheuses", "Prometheus"), ("alertmanagers", "Alertmanager")):
            try:
                items = self._cluster_items("monitoring.coreos.com", "v1", plural)
            except ApiException as error:
                if error.status == 404:
                    continue
                raise
            if items and not self._available("prometheus-operator"):
                continue
            for item in items:
                self._monitoring_statefulset(plural, kind, item)

    def _monitoring_statefulset(self, plural: str, kind: str, item: dict[str, Any]) -> None:
        meta, spec = item["metadata"], item.get("spec") or {}
        prefix = "prometheus" if kind == "Prometheus" else "alertmanager"
        name = f"{prefix}-{meta['name']}"
        replicas = spec.get("replicas", 1)
        try:
            statefulset = self.apps.read_namespaced_stateful_set(name, meta["namespace"])
        except ApiException as error:
            if error.status != 404:
                raise
            labels = {
                "app.kubernetes.io/name": prefix,
                "app.kubernetes.io/instance": meta["name"],
                kind.lower(): meta["name"],
            }
            template = (spec.get("storage") or {}).get("volumeClaimTemplate")
            claims = []
            if template:
                claims = [{"metadata": {"name": f"{prefix}-{meta['name']}-db"}, "spec": template.get("spec") or {}}]
            body = {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {
                    "name": name,
                    "namespace": meta["namespace"],
                    "labels": labels,
                    "ownerReferences": [
                        {
                            "apiVersion": "monitoring.coreos.com/v1",
                            "kind": kind,
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "controller": True,
                        }
                    ],
                },
                "spec": {
                    "replicas": replicas,
                    "serviceName": f"{prefix}-operated",
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "securityContext": spec.get("securityContext") or {},
                            "nodeSelector": spec.get("nodeSelector") or {},
                            "tolerations": spec.get("tolerations") or [],
                            "containers": [
                                {
                                    "name": prefix,
                                    "image": spec.get("image") or f"quay.io/prometheus/{prefix}",
                                    "volumeMounts": [
                                        {"name": c["metadata"]["name"], "mountPath": "/data"} for c in claims
                                    ],
                                }
                            ],
                        },
                    },
                    "volumeClaimTemplates": claims,
                },
            }
            statefulset = self.apps.create_namespaced_stateful_set(meta["namespace"], body)
        ready = (statefulset.status.ready_replicas or 0) if statefulset.status else 0
        available = "True" if ready >= replicas else "False"
        conditions = [c for c in (item.get("status") or {}).get("conditions") or [] if c.get("type") == "Available"]
        if [c.get("status") for c in conditions] != [available]:
            condition = _condition(
                "Available",
                available,
                "" if available == "True" else "SomePodsNotReady",
                f"{ready}/{replicas} ready",
                item,
            )
            self.custom.patch_namespaced_custom_object_status(
                "monitoring.coreos.com",
                "v1",
                meta["namespace"],
                plural,
                meta["name"],
                {"status": {"conditions": [condition], "replicas": replicas, "availableReplicas": ready}},
            )

    # --- cert-manager issuers --------------------------------------------------------------------

    def ready_issuers(self) -> None:
        try:
            issuers = self._cluster_items("cert-manager.io", "v1", "clusterissuers")
        except ApiException as error:
            if error.status == 404:
                return
            raise
        if not issuers or not self._available("cert-manager-controller"):
            return
        for issuer in issuers:
            if not _condition_true(issuer, "Ready") and "acme" in (issuer.get("spec") or {}):
                condition = _condition(
                    "Ready", "True", "ACMEAccountRegistered", "The ACME account was registered", issuer
                )
                self.custom.patch_cluster_custom_object_status(
                    "cert-manager.io",
                    "v1",
                    "clusterissuers",
                    issuer["metadata"]["name"],
                    {"status": {"conditions": [condition], "acme": {}}},
                )

    # --- webhook certificates ------------------------------------------------------------------

    def serve_webhooks(self) -> None:
        bundle = base64.b64encode(self.ca_cert.read_bytes()).decode()
        for _kind, lister, patcher in (
            (
                "validating",
                self.admission.list_validating_webhook_configuration,
                self.admission.patch_validating_webhook_configuration,
            ),
            (
                "mutating",
                self.admission.list_mutating_webhook_configuration,
                self.admission.patch_mutating_webhook_configuration,
            ),
        ):
            for configuration in lister().items:
                patch = []
                webhooks: list[Any] = configuration.webhooks or []  # validating or mutating webhooks
                for index, webhook in enumerate(webhooks):
                    service = webhook.client_config.service
                    if service is None:
                        continue
                    name = f"{service.name}.{service.namespace}.svc"
                    if not (self.cert_dir / f"{name}.crt").exists():
                        issue_serving_certificate(self.cert_dir, name, name, f"DNS:{name}", self.ca_cert, self.ca_key)
                    if webhook.client_config.ca_bundle != bundle:
                        patch.append({"op": "add", "path": f"/webhooks/{index}/clientConfig/caBundle", "value": bundle})
                if patch:
                    patcher(configuration.metadata.name, patch)  # a JSON patch: only these fields


def _condition(kind: str, status: str, reason: str, message: str, owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": owner["metadata"].get("generation", 1),
        "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _condition_true(obj: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in (obj.get("status") or {}).get("conditions") or []
    )
