"""PodSecurity levels of the namespaces the render creates.

Talos' kube-apiserver enforces the `baseline` level in every namespace but kube-system (audit and
warn `restricted`). Each namespace gets exactly the `pod-security.kubernetes.io/enforce` level its
pods need, found by rendering each chart (pinned and newest version) with our values and checking
every pod template against the Pod Security Standards; docs/platform.md lists why:

- `privileged` only where a pod needs the host: kube-prometheus-stack's node-exporter (hostNetwork,
  hostPID, hostPath) and the local-path provisioner's helper pods (hostPath).
- `baseline` where pods pass it but not `restricted` (no seccomp profile, capabilities not dropped):
  Vault and the Vault Secrets Operator.
- `restricted` where every pod passes it: ArgoCD, cert-manager, external-dns, cloudflared, and the
  Gateway's namespace (no pods of its own; cert-manager's solver pods pass `restricted`).

kube-system (Cilium) is exempt and never labelled. Application namespaces keep the cluster default.
"""

from __future__ import annotations

PRIVILEGED = "privileged"
BASELINE = "baseline"
RESTRICTED = "restricted"
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"

NAMESPACE_LEVELS: dict[str, str] = {
    "argocd": RESTRICTED,
    "cert-manager": RESTRICTED,
    "external-dns": RESTRICTED,
    "vault": BASELINE,
    "vault-secrets-operator": BASELINE,
    "monitoring": PRIVILEGED,
    "cloudflare-tunnel": RESTRICTED,
    "platform-gateway": RESTRICTED,
    "local-path-storage": PRIVILEGED,
}


def namespace_labels(namespace: str) -> dict[str, str]:
    """The PodSecurity label of a namespace the render creates (empty for any other)."""
    level = NAMESPACE_LEVELS.get(namespace)
    return {ENFORCE_LABEL: level} if level else {}
