"""Names the platform gives Vault's pieces: the install configures Vault with them (drivers, steps,
the simulator) and the rendered Vault Secrets Operator objects refer to them (render), so both
sides read them from here."""

VAULT_KUBERNETES_AUTH_MOUNT = "kubernetes"
"""Where the Kubernetes auth method is enabled."""

VAULT_OPERATOR_ROLE = "vault-secrets-operator"
"""The Kubernetes auth role the Vault Secrets Operator logs in with."""

VAULT_TOKEN_AUDIENCE = "vault"
"""The audience of the service-account tokens the operator presents."""

VAULT_KV_MOUNT = "secret"
"""Where the KV version 2 store holding the platform's secrets is mounted."""
