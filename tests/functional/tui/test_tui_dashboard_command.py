"""`talos-platform dashboard` option handling and what it does around the app (the TUI itself is
covered by the Pilot tests)."""

from __future__ import annotations

import argparse
import stat

import pytest
import yaml
from support.drivers import ChannelTalos, FakeKube
from support.waits import wait_for
from textual.app import App

from talos_platform.commands import dashboard
from talos_platform.engine.drivers.protocols import Drivers
from talos_platform.engine.errors import UserError
from talos_platform.engine.observe import TalosTarget
from talos_platform.main import build_parser
from talos_platform.tui.app import PlatformApp

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "one",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
    "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
    "contexts": [
        {"name": "one", "context": {"cluster": "c", "user": "u"}},
        {"name": "two", "context": {"cluster": "c", "user": "u"}},
    ],
}


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["dashboard", *argv])


def test_options_parse():
    args = parse("--simulate", "--scenario", "faults", "--seed", "7", "--speed", "5", "--theme", "light")
    assert (args.simulate, args.scenario, args.seed, args.speed, args.theme) == (True, "faults", 7, 5.0, "light")
    assert args.handler is dashboard.run


def test_context_is_selected_in_a_private_copy_removed_afterwards(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    copy, cleanup = dashboard._with_context(path, "two")
    assert yaml.safe_load(copy.read_text())["current-context"] == "two"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    cleanup()
    assert not copy.exists()


def test_unknown_context_is_a_user_error_naming_the_choices(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    with pytest.raises(UserError, match="contexts there: one, two"):
        dashboard._with_context(path, "three")


def test_real_source_builds_real_drivers_from_the_kubeconfig(tmp_path, monkeypatch):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    source = dashboard.cluster_source(parse("--kubeconfig", str(path), "--hubble-address", "127.0.0.1:4245"))
    assert not source.drivers.simulated
    assert type(source.drivers.kube).__name__ == "KubernetesDriver"
    assert type(source.drivers.hubble).__name__ == "HubbleRelay"
    # Talos facts over the Talos API (one gRPC channel per node), talosctl for the rest.
    assert type(source.drivers.talos).__name__ == "TalosGrpcDriver"


def test_missing_kubeconfig_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(UserError, match="no kubeconfig found"):
        dashboard.cluster_source(parse())


def test_status_live_prints_the_snapshot_as_json_and_fails_on_problems(capsys):
    import json

    from talos_platform.main import main

    code = main(["status", "--live", "--simulated", "--scenario", "crash-loop", "--output", "json"])
    data = json.loads(capsys.readouterr().out)
    assert data["simulated"] is True and data["healthy"] is False and data["state"] == "not healthy" and code == 1
    assert any(p["kind"] == "OOMKilled" for p in data["pod_problems"])
    assert len(data["nodes"]) == 6 and all(n["ready"] for n in data["nodes"])


def test_status_live_text_on_a_healthy_simulation(capsys):
    from talos_platform.main import main

    code = main(["status", "--live", "--simulated"])
    out = capsys.readouterr().out
    assert out.startswith("SIMULATED (scenario default")
    import re

    assert "nodes: 6/6 Ready" in out and re.search(r"apps: (\d+)/\1 Synced and Healthy", out)
    assert out.rstrip().endswith("\nhealthy") and code == 0


def test_status_live_names_the_pod_security_refusal(capsys):
    import json

    from talos_platform.main import main

    code = main(["status", "--live", "--simulated", "--scenario", "pod-security-refused", "--output", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["healthy"] is False
    refused = [p for p in data["pod_problems"] if p["kind"] == "PodSecurity"]
    assert refused and refused[0]["namespace"] == "monitoring" and "hostPID=true" in refused[0]["detail"]


def test_a_redirected_terminal_is_refused_with_what_to_use_instead():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "talos_platform", "dashboard", "--simulate"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "needs a terminal" in result.stderr and "status --live" in result.stderr
    assert result.stdout == ""  # no escape codes written into the file


def test_status_live_while_the_simulated_api_is_away_names_it_and_reports_no_last_known_state(capsys):
    from talos_platform.main import main

    code = main(["status", "--live", "--simulated", "--scenario", "api-flap", "--after", "70"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[1].startswith("Kubernetes API unreachable: ") and "TLS handshake timeout" in out
    assert "nodes, apps and pods: unknown" in out
    assert "Synced and Healthy" not in out and "pods healthy" not in out and "Ready" not in out
    assert out.rstrip().endswith("NOT healthy: the Kubernetes API is unreachable")


def test_status_live_against_an_api_that_does_not_answer_exits_non_zero_naming_it(tmp_path, monkeypatch, capsys):
    import json
    import socket

    from talos_platform.main import main

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = dict(KUBECONFIG, clusters=[{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}"}}])
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("TALOSCONFIG", raising=False)
    code = main(["status", "--live", "--kubeconfig", str(path)])
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("Kubernetes API unreachable: ")
    assert "0/0" not in out and "healthy\n" not in out
    code = main(["status", "--live", "--kubeconfig", str(path), "--output", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["healthy"] is False and data["unreachable"] == ["Kubernetes API"]
    assert data["freshness"]["kubernetes"]["reachable"] is False


def test_the_header_names_the_kubeconfig_context_and_its_cluster(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    assert dashboard.kubeconfig_context(path) == ("one", "c")
    path.write_text(":\n- not yaml")
    assert dashboard.kubeconfig_context(path) == ("", "")


def test_the_rollout_strip_reads_the_state_directory_the_options_name(tmp_path, monkeypatch):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    real = dashboard.cluster_source(parse("--kubeconfig", str(path), "--state-dir", str(tmp_path / "state")))
    assert real.state is not None and real.state.root == tmp_path / "state"
    assert dashboard.rollout_reader(real.state) is not None
    assert dashboard.cluster_source(parse("--kubeconfig", str(path))).state is None
    assert dashboard.rollout_reader(None) is None  # no state directory known: no strip, nothing polled

    simulated = dashboard._simulated_state(parse("--simulate", "--state-dir", str(tmp_path / "sim")))
    assert simulated is not None and simulated.root == tmp_path / "sim"
    assert dashboard._simulated_state(parse("--simulate")) is None
    assert not (tmp_path / "state").exists() and not (tmp_path / "sim").exists()  # reading creates nothing


class _Terminal:
    """Stands in for stdin and stdout of a terminal: `dashboard` refuses to start without one."""

    def isatty(self) -> bool:
        return True


def _run_dashboard_headless(monkeypatch, talos, pilot_script) -> int:
    """`dashboard.run` as the CLI calls it, on fake drivers with one Talos node, the app headless
    and driven by `pilot_script` (Textual's auto pilot) instead of a terminal."""
    source = dashboard.ClusterSource(
        Drivers(talos=talos, kube=FakeKube()), targets=[TalosTarget("127.0.0.1", "cp-1", "control-plane")]
    )
    monkeypatch.setattr(dashboard, "cluster_source", lambda args: source)
    monkeypatch.setattr(dashboard, "sys", argparse.Namespace(stdin=_Terminal(), stdout=_Terminal()))

    def run_headless(app: PlatformApp) -> None:
        App.run(app, headless=True, size=(120, 40), auto_pilot=pilot_script)

    monkeypatch.setattr(PlatformApp, "run", run_headless)
    return dashboard.run(parse())


async def _until_talos_was_read(pilot, talos) -> None:
    await wait_for(pilot, lambda: talos.read_loops)


def test_the_dashboard_closes_the_talos_channels_on_the_loop_that_opened_them_as_it_exits(monkeypatch):
    talos = ChannelTalos()

    async def read_then_quit(pilot) -> None:
        await _until_talos_was_read(pilot, talos)
        assert not talos.closed_on
        await pilot.press("q")

    assert _run_dashboard_headless(monkeypatch, talos, read_then_quit) == 0
    assert len(talos.read_loops) == 1
    assert talos.closed_on == list(talos.read_loops)  # once, on the engine's loop


def test_the_dashboard_closes_the_talos_channels_when_it_ends_on_an_error(monkeypatch):
    talos = ChannelTalos()

    def fail() -> None:
        raise RuntimeError("a bug in a handler")

    async def read_then_fail(pilot) -> None:
        await _until_talos_was_read(pilot, talos)
        pilot.app.call_later(fail)
        await pilot.pause(0.5)

    _run_dashboard_headless(monkeypatch, talos, read_then_fail)
    assert talos.closed_on == list(talos.read_loops)
