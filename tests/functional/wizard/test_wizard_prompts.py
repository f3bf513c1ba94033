"""The wizard driven through its real questionary prompts with scripted keystrokes."""

from __future__ import annotations

import stat
import sys

import pytest
import yaml
from conftest import EXPECTED
from wizard_script import (
    cloudflare_secrets,
    cluster_defaults,
    components_default,
    confirm_and_save,
    domain_and_gitops,
    happy_path,
    metal_node,
    network,
    three_control_planes_and_a_worker,
    typed,
)
from wizard_terminal import CTRL_C, CTRL_U, DOWN, ENTER, ESC, SPACE, UP, expect, shows


def test_happy_path_writes_the_config_and_a_private_secrets_file(drive):
    run = drive(happy_path())

    assert run.code == 0
    assert run.config_file.read_bytes() == (EXPECTED / "happy-path.yaml").read_bytes()
    assert run.secrets_file.read_bytes() == (EXPECTED / "happy-path.secrets.yaml").read_bytes()
    assert stat.S_IMODE(run.secrets_file.stat().st_mode) == 0o600
    assert "install --yes --config platform.yaml" in run.screen
    assert (
        "cf-api-token" not in run.screen and "cf-tunnel-token" not in run.screen
    )  # password prompts, "set" in the review


def _config(run) -> dict:
    return yaml.safe_load(run.config_file.read_text())


def test_esc_goes_back_and_the_review_reopens_a_section(drive):
    steps = [
        expect("? Cluster name", typed("first")),
        expect("? Platform", ESC),  # back to the name
        expect("? Cluster name", typed("lab")),
        *cluster_defaults()[1:],
        *three_control_planes_and_a_worker(),
        *network(),
        expect("? Base domain", ESC),  # back across sections: the last network question
        expect("? Load-balancer addresses", ENTER),
        *domain_and_gitops(),
        *components_default(),
        *cloudflare_secrets(),
        expect("? What next?", ESC),  # back from the review: the last question again
        expect("? ArgoCD admin password", ESC),
        expect("? Grafana admin password", ESC),
        expect("? Cloudflare Tunnel token", ENTER),  # Enter keeps the token typed before
        expect("? Grafana admin password", "grafana-admin-pass-42" + ENTER),
        expect("? ArgoCD admin password", "argocd-admin-pass-42" + ENTER),
        expect("? What next?", DOWN + ENTER),  # Change an answer…
        expect("? Which part do you want to change?", DOWN * 3 + ENTER),  # Domain
        expect("? Base domain", typed("lab.homelab.dev")),
        expect("? E-mail for Let's Encrypt", typed("ops@lab.homelab.dev")),
        *confirm_and_save(),
    ]
    run = drive(steps)

    assert run.code == 0
    config = _config(run)
    assert config["cluster"]["name"] == "lab"
    assert config["domain"] == {"base": "lab.homelab.dev", "acmeEmail": "ops@lab.homelab.dev"}
    assert "cloudflareTunnelToken: cf-tunnel-token-0123456789" in run.secrets_file.read_text()
    assert "grafanaAdminPassword: grafana-admin-pass-42" in run.secrets_file.read_text()
    assert "argocdAdminPassword: argocd-admin-pass-42" in run.secrets_file.read_text()
    assert "grafana-admin-pass-42" not in run.screen and "argocd-admin-pass-42" not in run.screen  # password prompts


