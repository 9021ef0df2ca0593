"""Certificates and keys of the local cluster, made fresh for every `cluster up`.

One self-signed CA signs the API server's serving certificate and one client
certificate per identity. Kubernetes authenticates a client certificate's
common name as the user and its organizations as groups, so the controller
manager and scheduler get their well-known `system:` users (bound by the
default RBAC policy), while the admin, KWOK and the API server's client for
kubelet calls are in `system:masters`. Keys are ECDSA P-256: Kubernetes accepts
them everywhere (ES256 for service-account tokens) and they are generated in
milliseconds, which keeps `cluster up` fast.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ClientIdentity", "CLIENT_IDENTITIES", "Pki", "write_pki"]

VALIDITY = datetime.timedelta(days=365)
# Certificates start an hour in the past so a small clock difference never rejects them.
CLOCK_SKEW = datetime.timedelta(hours=1)
KUBERNETES_SERVICE_NAMES = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localhost",
)


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate: file stem, user name and groups."""

    name: str
    user: str
    groups: tuple[str, ...] = ()


CLIENT_IDENTITIES = (
    ClientIdentity("admin", "sparkrig-admin", ("system:masters",)),
    ClientIdentity("controller-manager", "system:kube-controller-manager"),
    ClientIdentity("scheduler", "system:kube-scheduler"),
    ClientIdentity("kwok", "sparkrig-kwok", ("system:masters",)),
    ClientIdentity(
        "apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",)
    ),
    # The API server's identity toward aggregated API servers (requestheader authentication).
    ClientIdentity("front-proxy-client", "front-proxy-client"),
)


@dataclass(frozen=True)
class Pki:
    """Paths of the generated files inside the state folder's `pki/`."""

    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.folder / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.folder / "apiserver.key"

    @property
    def service_account_key(self) -> Path:
        return self.folder / "sa.key"

    @property
    def service_account_pub(self) -> Path:
        return self.folder / "sa.pub"

    def client_cert(self, name: str) -> Path:
        return self.folder / f"{name}.crt"

    def client_key(self, name: str) -> Path:
        return self.folder / f"{name}.key"


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
             now: datetime.datetime) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + VALIDITY)
    )


def write_pki(folder: Path, *, service_ip: str) -> Pki:
    """Generate the CA, serving and client certificates and the service-account key.

    `service_ip` is the ClusterIP of the `kubernetes` Service, which the serving
    certificate must name for in-cluster clients.
    """
    folder.mkdir(parents=True, exist_ok=True)
    pki = Pki(folder)
    now = datetime.datetime.now(datetime.UTC)

    ca_key = _new_key()
    ca_name = _name("sparkrig-local-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(pki.ca_key, ca_key)
    _write_cert(pki.ca_cert, ca_cert)

    def leaf(subject: x509.Name, usage: x509.ObjectIdentifier,
             alt_names: list[x509.GeneralName] | None = None) -> tuple[x509.Certificate,
                                                                     ec.EllipticCurvePrivateKey]:
        key = _new_key()
        builder = (
            _builder(subject, ca_name, key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in KUBERNETES_SERVICE_NAMES]
    alt_names += [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address(service_ip)),
    ]
    serving_cert, serving_key = leaf(
        _name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, alt_names
    )
    _write_cert(pki.serving_cert, serving_cert)
    _write_key(pki.serving_key, serving_key)

    for identity in CLIENT_IDENTITIES:
        cert, key = leaf(_name(identity.user, identity.groups), ExtendedKeyUsageOID.CLIENT_AUTH)
        _write_cert(pki.client_cert(identity.name), cert)
        _write_key(pki.client_key(identity.name), key)

    sa_key = _new_key()
    _write_key(pki.service_account_key, sa_key)
    pki.service_account_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki
