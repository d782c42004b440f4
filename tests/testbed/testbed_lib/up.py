"""`up`: a bed's components started in order, each waited for, each step timed; testbed.json and env written."""
import json
import os
import time
import urllib.request

from testbed_lib.api import crd_established, https_get, kubectl
from testbed_lib.bed import (COMPONENTS, KWOK_CRDS, MAX_INDEX, PODBIN, PODRUNNER, PYTHON, REPO, Bed, Fail, lb_range,
                             list_beds, log, write_file)
from testbed_lib.components import (apiserver_argv, controller_manager_argv, etcd_argv, kwok_argv, kwok_config,
                                    need_binaries, podrunner_argv, scheduler_argv)
from testbed_lib.kubeconfig import merge_kubeconfigs, write_kubeconfigs
from testbed_lib.nodes import apply_nodes, nodes_ready
from testbed_lib.pki import make_pki
from testbed_lib.procfs import listening
from testbed_lib.supervise import exit_code, probe, start, stop, tail, wait_for


def env_text(bed):
    lines = {
        "KUBECONFIG": bed.kubeconfig, "K8S_AUTH_KUBECONFIG": bed.kubeconfig, "K8S_AUTH_CONTEXT": bed.context,
        "TESTBED_NAME": bed.name, "TESTBED_INDEX": str(bed.index), "TESTBED_STATE_DIR": bed.dir,
        "TESTBED_POD_CIDR": bed.pod_cidr, "TESTBED_APISERVER": bed.apiserver,
        "TESTBED_LB_RANGE": lb_range(bed.lb_cidr), "TESTBED_ZONES": ",".join((bed.meta() or {}).get("zones") or []),
    }
    return "".join("export %s=%s\n" % (k, shquote(v)) for k, v in lines.items())


def shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def step(label, t0):
    log("%-44s %5.1fs" % (label, time.time() - t0))
    return time.time()


def up(name, nodes, index, zones):
    """Bring bed NAME up with NODES nodes at INDEX (zones: a list); nothing to do when it runs already."""
    need_binaries()
    if not 0 <= index <= MAX_INDEX:
        raise Fail("--index must be 0..%d" % MAX_INDEX)
    bed = Bed(name, index)
    meta = bed.meta()
    running = bed.running()
    if meta and meta.get("index") != index and (running or os.path.isdir(bed.p("etcd"))):
        raise Fail("test bed %s %s --index %s (its nodes point at that index's ports); `down --name %s` first"
                   % (name, "is running with" if running else "has data kept from", meta.get("index"), name))
    if running and set(running) >= set(COMPONENTS) - ({"podrunner"} if not os.path.exists(PODRUNNER) else set()) \
            and probe(lambda: https_get(bed, bed.apiserver + "/readyz")[0] == 200):
        notes = []
        if (meta or {}).get("nodes") != nodes:
            notes.append("with %s nodes, not %d" % ((meta or {}).get("nodes"), nodes))
        if ((meta or {}).get("zones") or []) != zones:
            notes.append("with zones %s, not %s" % (",".join((meta or {}).get("zones") or []) or "none",
                                                    ",".join(zones) or "none"))
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
        owners = [b for b in list_beds() if b.name != bed.name and b.index == index and b.running()]
        raise Fail("port(s) %s already in use%s; pick another --index"
                   % (", ".join("%s:%d" % a for a in busy),
                      " by test bed %s (same index %d)" % (owners[0].name, index) if owners else ""))

    for d in ("pids", "logs"):
        os.makedirs(bed.p(d), exist_ok=True)
    try:
        return bring_up(bed, nodes, zones, total)
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


def bring_up(bed, nodes, zones, total):
    write_file(bed.p("testbed.json"), json.dumps({
        "name": bed.name, "index": bed.index, "nodes": nodes, "zones": zones, "ports": bed.ports(),
        "pod_cidr": bed.pod_cidr, "lb_cidr": bed.lb_cidr, "lb_range": lb_range(bed.lb_cidr), "apiserver": bed.apiserver,
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

    names = apply_nodes(bed, nodes, zones)
    wait_for("%d nodes Ready" % nodes, lambda: nodes_ready(bed, names), 120, bed, "kwok", interval=0.5)
    t = step("%d nodes Ready (%s-node-0..%d)" % (nodes, bed.name, nodes - 1), t)

    wait_for("ServiceAccount default/default",
             lambda: kubectl(bed, "get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0,
             120, bed, "kube-controller-manager", interval=0.5)
    t = step("ServiceAccount default/default exists", t)

    if os.path.exists(PODRUNNER):
        if not os.access(PYTHON, os.X_OK):
            raise Fail("no %s to run the pod runner (make setup)" % PYTHON)
        start(bed, "podrunner", podrunner_argv(bed, zones))
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
