"""`down`: a bed's components stopped by pid (the pod runner first), then nothing of it may still listen; its state
removed but logs/ (unless --keep-data)."""
import ipaddress
import json
import os
import shutil
import time

from testbed_lib import podnet
from testbed_lib.bed import COMPONENTS, Bed, Fail, list_beds, log
from testbed_lib.kubeconfig import merge_kubeconfigs
from testbed_lib.procfs import listening
from testbed_lib.supervise import stop


def down(bed, keep_data):
    t0 = time.time()
    stopped = [c for c in COMPONENTS if stop(bed, c)]
    try:
        os.unlink(bed.p("env"))  # scripts read its presence as "the bed is up"
    except OSError:
        pass
    left = listening(ports=set(bed.ports().values())) if bed.index is not None else []
    # The pods' network namespaces (and with them their sockets and veths) and the bridge go; anything of
    # them still there, or a listener on the pod network or the LoadBalancer range of this host, is reported.
    net_left, pods_left = [], []
    if bed.index is not None:
        removed, signalled = podnet.remove_all(bed.pod_cidr)
        if removed:
            log("removed %d pod network namespaces%s" % (len(removed), " (processes still inside, ended: %s)" % (
                ", ".join(map(str, signalled))) if signalled else ""))
        net_left = podnet.leftovers(bed.pod_cidr)
        pods_left = (listening(net=ipaddress.ip_network(bed.pod_cidr))
                     + listening(net=ipaddress.ip_network(bed.lb_cidr)))
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
    if net_left:
        problems.append("pod network %s not removed: %s" % (bed.pod_cidr, ", ".join(net_left)))
    if pods_left:
        problems.append("still listening in its pod network %s or LoadBalancer range %s: %s"
                        % (bed.pod_cidr, bed.lb_cidr, ", ".join("%s:%d" % a for a in pods_left)))
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


def down_all(keep_data):
    beds = list_beds()
    if not beds:
        log("no test beds")
    failed = []
    for bed in beds:
        try:
            down(bed, keep_data)
        except Fail as exc:
            failed.append(str(exc))
    if failed:
        raise Fail("; ".join(failed))
    return 0


def down_named(name, keep_data):
    bed = Bed(name)
    if not os.path.isdir(bed.dir):
        log("no test bed %s" % name)
        return 0
    return down(bed, keep_data)
