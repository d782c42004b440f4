"""The test bed's control plane, for real: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
kwok built by tests/testbed/build.sh and run by tests/testbed/testbed.py.

    .cache/venv/bin/python -m pytest -m testbed tests/testbed/test_controlplane.py

Brings up bed `tb-ct` (index 7; TESTBED_CT_INDEX overrides it when another bed holds index 7), checks the
nodes, the scheduler's placement under required pod anti-affinity (3 nodes: 3 pods on 3 nodes; 2 nodes: the
third pod stays Pending, Unschedulable, for anti-affinity), `kubectl exec` through the apiserver into kwok,
and that `down` leaves no process and no listener behind.
"""
import json
import os
import subprocess
import time

import pytest

pytestmark = pytest.mark.testbed

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CACHE = os.path.join(REPO, ".cache")
PYTHON = os.path.join(CACHE, "venv", "bin", "python")
KUBECTL = os.path.join(CACHE, "bin", "kubectl")
TESTBED = os.path.join(HERE, "testbed.py")
NAME = "tb-ct"
INDEX = int(os.environ.get("TESTBED_CT_INDEX", "7"))
STATE = os.path.join(CACHE, "testbeds", NAME)
KUBECONFIG = os.path.join(STATE, "kubeconfig")


def run_testbed(*args, check=True):
    r = subprocess.run([PYTHON, TESTBED] + list(args), capture_output=True, text=True, timeout=600)
    print(r.stdout + r.stderr)
    if check:
        assert r.returncode == 0, "testbed.py %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr)
    return r


def kubectl(*args, stdin=None, check=True):
    r = subprocess.run([KUBECTL, "--kubeconfig", KUBECONFIG] + list(args), input=stdin, capture_output=True,
                       text=True, timeout=120)
    if check:
        assert r.returncode == 0, "kubectl %s failed: %s%s" % (" ".join(args), r.stdout, r.stderr)
    return r


def get(*args):
    return json.loads(kubectl("get", "-o", "json", *args).stdout)


def wait(what, fn, timeout=90):
    t0 = time.time()
    last = None
    while time.time() - t0 < timeout:
        last = fn()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError("timed out after %ds waiting for %s (last: %r)" % (timeout, what, last))


def statefulset(namespace, replicas=3):
    """StatefulSet whose pods must each land on another node (required anti-affinity on the hostname)."""
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "spread", "namespace": namespace},
        "spec": {
            "serviceName": "spread", "replicas": replicas, "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "spread"}},
            "template": {
                "metadata": {"labels": {"app": "spread"}},
                "spec": {
                    "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                        "labelSelector": {"matchLabels": {"app": "spread"}},
                        "topologyKey": "kubernetes.io/hostname"}]}},
                    "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}],
                },
            },
        },
    }


def pods(namespace):
    return [p for p in get("pods", "-n", namespace, "-l", "app=spread")["items"]
            if not p["metadata"].get("deletionTimestamp")]


def listeners(ports):
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].split(":")[1], 16) in ports:
                    found.append(int(fields[1].split(":")[1], 16))
    return found


