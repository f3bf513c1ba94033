"""The rehearsal's pod network: addresses of the pod and service ranges are routed into a network
namespace of the cluster's own, where the pod stand-ins answer (webhooks with the certificate of
the name asked for, Vault's API) and anything else is refused on this machine."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from talos_platform.rehearsal.netns import PodNetwork
from talos_platform.rehearsal.pki import create_ca, issue_serving_certificate
from talos_platform.rehearsal.processes import ManagedProcess

POD_CIDR, SERVICE_CIDR = "10.246.0.0/16", "10.98.0.0/16"


@pytest.fixture
def pod_network(tmp_path: Path):
    network = PodNetwork.for_workdir(str(tmp_path), (POD_CIDR, SERVICE_CIDR))
    network.create()
    certs = tmp_path / "certs"
    certs.mkdir()
    ca_cert, ca_key = create_ca(tmp_path / "ca", "test-webhook-ca")
    issue_serving_certificate(certs, "default", "default", "DNS:localhost", ca_cert, ca_key)
    name = "webhook.cert-manager.svc"
    issue_serving_certificate(certs, name, name, f"DNS:{name}", ca_cert, ca_key)
    servers = ManagedProcess(
        "pod-servers",
        [*network.exec_prefix, sys.executable, "-m", "talos_platform.rehearsal.pod_servers", str(certs)],
        tmp_path / "pod-servers.log",
    )
    servers.start()
    try:
        servers.wait_until(lambda: _answers("10.246.1.7", 8200), "the pod servers", 30)
        yield ca_cert
    finally:
        servers.stop()
        network.destroy()
    assert subprocess.run(["ip", "route", "show", POD_CIDR], capture_output=True, text=True).stdout == ""


def _answers(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=1).close()
        return True
    except OSError:
        return False


def _vault(method: str, path: str, body: dict | None = None, token: str = "") -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://10.246.3.9:8200/v1/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"X-Vault-Token": token} if token else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_webhooks_answer_with_the_certificate_of_the_name_asked_for(pod_network):
    context = ssl.create_default_context(cafile=str(pod_network))
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u-1"}}
    with socket.create_connection(("10.246.0.12", 10250), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="webhook.cert-manager.svc") as tls:
            body = json.dumps(review).encode()
            tls.sendall(
                b"POST /validate HTTP/1.1\r\nHost: webhook.cert-manager.svc\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            answer = b""
            while chunk := tls.recv(4096):
                answer += chunk
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["response"] == {"uid": "u-1", "allowed": True}


def test_vault_stays_sealed_until_enough_keys(pod_network):
    assert _vault("GET", "sys/seal-status")[1]["initialized"] is False
    status, init = _vault("PUT", "sys/init", {"secret_shares": 5, "secret_threshold": 3})
    assert status == 200 and len(init["keys_base64"]) == 5
    assert _vault("GET", "sys/mounts", token=init["root_token"])[0] == 503  # sealed
    for key in init["keys_base64"][:3]:
        _vault("PUT", "sys/unseal", {"key": key})
    assert _vault("GET", "sys/seal-status")[1]["sealed"] is False
    assert _vault("GET", "sys/mounts", token="wrong")[0] == 403
    assert (
        _vault("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, token=init["root_token"])[0]
        == 204
    )
    assert _vault("POST", "secret/data/platform/git", {"data": {"token": "t"}}, token=init["root_token"])[0] == 200
    assert _vault("GET", "secret/data/platform/git", token=init["root_token"])[1]["data"]["data"] == {"token": "t"}


def test_an_address_nobody_serves_is_refused_on_this_machine(pod_network):
    started = time.monotonic()
    assert not _answers("10.98.44.1", 6000)
    assert time.monotonic() - started < 1.5  # refused at once, not lost on a network
