"""The layout of the test beds: paths under .cache/, the ports and addresses of bed I, a bed's state directory."""
import ipaddress
import json
import os

from testbed_lib import podnet
from testbed_lib.procfs import cmdline_matches

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/testbed
REPO = os.path.dirname(os.path.dirname(HERE))
CACHE = os.path.join(REPO, ".cache")
BIN = os.path.join(CACHE, "bin")
KUBECTL = os.path.join(BIN, "kubectl")
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
# Stop order of `down` (the reverse of start order); the pod runner first, it stops the pods' JVMs.
COMPONENTS = ["podrunner", "kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]


def log(msg):
    print("testbed: " + msg, flush=True)


class Fail(Exception):
    pass


def write_file(path, text, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def lb_range(lb_cidr):
    """The addresses the pod runner gives LoadBalancer Services: .1-.254 of the bed's LoadBalancer /24 (on
    loopback: the pod runner listens there on this host and forwards to the pods)."""
    net = ipaddress.ip_network(lb_cidr, strict=False)
    return "%s-%s" % (net.network_address + 1, net.broadcast_address - 1)


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
        """10.244.I.0/24: one network namespace per pod on the bed's bridge (podnet.py)."""
        return str(podnet.pod_network(self.index))

    @property
    def lb_cidr(self):
        """127.(20+I).255.0/24: the LoadBalancer addresses, listened on by the pod runner on this host."""
        return "127.%d.255.0/24" % (20 + self.index)

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


def list_beds():
    if not os.path.isdir(BEDS):
        return []
    return [Bed(n) for n in sorted(os.listdir(BEDS)) if os.path.isdir(os.path.join(BEDS, n))]