def test_nodes_are_added_edited_and_removed_from_the_review(drive):
    steps = [
        *happy_path()[:-2],
        expect("? What next?", DOWN * 2 + ENTER),  # Add a node
        expect("? Node 5: role"),
        expect("? Node 5: name"),  # worker-2 suggested
        expect("? Node 5: IP address"),  # 10.0.0.15/24 suggested
        expect("? Node 5: install disk"),
        expect("? Node 5: network interface"),  # eth0, as the other nodes
        expect("? What next?", DOWN * 3 + ENTER),  # Edit a node…
        expect("? Which node?", DOWN * 3 + ENTER),  # worker-1
        expect("? Node 4: role"),
        expect("? Node 4: name", typed("storage-1")),
        expect("? Node 4: IP address", typed("10.0.0.40/24")),
        expect("? Node 4: install disk", typed("/dev/nvme0n1")),
        expect("? Node 4: network interface", typed("enp2s0")),
        expect("? What next?", DOWN * 4 + ENTER),  # Remove a node…
        expect("? Remove which node?", DOWN * 4 + ENTER),  # worker-2 again
        expect("removed worker-2", ""),
        expect("? What next?", DOWN * 2 + ENTER),  # Add a node, then change our mind
        expect("? Node 5: role", ESC),
        *confirm_and_save(),
    ]
    run = drive(steps)

    assert run.code == 0
    nodes = _config(run)["nodes"]
    assert [(n["name"], n["address"], n["role"], n["installDisk"], n["link"]) for n in nodes] == [
        ("cp-1", "10.0.0.11/24", "control-plane", "/dev/sda", "eth0"),
        ("cp-2", "10.0.0.12/24", "control-plane", "/dev/sda", "eth0"),
        ("cp-3", "10.0.0.13/24", "control-plane", "/dev/sda", "eth0"),
        ("storage-1", "10.0.0.40/24", "worker", "/dev/nvme0n1", "enp2s0"),
    ]


def test_wrong_answers_are_refused_with_the_rule_s_message_then_corrected(drive):
    steps = [
        expect("? Cluster name", typed("Home_Lab")),
        shows("'Home_Lab' is not a DNS label", typed("homelab")),
        *cluster_defaults()[1:],
        *metal_node(1, address="10.0.0.11/24", control_plane=True, another=True),
        expect("? Node 2: role"),
        expect("? Node 2: name"),
        expect("? Node 2: IP address", typed("10.0.0.11/24")),
        shows("10.0.0.11 is also the address of Node 1 (cp-1)", typed("10.0.0.12/24")),
        expect("? Node 2: install disk"),
        expect("? Node 2: network interface"),
        expect("? Add another node?", "n"),
        expect("2 control planes: etcd stops when either fails", ""),
        expect("? Add another node?", "y"),
        *metal_node(3, control_plane=True, another=True),
        *metal_node(4, control_plane=False, another=False),
        expect("? Virtual IP", typed("10.0.0.11")),
        shows("10.0.0.11 is the IP of Node 1 (cp-1)", typed("10.0.1.10")),
        shows("is outside the control planes' subnet 10.0.0.0/24", typed("10.0.0.10")),
        *network()[1:],
        expect("? Base domain", typed("homelab")),
        shows("'homelab' is not a domain name", typed("homelab.dev")),
        *domain_and_gitops()[1:],
        *components_default(),
        *cloudflare_secrets(),
        *confirm_and_save(),
    ]
    run = drive(steps)

    assert run.code == 0
    assert run.config_file.read_bytes() == (EXPECTED / "happy-path.yaml").read_bytes()


def _until(question: str) -> list:
    """The happy path's steps before `question`."""
    script = happy_path()
    return script[: next(index for index, step in enumerate(script) if step.wait_for == question)]


def test_a_component_switch_the_rules_refuse_is_explained_in_the_checkbox(drive):
    steps = [
        *_until("? Components to install"),
        expect("? Components to install", DOWN + SPACE + ENTER),  # Cilium off
        shows("Cilium cannot be disabled", SPACE + ENTER),  # back on
        expect("? Change the pinned component versions?", "y"),
        *[
            expect(f"? {label}")
            for label in ("Gateway API CRDs: version", "Cilium (CNI", "ArgoCD: version", "cert-manager")
        ],
        expect("? external-dns (Cloudflare): version", typed("latest")),
        shows("'latest' is not a version", typed("1.19.1")),
        *[
            expect(f"? {label}")
            for label in (
                "Vault: version",
                "Vault Secrets Operator: version",
                "Monitoring",
                "Cloudflare Tunnel: version",
            )
        ],
        expect("? ArgoCD admin group"),
        expect("? Storage for persistent volumes"),
        *cloudflare_secrets(),
        *confirm_and_save(),
    ]
    run = drive(steps)

    assert run.code == 0
    assert _config(run)["components"]["externalDns"]["version"] == "1.19.1"


