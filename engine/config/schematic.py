"""The Image Factory schematic of the Talos installer image, and its ID computed offline.

From Talos 1.14 Sidero Labs no longer publishes `ghcr.io/siderolabs/installer`: installer images
come from the Image Factory as `factory.talos.dev/metal-installer/<schematic ID>:<version>`
(the factory serves that name for older releases too, so every version uses it). A schematic
lists the system extensions and extra kernel arguments baked into the image, and its ID is the
SHA-256 of the factory's canonical YAML of it (siderolabs/image-factory `pkg/schematic`,
`Schematic.ID`): the Go struct marshalled by go-yaml, which writes fields in struct order, leaves
out empty ones, indents by four spaces and indents list items under their key. We write the
same bytes for the two fields we support, so the ID is known without asking the factory, and
`curl -X POST --data-binary @talos/schematic.yaml https://factory.talos.dev/schematics` returns
the same ID.

Extensions are sorted and repeated ones dropped, as the factory's own web UI does, so the same
set always gives the same image; kernel arguments keep their order (it matters to the kernel).
"""

from __future__ import annotations

import hashlib
import re

from talos_platform.engine.config.models import PlatformConfig, Schematic

IMAGE_FACTORY = "factory.talos.dev"
INSTALLER_REPOSITORY = f"{IMAGE_FACTORY}/metal-installer"
EMPTY_SCHEMATIC_ID = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"

# An official extension is `<owner>/<name>`, e.g. `siderolabs/iscsi-tools`.
EXTENSION_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*$")
# A kernel argument is one word (`name` or `name=value`, `-name` removes a default one).
# The characters are ones go-yaml writes as a plain scalar, so our bytes are the factory's.
KERNEL_ARGUMENT = re.compile(r"^-?[A-Za-z0-9_][A-Za-z0-9_.,=/:+@%~-]*$")
# Words YAML would read as a number, a boolean or null: go-yaml would quote them.
_NOT_A_PLAIN_STRING = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?"
    r"|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|\.inf)|\.nan|y|yes|n|no|true|false|on|off|null|~)$",
    re.IGNORECASE,
)
# Digits with separators only (`1:20`, `2026-01-02`): sexagesimal numbers and dates to YAML.
_NUMBER_LIKE = re.compile(r"^[-+]?[0-9][0-9_.:+-]*$")


def extension_problem(name: str) -> str | None:
    """Why `name` cannot be an official system extension, or None."""
    if not EXTENSION_NAME.match(name):
        return f"{name!r} is not an official extension name like `siderolabs/iscsi-tools`"
    return None


def kernel_argument_problem(argument: str) -> str | None:
    """Why `argument` cannot be written into a schematic, or None."""
    if not KERNEL_ARGUMENT.match(argument) or argument.endswith(":"):
        return (
            f"{argument!r} is not one kernel argument (`name` or `name=value`, no spaces or quotes; "
            "a leading `-` removes a default argument)"
        )
    if _NOT_A_PLAIN_STRING.match(argument) or _NUMBER_LIKE.match(argument):
        return f"{argument!r} is a bare number or word, not a kernel argument"
    return None


def canonical_extensions(schematic: Schematic) -> list[str]:
    return sorted(set(schematic.system_extensions))


def schematic_yaml(schematic: Schematic) -> str:
    """The factory's canonical YAML of the schematic (what its ID hashes)."""
    extensions = canonical_extensions(schematic)
    if not extensions and not schematic.extra_kernel_args:
        return "customization: {}\n"
    lines = ["customization:"]
    if schematic.extra_kernel_args:
        lines.append("    extraKernelArgs:")
        lines += [f"        - {argument}" for argument in schematic.extra_kernel_args]
    if extensions:
        lines += ["    systemExtensions:", "        officialExtensions:"]
        lines += [f"            - {name}" for name in extensions]
    return "\n".join(lines) + "\n"


def schematic_id(schematic: Schematic) -> str:
    return hashlib.sha256(schematic_yaml(schematic).encode("utf-8")).hexdigest()


def installer_image(config: PlatformConfig) -> str:
    """The installer image of the nodes' Talos version with the config's schematic."""
    return f"{INSTALLER_REPOSITORY}/{schematic_id(config.cluster.schematic)}:{config.cluster.talos_version}"
