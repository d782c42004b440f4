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
import os
import re
import sys

from testbed_lib.api import https_get
from testbed_lib.bed import Fail, list_beds, log
from testbed_lib.down import down_all, down_named
from testbed_lib.nodes import parse_zones
from testbed_lib.supervise import probe
from testbed_lib.up import up


def status():
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


def run(args):
    if args.cmd == "up":
        return up(args.name, args.nodes, args.index, parse_zones(args.zones))
    if args.cmd == "down":
        if args.all:
            return down_all(args.keep_data)
        if not args.name:
            raise Fail("down needs --name NAME or --all")
        return down_named(args.name, args.keep_data)
    return status()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="testbed.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    up_ = sub.add_parser("up", help="bring a test bed up (nothing to do if it runs)")
    up_.add_argument("--name", required=True)
    up_.add_argument("--nodes", type=int, default=3)
    up_.add_argument("--index", type=int, default=0, help="ports 20000+100*I+..., pod network 10.244.I.0/24, LoadBalancer range 127.(20+I).255.0/24")
    up_.add_argument("--zones", default="", help="comma-separated zones: node i gets topology.kubernetes.io/zone="
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
        return run(args)
    except Fail as exc:
        print("testbed: ERROR: %s" % exc, file=sys.stderr, flush=True)
        return 1
