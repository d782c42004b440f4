"""The bed's kubeconfigs (admin, controller-manager, scheduler) and .cache/testbeds/kubeconfig, one context per
running bed."""
import base64
import fcntl
import os

import yaml

from testbed_lib.bed import BEDS, MERGED_KUBECONFIG, Bed, write_file


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
