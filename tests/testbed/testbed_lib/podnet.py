"""Pod networking of the test bed: one network namespace per pod, a veth pair to a bridge of the bed's own.

A bed of index I has the pod network 10.244.I.0/24 (no other network on this machine uses 10.244.0.0/16; the
Service range 10.96.0.0/16 is allocation only). The bridge ``tbbr<I>`` holds the gateway .1, so this host reaches
every pod directly; a pod with address 10.244.I.H lives in the network namespace ``testbed-10-244-I-H`` (its
``eth0`` = that address, ``lo`` up, default route via the bridge) and the host end of its veth is ``tbv<I>-<H>``.
Every name follows from the pod's address alone, so the pod runner, the ``podbin/`` dispatchers (which enter the
namespace of TESTBED_POD_IP) and ``down`` agree without a shared table.

A pod's ``localhost`` is its own, two pods listen on the same port, and the API server accepts the addresses as
endpoints (it refuses loopback ones), so EndpointSlices fill. Traffic stays on this machine: the bridge has no
uplink and nothing forwards between it and any other interface.

Everything here is done with iproute2's ``ip`` and util-linux's ``nsenter`` (root). ``down`` removes what
``namespaces``/``links`` list and then proves that nothing of the bed is left.
"""

import ipaddress
import os
import re
import signal
import subprocess
import time

POD_NETWORKS = ipaddress.ip_network("10.244.0.0/16")
NETNS_DIR = "/run/netns"
NETNS_PREFIX = "testbed-"
NSENTER = "nsenter"
IP = "ip"
# Address resolution on the bridge and in each pod: an address nobody holds (a pod that went) fails in about
# 0.2 s with EHOSTUNREACH instead of the kernel's 3 s (3 probes, 1 s apart), and an entry of a pod that went is
# flushed everywhere (detach), so clients fail fast and retry, as a refused loopback address did. The bridge is
# local: an answer takes microseconds, so 100 ms loses nothing.
NEIGH_PARAMS = ["retrans", "100", "mcast_probes", "2", "ucast_probes", "1", "delay_probe", "100"]


class NetError(Exception):
    pass


# ----------------------------------------------------------------------------------------------------------
# Names: pure functions of the addresses

def pod_network(index):
    """The pod network of bed index I: 10.244.I.0/24."""
    if not 0 <= int(index) <= 255:
        raise ValueError("bed index %r is outside 0..255" % (index,))
    return ipaddress.ip_network("10.244.%d.0/24" % int(index))


def gateway(net):
    """The bridge's address: the network's first host."""
    return str(next(ipaddress.ip_network(net).hosts()))


def bridge_name(net):
    return "tbbr%d" % ipaddress.ip_network(net).network_address.packed[2]


def _octets(ip):
    addr = ipaddress.ip_address(ip)
    if addr not in POD_NETWORKS:
        raise ValueError("%s is not a test bed pod address (%s)" % (ip, POD_NETWORKS))
    return addr.packed


def netns_name(ip):
    """testbed-10-244-I-H: the network namespace of the pod with this address."""
    return NETNS_PREFIX + "-".join(str(o) for o in _octets(ip))


def netns_prefix(net):
    """testbed-10-244-I-: what the names of net's pod namespaces start with."""
    return NETNS_PREFIX + "-".join(str(o) for o in ipaddress.ip_network(net).network_address.packed[:3]) + "-"


def netns_path(ip):
    return os.path.join(NETNS_DIR, netns_name(ip))


def veth_name(ip):
    """tbv<I>-<H> (at most 10 characters: link names stop at 15)."""
    o = _octets(ip)
    return "tbv%d-%d" % (o[2], o[3])


def enter_argv(ip, argv):
    """argv run inside the pod's network namespace (nsenter execs it: same pid, signals pass straight)."""
    return [NSENTER, "--net=" + netns_path(ip), "--"] + list(argv)


def in_netns(ip):
    """True when this process already is in the pod's network namespace."""
    try:
        return os.stat("/proc/self/ns/net").st_ino == os.stat(netns_path(ip)).st_ino
    except OSError:
        return False


# ----------------------------------------------------------------------------------------------------------
# The commands

