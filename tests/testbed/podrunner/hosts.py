"""Name resolution for the test bed's JVMs: one hosts file per namespace (``-Djdk.net.hosts.file``).

There is no cluster DNS and no kube-proxy here, so Service names resolve straight to pod addresses, the way
a headless Service does: ``svc``, ``svc.ns``, ``svc.ns.svc``, ``svc.ns.svc.cluster.local`` -> the ready pods
it selects (all of them, ready or not, when ``publishNotReadyAddresses`` is set); for headless Services also
``<hostname>.<svc>[.ns[.svc[.cluster.local]]]`` for the selected pods whose ``spec.subdomain`` is that Service
(StatefulSet pods). Short names (``svc``, ``pod.svc``) are only in their own namespace's file; qualified
names are in every file. ClusterIPs are never listed: nothing here may dial them.
"""

import os
import socket


def selector_matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _names(base, ns, short):
    qualified = [base + "." + ns, base + "." + ns + ".svc", base + "." + ns + ".svc.cluster.local"]
    return ([base] if short else []) + qualified


def hosts_entries(namespace, services, pods):
    """[(ip, name)] for ``namespace``'s file.

    services: Service dicts of every namespace. pods: dicts with keys namespace, labels, ip, ready,
    terminating, hostname, subdomain (only pods that have an address).
    """
    entries = []
    for svc in services:
        meta, spec = svc.get("metadata", {}), svc.get("spec", {})
        sns, name = meta.get("namespace"), meta.get("name")
        selector = spec.get("selector") or {}
        if not selector or spec.get("type") == "ExternalName":
            continue
        short = sns == namespace
        not_ready_too = bool(spec.get("publishNotReadyAddresses"))
        headless = spec.get("clusterIP") == "None"
        for pod in pods:
            if pod["namespace"] != sns or not pod.get("ip") or not selector_matches(selector, pod["labels"]):
                continue
            if not not_ready_too and (not pod.get("ready") or pod.get("terminating")):
                continue
            for n in _names(name, sns, short):
                entries.append((pod["ip"], n))
            if headless and pod.get("subdomain") == name and pod.get("hostname"):
                for n in _names(pod["hostname"] + "." + name, sns, short):
                    entries.append((pod["ip"], n))
    return entries


def render(entries):
    """The file's text: fixed order (by name, then address) so that unchanged means byte-identical."""
    seen = set()
    lines = ["127.0.0.1 localhost"]
    host = socket.gethostname()
    if host and host != "localhost":
        lines.append("127.0.0.1 " + host)
    for ip, name in sorted(entries, key=lambda e: (e[1], tuple(int(x) for x in e[0].split(".")))):
        if (ip, name) in seen:
            continue
        seen.add((ip, name))
        lines.append("%s %s" % (ip, name))
    return "\n".join(lines) + "\n"


def write_if_changed(path, text):
    try:
        with open(path) as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return True
