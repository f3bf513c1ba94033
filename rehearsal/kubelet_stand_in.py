"""A kubelet's stats summary endpoint for a Node of the rehearsal that kwok does not manage:
`python -m talos_platform.rehearsal.kubelet_stand_in ADDRESS CERT KEY NODE USED CAPACITY`.

It serves `GET /stats/summary` over HTTPS on ADDRESS (port chosen by the system, printed as
`listening on ADDRESS:PORT`), in the kubelet's format (k8s.io/kubelet/pkg/apis/stats/v1alpha1
`Summary`): `node.fs` (the kubelet's root filesystem, Talos' EPHEMERAL) holds USED and CAPACITY
bytes. It could hide: a kubelet's authentication of the API server (the rehearsal's API server
has no kubelet client certificate) and figures that change between reads.

The API server's node proxy dials only global unicast addresses (kube-apiserver's
`isProxyableHostname`: loopback is refused), so this runs inside the cluster's network namespace
on a pod-network address (see netns.py), which stays on this machine.
"""

from __future__ import annotations

import json
import ssl
import sys
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def stats_summary(node: str, used: int, capacity: int) -> dict[str, Any]:
    """A summary as a kubelet writes it (fields of the v1alpha1 types, no pods)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    filesystem = {
        "time": now,
        "availableBytes": capacity - used,
        "capacityBytes": capacity,
        "usedBytes": used,
        "inodesFree": 6_000_000,
        "inodes": 7_800_000,
        "inodesUsed": 1_800_000,
    }
    return {
        "node": {
            "nodeName": node,
            "systemContainers": [],
            "startTime": now,
            "cpu": {"time": now, "usageNanoCores": 182_000_000, "usageCoreNanoSeconds": 9_870_000_000_000},
            "memory": {
                "time": now,
                "availableBytes": 2_900_000_000,
                "usageBytes": 1_300_000_000,
                "workingSetBytes": 1_100_000_000,
                "rssBytes": 700_000_000,
                "pageFaults": 0,
                "majorPageFaults": 0,
            },
            "fs": filesystem,
            "runtime": {"imageFs": filesystem, "containerFs": filesystem},
            "rlimit": {"time": now, "maxpid": 4_194_304, "curproc": 213},
        },
        "pods": [],
    }


def main(argv: list[str]) -> None:
    address, cert, key, node, used, capacity = argv
    body = json.dumps(stats_summary(node, int(used), int(capacity))).encode()

    class Kubelet(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.split("?")[0] != "/stats/summary":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            print(f"kubelet {self.command} {self.path} {args[1] if len(args) > 1 else ''}", flush=True)

    server = ThreadingHTTPServer((address, 0), Kubelet)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening on {address}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
