"""LoadBalancer and NodePort Services of the test bed, served for real (what MetalLB or cloud-provider-kind
plus kube-proxy do on a cluster), driven by the pod runner's reconcile loop.

* ``type: LoadBalancer``: an address from the bed's own loopback range (``--lb-cidr``,
  ``127.(20+I).255.1-254``; the pods' addresses are elsewhere, in their network namespaces), written to ``status.loadBalancer.ingress[0].ip``; a listener on that address
  for every TCP port of the Service. Freed (listeners closed, status cleared) when the Service goes or stops
  being a LoadBalancer. A Service with a ``loadBalancerClass`` is someone else's and left alone.
* ``nodePort`` of every port of a ``NodePort`` or ``LoadBalancer`` Service: a listener on each KWOK node's
  InternalIP (127.0.0.1) at that port. A port something else holds is an error in the runner's log naming the
  Service (retried), never a crash.
* Each accepted connection goes (over the bed's bridge) to the next (round-robin) ready pod the Service selects (every pod with an
  address when ``publishNotReadyAddresses``), at the port's ``targetPort`` (number, or the container port's
  name, as the endpoints controller resolves it per pod). No backend: the connection is closed at once.
  Bytes are copied both ways by two threads; EOF on one side is passed on as a half-close (``shutdown(WR)``),
  an error on either side closes both; nothing outlives the pair.

Pure parts (address pool, target ports, backends, the wanted listeners) are separate from the sockets.
"""

import ipaddress
import json
import logging
import os
import socket
import threading
import time

LOG = logging.getLogger("podrunner.lb")
CONNECT_TIMEOUT = 3.0
BUFFER = 65536
RETRY_SECONDS = 10.0


# ----------------------------------------------------------------------------------------------------------
# Pure parts

def lb_network(lb_cidr):
    """The LoadBalancer range: a loopback network of this host (the listeners are the pod runner's own)."""
    net = ipaddress.ip_network(lb_cidr, strict=False)
    if not net.subnet_of(ipaddress.ip_network("127.0.0.0/8")):
        raise ValueError("the LoadBalancer range must be inside 127.0.0.0/8 (got %s)" % lb_cidr)
    return net


class Exhausted(Exception):
    pass


class AddressPool:
    """LoadBalancer addresses .1-.254 of the range, one per Service uid; the lowest free one (as MetalLB),
    or the one the Service already shows in its status (a restarted runner keeps the addresses)."""

    def __init__(self, lb_cidr):
        self.net = lb_network(lb_cidr)
        self.by_key = {}

    def contains(self, ip):
        try:
            return self.net is not None and ipaddress.ip_address(ip) in self.net
        except ValueError:
            return False

    def usable(self, ip):
        return self.contains(ip) and ip not in (str(self.net.network_address), str(self.net.broadcast_address))

    def get(self, key, hint=None):
        if key in self.by_key:
            return self.by_key[key]
        if self.net is None:
            raise Exhausted("the pod CIDR is too small for a LoadBalancer range")
        used = set(self.by_key.values())
        if hint and self.usable(hint) and hint not in used:
            addr = hint
        else:
            for host in self.net.hosts():
                if str(host) not in used:
                    addr = str(host)
                    break
            else:
                raise Exhausted("all %d LoadBalancer addresses of %s are taken" % (len(used), self.net))
        self.by_key[key] = addr
        return addr

    def release(self, key):
        return self.by_key.pop(key, None)


def target_port(svc_port, containers):
    """The port a Service port forwards to on a pod with these containers: targetPort as a number, or the
    name of a container port (None when the pod has no such port: the pod is no endpoint of it); port when
    targetPort is unset."""
    tp = svc_port.get("targetPort")
    if tp is None or tp == "":
        return int(svc_port["port"])
    if isinstance(tp, int) or str(tp).isdigit():
        return int(tp)
    for c in containers or []:
        for p in c.get("ports") or []:
            if p.get("name") == tp and p.get("protocol", "TCP") == svc_port.get("protocol", "TCP"):
                return int(p["containerPort"])
    return None