@pytest.mark.parametrize(
    "stop_at", ["? Node 2: IP address", "? Base domain", "? Cloudflare Tunnel token", "? Save the config as"]
)
def test_ctrl_c_anywhere_writes_nothing(drive, stop_at):
    script = happy_path()
    index = next(i for i, step in enumerate(script) if step.wait_for == stop_at)
    steps = [*script[:index], expect(stop_at, "abc" + CTRL_C)]
    run = drive(steps)

    assert run.code == 130
    assert "cancelled, nothing written" in run.screen
    assert run.files() == []
    assert not run.state.exists()


def test_cancel_in_the_review_menu_writes_nothing_and_is_not_an_error(drive):
    run = drive([*happy_path()[:-2], expect("? What next?", UP + ENTER)])  # up wraps to Cancel

    assert run.code == 0
    assert "cancelled, nothing written" in run.screen
    assert run.files() == []


def test_an_existing_config_gives_every_default_and_saves_back_unchanged(drive, folder, tmp_path):
    existing = folder / "cluster.yaml"
    existing.write_bytes((EXPECTED / "happy-path.yaml").read_bytes())
    state = tmp_path / "state"
    state.mkdir()
    secrets = state / "secrets.yaml"
    secrets.write_bytes((EXPECTED / "happy-path.secrets.yaml").read_bytes())
    secrets.chmod(0o600)
    steps = [
        *cluster_defaults(),
        *[
            step
            for n in range(1, 5)
            for step in metal_node(n, control_plane=n < 4, another=False)
            if "Add another" not in step.wait_for
        ],
        expect("? Add another node?", "n"),
        expect("? Virtual IP"),
        *network()[1:],
        *[expect(step.wait_for) for step in domain_and_gitops()[:-1]],
        expect("? Is the repository private", ENTER),
        *components_default(),
        expect("(set; Enter keeps it)"),
        expect("(set; Enter keeps it)"),
        expect("? Grafana admin password"),  # left to the install
        expect("? ArgoCD admin password"),  # likewise
        expect("? What next?"),
        expect("? Save the config as"),  # defaults to the file being edited; no "replace?" question
    ]
    run = drive(steps, config_path=existing)

    assert run.code == 0
    assert existing.read_bytes() == (EXPECTED / "happy-path.yaml").read_bytes()
    assert secrets.read_bytes() == (EXPECTED / "happy-path.secrets.yaml").read_bytes()
    assert not (folder / "platform.yaml").exists()


HAND_WRITTEN_HEADER = "# yaml-language-server: $schema=../schema/platform.schema.json\n# The lab's cluster.\n"


def test_editing_an_existing_config_changes_only_what_was_changed(drive, folder):
    existing = folder / "cluster.yaml"
    original = HAND_WRITTEN_HEADER + (EXPECTED / "happy-path.yaml").read_text()
    existing.write_text(original)
    steps = [
        expect("? Cluster name"),
        expect("? Platform"),
        expect("? Talos version", DOWN * 3 + ENTER),  # v1.12.…
        expect("? Talos version (vMAJOR.MINOR.PATCH)", "1" + ENTER),  # the prompt starts at "v1.12."
        expect("? Kubernetes version", DOWN * 6 + ENTER),  # v1.35.…: Talos 1.12 supports up to 1.35
        expect("? Kubernetes version (vMAJOR.MINOR.PATCH)", "0" + ENTER),
        expect("? Add system extensions or kernel arguments"),
        *[
            step
            for n in range(1, 5)
            for step in metal_node(n, control_plane=n < 4, another=False)
            if "Add another" not in step.wait_for
        ],
        expect("? Add another node?", "n"),
        expect("? Virtual IP"),
        *network()[1:],
        *[expect(step.wait_for) for step in domain_and_gitops()[:-1]],
        expect("? Is the repository private", ENTER),
        *components_default(),
        *cloudflare_secrets(),  # no saved secrets in this state directory: asked again
        *confirm_and_save(),
        expect("? Write these changes to", ENTER),
    ]
    run = drive(steps, config_path=existing)

    assert run.code == 0
    assert "-  talosVersion: v1.14.1" in run.screen and "+  talosVersion: v1.12.1" in run.screen
    expected = original.replace("talosVersion: v1.14.1", "talosVersion: v1.12.1")
    expected = expected.replace("kubernetesVersion: v1.37.2", "kubernetesVersion: v1.35.0")
    assert existing.read_text() == expected  # the comments too
    assert (folder / "cluster.yaml.bak").read_text() == original


