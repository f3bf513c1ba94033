"""Regenerates the *_pb2.py modules and their type stubs (*_pb2.pyi) from the .proto files here
(needs grpcio-tools, a test dependency): observer.proto (Hubble Relay), cosi_state.proto (the
Talos resource API), talos_machine.proto (the Talos machine service) and talos_specs.proto (the
specs of the Talos resources read).

The generated modules are committed so the installed tool needs only the protobuf runtime; run
this after editing a .proto and commit both. Service stubs are not generated: the clients and the
test servers bind each method by its path (see hubble_grpc.py, talos_api.py).
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTOS = ("observer.proto", "cosi_state.proto", "talos_machine.proto", "talos_specs.proto")


def main() -> int:
    from grpc_tools import protoc

    include = str(resources.files("grpc_tools") / "_proto")
    for proto in PROTOS:
        status = protoc.main(
            ["protoc", f"-I{HERE}", f"-I{include}", f"--python_out={HERE}", f"--pyi_out={HERE}", str(HERE / proto)]
        )
        if status:
            return int(status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