def _ip(*args, check=True):
    r = subprocess.run([IP] + list(args), capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise NetError("ip %s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))
    return r


def namespaces(net):
    """The network namespaces of pods in net that exist now."""
    try:
        names = os.listdir(NETNS_DIR)
    except OSError:
        return []
    prefix = netns_prefix(net)
    return sorted(n for n in names if n.startswith(prefix) and n[len(prefix):].isdigit())


def links(net):
    """The bridge and the host ends of the veths of net that exist now."""
    net = ipaddress.ip_network(net)
    out = _ip("-o", "link", "show").stdout
    third = net.network_address.packed[2]
    pattern = re.compile(r"^(tbbr%d|tbv%d-\d+)$" % (third, third))
    found = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            name = parts[1].strip().split("@", 1)[0]
            if pattern.match(name):
                found.append(name)
    return sorted(found)


def ensure_bridge(net):
    """The bed's bridge, up, with the gateway address (idempotent)."""
    net = ipaddress.ip_network(net)
    name = bridge_name(net)
    if _ip("link", "show", name, check=False).returncode != 0:
        _ip("link", "add", name, "type", "bridge")
    want = "%s/%d" % (gateway(net), net.prefixlen)
    if want not in _ip("-o", "addr", "show", "dev", name).stdout:
        _ip("addr", "add", want, "dev", name)
    _ip("ntable", "change", "name", "arp_cache", "dev", name, *NEIGH_PARAMS)
    _ip("link", "set", name, "up")
    return name


def attach(net, ip):
    """The pod's namespace with eth0 = ip on the bridge (made again from scratch when it is not exactly that)."""
    net = ipaddress.ip_network(net)
    if ipaddress.ip_address(ip) not in net or ip == gateway(net):
        raise NetError("%s is not a pod address of %s" % (ip, net))
    name = netns_name(ip)
    ensure_bridge(net)
    if name in namespaces(net):
        have = _ip("-n", name, "-o", "addr", "show", "dev", "eth0", check=False).stdout
        if "inet %s/%d" % (ip, net.prefixlen) in have and _ip("link", "show", veth_name(ip), check=False).returncode == 0:
            return name
        detach(ip)
    _ip("netns", "add", name)
    try:
        _ip("link", "add", veth_name(ip), "type", "veth", "peer", "name", "eth0", "netns", name)
        _ip("link", "set", veth_name(ip), "master", bridge_name(net), "up")
        _ip("-n", name, "addr", "add", "%s/%d" % (ip, net.prefixlen), "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "route", "add", "default", "via", gateway(net))
        _ip("-n", name, "ntable", "change", "name", "arp_cache", "dev", "eth0", *NEIGH_PARAMS)
    except NetError:
        detach(ip)
        raise
    return name


def pids_inside(name):
    r = _ip("netns", "pids", name, check=False)
    return [int(p) for p in r.stdout.split() if p.isdigit()]


def detach(ip, kill_after=10.0):
    """Remove the pod's namespace (its veth pair goes with it). Processes still inside are ours by that fact
    alone (nothing else enters these namespaces): SIGTERM, then SIGKILL after kill_after seconds. Returns
    the pids that had to be signalled."""
    name = netns_name(ip)
    signalled = _end_processes(name, kill_after)
    _ip("netns", "del", name, check=False)
    _ip("link", "del", veth_name(ip), check=False)
    forget(ip)
    return signalled


def forget(ip):
    """Flush what the host and the other pods of the network remember of ip's link address: the next packet to
    ip asks again, and fails fast when nobody answers (NEIGH_PARAMS)."""
    net = ipaddress.ip_network("%s/24" % ip, strict=False)
    _ip("neigh", "flush", "to", ip, "dev", bridge_name(net), check=False)
    for other in namespaces(net):
        _ip("-n", other, "neigh", "flush", "to", ip, check=False)


def _end_processes(name, kill_after):
    pids = pids_inside(name)
    for sig, wait in ((signal.SIGTERM, kill_after), (signal.SIGKILL, 5.0)):
        left = pids_inside(name)
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + wait
        while pids_inside(name) and time.time() < deadline:
            time.sleep(0.1)
    return pids


def remove_all(net):
    """Every namespace and link of net removed. Returns (namespaces removed, pids signalled)."""
    removed, signalled = [], []
    for name in namespaces(net):
        ip = ".".join(name[len(NETNS_PREFIX):].split("-"))
        signalled += detach(ip)
        removed.append(name)
    _ip("link", "del", bridge_name(net), check=False)
    return removed, signalled


def leftovers(net):
    """What of net still exists: namespaces and links (empty when it is all gone)."""
    return namespaces(net) + links(net)
