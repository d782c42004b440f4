#!/usr/bin/env python3
"""The local test bed's Kubernetes control plane, made of real parts (see tests/testbed/README.md).

    testbed.py up --name NAME [--nodes N] [--index I] [--zones za,zb,zc]
                                                         etcd, kube-apiserver, kube-controller-manager,
                                                         kube-scheduler, kwok (N fake nodes), pod runner
    testbed.py down --name NAME [--keep-data]           stop them (by pid), check nothing still listens
    testbed.py down --all [--keep-data]
    testbed.py status

Binaries come from tests/testbed/build.sh (.cache/bin). State of bed NAME: .cache/testbeds/NAME/
(pki/, kubeconfig, env, testbed.json, pids/, logs/, etcd/, kwok.yaml, ...). Every component binds 127.0.0.1 on
ports 20000 + 100*I + offset (PORT_OFFSETS). Runs with the project venv (Python 3.11, PyYAML, cryptography).
"""
import argparse
import base64
import datetime
import fcntl
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CACHE = os.path.join(REPO, ".cache")
BIN = os.path.join(CACHE, "bin")
BEDS = os.path.join(CACHE, "testbeds")
MERGED_KUBECONFIG = os.path.join(BEDS, "kubeconfig")
KWOK_CRDS = os.path.join(CACHE, "kwok", "crds")
PODRUNNER = os.path.join(HERE, "podrunner", "podrunner.py")
PODBIN = os.path.join(HERE, "podbin")
PYTHON = os.path.join(CACHE, "venv", "bin", "python")

PORT_BASE = 20000
PORT_STRIDE = 100
MAX_INDEX = 120  # 20000 + 120*100 stays below the ephemeral port range (32768+)
PORT_OFFSETS = {
    "etcd": 1,                      # client (http)
    "etcd-peer": 2,
    "kube-apiserver": 43,           # https
    "kube-controller-manager": 57,  # https, /healthz
    "kube-scheduler": 59,           # https, /healthz
    "kwok": 47,                     # the nodes' kubelet endpoint (https + http on one port: exec, /healthz)
}
SERVICE_CIDR = "10.96.0.0/16"       # allocation range only: nothing here ever dials a ClusterIP
SERVICE_IP = "10.96.0.1"
NODE_IP = "127.0.0.1"
NODE_ANNOTATION = "kwok.x-k8s.io/node"
NODE_RESOURCES = {"cpu": "32", "memory": "256Gi", "pods": "110"}
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
REGION = "testbed"
# Stop order of `down` (the reverse of start order); the pod runner first, it stops the pods' JVMs.
COMPONENTS = ["podrunner", "kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]
STOP_GRACE = {"podrunner": 90, "etcd": 20}
KWOK_LEASE_SECONDS = 40
KWOK_ENABLED_CRDS = ["Exec"]


def log(msg):
    print("testbed: " + msg, flush=True)


class Fail(Exception):
    pass


# --------------------------------------------------------------------------------------------------------
# Layout

class Bed:
    def __init__(self, name, index=None):
        self.name = name
        self.dir = os.path.join(BEDS, name)
        meta = self.meta()
        if index is None:
            index = meta.get("index") if meta else None
        self.index = index

    # paths
    def p(self, *parts):
        return os.path.join(self.dir, *parts)

    @property
    def kubeconfig(self):
        return self.p("kubeconfig")

    @property
    def context(self):
        return "kafka-eks-" + self.name

    def meta(self):
        try:
            with open(os.path.join(self.dir, "testbed.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def port(self, component):
        return PORT_BASE + PORT_STRIDE * self.index + PORT_OFFSETS[component]

    def ports(self):
        return {c: self.port(c) for c in PORT_OFFSETS}

    @property
    def pod_cidr(self):
        return "127.%d.0.0/16" % (20 + self.index)

    @property
    def apiserver(self):
        return "https://127.0.0.1:%d" % self.port("kube-apiserver")

    # processes
    def pid_file(self, component):
        return self.p("pids", component + ".pid")

    def marker(self, component):
        """What the command line of this bed's process of COMPONENT must contain."""
        exe = PODRUNNER if component == "podrunner" else os.path.join(BIN, component)
        return [exe, self.dir]

    def pid(self, component):
        """The pid of this bed's live COMPONENT process (its command line checked), else None."""
        try:
            with open(self.pid_file(component)) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if cmdline_matches(pid, self.marker(component)) else None

    def running(self):
        return {c: self.pid(c) for c in COMPONENTS if self.pid(c)}


def cmdline_matches(pid, needles, settle=True):
    """True when pid lives and each needle is one of its arguments, or a directory that one of them is under."""
    for _ in range(50 if settle else 1):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                raw = f.read()
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        if state == "Z":
            return False
        if raw:
            break
        # Empty while the kernel is still inside execve: Popen returns once the close-on-exec pipe closes,
        # which is before the new program's arguments are in place. Seen under load; read again.
        time.sleep(0.02)
    cmd = raw.decode(errors="replace").split("\0")
    return all(any(a == n or a.startswith(n.rstrip("/") + "/") for a in cmd) for n in needles)


def listening(ports=(), net=None):
    """(address, port) of the TCP listeners on ports, or inside the IPv4 network net."""
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            addr_hex, port_hex = fields[1].split(":")
            port = int(port_hex, 16)
            if len(addr_hex) == 8:
                addr = ipaddress.IPv4Address(bytes(reversed(bytes.fromhex(addr_hex))))
            else:
                raw = bytes.fromhex(addr_hex)
                addr = ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
                if addr.ipv4_mapped:
                    addr = addr.ipv4_mapped
            if port in ports and (addr.is_unspecified or addr.is_loopback):
                found.append((str(addr), port))
            elif net is not None and isinstance(addr, ipaddress.IPv4Address) and addr in net:
                found.append((str(addr), port))
    return found


# --------------------------------------------------------------------------------------------------------
# Certificates (Python cryptography, which the venv has through ansible-core)

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

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = subject("kafka-eks-testbed-ca-" + bed.name)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    write_key("ca", ca_key)
    write_cert("ca", ca)

    def issue(name, cn, org=None, server=False, client=False, dns=(), ips=()):
        key = ec.generate_private_key(ec.SECP256R1())
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        b = (x509.CertificateBuilder().subject_name(subject(cn, org)).issuer_name(ca_name)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now).not_valid_after(until)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                          crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
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


def b64file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def kubeconfig_doc(bed, user_cert, context=None):
    ctx = context or bed.context
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": ctx, "cluster": {"server": bed.apiserver,
                                               "certificate-authority-data": b64file(bed.p("pki", "ca.crt"))}}],
        "users": [{"name": ctx, "user": {"client-certificate-data": b64file(bed.p("pki", user_cert + ".crt")),
                                         "client-key-data": b64file(bed.p("pki", user_cert + ".key"))}}],
        "contexts": [{"name": ctx, "context": {"cluster": ctx, "user": ctx}}],
        "current-context": ctx,
    }