def selected(svc, pods):
    """The pods that are endpoints of the Service: same namespace, selector matches, an address, not
    finished; ready and not terminating unless publishNotReadyAddresses. pods: dicts with namespace, labels,
    ip, ready, terminating, containers (and optionally phase)."""
    meta, spec = svc.get("metadata", {}), svc.get("spec", {})
    selector = spec.get("selector") or {}
    if not selector:
        return []
    not_ready_too = bool(spec.get("publishNotReadyAddresses"))
    out = []
    for p in pods:
        if p.get("namespace") != meta.get("namespace") or not p.get("ip"):
            continue
        if not all((p.get("labels") or {}).get(k) == v for k, v in selector.items()):
            continue
        if p.get("phase") in ("Succeeded", "Failed"):
            continue
        if not not_ready_too and (not p.get("ready") or p.get("terminating")):
            continue
        out.append(p)
    return sorted(out, key=lambda p: tuple(int(x) for x in p["ip"].split(".")))


def backends(svc, svc_port, pods):
    """[(ip, port)] a connection to this Service port may go to."""
    out = []
    for p in selected(svc, pods):
        port = target_port(svc_port, p.get("containers"))
        if port is not None:
            out.append((p["ip"], port))
    return out


def is_ours(svc):
    spec = svc.get("spec", {})
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def wanted(services, pods, addresses, node_ips):
    """(addr, port) -> {"service": "ns/name", "kind": "LoadBalancer"|"NodePort", "backends": [...]} for every
    listener the Services ask for. addresses: Service uid -> its LoadBalancer address."""
    want = {}
    for svc in services:
        meta, spec = svc.get("metadata", {}), svc.get("spec", {})
        key = "%s/%s" % (meta.get("namespace"), meta.get("name"))
        for sp in spec.get("ports") or []:
            if sp.get("protocol", "TCP") != "TCP":
                continue
            bk = None
            if is_ours(svc) and meta.get("uid") in addresses:
                bk = backends(svc, sp, pods)
                want[(addresses[meta["uid"]], int(sp["port"]))] = {"service": key, "kind": "LoadBalancer",
                                                                   "backends": bk}
            if sp.get("nodePort") and spec.get("type") in ("NodePort", "LoadBalancer"):
                bk = bk if bk is not None else backends(svc, sp, pods)
                for ip in node_ips:
                    want[(ip, int(sp["nodePort"]))] = {"service": key, "kind": "NodePort", "backends": bk}
    return want


def status_ips(svc):
    return [i.get("ip") for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []]


# ----------------------------------------------------------------------------------------------------------
# Sockets

class Pipe:
    """One client connection and its backend connection; two threads copy the bytes."""

    def __init__(self, client, backend, on_done):
        self.client, self.backend = client, backend
        self.on_done = on_done
        self.lock = threading.Lock()
        self.open_directions = 2
        self.closed = False

    def start(self):
        threading.Thread(target=self._pump, args=(self.backend, self.client), daemon=True,
                         name="lb-pipe").start()
        self._pump(self.client, self.backend)

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(BUFFER)
                if not data:
                    break
                dst.sendall(data)
            try:
                dst.shutdown(socket.SHUT_WR)  # pass the half-close on
            except OSError:
                pass
        except OSError:
            self.abort()
        finally:
            with self.lock:
                self.open_directions -= 1
                last = self.open_directions == 0
            if last:
                self._close()

    def abort(self):
        """Both directions end now (an error, or the listener goes)."""
        for s in (self.client, self.backend):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.backend):
            try:
                s.close()
            except OSError:
                pass
        self.on_done(self)


