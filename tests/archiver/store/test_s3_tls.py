"""S3 over HTTPS: a MinIO of this module's own serving TLS with a certificate made here, trusted the
way a deployment with a private CA trusts it (`AWS_CA_BUNDLE`), by boto3 and by our direct requests.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from archiver.store.s3 import S3Store
from infra import minio_server
from tests.archiver.store.conftest import new_bucket_name, s3_store


def _self_signed(certs: Path) -> None:
    """MinIO's certs-dir layout: public.crt and private.key, for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sunshine test MinIO")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certs.mkdir()
    (certs / "public.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (certs / "private.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))


@pytest.fixture(scope="module")
def tls_minio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    base = tmp_path_factory.mktemp("tls-minio")
    _self_signed(base / "certs")
    instance = minio_server.launch(base / "data", base / "minio.log", certs_dir=base / "certs")
    try:
        yield instance.env(), base / "certs" / "public.crt"
    finally:
        minio_server.terminate(instance)


@pytest.fixture
def tls_store(tls_minio, monkeypatch: pytest.MonkeyPatch) -> S3Store:
    env, ca = tls_minio
    assert env["SUNSHINE_S3_ENDPOINT"].startswith("https://")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(ca))
    store = s3_store(env, new_bucket_name("tls"), object_lock=True, retention_days=1)
    store.ensure_bucket()
    return store


def test_puts_and_reads_over_https_take_the_direct_path(tls_store: S3Store) -> None:
    through_boto3: list[str] = []
    for operation in ("PutObject", "GetObject"):
        tls_store.client.meta.events.register(f"before-call.s3.{operation}",
                                              lambda model, **_: through_boto3.append(model.name))
    results = [tls_store.put(f"tls/{number}", f"over TLS {number}".encode()) for number in range(5)]
    for number, result in enumerate(results):
        assert result.version_id
        with tls_store.open(f"tls/{number}", version_id=result.version_id) as stream:
            assert type(stream).__name__ == "_Body"
            assert stream.read() == f"over TLS {number}".encode()
        assert tls_store.retention(f"tls/{number}")[0] == "COMPLIANCE"
    assert through_boto3 == []
    assert tls_store._direct.connections_opened <= 2


def test_an_untrusted_certificate_is_never_accepted(tls_minio, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the CA, neither path talks to the server: the direct one hands over to boto3, which refuses."""
    env, _ = tls_minio
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    store = s3_store(env, new_bucket_name("tls-untrusted"))
    assert store._direct.open(store.bucket, "anything", None) is None
    with pytest.raises(Exception, match="(?i)certificate"):
        store.ensure_bucket()