def test_a_change_to_an_existing_file_that_is_refused_asks_for_another_name(drive, folder):
    existing = folder / "platform.yaml"
    original = HAND_WRITTEN_HEADER + (EXPECTED / "happy-path.yaml").read_text().replace("homelab", "lab")
    existing.write_text(original)
    steps = [
        *happy_path()[:-1],
        expect("? Save the config as", typed("platform.yaml")),
        expect("? Write these changes to", "n"),
        expect("? Save the config as", typed("other.yaml")),
    ]
    run = drive(steps)

    assert run.code == 0
    assert existing.read_text() == original
    assert not (folder / "platform.yaml.bak").exists()
    assert (folder / "other.yaml").read_bytes() == (EXPECTED / "happy-path.yaml").read_bytes()


def test_docker_asks_no_vip_no_role_no_second_node(drive):
    steps = [
        expect("? Cluster name", typed("local")),
        expect("? Platform", DOWN + ENTER),
        expect("? Talos version"),
        expect("? Kubernetes version"),
        expect("? Node 1: name"),
        expect("? Node 1: IP address", typed("10.5.0.2/24")),
        expect("? Change the pod and service networks?", "y"),
        expect("? Pod network (CIDR)", typed("10.5.0.0/16")),
        shows("overlaps the node network 10.5.0.0/24", typed("10.200.0.0/16")),
        expect("? Service network (CIDR)"),
        expect("? Extra names or IPs", typed("k8s.local.dev, 127.0.0.2")),
        expect("? Load-balancer addresses", typed("10.5.0.1-10.5.0.9")),
        shows("the docker network's gateway", typed("10.5.0.240-10.5.0.254")),
        *domain_and_gitops("local.dev")[:-1],
        expect("? Is the repository private", "y"),
        expect("? Components to install", DOWN * 6 + SPACE + DOWN * 4 + SPACE + ENTER),  # external-dns, tunnel off
        expect("? Change the pinned component versions?", "n"),
        expect("? ArgoCD admin group", typed("platform-admins")),
        expect("? Storage for persistent volumes", DOWN * 2 + ENTER),  # none: refused while Vault is on
        shows("keep data on persistent volumes", DOWN + ENTER),  # a class of my own
        expect("? StorageClass name", typed("longhorn")),
        expect("? Git user name", typed("ops")),
        expect("? Git access token", "git-token-0123456789" + ENTER),
        expect("? Grafana admin password"),
        expect("? ArgoCD admin password"),
        *confirm_and_save(),
    ]
    run = drive(steps)

    assert run.code == 0
    asked = run.screen.split("Review")[0]
    assert "Virtual IP" not in asked and "role" not in asked and "install disk" not in asked
    assert run.config_file.read_bytes() == (EXPECTED / "docker.yaml").read_bytes()
    assert run.secrets_file.read_bytes() == (EXPECTED / "docker.secrets.yaml").read_bytes()
    assert "git-token-0123456789" not in run.screen  # typed into a password prompt: never echoed