class Listener:
    def __init__(self, addr, port, spec):
        self.addr, self.port = addr, port
        self.service, self.kind = spec["service"], spec["kind"]
        self.backends = list(spec["backends"])
        self.next = 0
        self.lock = threading.Lock()
        self.pipes = set()
        self.stopping = False
        self.sock = None
        self.accepted = 0

    def open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.addr, self.port))
            s.listen(128)
        except OSError:
            s.close()
            raise
        self.sock = s
        threading.Thread(target=self._accept_loop, daemon=True,
                         name="lb-%s:%d" % (self.addr, self.port)).start()
        return self

    def update(self, spec):
        with self.lock:
            self.service, self.kind = spec["service"], spec["kind"]
            self.backends = list(spec["backends"])

    def _candidates(self):
        with self.lock:
            bk = list(self.backends)
            start = self.next
            self.next += 1
        if not bk:
            return []
        start %= len(bk)
        return bk[start:] + bk[:start]

    def _accept_loop(self):
        while not self.stopping:
            try:
                client, _peer = self.sock.accept()
            except OSError:
                break
            self.accepted += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True, name="lb-conn").start()

    def _serve(self, client):
        backend = None
        for ip, port in self._candidates():
            try:
                backend = socket.create_connection((ip, port), timeout=CONNECT_TIMEOUT)
                backend.settimeout(None)
                break
            except OSError as exc:
                LOG.debug("%s %s:%d: backend %s:%d refused: %s", self.service, self.addr, self.port, ip, port, exc)
        if backend is None or self.stopping:
            # No endpoint (or the listener is going): the connection is refused the only way left, closed.
            for s in (client, backend):
                if s is not None:
                    s.close()
            return
        for s in (client, backend):
            try:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        pipe = Pipe(client, backend, self._pipe_done)
        with self.lock:
            if self.stopping:
                pipe.abort()
            self.pipes.add(pipe)
        pipe.start()

    def _pipe_done(self, pipe):
        with self.lock:
            self.pipes.discard(pipe)

    def close(self):
        self.stopping = True
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
            except OSError:
                pass
            self.sock.close()
        with self.lock:
            pipes = list(self.pipes)
        for p in pipes:
            p.abort()

    def active(self):
        with self.lock:
            return len(self.pipes)


