"""Certificates for a test bed's Kafka: a CA and broker certificates with chosen names, dates and key formats, and
the Secret cert-manager would write for them (tls.crt, tls.key, ca.crt, tls-combined.pem). Used by the unit tests
of plugins/module_utils/tls.py, the end-to-end TLS scenario and the benchmark's TLS measurement."""
import base64
import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.timezone.utc)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def new_key():
    # EC P-256: fast to make, and Kafka's PEM key store reads it (PKCS#8) as it reads RSA.
    return ec.generate_private_key(ec.SECP256R1())


class Authority:
    """A self-signed CA that issues broker certificates."""

    def __init__(self, common_name="test CA", not_before=None, days=3650):
        self.key = new_key()
        start = not_before or NOW - datetime.timedelta(days=1)
        self.cert = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))

    def issue(self, dns_names=(), ip_addresses=(), not_before=None, days=90, key=None, common_name="kafka"):
        key = key or new_key()
        start = not_before or NOW - datetime.timedelta(hours=1)
        sans = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
        builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(self.cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days)))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key, key_format="pkcs8"):
    fmt = {"pkcs8": serialization.PrivateFormat.PKCS8,
           "sec1": serialization.PrivateFormat.TraditionalOpenSSL}[key_format]
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def secret_data(cert, key, ca, key_format="pkcs8", combined_cert=None):
    """The Secret's string data as cert-manager writes it (CombinedPEM: the key, then the chain)."""
    return {
        "tls.crt": pem(cert),
        "tls.key": key_pem(key, key_format),
        "ca.crt": pem(ca.cert),
        "tls-combined.pem": key_pem(key, key_format) + pem(combined_cert or cert),
    }


def ca_secret_data(authority):
    """The string data of the CA Secret kafka_broker_tls_generate keeps (tls.crt, tls.key)."""
    return {"tls.crt": pem(authority.cert), "tls.key": key_pem(authority.key)}


def secret(name, namespace, data, annotations=None):
    """The API object of a Secret holding ``data`` (strings), base64 as the API returns it; ``annotations`` such as
    the collection's mark on the Secrets it makes."""
    metadata = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": metadata,
            "data": dict((k, base64.b64encode(v.encode()).decode()) for k, v in data.items())}


def broker_names(count=4, namespace="kafka", prefix="kafka-service-", domain="cluster.local"):
    names = []
    for index in range(count):
        names += ["%s%d" % (prefix, index), "%s%d.%s.svc.%s" % (prefix, index, namespace, domain)]
    return names