def test_config_naming_a_file_not_yet_there_starts_fresh_and_saves_there(drive, folder):
    run = drive(happy_path(), config_path=folder / "clusters" / "home.yaml")

    assert run.code == 0
    assert (folder / "clusters" / "home.yaml").read_bytes() == (EXPECTED / "happy-path.yaml").read_bytes()
    assert not run.config_file.exists()


def test_editing_a_single_node_config_without_a_vip_adds_no_link(drive, folder):
    text = (EXPECTED / "happy-path.yaml").read_text()
    head, rest = text.split("- name: cp-2", 1)
    single = (
        head.replace("  vip: 10.0.0.10\n", "").replace("  link: eth0\n", "") + "domain:" + rest.split("domain:", 1)[1]
    )
    existing = folder / "single.yaml"
    existing.write_text(single)
    steps = [
        *cluster_defaults(),
        *metal_node(1, control_plane=True, another=False),
        expect("? Virtual IP"),  # optional with one control plane: left empty
        *network()[1:],
        *[expect(step.wait_for) for step in domain_and_gitops()[:-1]],
        expect("? Is the repository private", ENTER),
        *components_default(),
        *cloudflare_secrets(),
        *confirm_and_save(),
    ]
    run = drive(steps, config_path=existing)

    assert run.code == 0
    assert existing.read_text() == single


def test_simulated_hand_over_runs_headless_when_the_tui_is_not_installed(drive, monkeypatch, capsys):
    from talos_platform.commands import guided

    monkeypatch.setitem(sys.modules, "talos_platform.tui.app", None)  # import fails as if not installed
    scenario = [
        expect("? Cluster name"),
        expect("? Platform"),
        expect("? Talos version"),
        expect("? Kubernetes version"),
        expect("? Add system extensions"),
    ]
    for number in range(1, 7):
        scenario += [
            expect(f"? Node {number}: {question}") for question in ("role", "name", "IP address", "install disk")
        ]
        scenario += [expect(f"? Node {number}: network interface")]
    scenario += [expect("? Add another node?", "n")]
    scenario += [
        expect(f"? {q}")
        for q in (
            "Virtual IP",
            "Default gateway",
            "Change the pod",
            "Extra names",
            "Load-balancer",
            "Base domain",
            "E-mail",
            "GitOps repository URL",
            "Branch",
            "Folder",
            "Is the repository private",
            "Components to install",
            "Change the pinned",
            "ArgoCD admin group",
            "Storage for",
            "Git user name",
            "Git access token",
            "Cloudflare API token",
            "Cloudflare Tunnel token",
            "Grafana admin password",
            "ArgoCD admin password",
            "What next?",
            "Save the config as",
        )
    ]
    scenario += [
        expect("SIMULATION: these steps run on the simulator", ""),
        expect("? Start the simulated install now?"),
    ]

    run = drive(scenario, simulate=True, speed=1000, hand_over=guided.hand_over)

    assert run.code == 0
    assert "install succeeded" in capsys.readouterr().out
    assert (run.folder / "platform-simulated.yaml").exists()


def test_a_custom_talos_image_and_a_dhcp_worker(drive):
    steps = [
        *cluster_defaults()[:-1],
        expect("? Add system extensions or kernel arguments", "y"),
        expect("? System extensions", typed("siderolabs/util-linux-tools, iscsi-tools")),
        shows(
            "'iscsi-tools' is not an official extension name",
            typed("siderolabs/util-linux-tools, siderolabs/iscsi-tools"),
        ),
        expect("? Extra kernel arguments", typed("console=ttyS0,115200n8 net.ifnames=0")),
        *metal_node(1, address="10.0.0.11/24", control_plane=True, another=True),
        expect("? Node 2: role", DOWN + ENTER),  # worker
        *metal_node(2, control_plane=False, another=False)[1:-2],
        expect("? Node 2: network interface", CTRL_U + ENTER),  # empty: DHCP
        shows("keeps the address DHCP gives it", ""),
        expect("? Add another node?", "n"),
        expect("? Virtual IP", ENTER),
        expect("? Default gateway of the nodes", typed("10.0.1.1")),
        shows("10.0.1.1 is outside 10.0.0.0/24", typed("10.0.0.254")),
        *network()[2:],
        *domain_and_gitops(),
        *components_default(),
        *cloudflare_secrets(),
        *confirm_and_save(),
    ]
    run = drive(steps)

    assert run.code == 0
    config = _config(run)
    assert config["cluster"]["schematic"] == {
        "systemExtensions": ["siderolabs/util-linux-tools", "siderolabs/iscsi-tools"],
        "extraKernelArgs": ["console=ttyS0,115200n8", "net.ifnames=0"],
    }
    assert config["cluster"]["network"]["gateway"] == "10.0.0.254"
    assert [node.get("link") for node in config["nodes"]] == ["eth0", None]