@pytest.fixture(scope="module")
def bed():
    r = subprocess.run(["bash", os.path.join(HERE, "build.sh")], capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, "build.sh failed:\n%s%s" % (r.stdout[-3000:], r.stderr[-3000:])
    run_testbed("down", "--name", NAME)  # this test owns the name: start from nothing
    t0 = time.time()
    run_testbed("up", "--name", NAME, "--nodes", "3", "--index", str(INDEX))
    print("up took %.1fs" % (time.time() - t0))
    with open(os.path.join(STATE, "testbed.json")) as f:
        meta = json.load(f)
    yield meta
    if os.environ.get("TESTBED_CT_KEEP") != "1":
        run_testbed("down", "--name", NAME, check=False)


def test_up_again_does_nothing(bed):
    r = run_testbed("up", "--name", NAME, "--nodes", "3", "--index", str(INDEX))
    assert "already up" in r.stdout


def test_env_and_kubeconfigs(bed):
    with open(os.path.join(STATE, "env")) as f:
        env = f.read()
    for key in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "TESTBED_NAME", "TESTBED_POD_CIDR",
                "TESTBED_APISERVER"):
        assert "export %s=" % key in env
    assert "export TESTBED_POD_CIDR='10.244.%d.0/24'" % INDEX in env
    assert "export TESTBED_LB_RANGE='127.%d.255.1-127.%d.255.254'" % (20 + INDEX, 20 + INDEX) in env
    merged = subprocess.run([KUBECTL, "--kubeconfig", os.path.join(CACHE, "testbeds", "kubeconfig"), "config",
                             "get-contexts", "-o", "name"], capture_output=True, text=True, check=True).stdout.split()
    assert "kafka-eks-" + NAME in merged
    version = json.loads(kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"].startswith("v1.34.")


def test_nodes_ready_untainted(bed):
    nodes = {n["metadata"]["name"]: n for n in get("nodes")["items"]}
    assert sorted(nodes) == ["%s-node-%d" % (NAME, i) for i in range(3)]
    for name, n in nodes.items():
        assert n["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        assert n["metadata"]["labels"]["kubernetes.io/hostname"] == name
        assert n["metadata"]["labels"]["type"] == "kwok"
        assert not n["spec"].get("taints"), "%s has taints %s" % (name, n["spec"].get("taints"))
        assert n["status"]["allocatable"] == {"cpu": "32", "memory": "256Gi", "pods": "110"}
        ready = [c for c in n["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True"
        ip = [a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP"]
        assert ip == ["127.0.0.1"]
        assert n["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == bed["ports"]["kwok"]


def test_anti_affinity_three_nodes_three_pods(bed):
    kubectl("create", "namespace", "ct-three")
    kubectl("apply", "-f", "-", stdin=json.dumps(statefulset("ct-three")))
    bound = wait("3 pods bound", lambda: (lambda ps: ps if len(ps) == 3 and all(p["spec"].get("nodeName") for p in ps)
                                          else None)(pods("ct-three")))
    placement = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in bound}
    print("placement on 3 nodes:", placement)
    assert len(set(placement.values())) == 3, placement


def test_exec_through_apiserver_into_kwok(bed):
    """kubectl exec -> kube-apiserver -> kwok (TLS verified with the bed's CA) -> a local process with
    podbin/ first on its PATH and TESTBED_STATE_DIR set, and the env of the pod's kwok Exec object."""
    pod = pods("ct-three")[0]["metadata"]["name"]
    kubectl("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Exec", "metadata": {"name": pod, "namespace": "ct-three"},
        "spec": {"execs": [{"local": {"workDir": STATE, "envs": [{"name": "CT_HELLO", "value": "world"}]}}]}}))
    out = wait("exec through the API", lambda: (lambda r: r.stdout if r.returncode == 0 else None)(
        kubectl("exec", "-n", "ct-three", pod, "--", "sh", "-c",
                'echo "$CT_HELLO|$TESTBED_STATE_DIR|$(pwd)|$(command -v zkServer.sh)"', check=False)), 30)
    hello, state, cwd, zk = out.strip().split("|")
    assert (hello, state, cwd) == ("world", STATE, STATE)
    assert zk == os.path.join(HERE, "podbin", "zkServer.sh")


def test_anti_affinity_two_nodes_third_pod_pending(bed):
    kubectl("delete", "node", "%s-node-2" % NAME)
    wait("2 nodes", lambda: len(get("nodes")["items"]) == 2)
    kubectl("create", "namespace", "ct-two")
    kubectl("apply", "-f", "-", stdin=json.dumps(statefulset("ct-two")))

    def settled():
        ps = pods("ct-two")
        bound = [p for p in ps if p["spec"].get("nodeName")]
        pending = [p for p in ps if not p["spec"].get("nodeName") and any(
            c["type"] == "PodScheduled" and c["status"] == "False" and c.get("reason") == "Unschedulable"
            for c in p["status"].get("conditions", []))]
        return (bound, pending) if len(bound) == 2 and len(pending) == 1 else None
    bound, pending = wait("2 pods bound and 1 Unschedulable", settled)
    assert len({p["spec"]["nodeName"] for p in bound}) == 2
    cond = [c for c in pending[0]["status"]["conditions"] if c["type"] == "PodScheduled"][0]
    print("pending pod %s: %s" % (pending[0]["metadata"]["name"], cond["message"]))
    assert "anti-affinity" in cond["message"], cond
    events = get("events", "-n", "ct-two", "--field-selector",
                 "reason=FailedScheduling,involvedObject.name=" + pending[0]["metadata"]["name"])["items"]
    assert events and "anti-affinity" in events[0]["message"]
    # stays Pending: nothing else can place it
    time.sleep(3)
    assert not [p for p in pods("ct-two") if p["metadata"]["name"] == pending[0]["metadata"]["name"]][0]["spec"].get("nodeName")


def test_down_leaves_nothing(bed):
    pids = {}
    for c in os.listdir(os.path.join(STATE, "pids")):
        with open(os.path.join(STATE, "pids", c)) as f:
            pids[c] = int(f.read())
    assert {"etcd.pid", "kube-apiserver.pid", "kube-controller-manager.pid", "kube-scheduler.pid",
            "kwok.pid"} <= set(pids)
    ports = set(bed["ports"].values())
    assert listeners(ports), "nothing listens while the bed is up?"
    # The state a CI run once left: etcd's pid file naming a process that is not etcd (there, an etcd taken
    # for dead while the kernel was still inside execve). `down` must find the real one by its command line.
    with open(os.path.join(STATE, "pids", "etcd.pid"), "w") as f:
        f.write("%d\n" % os.getpid())
    t0 = time.time()
    r = run_testbed("down", "--name", NAME)
    print("down took %.1fs" % (time.time() - t0))
    assert "etcd: also stopping pid %d" % pids["etcd.pid"] in r.stdout + r.stderr
    assert listeners(ports) == []
    for c, pid in pids.items():
        assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z", c
    assert not os.path.exists(os.path.join(STATE, "env"))
    assert not os.path.exists(os.path.join(STATE, "etcd"))
    r = run_testbed("status")
    line = [ln for ln in r.stdout.splitlines() if ln.split() and ln.split()[0] == NAME]
    assert line and line[0].split()[1] == "down", line
