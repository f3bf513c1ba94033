"""The Talos/Kubernetes table follows Talos' support matrix, and the defaults are in it."""

from __future__ import annotations

from talos_platform.engine.config.models import Cluster
from talos_platform.engine.config.versions import SUPPORTED_TALOS, kubernetes_supported_by, minor

# Talos' support matrix (each release's pkg/machinery/compatibility): the oldest and newest
# Kubernetes minor every Talos minor accepts.
TALOS_SUPPORT_MATRIX = {
    (1, 10): ((1, 28), (1, 33)),
    (1, 11): ((1, 29), (1, 34)),
    (1, 12): ((1, 30), (1, 35)),
    (1, 13): ((1, 31), (1, 36)),
    (1, 14): ((1, 32), (1, 37)),
}


def test_every_talos_minor_takes_the_kubernetes_minors_of_its_support_matrix():
    assert set(SUPPORTED_TALOS) == set(TALOS_SUPPORT_MATRIX)
    for talos, (oldest, newest) in TALOS_SUPPORT_MATRIX.items():
        assert SUPPORTED_TALOS[talos] == tuple((1, n) for n in range(oldest[1], newest[1] + 1)), talos


def test_defaults_are_the_newest_talos_and_a_kubernetes_it_supports():
    talos = Cluster.model_fields["talos_version"].default
    kubernetes = Cluster.model_fields["kubernetes_version"].default
    assert minor(talos) == max(SUPPORTED_TALOS)
    assert "v{}.{}".format(*minor(kubernetes)) in kubernetes_supported_by(talos)