def test_going_back_from_a_node_just_added_takes_it_away(drive):
    steps = [
        *cluster_defaults(),
        *metal_node(1, address="10.0.0.11/24", control_plane=True, another=True),
        expect("? Node 2: role", ESC),
        expect("? Add another node?", "n"),  # one control plane after all
        expect("? Virtual IP", ENTER),  # optional with one control plane
        *network()[1:],
        *domain_and_gitops(),
        *components_default(),
        *cloudflare_secrets(),
        *confirm_and_save(),
    ]
    run = drive(steps)

    assert run.code == 0
    config = _config(run)
    assert [node["name"] for node in config["nodes"]] == ["cp-1"]
    assert "vip" not in config["cluster"]


def test_ctrl_c_at_the_install_question_keeps_the_files_and_starts_nothing(drive):
    from talos_platform.commands import guided

    run = drive(
        [*happy_path(), expect("Install plan", ""), expect("? Start the install now?", CTRL_C)],
        hand_over=guided.hand_over,
    )

    assert run.code == 130
    assert "install not started (the files above are kept)" in run.screen
    assert run.config_file.read_bytes() == (EXPECTED / "happy-path.yaml").read_bytes()
    assert not (run.state / "runs").exists()


def test_a_config_that_cannot_be_saved_there_is_refused_as_typed(drive, folder):
    (folder / "taken").write_text("a file, not a folder")
    steps = [
        *happy_path()[:-1],
        expect("? Save the config as", typed("taken/platform.yaml")),
        shows("cannot write into taken", typed("platform.yaml")),
    ]
    run = drive(steps)

    assert run.code == 0
    assert run.config_file.exists()


def test_files_that_cannot_be_written_are_a_plain_error_and_leave_nothing(drive, folder, tmp_path):
    from talos_platform.engine.errors import UserError

    (tmp_path / "state").write_text("a file where the state directory should be")
    with pytest.raises(UserError, match="nothing was written"):
        drive(happy_path())

    assert list(folder.iterdir()) == []


def test_the_secrets_file_is_not_written_while_an_install_holds_the_state_directory(drive, folder, tmp_path):
    from talos_platform.engine.errors import UserError
    from talos_platform.engine.state import StateDirectory

    with StateDirectory(tmp_path / "state").lock():  # an install is running on this cluster
        with pytest.raises(UserError, match="another install is running"):
            drive(happy_path())
    assert list(folder.iterdir()) == []
    assert not (tmp_path / "state" / "secrets.yaml").exists()


def test_a_wrong_answer_is_explained_right_under_its_prompt(drive):
    steps = [
        *cluster_defaults(),
        *metal_node(1, control_plane=True, another=False)[:2],
        expect("? Node 1: IP address", typed("300.1.1.1/24")),
        shows("is not an IP address", CTRL_C),
    ]
    run = drive(steps)

    lines = run.matched_screens[0].splitlines()
    prompt = next(i for i, line in enumerate(lines) if "? Node 1: IP address" in line)
    problem = next(i for i, line in enumerate(lines) if "is not an IP address" in line)
    assert problem == prompt + 1, run.matched_screens[0]
