"""Valid edge cases: these must produce no errors (warnings are asserted where expected)."""

from __future__ import annotations

from typing import Any

import pytest

from talos_platform.engine.config.loading import load_config
from talos_platform.engine.config.validation import errors_only, problems_at

from .helpers import DOCKER_EXAMPLE, METAL_EXAMPLE, example, problems_for


def single_control_plane(data: dict[str, Any]) -> dict[str, Any]:
    data["nodes"] = data["nodes"][:1]
    data["cluster"].pop("vip")
    data["nodes"][0].pop("link")
    return data


def test_both_examples_load_with_no_errors():
    for path in (METAL_EXAMPLE, DOCKER_EXAMPLE):
        config = load_config(path)
        assert config.cluster.name


def test_examples_point_editors_at_the_committed_schema():
    for path in (METAL_EXAMPLE, DOCKER_EXAMPLE):
        first_line = path.read_text().splitlines()[0]
        assert first_line == "# yaml-language-server: $schema=../schema/platform.schema.json"
        assert (path.parent / "../schema/platform.schema.json").resolve().is_file()


def test_metal_example_has_three_control_planes_and_three_workers():
    config = load_config(METAL_EXAMPLE)
    assert len(config.control_planes) == 3 and len(config.workers) == 3
    assert config.cluster.vip and all(node.link for node in config.control_planes)
    assert all(getattr(config.components, name).enabled for name in type(config.components).model_fields)


def test_one_control_plane_needs_no_vip_nor_link():
    problems = problems_for(single_control_plane(example(METAL_EXAMPLE)))
    # Without a link the node keeps its DHCP address: allowed, with a word about reservations.
    assert [(p.path, p.severity) for p in problems] == [("nodes[0].link", "warning")]
    assert "DHCP" in problems[0].message and "192.168.10.11" in problems[0].hint


def test_dhcp_nodes_need_no_gateway():
    data = example(METAL_EXAMPLE)
    del data["cluster"]["vip"], data["cluster"]["network"]["gateway"]
    data["nodes"] = data["nodes"][:1] + data["nodes"][3:]
    for node in data["nodes"]:
        node.pop("link")
    assert errors_only(problems_for(data)) == []


def test_kernel_arguments_the_image_factory_takes():
    data = example(METAL_EXAMPLE)
    data["cluster"]["schematic"] = {
        "extraKernelArgs": [
            "console=ttyS0,115200n8",
            "-console",
            "net.ifnames=0",
            "talos.dashboard.disabled=1",
            "nomodeset",
        ],
        "systemExtensions": ["siderolabs/iscsi-tools", "siderolabs/util-linux-tools"],
    }
    assert problems_for(data) == []


def test_one_control_plane_with_workers_and_no_vip():
    data = example(METAL_EXAMPLE)
    data["cluster"].pop("vip")
    for node in data["nodes"][1:3]:
        node["role"] = "worker"
    assert errors_only(problems_for(data)) == []


def test_one_control_plane_may_still_use_a_vip():
    data = example(METAL_EXAMPLE)
    data["nodes"] = data["nodes"][:1]
    assert problems_for(data) == []


def test_three_control_planes_with_vip():
    assert problems_for(example(METAL_EXAMPLE)) == []


def test_five_control_planes():
    data = example(METAL_EXAMPLE)
    for node in data["nodes"][3:5]:
        node.update(role="control-plane", link="enp1s0")
    assert problems_for(data) == []


def test_four_control_planes_is_a_warning_not_an_error():
    data = example(METAL_EXAMPLE)
    data["nodes"][3].update(role="control-plane", link="enp1s0")
    problems = problems_for(data)
    assert [(p.path, p.severity) for p in problems] == [("nodes", "warning")]
    assert "3 or 5" in problems[0].hint


def test_addresses_without_prefix_take_the_node_subnet():
    data = example(METAL_EXAMPLE)
    data["cluster"]["network"]["nodeSubnet"] = "192.168.10.0/24"
    for node in data["nodes"]:
        node["address"] = node["address"].split("/")[0]
    assert problems_for(data) == []


def test_ssh_and_scp_style_urls_for_public_repositories():
    for url in ("ssh://git@git.example.com:2222/team/platform.git", "git@github.com:team/platform.git"):
        data = example(METAL_EXAMPLE)
        data["gitops"].update(repoUrl=url, private=False)
        assert problems_for(data) == [], url


def test_extra_sans_may_be_ipv4_ipv6_and_wildcards():
    data = example(METAL_EXAMPLE)
    data["cluster"]["extraApiSans"] = ["203.0.113.7", "2001:db8::7", "*.k8s.example.com", "api"]
    assert problems_for(data) == []


def test_components_other_than_cilium_and_argocd_may_be_disabled():
    data = example(METAL_EXAMPLE)
    for name in ("gatewayApi", "certManager", "externalDns", "vault", "monitoring", "cloudflareTunnel"):
        data["components"][name]["enabled"] = False
    data["components"]["vault"]["secretsOperator"]["enabled"] = False
    assert problems_for(data) == []


def test_reserved_mail_domain_is_a_warning():
    data = example(METAL_EXAMPLE)
    data["domain"]["acmeEmail"] = "admin@example.com"
    problems = problems_for(data)
    assert [(p.path, p.severity) for p in problems] == [("domain.acmeEmail", "warning")]


def test_problems_at_filters_by_field_path():
    data = example(METAL_EXAMPLE)
    data["nodes"][1]["address"] = "bad"
    data["nodes"][1]["name"] = "Bad"
    data["domain"]["base"] = "bad"
    problems = problems_for(data)
    assert {p.path for p in problems_at(problems, "nodes[1]")} == {"nodes[1].address", "nodes[1].name"}
    assert problems_at(problems, "nodes[10]") == []
    assert [p.path for p in problems_at(problems, "domain")] == ["domain.base"]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9418/platform.git", "http://localhost/platform.git", "http://[::1]:8080/p.git"]
)
def test_plain_http_git_server_on_loopback_is_accepted(url: str):
    """Nothing crosses a network on loopback: a local Git server (the rehearsal's) may use http."""
    data = example(METAL_EXAMPLE)
    data["gitops"].update(repoUrl=url, private=False)
    assert errors_only(problems_for(data)) == []


def test_mirrors_with_plain_http_are_accepted():
    data = example(METAL_EXAMPLE)
    data["mirrors"] = {
        "charts": "http://charts.internal:8080/platform/",
        "gatewayApi": "https://files.internal/gateway-api",
    }
    assert errors_only(problems_for(data)) == []
