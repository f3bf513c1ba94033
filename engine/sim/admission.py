"""What the simulated API server and controllers know about the three things Talos does not
give a platform for free (ARCHITECTURE.md section 8):

- **PodSecurity.** Talos' kube-apiserver enforces `baseline` in every namespace but kube-system.
  A pod template that needs the host (host namespaces, hostPath volumes, privileged containers,
  capabilities beyond baseline's) is refused unless its namespace carries
  `pod-security.kubernetes.io/enforce: privileged`; its controller then creates no pods and
  records a FailedCreate event. The `restricted` level's extra rules are not checked here (the
  rehearsal's real API server checks them against the real charts).
- **Volumes.** A volume claim binds only through a StorageClass that exists (named, or the
  default one) whose provisioner runs: for `rancher.io/local-path`, a ready pod of the
  local-path-provisioner Deployment. Otherwise its pod stays Pending.
- **Load-balancer addresses.** A Gateway is Programmed only once its LoadBalancer Service can
  get an address, from a CiliumLoadBalancerIPPool (handed out by the cilium-operator).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers.protocols import NAMESPACES, Resource

if TYPE_CHECKING:
    from talos_platform.engine.sim.model import PlatformModel

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
TALOS_DEFAULT_LEVEL = "baseline"
EXEMPT_NAMESPACES = ("kube-system",)
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

STORAGE_CLASSES = Resource("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False)
LOAD_BALANCER_POOLS = Resource(
    "cilium.io", "v2alpha1", "ciliumloadbalancerippools", "CiliumLoadBalancerIPPool", namespaced=False
)
GATEWAYS = Resource("gateway.networking.k8s.io", "v1", "gateways", "Gateway")
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
LOCAL_PATH_PROVISIONER = "rancher.io/local-path"


# --- PodSecurity -------------------------------------------------------------------------------


def baseline_violations(template_spec: dict[str, Any]) -> list[str]:
    """Why a pod template breaks the `baseline` level, in the API server's words (empty: it passes)."""
    found = []
    host = [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if template_spec.get(key)]
    if host:
        found.append(f"host namespaces ({', '.join(host)})")
    containers = list(template_spec.get("initContainers") or []) + list(template_spec.get("containers") or [])
    privileged = [c.get("name", "") for c in containers if (c.get("securityContext") or {}).get("privileged")]
    if privileged:
        found.append(
            "privileged ("
            + ", ".join(f"container {name!r} must not set securityContext.privileged=true" for name in privileged)
            + ")"
        )
    added = sorted(
        {
            cap
            for c in containers
            for cap in ((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or []
        }
        - _BASELINE_CAPABILITIES
    )
    if added:
        found.append(f"non-default capabilities ({', '.join(added)})")
    host_paths = [v.get("name", "") for v in template_spec.get("volumes") or [] if "hostPath" in v]
    if host_paths:
        found.append(
            f"hostPath volumes (volumes {', '.join(repr(name).replace(chr(39), chr(34)) for name in host_paths)})"
        )
    return found


def namespace_level(model: PlatformModel, namespace: str) -> str:
    """The enforced level: the namespace's label, else Talos' default; kube-system is exempt."""
    if namespace in EXEMPT_NAMESPACES:
        return "privileged"
    entry = model.store.get_entry(NAMESPACES, "", namespace)
    labels = ((entry or {}).get("metadata") or {}).get("labels") or {}
    level: str = labels.get(ENFORCE_LABEL, TALOS_DEFAULT_LEVEL)
    return level


def refusal(model: PlatformModel, namespace: str, pod_name: str, template_spec: dict[str, Any]) -> str:
    """The API server's answer to creating such a pod there, or '' when it is admitted."""
    level = namespace_level(model, namespace)
    if level == "privileged":
        return ""
    violations = baseline_violations(template_spec)
    if not violations:
        return ""
    return f'pods "{pod_name}" is forbidden: violates PodSecurity "{level}:latest": {", ".join(violations)}'


# --- volumes -----------------------------------------------------------------------------------


def claim_bindable(model: PlatformModel, storage_class: str | None) -> bool:
    """A claim of this class (None: the default class) can get a volume now."""
    classes = list(model.store.entries(STORAGE_CLASSES))
    if storage_class:
        chosen = next((c for c in classes if c["metadata"]["name"] == storage_class), None)
    else:
        chosen = next(
            (c for c in classes if ((c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true")),
            None,
        )
    if chosen is None:
        return False
    if chosen.get("provisioner") != LOCAL_PATH_PROVISIONER:
        return True  # a class the user brought: its provisioner is theirs to run
    return any(
        workload.kind == "Deployment"
        and workload.name == "local-path-provisioner"
        and any(p.ready for p in workload.pods.values())
        for workload in model.workloads.workloads.values()
    )


# --- load-balancer addresses -------------------------------------------------------------------


def gateway_status(model: PlatformModel, gateway: dict[str, Any]) -> dict[str, Any]:
    """Cilium's Gateway status: accepted, and programmed once the pool can give an address."""
    now = model.now_iso()
    generation = (gateway.get("metadata") or {}).get("generation", 1)
    pools = list(model.store.entries(LOAD_BALANCER_POOLS))
    address = _first_address(pools[0]) if pools else ""

    def condition(kind: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": "True" if ok else "False",
            "reason": reason,
            "message": message,
            "observedGeneration": generation,
            "lastTransitionTime": now,
        }

    status: dict[str, Any] = {
        "conditions": [
            condition("Accepted", True, "Accepted", "Gateway successfully scheduled"),
            condition(
                "Programmed",
                bool(address),
                "Programmed" if address else "AddressNotAssigned",
                "Gateway successfully reconciled" if address else "Address is not ready yet",
            ),
        ]
    }
    if address:
        status["addresses"] = [{"type": "IPAddress", "value": address}]
    return status


def _first_address(pool: dict[str, Any]) -> str:
    import ipaddress

    for block in (pool.get("spec") or {}).get("blocks") or []:
        if block.get("start"):
            return str(block["start"])
        if block.get("cidr"):
            network = ipaddress.ip_network(block["cidr"], strict=False)
            return str(next(network.hosts(), network.network_address))
    return ""
