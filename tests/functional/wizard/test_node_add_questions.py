"""`node add` on a terminal without --name/--address asks the wizard's node questions, each
answer checked against the whole config (a taken address refused on the spot), and the answers
become the node it adds."""

import argparse
import shutil
from pathlib import Path

from wizard_terminal import CTRL_U, ENTER, ScriptedTerminal, expect, shows

from talos_platform.commands.node_add import COMMAND, ask_for_node

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "metal-3cp-3w.yaml"


def test_the_new_node_is_asked_for_and_a_taken_address_refused(tmp_path):
    config = tmp_path / "platform.yaml"
    shutil.copy(EXAMPLE, config)
    args = argparse.Namespace(config=str(config), name=None, address=None, role=None, install_disk=None, link=None)
    steps = [
        expect("Node 7: role", ENTER),  # the suggestion
        expect("Node 7: name", CTRL_U + "worker-4" + ENTER),
        expect("Node 7: IP address", CTRL_U + "192.168.10.21/24" + ENTER),
        shows("is also the address of Node 4 (worker-1)", CTRL_U + "192.168.10.24/24" + ENTER),
        expect("Node 7: install disk", CTRL_U + "/dev/nvme0n1" + ENTER),
        expect("Node 7: network interface", CTRL_U + "enp2s0" + ENTER),
    ]

    ScriptedTerminal(steps).run(lambda console: ask_for_node(args, console))

    assert COMMAND.options(args)["node"] == {
        "name": "worker-4",
        "address": "192.168.10.24/24",
        "role": "worker",
        "installDisk": "/dev/nvme0n1",
        "link": "enp2s0",
    }
    assert config.read_text() == EXAMPLE.read_text()  # nothing written before the run shows the diff
