"""Regenerates observer_pb2.py and its type stub observer_pb2.pyi from observer.proto (needs
grpcio-tools, a test dependency).

The generated module is committed so the installed tool needs only the protobuf runtime; run
this after editing the .proto and commit both. Service stubs are not generated: the client and
the test server bind the one streaming method by its path (see hubble_grpc.py).
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    from grpc_tools import protoc

    include = str(resources.files("grpc_tools") / "_proto")
    status = protoc.main(["protoc", f"-I{HERE}", f"-I{include}", f"--python_out={HERE}", f"--pyi_out={HERE}", str(HERE / "observer.proto")])
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
