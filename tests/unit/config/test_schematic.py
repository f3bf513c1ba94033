"""Schematic IDs computed offline match the Image Factory's.

The expected IDs are the factory's own: the empty schematic and `noapic nolapic` are test
vectors of siderolabs/image-factory `pkg/schematic`, and the iscsi-tools + util-linux-tools ID
is the one the factory returns for Longhorn's usual schematic."""

from __future__ import annotations

import hashlib

import pytest

from talos_platform.engine.config.models import PlatformConfig, Schematic
from talos_platform.engine.config.schematic import (
    EMPTY_SCHEMATIC_ID,
    installer_image,
    kernel_argument_problem,
    schematic_id,
    schematic_yaml,
)

from .helpers import METAL_EXAMPLE, example


def test_the_empty_schematic_has_the_factory_id():
    assert schematic_id(Schematic()) == "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
    assert EMPTY_SCHEMATIC_ID == schematic_id(Schematic())


@pytest.mark.parametrize(
    ("schematic", "expected"),
    [
        (
            Schematic(extra_kernel_args=["noapic", "nolapic"]),
            "9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c",
        ),
        (
            Schematic(system_extensions=["siderolabs/iscsi-tools", "siderolabs/util-linux-tools"]),
            "613e1592b2da41ae5e265e8789429f22e121aab91cb4deb6bc3c0b6262961245",
        ),
    ],
)
def test_known_schematics_have_the_factory_ids(schematic: Schematic, expected: str):
    assert schematic_id(schematic) == expected


def test_extensions_are_sorted_and_unique_kernel_arguments_keep_their_order():
    shuffled = Schematic(
        system_extensions=["siderolabs/util-linux-tools", "siderolabs/iscsi-tools", "siderolabs/iscsi-tools"]
    )
    assert schematic_id(shuffled) == "613e1592b2da41ae5e265e8789429f22e121aab91cb4deb6bc3c0b6262961245"
    assert schematic_id(Schematic(extra_kernel_args=["nolapic", "noapic"])) != schematic_id(
        Schematic(extra_kernel_args=["noapic", "nolapic"])
    )


def test_the_id_is_the_hash_of_the_written_schematic():
    schematic = Schematic(system_extensions=["siderolabs/intel-ucode"], extra_kernel_args=["net.ifnames=0"])
    text = schematic_yaml(schematic)
    assert text == (
        "customization:\n"
        "    extraKernelArgs:\n"
        "        - net.ifnames=0\n"
        "    systemExtensions:\n"
        "        officialExtensions:\n"
        "            - siderolabs/intel-ucode\n"
    )
    assert schematic_id(schematic) == hashlib.sha256(text.encode()).hexdigest()


def test_installer_image_names_the_schematic_and_the_talos_version():
    data = example(METAL_EXAMPLE)
    data["cluster"]["schematic"] = {}
    data["cluster"]["talosVersion"] = "v1.14.1"
    config = PlatformConfig.model_validate(data)
    assert installer_image(config) == f"factory.talos.dev/metal-installer/{EMPTY_SCHEMATIC_ID}:v1.14.1"


@pytest.mark.parametrize("argument", ["yes", "on", "0x10", "1e3", "1:20", "2026-01-02", "a b", 'say"hi"', "x:", ""])
def test_arguments_yaml_would_not_keep_as_plain_words_are_refused(argument: str):
    assert kernel_argument_problem(argument)


@pytest.mark.parametrize(
    "argument", ["console=ttyS0,115200n8", "-console", "i915.enable_guc=3", "nomodeset", "ip=dhcp"]
)
def test_usual_kernel_arguments_are_taken(argument: str):
    assert kernel_argument_problem(argument) is None
