"""The bed's certificates (Python cryptography, which the venv has through ansible-core): a CA, the serving and
client certificates of the components, the service-account key pair. Made once per state directory (pki/done)."""
import datetime
import ipaddress
import os
import shutil

from testbed_lib.bed import NODE_IP, SERVICE_IP


def make_pki(bed):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    pki = bed.p("pki")
    if os.path.exists(os.path.join(pki, "done")):
        return False
    shutil.rmtree(pki, ignore_errors=True)
    os.makedirs(pki, mode=0o700)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    until = now + datetime.timedelta(days=3650)

    def write_key(name, key):
        with open(os.path.join(pki, name + ".key"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        os.chmod(os.path.join(pki, name + ".key"), 0o600)

    def write_cert(name, cert):
        with open(os.path.join(pki, name + ".crt"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))

    def subject(cn, org=None):
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(attrs)

    def builder(name, key, ca):
        """Signed by the CA (ca_name), valid from now to until; a CA may sign certificates and CRLs, the rest not."""
        return (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(until)
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca,
                                             content_commitment=False, key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, encipher_only=False, decipher_only=False), critical=True))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = subject("kafka-eks-testbed-ca-" + bed.name)
    ca = (builder(ca_name, ca_key, True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    write_key("ca", ca_key)
    write_cert("ca", ca)

    def issue(name, cn, org=None, server=False, client=False, dns=(), ips=()):
        key = ec.generate_private_key(ec.SECP256R1())
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        b = (builder(subject(cn, org), key, False)
             .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
        if dns or ips:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]), critical=False)
        write_key(name, key)
        write_cert(name, b.sign(ca_key, hashes.SHA256()))

    issue("apiserver", "kube-apiserver", server=True,
          dns=["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
               "kubernetes.default.svc.cluster.local"], ips=["127.0.0.1", SERVICE_IP])
    issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters", client=True)
    issue("admin", "kubernetes-admin", "system:masters", client=True)
    issue("controller-manager", "system:kube-controller-manager", client=True)
    issue("scheduler", "system:kube-scheduler", client=True)
    # kwok serves the nodes' kubelet API (exec); the apiserver verifies it (--kubelet-certificate-authority)
    issue("kwok", "kwok-" + bed.name, server=True, dns=["localhost"], ips=[NODE_IP])

    sa_key = ec.generate_private_key(ec.SECP256R1())
    write_key("sa", sa_key)
    with open(os.path.join(pki, "sa.pub"), "wb") as f:
        f.write(sa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
    open(os.path.join(pki, "done"), "w").close()
    return True
