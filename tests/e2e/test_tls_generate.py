"""Issue 15: certificates the collection makes (kafka_broker_tls_generate), on a test bed's Kubernetes API only.

The preflight and the kafka_broker role's certificate tasks, as site.yml runs them (tests/e2e/tls_generate.yml),
against a 1-node bed where nothing but the API is used (no ZooKeeper, no broker: the roll itself is the TLS
scenario's). (1) --check --diff on a namespace that does not exist says it would create both Secrets and writes
nothing. (2) A real run creates the CA's Secret and the brokers' in cert-manager's shape: the certificate's names
are exactly the plan's, the CA in the CA's Secret signed it, ca.crt is that CA, tls-combined.pem the PKCS#8 key
then the certificate; at -vvv --diff no key is printed and no module file with a key was put on disk
(pipelining); every broker's pod template carries the certificate's digest. (3) A second run changes nothing.
(4) A fourth broker: the certificate is issued again naming it, a new digest in the pod templates (what rolls
them), the CA kept. (5) A Secret of the same name the collection did not make is refused, untouched. The Secrets
are read with kubectl and cryptography, and the digest the run's pod templates carry is compared with one
computed here from them.
"""
import base64
import hashlib
import ipaddress
import json
import os
import re
import subprocess
import sys
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lib import CACHE, KUBECTL, ROOT, start_testbed, stop_testbed  # noqa: E402  pylint: disable=wrong-import-position
from testbed_lib import tls_material  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.testbed

BED = "tlsgen"
# Ports 21343.., pod network 10.244.13.0/24 (test_services_zones' tb-lb uses 13 as well, brought down before this).
BED_INDEX = int(os.environ.get("TLS_GENERATE_INDEX", "13"))
NAMESPACE = "tls-gen"
SECRET, CA_SECRET = "kafka-tls", "kafka-tls-ca"
PLAYBOOK = os.path.join(ROOT, "tests", "e2e", "tls_generate.yml")
RECAP = re.compile(r"localhost\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)")


@pytest.fixture(scope="module")
def bed(request):
    started = time.time()
    kubeconfig = start_testbed(BED, nodes=1, index=BED_INDEX)
    print("bed up in %.1fs" % (time.time() - started))
    request.addfinalizer(lambda: stop_testbed(BED))
    return kubeconfig


def playbook(kubeconfig, *extra, brokers=3):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(CACHE, "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="default",
               PATH=os.path.join(CACHE, "venv", "bin") + os.pathsep + os.environ["PATH"])
    started = time.time()
    proc = subprocess.run([os.path.join(CACHE, "venv", "bin", "ansible-playbook"), PLAYBOOK,
                           "-e", "kafka_k8s_kubeconfig=" + kubeconfig, "-e", "kafka_namespace=" + NAMESPACE,
                           "-e", "kafka_broker_count=%d" % brokers] + list(extra),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    print("ansible-playbook %s: %.1fs" % (" ".join(extra), time.time() - started))
    return proc


def changed(proc):
    (recap,) = RECAP.findall(proc.stdout)
    assert recap[1] == "0", proc.stdout[-3000:]
    return int(recap[0])


def kubectl(kubeconfig, *args, check=True):
    proc = subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, "-n", NAMESPACE] + list(args),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 or not check, proc.stderr
    return proc


def secret(kubeconfig, name):
    proc = kubectl(kubeconfig, "get", "secret", name, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def decoded(obj):
    return dict((k, base64.b64decode(v).decode()) for k, v in obj["data"].items())


def key_lines(*objs):
    """What of every private key in these Secrets may never appear in the output: each base64 line of its PEM
    body, and slices of the Secret's own base64 of each value holding it (what a k8s task would print)."""
    lines = []
    for obj in objs:
        for name, value in decoded(obj).items():
            if "PRIVATE KEY" in value:
                lines += [line for line in value.splitlines() if line and not line.startswith("-----")]
                encoded = obj["data"][name]
                lines += [encoded[i:i + 40] for i in range(0, len(encoded) - 40, 40)]
    return lines


def pod_template_digest(proc):
    """The digests the brokers' Deployments carry in this run (the annotation the roll keys on)."""
    (found,) = re.findall(r"tls-certificate digest (\[[^\]]*\])", " ".join(proc.stdout.split()))
    return json.loads(found)


def certificate_digest(obj):
    """The digest of the Secret's certificate and CA, computed here as tls.summarize_secret documents it."""
    data = decoded(obj)
    digest = hashlib.sha256()
    for pem in (data["tls.crt"], data["ca.crt"]):
        digest.update(x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER))
    return digest.hexdigest()[:32]


def sans(cert):
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(ext.get_values_for_type(x509.DNSName)) + sorted(
        str(a) for a in ext.get_values_for_type(x509.IPAddress) if isinstance(a, ipaddress.IPv4Address))


