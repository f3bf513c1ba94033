"""After an install: where the keys are and how to open the dashboard, places only."""

from pathlib import Path

from talos_platform.engine.access import next_steps
from talos_platform.engine.config.loading import read_config
from talos_platform.engine.state import StateDirectory

METAL_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "metal-3cp-3w.yaml"


def test_a_real_install_names_its_kubeconfig_talosconfig_and_the_dashboard_command(tmp_path):
    state = StateDirectory(tmp_path / "state")
    lines = next_steps(read_config(METAL_EXAMPLE), state, False)

    assert lines[0].startswith(f"kubeconfig:  {state.kubeconfig}")
    assert lines[1].startswith(f"talosconfig: {state.talosconfig}")
    assert f"talos-platform dashboard --kubeconfig {state.kubeconfig} --talosconfig {state.talosconfig}" in lines[2]
    assert any(line.startswith("Grafana: https://grafana.") for line in lines)
    argocd = [line for line in lines if line.startswith("ArgoCD: https://argocd.")]
    assert len(argocd) == 1 and "user admin" in argocd[0]
    assert "vault kv get -field=admin-password secret/platform/argocd" in argocd[0]


def test_a_simulated_install_says_it_has_no_keys_and_how_to_watch_it(tmp_path):
    lines = next_steps(read_config(METAL_EXAMPLE), StateDirectory(tmp_path), True)

    assert "none for a simulated cluster" in lines[0]
    assert lines[1] == "dashboard: talos-platform dashboard --simulate"