class Manager:
    """Called by the pod runner's reconcile loop with what it listed."""

    def __init__(self, lb_cidr, state_dir=None, patch_status=None, event=None):
        self.pool = AddressPool(lb_cidr)
        self.state_file = os.path.join(state_dir, "podrunner", "listeners.json") if state_dir else None
        self.patch_status = patch_status or (lambda ns, name, body: None)
        self.event = event or (lambda svc, type_, reason, message: None)
        self.listeners = {}
        self.failed = {}  # (addr, port) -> (next retry time, message)
        self.node_ports_opened = set()
        self.lb_addresses_opened = set()
        self.no_address = set()  # Services told (once) that the range is exhausted
        self._last_state = None

    def reconcile(self, services, pods, node_ips):
        ours = [s for s in services if is_ours(s) and not s.get("metadata", {}).get("deletionTimestamp")]
        ours_uids = {s["metadata"]["uid"] for s in ours}
        # Free first (a Service waiting for an address gets one in this same pass) ...
        by_uid = {s.get("metadata", {}).get("uid"): s for s in services}
        for uid in [u for u in self.pool.by_key if u not in ours_uids]:
            addr = self.pool.release(uid)
            svc = by_uid.get(uid)
            LOG.info("LoadBalancer address %s freed (%s)", addr,
                     "Service deleted" if svc is None else "Service %s/%s is no LoadBalancer now" % (
                         svc["metadata"]["namespace"], svc["metadata"]["name"]))
            if svc is not None and addr in status_ips(svc):
                try:
                    self.patch_status(svc["metadata"]["namespace"], svc["metadata"]["name"],
                                      {"status": {"loadBalancer": {"ingress": None}}})
                except Exception as exc:  # noqa: BLE001
                    LOG.warning("cannot clear status.loadBalancer of %s: %s", svc["metadata"]["name"], exc)
        # ... then allocate, Services that already show an address of the range first (a restarted runner
        # keeps every address where it was).
        ours.sort(key=lambda s: not any(self.pool.usable(ip) for ip in status_ips(s)))
        live = {}
        for svc in ours:
            meta = svc["metadata"]
            key = "%s/%s" % (meta.get("namespace"), meta.get("name"))
            current = status_ips(svc)
            try:
                addr = self.pool.get(meta["uid"], hint=current[0] if current else None)
            except Exhausted as exc:
                if key not in self.no_address:
                    self.no_address.add(key)
                    LOG.error("Service %s (LoadBalancer): no address: %s", key, exc)
                continue
            self.no_address.discard(key)
            live[meta["uid"]] = addr
            if current != [addr]:
                try:
                    self.patch_status(meta["namespace"], meta["name"],
                                      {"status": {"loadBalancer": {"ingress": [{"ip": addr}]}}})
                    LOG.info("Service %s (LoadBalancer): address %s", key, addr)
                    self.event(svc, "Normal", "IPAllocated", "Assigned IP [\"%s\"]" % addr)
                except Exception as exc:  # noqa: BLE001 -- retried next reconcile
                    LOG.warning("Service %s: cannot write status.loadBalancer: %s", key, exc)
        self.apply(wanted(services, pods, live, node_ips))

    def apply(self, want):
        for k in [k for k in self.listeners if k not in want]:
            lst = self.listeners.pop(k)
            lst.close()
            LOG.info("stopped listening on %s:%d (%s %s)", k[0], k[1], lst.kind, lst.service)
        for k in [k for k in self.failed if k not in want]:
            del self.failed[k]
        now = time.time()
        for k, spec in want.items():
            lst = self.listeners.get(k)
            if lst is not None:
                lst.update(spec)
                continue
            retry_at, last_msg = self.failed.get(k, (0.0, None))
            if now < retry_at:
                continue
            try:
                self.listeners[k] = Listener(k[0], k[1], spec).open()
            except OSError as exc:
                msg = "Service %s (%s): cannot listen on %s:%d: %s" % (spec["service"], spec["kind"], k[0], k[1], exc)
                if msg != last_msg:
                    LOG.error("%s (retried every %ds)", msg, RETRY_SECONDS)
                self.failed[k] = (now + RETRY_SECONDS, msg)
                continue
            self.failed.pop(k, None)
            if spec["kind"] == "NodePort":
                self.node_ports_opened.add(k)
            else:
                self.lb_addresses_opened.add(k)
            LOG.info("listening on %s:%d for %s %s (%d backend(s))", k[0], k[1], spec["kind"], spec["service"],
                     len(spec["backends"]))
        self.write_state()

    def write_state(self):
        if not self.state_file:
            return
        state = {"listening": sorted(["%s:%d" % k, l.kind, l.service] for k, l in self.listeners.items()),
                 "failed": sorted(m for _, m in self.failed.values()),
                 "lb_addresses": dict(sorted(self.pool.by_key.items())),
                 "lb_range": str(self.pool.net) if self.pool.net else None,
                 "node_ports_opened": sorted("%s:%d" % k for k in self.node_ports_opened),
                 "lb_listeners_opened": sorted("%s:%d" % k for k in self.lb_addresses_opened)}
        text = json.dumps(state, indent=1) + "\n"
        if text == self._last_state:
            return
        os.makedirs(os.path.dirname(self.state_file), exist_ok=True)
        with open(self.state_file + ".tmp", "w") as f:
            f.write(text)
        os.replace(self.state_file + ".tmp", self.state_file)
        self._last_state = text

    def close(self):
        for k in list(self.listeners):
            self.listeners.pop(k).close()
        self.write_state()