def check_pair(kubeconfig, brokers):
    """The two Secrets as the brokers and their clients read them; returns them."""
    ours, ca_obj = secret(kubeconfig, SECRET), secret(kubeconfig, CA_SECRET)
    assert ours["type"] == ca_obj["type"] == "kubernetes.io/tls"
    assert ours["metadata"]["annotations"]["kafka-eks.cluster/generated"] == "broker-certificate"
    assert ca_obj["metadata"]["annotations"]["kafka-eks.cluster/generated"] == "certificate-authority"
    assert ours["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kafka_eks.cluster"
    data, ca_data = decoded(ours), decoded(ca_obj)
    assert sorted(data) == ["ca.crt", "tls-combined.pem", "tls.crt", "tls.key"] and sorted(ca_data) == ["tls.crt",
                                                                                                       "tls.key"]
    cert = x509.load_pem_x509_certificate(data["tls.crt"].encode())
    ca_cert = x509.load_pem_x509_certificate(ca_data["tls.crt"].encode())
    # The plan's names, exactly: each broker's Service and its full name.
    assert sans(cert) == sorted(tls_material.broker_names(brokers, namespace=NAMESPACE))
    cert.verify_directly_issued_by(ca_cert)
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert data["ca.crt"] == ca_data["tls.crt"]
    # Kafka's PEM key store: the unencrypted PKCS#8 key, then the certificate; the key is the certificate's.
    assert data["tls.key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert data["tls-combined.pem"] == data["tls.key"] + data["tls.crt"]
    key = serialization.load_pem_private_key(data["tls.key"].encode(), password=None)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.DER, public) == \
        cert.public_key().public_bytes(serialization.Encoding.DER, public)
    ca_key = serialization.load_pem_private_key(ca_data["tls.key"].encode(), password=None)
    assert ca_key.public_key().public_bytes(serialization.Encoding.DER, public) == \
        ca_cert.public_key().public_bytes(serialization.Encoding.DER, public)
    return ours, ca_obj


def test_generated_certificates_on_the_kubernetes_api(bed):
    # (1) Check mode, no namespace yet: said, nothing written.
    proc = playbook(bed, "--check", "--diff")
    assert changed(proc) == 1
    assert "Check mode: would create the CA in Secret kafka-tls-ca and a certificate in Secret kafka-tls" \
        in " ".join(proc.stdout.split())
    assert kubectl(bed, "get", "namespace", NAMESPACE, check=False).returncode != 0
    kubectl(bed, "create", "namespace", NAMESPACE)
    assert kubectl(bed, "get", "secrets", "-o", "name").stdout.strip() == ""

    # (2) The real run, at -vvv with --diff: both Secrets, right, and no key text anywhere in what it printed.
    proc = playbook(bed, "-vvv", "--diff")
    assert changed(proc) == 2, proc.stdout[-3000:]
    ours, ca_obj = check_pair(bed, 3)
    output = proc.stdout + proc.stderr
    lines = key_lines(ours, ca_obj)
    assert len(lines) >= 4 and not [line for line in lines if line in output]
    assert "PRIVATE KEY" not in output
    # Pipelining: module files go on disk (PUT ... AnsiballZ_x.py) only for modules that never see a key.
    assert set(re.findall(r"PUT .*AnsiballZ_(\w+)\.py", output)) <= {"cluster_read", "k8s_info"}, \
        re.findall(r"PUT .*AnsiballZ_(\w+)\.py", output)
    # Every broker's pod template carries the new certificate's digest: what rolls them.
    assert pod_template_digest(proc) == [certificate_digest(ours)]

    # (3) Nothing to do: nothing changed, on the API server too.
    proc = playbook(bed)
    assert changed(proc) == 0
    assert secret(bed, SECRET)["metadata"]["resourceVersion"] == ours["metadata"]["resourceVersion"]
    assert pod_template_digest(proc) == [certificate_digest(ours)]

    # (4) A fourth broker: its names are missing, so a new certificate; the CA is kept as it was.
    proc = playbook(bed, brokers=4)
    assert changed(proc) == 1 and "does not name kafka-service-3" in proc.stdout
    renewed, ca_again = check_pair(bed, 4)
    assert ca_again["metadata"]["resourceVersion"] == ca_obj["metadata"]["resourceVersion"]
    assert decoded(renewed)["tls.key"] != decoded(ours)["tls.key"]
    # A new digest in every broker's pod template: the existing roll takes them one at a time.
    assert pod_template_digest(proc) == [certificate_digest(renewed)] != [certificate_digest(ours)]

    # (5) A Secret of that name the collection did not make: refused before any write, left as it was.
    authority = tls_material.Authority()
    cert, key = authority.issue(dns_names=["elsewhere"])
    foreign = tls_material.secret("foreign-tls", NAMESPACE, tls_material.secret_data(cert, key, authority))
    subprocess.run([KUBECTL, "--kubeconfig", bed, "apply", "-f", "-"], input=json.dumps(foreign), text=True,
                   check=True, capture_output=True)
    before = secret(bed, "foreign-tls")["metadata"]["resourceVersion"]
    proc = playbook(bed, "-e", "kafka_broker_tls_secret=foreign-tls")
    assert proc.returncode != 0
    message = " ".join(proc.stdout.split())
    assert "kafka_broker_tls_secret: Secret foreign-tls in namespace tls-gen exists, and the collection did not " \
           "create it" in message and "kafka_broker_tls_generate=false" in message
    assert secret(bed, "foreign-tls")["metadata"]["resourceVersion"] == before
    assert secret(bed, "foreign-tls-ca") is None