def write_file(path, text, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_kubeconfigs(bed):
    write_file(bed.kubeconfig, yaml.safe_dump(kubeconfig_doc(bed, "admin"), sort_keys=False), 0o600)
    for comp, cert in (("kube-controller-manager", "controller-manager"), ("kube-scheduler", "scheduler")):
        write_file(bed.p(comp + ".kubeconfig"),
                   yaml.safe_dump(kubeconfig_doc(bed, cert, "system:" + comp), sort_keys=False), 0o600)


def merge_kubeconfigs(prefer=None):
    """.cache/testbeds/kubeconfig: one context per running test bed."""
    os.makedirs(BEDS, exist_ok=True)
    with open(os.path.join(BEDS, ".kubeconfig.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [],
                  "contexts": [], "current-context": ""}
        for name in sorted(os.listdir(BEDS)):
            bed = Bed(name)
            if bed.index is None or not os.path.exists(bed.kubeconfig) or not bed.pid("kube-apiserver"):
                continue
            with open(bed.kubeconfig) as f:
                doc = yaml.safe_load(f)
            for key in ("clusters", "users", "contexts"):
                merged[key].extend(doc[key])
        old = None
        try:
            with open(MERGED_KUBECONFIG) as f:
                old = (yaml.safe_load(f) or {}).get("current-context")
        except OSError:
            pass
        names = [c["name"] for c in merged["contexts"]]
        for candidate in (prefer, old):
            if candidate in names:
                merged["current-context"] = candidate
                break
        else:
            merged["current-context"] = names[0] if names else ""
        write_file(MERGED_KUBECONFIG, yaml.safe_dump(merged, sort_keys=False), 0o600)


# --------------------------------------------------------------------------------------------------------
# Talking to the components

def https_get(bed, url, client_cert=True, timeout=3):
    ctx = ssl.create_default_context(cafile=bed.p("pki", "ca.crt"))
    if client_cert:
        ctx.load_cert_chain(bed.p("pki", "admin.crt"), bed.p("pki", "admin.key"))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the component's self-signed serving cert (only /healthz is read)
    with urllib.request.urlopen(url, context=ctx, timeout=timeout) as r:
        return r.status, r.read().decode(errors="replace")


def probe(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001 - anything means "not yet"
        return None


def kubectl(bed, *args, stdin=None, check=True, timeout=60):
    r = subprocess.run([os.path.join(BIN, "kubectl"), "--kubeconfig", bed.kubeconfig] + list(args),
                       input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise Fail("kubectl %s failed: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))
    return r


def crd_established(bed, name):
    r = kubectl(bed, "get", "crd", name, "-o", "json", check=False)
    if r.returncode != 0:
        return False
    conditions = (json.loads(r.stdout).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def wait_for(what, fn, timeout, bed=None, component=None, interval=0.2):
    """Poll fn until it returns something true; fail (with the component's log tail) after timeout."""
    t0 = time.time()
    while True:
        v = probe(fn)
        if v:
            return v
        code = exit_code(bed, component) if component and bed else None
        if code is not None:
            raise Fail("%s exited (%s) while waiting for %s; end of %s:\n%s"
                       % (component, code, what, bed.p("logs", component + ".log"),
                          tail(bed.p("logs", component + ".log"))))
        if time.time() - t0 > timeout:
            extra = ""
            if component and bed:
                extra = "; end of %s:\n%s" % (bed.p("logs", component + ".log"), tail(bed.p("logs", component + ".log")))
            raise Fail("timed out after %ds waiting for %s%s" % (timeout, what, extra))
        time.sleep(interval)


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------------------------------------
# Processes

# The processes this run started, by (bed directory, component): their exit is known from the handle itself,
# with no pid file or /proc read that could race the process's own start.
STARTED = {}


def exit_code(bed, component):
    """None while the bed's COMPONENT runs; else how it ended ("exit status N", "signal N" or "not running")."""
    proc = STARTED.get((bed.dir, component))
    if proc is None:
        return None if bed.pid(component) else "not running"
    rc = proc.poll()
    if rc is None:
        return None
    return "signal %d" % -rc if rc < 0 else "exit status %d" % rc


def start(bed, component, argv, env=None):
    logf = open(bed.p("logs", component + ".log"), "ab")
    logf.write(("\n==== %s testbed.py starts %s\n" % (datetime.datetime.now().isoformat(timespec="seconds"),
                                                      " ".join(argv))).encode())
    logf.flush()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                            cwd=bed.dir, env=env, start_new_session=True, close_fds=True)
    logf.close()
    STARTED[(bed.dir, component)] = proc
    write_file(bed.pid_file(component), "%d\n" % proc.pid)
    return proc.pid


def strays(bed, component):
    """Pids of this bed's COMPONENT processes that its pid file does not name (found by command line)."""
    known, marker, found = bed.pid(component), bed.marker(component), []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (known, os.getpid()) \
                and cmdline_matches(int(entry), marker, settle=False):
            found.append(int(entry))
    return found


def stop(bed, component):
    """SIGTERM the bed's COMPONENT (its pid file's, and any stray found by command line), wait, SIGKILL.
    True if one ran."""
    known, stray = bed.pid(component), strays(bed, component)
    if stray:
        log("%s: also stopping %s, not named by %s"
            % (component, ", ".join("pid %d" % p for p in stray), bed.pid_file(component)))
    for pid in ([known] if known else []) + stray:
        terminate(pid, component, bed.marker(component))
    try:
        os.unlink(bed.pid_file(component))
    except OSError:
        pass
    return bool(known or stray)


def terminate(pid, component, marker):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + STOP_GRACE.get(component, 15)
    while time.time() < deadline and cmdline_matches(pid, marker):
        time.sleep(0.1)
    if cmdline_matches(pid, marker):
        log("%s (pid %d) did not stop after SIGTERM: SIGKILL" % (component, pid))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.time() + 10
        while time.time() < deadline and cmdline_matches(pid, marker):
            time.sleep(0.1)


def need_binaries():
    missing = [b for b in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")
               if not os.access(os.path.join(BIN, b), os.X_OK)]
    if missing or not os.path.exists(os.path.join(KWOK_CRDS, "kwok.x-k8s.io_execs.yaml")):
        raise Fail("not built: %s; run tests/testbed/build.sh first"
                   % ", ".join(missing or ["kwok CRDs (.cache/kwok/crds)"]))


# --------------------------------------------------------------------------------------------------------
# The components' command lines

def etcd_argv(bed):
    c, p = bed.port("etcd"), bed.port("etcd-peer")
    return [os.path.join(BIN, "etcd"), "--name", bed.name, "--data-dir", bed.p("etcd"),
            "--listen-client-urls", "http://127.0.0.1:%d" % c, "--advertise-client-urls", "http://127.0.0.1:%d" % c,
            "--listen-peer-urls", "http://127.0.0.1:%d" % p, "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % p,
            "--initial-cluster", "%s=http://127.0.0.1:%d" % (bed.name, p), "--initial-cluster-state", "new",
            "--initial-cluster-token", "kafka-eks-" + bed.name,
            "--unsafe-no-fsync",  # a throw-away test bed: no fsync stalls on a busy 2-core machine
            "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "5m",
            "--quota-backend-bytes", str(2 * 1024 ** 3), "--log-level", "warn"]


def apiserver_argv(bed):
    k = lambda n: bed.p("pki", n)  # noqa: E731
    return [os.path.join(BIN, "kube-apiserver"),
            "--etcd-servers", "http://127.0.0.1:%d" % bed.port("etcd"), "--etcd-prefix", "/registry",
            "--bind-address", "127.0.0.1", "--secure-port", str(bed.port("kube-apiserver")),
            "--advertise-address", "127.0.0.1", "--endpoint-reconciler-type", "none",
            "--cert-dir", bed.p("pki", "apiserver-generated"),
            "--tls-cert-file", k("apiserver.crt"), "--tls-private-key-file", k("apiserver.key"),
            "--client-ca-file", k("ca.crt"),
            "--authorization-mode", "RBAC", "--anonymous-auth=true",
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", k("sa.pub"), "--service-account-signing-key-file", k("sa.key"),
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--kubelet-client-certificate", k("apiserver-kubelet-client.crt"),
            "--kubelet-client-key", k("apiserver-kubelet-client.key"),
            "--kubelet-certificate-authority", k("ca.crt"),
            "--kubelet-preferred-address-types", "InternalIP",
            "--allow-privileged=true", "--profiling=false", "--v=1"]


def controller_manager_argv(bed):
    k = lambda n: bed.p("pki", n)  # noqa: E731
    kc = bed.p("kube-controller-manager.kubeconfig")
    return [os.path.join(BIN, "kube-controller-manager"),
            "--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
            "--bind-address", "127.0.0.1", "--secure-port", str(bed.port("kube-controller-manager")),
            "--cert-dir", bed.p("pki", "controller-manager-generated"),
            "--controllers", "*", "--use-service-account-credentials=true",
            "--service-account-private-key-file", k("sa.key"), "--root-ca-file", k("ca.crt"),
            "--cluster-signing-cert-file", k("ca.crt"), "--cluster-signing-key-file", k("ca.key"),
            "--client-ca-file", k("ca.crt"),
            "--cluster-name", "kafka-eks-" + bed.name, "--service-cluster-ip-range", SERVICE_CIDR,
            "--leader-elect=false", "--profiling=false", "--v=1"]


def scheduler_argv(bed):
    kc = bed.p("kube-scheduler.kubeconfig")
    return [os.path.join(BIN, "kube-scheduler"),
            "--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
            "--bind-address", "127.0.0.1", "--secure-port", str(bed.port("kube-scheduler")),
            "--cert-dir", bed.p("pki", "scheduler-generated"),
            "--client-ca-file", bed.p("pki", "ca.crt"),
            "--leader-elect=false", "--profiling=false", "--v=1"]


def kwok_argv(bed):
    port = bed.port("kwok")
    return [os.path.join(BIN, "kwok"),
            "--kubeconfig", bed.kubeconfig, "--config", bed.p("kwok.yaml"),
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=%s=fake" % NODE_ANNOTATION,
            "--tls-cert-file", bed.p("pki", "kwok.crt"), "--tls-private-key-file", bed.p("pki", "kwok.key"),
            "--node-ip", NODE_IP, "--node-port", str(port), "--server-address", "127.0.0.1:%d" % port,
            "--node-lease-duration-seconds", str(KWOK_LEASE_SECONDS),
            "--enable-crds", ",".join(KWOK_ENABLED_CRDS)]


def kwok_config():
    """KwokConfiguration + node stages only: nodes become Ready and keep their lease and heartbeat. No pod
    stage at all: the pod runner is the kubelet of this test bed (status, readiness, final delete)."""
    # No KwokConfiguration document: kwok then defaults every option itself (a partial one is not defaulted:
    # e.g. nodeLeaseParallelism stays 0); the flags of kwok_argv set the rest.
    docs = []
    stages = os.path.join(CACHE, "kwok", "stages")
    for name in ("node-initialize.yaml", "node-heartbeat-with-lease.yaml"):
        with open(os.path.join(stages, name)) as f:
            doc = yaml.safe_load(f)
        if doc.get("kind") != "Stage" or doc["spec"]["resourceRef"]["kind"] != "Node":
            raise Fail("%s is not a node Stage" % name)
        docs.append(doc)
    return yaml.safe_dump_all(docs, sort_keys=False)


def lb_range(pod_cidr):
    """The addresses the pod runner gives LoadBalancer Services: the top /24 of the pod CIDR, .1-.254
    (the pod IP allocator never hands them out)."""
    net = ipaddress.ip_network(pod_cidr, strict=False)
    top = ipaddress.ip_network("%s/24" % (net.broadcast_address - 255), strict=False)
    return "%s-%s" % (top.network_address + 1, top.broadcast_address - 1)


def node_zone(zones, i):
    """The zone of node i: round-robin over the bed's zones (None without zones)."""
    return zones[i % len(zones)] if zones else None


def parse_zones(text):
    """--zones "za,zb,zc" -> ["za", "zb", "zc"] (label values; empty -> [])."""
    zones = [z.strip() for z in (text or "").split(",") if z.strip()]
    for z in zones:
        if not re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", z):
            raise Fail("--zones: %r is not a valid label value" % z)
    if len(set(zones)) != len(zones):
        raise Fail("--zones: %s names a zone twice" % ",".join(zones))
    return zones


def node_manifest(bed, i, zones=None):
    name = "%s-node-%d" % (bed.name, i)
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "type": "kwok", "kafka-eks.testbed/name": bed.name}
    if zones:
        labels[ZONE_LABEL] = node_zone(zones, i)
        labels[REGION_LABEL] = REGION
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": labels,
        },
        "spec": {},
        "status": {
            "allocatable": dict(NODE_RESOURCES), "capacity": dict(NODE_RESOURCES),
            "addresses": [{"type": "InternalIP", "address": NODE_IP}, {"type": "Hostname", "address": name}],
        },
    }


# --------------------------------------------------------------------------------------------------------
# up / down / status

def env_text(bed):
    lines = {
        "KUBECONFIG": bed.kubeconfig, "K8S_AUTH_KUBECONFIG": bed.kubeconfig, "K8S_AUTH_CONTEXT": bed.context,
        "TESTBED_NAME": bed.name, "TESTBED_INDEX": str(bed.index), "TESTBED_STATE_DIR": bed.dir,
        "TESTBED_POD_CIDR": bed.pod_cidr, "TESTBED_APISERVER": bed.apiserver,
        "TESTBED_LB_RANGE": lb_range(bed.pod_cidr), "TESTBED_ZONES": ",".join((bed.meta() or {}).get("zones") or []),
    }
    return "".join("export %s=%s\n" % (k, shquote(v)) for k, v in lines.items())


def shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def step(label, t0):
    log("%-44s %5.1fs" % (label, time.time() - t0))
    return time.time()


def cmd_up(args):
    need_binaries()
    if not 0 <= args.index <= MAX_INDEX:
        raise Fail("--index must be 0..%d" % MAX_INDEX)
    bed = Bed(args.name, args.index)
    meta = bed.meta()
    running = bed.running()
    if meta and meta.get("index") != args.index and (running or os.path.isdir(bed.p("etcd"))):
        raise Fail("test bed %s %s --index %s (its nodes point at that index's ports); `down --name %s` first"
                   % (args.name, "is running with" if running else "has data kept from", meta.get("index"), args.name))
    if running and set(running) >= set(COMPONENTS) - ({"podrunner"} if not os.path.exists(PODRUNNER) else set()) \
            and probe(lambda: https_get(bed, bed.apiserver + "/readyz")[0] == 200):
        notes = []
        if (meta or {}).get("nodes") != args.nodes:
            notes.append("with %s nodes, not %d" % ((meta or {}).get("nodes"), args.nodes))
        if ((meta or {}).get("zones") or []) != args.zones:
            notes.append("with zones %s, not %s" % (",".join((meta or {}).get("zones") or []) or "none",
                                                    ",".join(args.zones) or "none"))
        note = " (%s)" % "; ".join(notes) if notes else ""
        log("test bed %s is already up%s: nothing to do (kubeconfig %s)" % (bed.name, note, bed.kubeconfig))
        merge_kubeconfigs(prefer=bed.context)
        return 0
    total = time.time()
    if running or (os.path.isdir(bed.p("pids")) and os.listdir(bed.p("pids"))):
        log("test bed %s: stale state (%s); stopping what is left first"
            % (bed.name, ", ".join("%s pid %d" % kv for kv in running.items()) or "no live process"))
        for c in COMPONENTS:
            stop(bed, c)

    # Other test beds (or anything else) on our ports?
    busy = listening(ports=set(bed.ports().values()))
    if busy:
        owners = [b for b in list_beds() if b.name != bed.name and b.index == args.index and b.running()]
        raise Fail("port(s) %s already in use%s; pick another --index"
                   % (", ".join("%s:%d" % a for a in busy),
                      " by test bed %s (same index %d)" % (owners[0].name, args.index) if owners else ""))

    for d in ("pids", "logs"):
        os.makedirs(bed.p(d), exist_ok=True)
    try:
        return bring_up(bed, args, total)
    except BaseException:
        if os.environ.get("TESTBED_KEEP_ON_FAILURE") == "1":
            log("up failed: TESTBED_KEEP_ON_FAILURE=1, leaving what started running (logs in %s)" % bed.p("logs"))
        else:
            log("up failed: stopping what it started (logs kept in %s; TESTBED_KEEP_ON_FAILURE=1 keeps them running)"
                % bed.p("logs"))
            for c in COMPONENTS:
                stop(bed, c)
            merge_kubeconfigs()
        raise


def bring_up(bed, args, total):
    write_file(bed.p("testbed.json"), json.dumps({
        "name": bed.name, "index": bed.index, "nodes": args.nodes, "zones": args.zones, "ports": bed.ports(),
        "pod_cidr": bed.pod_cidr, "lb_range": lb_range(bed.pod_cidr), "apiserver": bed.apiserver,
        "context": bed.context}, indent=2) + "\n")

    t = time.time()
    made = make_pki(bed)
    write_kubeconfigs(bed)
    write_file(bed.p("kwok.yaml"), kwok_config())
    t = step("certificates and kubeconfigs (%s)" % ("new" if made else "kept"), t)

    etcd_url = "http://127.0.0.1:%d/health" % bed.port("etcd")
    start(bed, "etcd", etcd_argv(bed))
    wait_for("etcd /health",
             lambda: json.loads(urllib.request.urlopen(etcd_url, timeout=2).read())["health"] == "true",
             60, bed, "etcd")
    t = step("etcd up (:%d)" % bed.port("etcd"), t)

    start(bed, "kube-apiserver", apiserver_argv(bed))
    wait_for("kube-apiserver /readyz", lambda: https_get(bed, bed.apiserver + "/readyz")[0] == 200,
             180, bed, "kube-apiserver")
    t = step("kube-apiserver ready (:%d)" % bed.port("kube-apiserver"), t)

    start(bed, "kube-controller-manager", controller_manager_argv(bed))
    start(bed, "kube-scheduler", scheduler_argv(bed))
    # kwok's Exec CRD (from the kwok module source, copied by build.sh), established before kwok starts
    kubectl(bed, "apply", "--server-side", "--force-conflicts", "-f", os.path.join(KWOK_CRDS, "kwok.x-k8s.io_execs.yaml"))
    # Polled here: `kubectl wait --for condition=Established` fails at once ("status.conditions accessor
    # error") when it reads the CRD before the apiserver has written any status to it.
    wait_for("the kwok Exec CRD to be Established", lambda: crd_established(bed, "execs.kwok.x-k8s.io"), 60,
             bed, "kube-apiserver")
    t = step("kwok Exec CRD established", t)

    env = dict(os.environ, PATH=PODBIN + os.pathsep + os.environ.get("PATH", ""), TESTBED_STATE_DIR=bed.dir)
    start(bed, "kwok", kwok_argv(bed), env=env)
    for c in ("kube-controller-manager", "kube-scheduler"):
        url = "https://127.0.0.1:%d/healthz" % bed.port(c)
        wait_for(c + " /healthz", lambda: https_get(bed, url, client_cert=False)[1] == "ok", 120, bed, c)
    wait_for("kwok /healthz", lambda: urllib.request.urlopen("http://127.0.0.1:%d/healthz" % bed.port("kwok"),
                                                             timeout=2).status == 200, 60, bed, "kwok")
    t = step("controller-manager, scheduler, kwok healthy", t)

    nodes = [node_manifest(bed, i, args.zones) for i in range(args.nodes)]
    kubectl(bed, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes}))
    names = {n["metadata"]["name"] for n in nodes}
    # nodes of an earlier `up --nodes M` (data kept) beyond N go
    for extra in kubectl(bed, "get", "nodes", "-l", "kafka-eks.testbed/name=" + bed.name, "-o", "name").stdout.split():
        if extra.split("/", 1)[1] not in names:
            kubectl(bed, "delete", extra, "--wait=false")

    def nodes_ready():
        items = json.loads(kubectl(bed, "get", "nodes", "-o", "json").stdout)["items"]
        ready = {n["metadata"]["name"] for n in items
                 if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
                 and not any(tt.get("key") == "node.kubernetes.io/not-ready" for tt in n["spec"].get("taints", []))}
        return names <= ready
    wait_for("%d nodes Ready" % args.nodes, nodes_ready, 120, bed, "kwok", interval=0.5)
    t = step("%d nodes Ready (%s-node-0..%d)" % (args.nodes, bed.name, args.nodes - 1), t)

    wait_for("ServiceAccount default/default",
             lambda: kubectl(bed, "get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0,
             120, bed, "kube-controller-manager", interval=0.5)
    t = step("ServiceAccount default/default exists", t)

    if os.path.exists(PODRUNNER):
        if not os.access(PYTHON, os.X_OK):
            raise Fail("no %s to run the pod runner (make setup)" % PYTHON)
        start(bed, "podrunner", [PYTHON, PODRUNNER, "--kubeconfig", bed.kubeconfig, "--state-dir", bed.dir,
                                 "--pod-cidr", bed.pod_cidr] + (["--zones", ",".join(args.zones)] if args.zones else []))
        time.sleep(1.0)
        code = exit_code(bed, "podrunner")
        if code is not None:
            raise Fail("the pod runner exited at once (%s); end of %s:\n%s"
                       % (code, bed.p("logs", "podrunner.log"), tail(bed.p("logs", "podrunner.log"))))
        t = step("pod runner started (pod CIDR %s)" % bed.pod_cidr, t)
    else:
        log("no %s yet: pod runner not started (pods will be scheduled, never run)" % os.path.relpath(PODRUNNER, REPO))

    write_file(bed.p("env"), env_text(bed))
    merge_kubeconfigs(prefer=bed.context)
    log("test bed %s is up in %.1fs: apiserver %s, kubeconfig %s (context %s), env %s"
        % (bed.name, time.time() - total, bed.apiserver, bed.kubeconfig, bed.context, bed.p("env")))
    return 0


def down(bed, keep_data):
    t0 = time.time()
    stopped = [c for c in COMPONENTS if stop(bed, c)]
    try:
        os.unlink(bed.p("env"))  # scripts read its presence as "the bed is up"
    except OSError:
        pass
    left = listening(ports=set(bed.ports().values())) if bed.index is not None else []
    # The pod CIDR holds the pods' addresses and the LoadBalancer range (its top /24).
    pods_left = listening(net=ipaddress.ip_network(bed.pod_cidr)) if bed.index is not None else []
    node_ports_left = node_ports_listening(bed)
    if not keep_data and os.path.isdir(bed.dir):
        for entry in os.listdir(bed.dir):
            if entry == "logs":
                continue  # kept for post-mortems; appended to by the next `up`
            path = os.path.join(bed.dir, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
    merge_kubeconfigs()
    log("test bed %s down in %.1fs (stopped: %s)%s"
        % (bed.name, time.time() - t0, ", ".join(stopped) or "nothing was running",
           "; data kept" if keep_data else ""))
    problems = []
    if left:
        problems.append("still listening on its ports: %s" % ", ".join("%s:%d" % a for a in left))
    if pods_left:
        problems.append("still listening in its pod CIDR %s: %s"
                        % (bed.pod_cidr, ", ".join("%s:%d" % a for a in pods_left)))
    if node_ports_left:
        problems.append("still listening on node ports its pod runner opened: %s"
                        % ", ".join("%s:%d" % a for a in node_ports_left))
    if problems:
        raise Fail("test bed %s: %s" % (bed.name, "; ".join(problems)))
    return 0


def node_ports_listening(bed):
    """(address, port) still listening among the node ports (on the nodes' 127.0.0.1) that the bed's pod runner
    opened for NodePort and LoadBalancer Services (S/podrunner/listeners.json)."""
    try:
        with open(bed.p("podrunner", "listeners.json")) as f:
            opened = json.load(f).get("node_ports_opened") or []
    except (OSError, ValueError):
        return []
    want = set()
    for item in opened:
        addr, _, port = item.rpartition(":")
        want.add((addr, int(port)))
    return [(a, p) for a, p in listening(ports={p for _, p in want})
            if (a, p) in want or ipaddress.ip_address(a).is_unspecified]


def list_beds():
    if not os.path.isdir(BEDS):
        return []
    return [Bed(n) for n in sorted(os.listdir(BEDS)) if os.path.isdir(os.path.join(BEDS, n))]


def cmd_down(args):
    if args.all:
        beds = list_beds()
        if not beds:
            log("no test beds")
        failed = []
        for bed in beds:
            try:
                down(bed, args.keep_data)
            except Fail as exc:
                failed.append(str(exc))
        if failed:
            raise Fail("; ".join(failed))
        return 0
    if not args.name:
        raise Fail("down needs --name NAME or --all")
    bed = Bed(args.name)
    if not os.path.isdir(bed.dir):
        log("no test bed %s" % args.name)
        return 0
    return down(bed, args.keep_data)


def cmd_status(args):
    beds = list_beds()
    if not beds:
        log("no test beds")
    for bed in beds:
        running = bed.running()
        meta = bed.meta() or {}
        if bed.index is None:
            print("%-20s down (%s)" % (bed.name, "logs kept" if os.path.isdir(bed.p("logs")) else bed.dir))
            continue
        ready = bool(running.get("kube-apiserver")) and \
            bool(probe(lambda: https_get(bed, bed.apiserver + "/readyz", timeout=2)[0] == 200))
        print("%-20s index %-3d nodes %-3s %s%-8s apiserver %s  running: %s"
              % (bed.name, bed.index, meta.get("nodes", "?"),
                 "zones %s " % ",".join(meta["zones"]) if meta.get("zones") else "",
                 "ready" if ready else "not-ready", bed.apiserver,
                 ", ".join("%s(%d)" % kv for kv in running.items()) or "nothing"))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="bring a test bed up (nothing to do if it runs)")
    up.add_argument("--name", required=True)
    up.add_argument("--nodes", type=int, default=3)
    up.add_argument("--index", type=int, default=0, help="ports 20000+100*I+..., pod CIDR 127.(20+I).0.0/16")
    up.add_argument("--zones", default="", help="comma-separated zones: node i gets topology.kubernetes.io/zone="
                    "zones[i %% len]; the StorageClass standard is then WaitForFirstConsumer, zonal PVs")
    dn = sub.add_parser("down", help="stop a test bed (by pid) and remove its data")
    dn.add_argument("--name")
    dn.add_argument("--all", action="store_true")
    dn.add_argument("--keep-data", action="store_true", help="keep etcd data, certificates and volumes")
    sub.add_parser("status", help="list the test beds")
    args = ap.parse_args(argv)
    if args.cmd == "up" and not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?", args.name):
        ap.error("--name: lower-case letters, digits and '-' (it names the nodes)")
    try:
        if args.cmd == "up":
            args.zones = parse_zones(args.zones)
        return {"up": cmd_up, "down": cmd_down, "status": cmd_status}[args.cmd](args)
    except Fail as exc:
        print("testbed: ERROR: %s" % exc, file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
