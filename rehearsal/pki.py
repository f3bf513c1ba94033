"""Throwaway keys and certificates for one rehearsal cluster, made with the openssl CLI."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Names the serving certificate answers to: the cluster is reached only on loopback.
SERVING_NAMES = "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc"


@dataclass(frozen=True)
class ClusterPki:
    """Files and tokens the control plane and its clients are started with."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    service_account_key: Path
    service_account_public_key: Path
    token_file: Path
    admin_token: str
    controller_manager_token: str
    scheduler_token: str
    kwok_token: str


def _openssl(*args: str | Path, cwd: Path) -> None:
    completed = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    if completed.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed:\n{completed.stderr}")


def _ec_key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path, cwd=path.parent)
    path.chmod(0o600)


def create_ca(directory: Path, common_name: str) -> tuple[Path, Path]:
    """(certificate, key) of a new CA valid for a week."""
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command is needed to make the rehearsal cluster's keys")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.crt"
    _ec_key(ca_key)
    _openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        ca_key,
        "-out",
        ca_cert,
        "-days",
        "7",
        "-subj",
        f"/CN={common_name}",
        cwd=directory,
    )
    return ca_cert, ca_key


def issue_serving_certificate(
    directory: Path, stem: str, common_name: str, names: str, ca_cert: Path, ca_key: Path
) -> tuple[Path, Path]:
    """(certificate, key) `<stem>.crt`/`<stem>.key` for the subjectAltName `names`
    (e.g. "DNS:svc.ns.svc,IP:127.0.0.1"), signed by the CA."""
    key, cert = directory / f"{stem}.key", directory / f"{stem}.crt"
    csr, extensions = directory / f"{stem}.csr", directory / f"{stem}.ext"
    _ec_key(key)
    _openssl("req", "-new", "-key", key, "-out", csr, "-subj", f"/CN={common_name}", cwd=directory)
    extensions.write_text(
        f"subjectAltName={names}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca_cert,
        "-CAkey",
        ca_key,
        "-CAcreateserial",
        "-out",
        cert,
        "-days",
        "7",
        "-extfile",
        extensions,
        cwd=directory,
    )
    return cert, key


def create_cluster_pki(directory: Path) -> ClusterPki:
    """Write a CA, a loopback serving certificate, service-account keys and a token file."""
    ca_cert, ca_key = create_ca(directory, "rehearsal-cluster-ca")
    serving_cert, serving_key = issue_serving_certificate(
        directory, "apiserver", "kube-apiserver", SERVING_NAMES, ca_cert, ca_key
    )

    service_account_key = directory / "service-account.key"
    service_account_public_key = directory / "service-account.pub"
    _ec_key(service_account_key)
    _openssl("pkey", "-in", service_account_key, "-pubout", "-out", service_account_public_key, cwd=directory)

    tokens = {name: secrets.token_hex(16) for name in ("admin", "cm", "scheduler", "kwok")}
    token_file = directory / "tokens.csv"
    # Static token auth: token,user,uid,"groups". The controller manager and scheduler get
    # their built-in RBAC identities, so authorization is exercised as on a real cluster.
    token_file.write_text(
        f'{tokens["admin"]},rehearsal-admin,uid-admin,"system:masters"\n'
        f"{tokens['cm']},system:kube-controller-manager,uid-cm\n"
        f"{tokens['scheduler']},system:kube-scheduler,uid-scheduler\n"
        f'{tokens["kwok"]},rehearsal-kwok,uid-kwok,"system:masters"\n'
    )
    token_file.chmod(0o600)
    return ClusterPki(
        ca_cert=ca_cert,
        serving_cert=serving_cert,
        serving_key=serving_key,
        service_account_key=service_account_key,
        service_account_public_key=service_account_public_key,
        token_file=token_file,
        admin_token=tokens["admin"],
        controller_manager_token=tokens["cm"],
        scheduler_token=tokens["scheduler"],
        kwok_token=tokens["kwok"],
    )
