"""Each component's command line (and kwok's config): etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
kwok, the pod runner; and the binaries tests/testbed/build.sh must have made."""
import functools
import os

import yaml

from testbed_lib.bed import BIN, CACHE, KWOK_CRDS, NODE_IP, PODRUNNER, PYTHON, SERVICE_CIDR, Fail
from testbed_lib.nodes import NODE_ANNOTATION

KWOK_LEASE_SECONDS = 40
KWOK_ENABLED_CRDS = ["Exec"]


def need_binaries():
    missing = [b for b in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")
               if not os.access(os.path.join(BIN, b), os.X_OK)]
    if missing or not os.path.exists(os.path.join(KWOK_CRDS, "kwok.x-k8s.io_execs.yaml")):
        raise Fail("not built: %s; run tests/testbed/build.sh first"
                   % ", ".join(missing or ["kwok CRDs (.cache/kwok/crds)"]))


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
    k = functools.partial(bed.p, "pki")
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
    k = functools.partial(bed.p, "pki")
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
            # A pod tried while its claim was still unbound (the bed binds a new claim about a second later) sometimes
            # misses the requeue on the bind and waited out the default 5 minutes in the unschedulable pool (seen: the
            # fourth broker of a fresh rollout, 5 min 20 s); 30 s bounds that stall without changing any decision.
            "--pod-max-in-unschedulable-pods-duration=30s",
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


def podrunner_argv(bed, zones):
    return [PYTHON, PODRUNNER, "--kubeconfig", bed.kubeconfig, "--state-dir", bed.dir,
            "--pod-cidr", bed.pod_cidr, "--lb-cidr", bed.lb_cidr] + (["--zones", ",".join(zones)] if zones else [])
