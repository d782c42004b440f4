#!/usr/bin/env python3
"""The canary: what a producing and consuming application sees while brokers roll, upgrade or heal.

    python bench/canary.py --testbed NAME --seconds N [--namespace kafka] [--rate 100] [--topic canary]
    python bench/canary.py --kubeconfig FILE --seconds N ...

An idempotent producer (``enable_idempotence``, acks=all) sends one message every 1/rate seconds (an open
loop: the schedule does not wait for acks, as an application's traffic would not) to a topic (RF 3, min ISR 2
and 6 partitions by default, created when absent; message i goes to partition i mod partitions); a consumer
assigned every partition from their end at start reads everything back. ``stop()`` flushes the producer,
lets the consumer catch up with every acknowledged offset and returns the report (``summarise``): messages
acknowledged, consumed, lost (acknowledged, never consumed), duplicated (one message at two offsets),
produce latency p50/p99/max (scheduled send to ack), the longest stall (longest time without any ack, and
without an ack on one partition) overall and per broker restart window, and the errors seen.

Python API::

    canary = Canary.for_kubeconfig(kubeconfig, namespace="kafka", rate=100)
    canary.start()
    ...                                  # roll, upgrade, heal
    report = canary.stop()               # a dict, JSON-serialisable

Why kafka-python in this process rather than Kafka's VerifiableProducer/VerifiableConsumer run in a broker
pod through ``kubectl exec``:

- A rolling change replaces every broker pod. A tool started by ``kubectl exec`` lives in one of them (its
  stream goes through the API server and the node's exec endpoint), so it would be cut off, and its
  measurement lost, when the roll reaches its own pod: no pod of the cluster can host a canary through a whole
  roll. The canary's own process outlives the roll.
- Send and ack times are taken in one process on one clock, in the producer's own completion callback, with
  the message's sequence number: nothing between the client and the measurement (no exec stream buffering
  lines, no parsing of another tool's output whose clock and flush timing we would have to trust).
- kafka-python 2.2.15 (pinned in tests/requirements.txt) implements the idempotent producer (KIP-98:
  producer id and per-partition sequence numbers; ``enable_idempotence=True`` requires acks=all and one
  request in flight per connection, and retries without limit until ``delivery_timeout_ms``, 120 s).
- On the 2-core test bed another JVM would take CPU from the brokers it measures.
The cost: kafka-python is not the Java client. Its idempotent producer keeps one request in flight per
broker (the Java client keeps up to 5), so at 100 msg/s the latencies are those of a conservative client.

How the clients reach the brokers (name-resolution shim, this process only): brokers advertise
``kafka-service-N:9092`` (their Service's short name). There is no cluster DNS and no kube-proxy on the test
bed; a pod's address is one of the bed's pod network (10.244.<index>.0/24: each pod a network namespace on a
bridge of the bed's own, on this machine; ``testbed.json`` beside the kubeconfig names it). ``KubeView`` polls the Kubernetes API
(pods every 0.5 s, Services every 5 s) and maps each Service's names (``svc``, ``svc.ns``, ``svc.ns.svc``,
``svc.ns.svc.cluster.local``) to the addresses of the pods it selects, with the rule the pod runner's hosts
files apply to the JVMs (ready pods, or every pod with an address under ``publishNotReadyAddresses``).
``install_resolver`` replaces ``kafka.conn.dns_lookup`` (kafka-python's only name lookup; it runs again at
every reconnect, so a replaced pod's new address is picked up) with a lookup in that map. It answers only with
loopback addresses or addresses of the bed's pod network: a name it does not know, or a Service address outside
those, resolves to nothing (kafka-python logs a failed lookup and retries), so no traffic leaves the machine. The same poll records,
per broker, when its pod stopped being ready (terminating, gone or not ready) and when a pod of it was ready
again, with the container's start time Kubernetes reports: those are the restart windows.

All times are seconds on one clock (``time.time()`` at start, advanced by ``time.monotonic()``), so that they
compare with Kubernetes' timestamps; latencies are in milliseconds. Latency counts from the scheduled send
time, so a send the canary itself issued late is not hidden (``max_send_lag_ms`` says how late it was).
"""
import argparse
import contextlib
import ipaddress
import json
import logging
import math
import os
import socket
import sys
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROKER_SELECTOR = "app.kubernetes.io/component=broker"
BROKER_ID_LABEL = "kafka-eks.cluster/broker-id"
CLIENT_CONFIG = "kafka-client-config"
SAMPLE = 20


# --- the report: pure functions over recorded events ------------------------------------------------------------

def percentile(values, pct):
    """Nearest-rank percentile of a non-empty list (the value below which pct % of the values are)."""
    ordered = sorted(values)
    rank = max(1, int(math.ceil(pct / 100.0 * len(ordered))))
    return ordered[rank - 1]


def gaps(times, start, end):
    """Every interval without any of ``times`` between start and end: consecutive points of
    [start] + times + [end], as (from, to)."""
    points = [start] + sorted(t for t in times if start <= t <= end) + [end]
    return list(zip(points, points[1:]))


def longest_overlapping(intervals, start, end):
    """The longest of ``intervals`` (from, to) that overlaps [start, end], whole (not clipped to it): a stall
    that began before a restart window and ended after it is that window's stall."""
    best = None
    for before, after in intervals:
        if before < end and after > start and (best is None or after - before > best[1] - best[0]):
            best = (before, after)
    return best


def _stall(interval, origin, partition=None):
    if interval is None:
        return None
    out = {"seconds": round(interval[1] - interval[0], 3), "from": round(interval[0] - origin, 3),
           "to": round(interval[1] - origin, 3)}
    if partition is not None:
        out["partition"] = partition
    return out


def _latencies(sends):
    values = [1000.0 * (s["acked"] - s["sent"]) for s in sends if s.get("acked") is not None]
    if not values:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    return {"p50": round(percentile(values, 50), 1), "p99": round(percentile(values, 99), 1),
            "max": round(max(values), 1), "n": len(values)}


def _count_errors(errors):
    counts = {}
    for error in errors:
        entry = counts.setdefault(error["source"], {}).setdefault(error["kind"], {"count": 0})
        entry["count"] += 1
        entry.setdefault("first", error["at"])
        entry["last"] = error["at"]
        entry.setdefault("example", str(error.get("message", ""))[:300])
    return counts


def summarise(sends, consumed, started, stopped, restart_windows=(), errors=(), phases=()):
    """The canary's report, from what was recorded.

    sends: one dict per message sent: ``seq``, ``sent`` (scheduled send time), ``partition``, and either
    ``acked`` (ack time) with ``offset``, or ``error`` (a string), or neither (no answer by the end).
    consumed: one dict per record read: ``seq``, ``partition``, ``offset``, ``at``; in any order, repeats
    allowed. started/stopped: when the producer began and stopped sending. restart_windows: dicts with
    ``broker``, ``start``, ``end`` (and anything else, kept). errors: dicts with ``at``, ``source``, ``kind``,
    ``message``. phases: dicts with ``name``, ``start``, ``end`` (steps of what the canary watched, such as
    an upgrade's ZooKeeper roll and its two broker rolls): each gets the same figures as a restart window, and
    the restart windows that began in it.
    """
    acked = [s for s in sends if s.get("acked") is not None]
    failed = [s for s in sends if s.get("acked") is None and s.get("error") is not None]
    unresolved = [s for s in sends if s.get("acked") is None and s.get("error") is None]
    acked_seqs = {s["seq"] for s in acked}

    # One message in the log is one (partition, offset); reading the same offset twice is the consumer's
    # redelivery, not a duplicate written by the producer.
    offsets_of = {}
    seq_at = {}
    reads = 0
    for record in consumed:
        reads += 1
        where = (record["partition"], record["offset"])
        seq_at[where] = record["seq"]
        offsets_of.setdefault(record["seq"], set()).add(where)
    redelivered = reads - len(seq_at)
    duplicated = sorted(seq for seq, where in offsets_of.items() if len(where) > 1)
    lost = sorted(acked_seqs - set(offsets_of))
    in_log_unacked = sorted(set(offsets_of) - acked_seqs)

    # Order per partition as the log holds it (by offset), whatever order the records were read in.
    out_of_order = 0
    by_partition = {}
    for (partition, offset), seq in seq_at.items():
        by_partition.setdefault(partition, []).append((offset, seq))
    for records in by_partition.values():
        highest = None
        for _, seq in sorted(records):
            if highest is not None and seq < highest:
                out_of_order += 1
            highest = seq if highest is None else max(highest, seq)

    ack_times = [s["acked"] for s in acked]
    end = max([stopped] + ack_times)
    all_gaps = gaps(ack_times, started, end)
    partitions = sorted({s["partition"] for s in sends if s.get("partition") is not None})
    partition_gaps = {p: gaps([s["acked"] for s in acked if s["partition"] == p], started, end) for p in partitions}

    def longest_partition_stall(start, stop):
        best, where = None, None
        for partition, intervals in partition_gaps.items():
            found = longest_overlapping(intervals, start, stop)
            if found and (best is None or found[1] - found[0] > best[1] - best[0]):
                best, where = found, partition
        return _stall(best, started, where)

    def figures(interval):
        """What the messages scheduled within interval["start"]..["end"] saw (times made relative)."""
        inside = [s for s in sends if interval["start"] <= s["sent"] <= interval["end"]]
        entry = dict(interval)
        entry.update({
            "start": round(interval["start"] - started, 3), "end": round(interval["end"] - started, 3),
            "seconds": round(interval["end"] - interval["start"], 3),
            "sent": len(inside), "acknowledged": sum(1 for s in inside if s.get("acked") is not None),
            "failed": sum(1 for s in inside if s.get("acked") is None and s.get("error") is not None),
            "latency_ms": _latencies(inside),
            "longest_stall": _stall(longest_overlapping(all_gaps, interval["start"], interval["end"]), started),
            "longest_partition_stall": longest_partition_stall(interval["start"], interval["end"]),
            "errors": sum(1 for e in errors if interval["start"] <= e["at"] <= interval["end"]),
        })
        return entry

    windows = []
    for window in sorted(restart_windows, key=lambda w: (w["start"], str(w.get("broker")))):
        entry = figures(window)
        for key in ("container_started",):
            if entry.get(key) is not None:
                entry[key] = round(entry[key] - started, 3)
        windows.append(entry)
    steps = []
    for phase in sorted(phases, key=lambda p: p["start"]):
        entry = figures(phase)
        entry["restart_windows"] = [w["broker"] for w in restart_windows
                                    if phase["start"] <= w["start"] < phase["end"]]
        steps.append(entry)

    lags = [1000.0 * (s["called"] - s["sent"]) for s in sends if s.get("called") is not None]
    return {
        "seconds": round(stopped - started, 3),
        "sent": len(sends),
        "acknowledged": len(acked),
        "failed": len(failed),
        "unanswered": len(unresolved),
        "consumed": len(offsets_of),
        "consumed_records": reads,
        "lost": len(lost),
        "lost_sample": lost[:SAMPLE],
        "duplicated": len(duplicated),
        "duplicated_sample": duplicated[:SAMPLE],
        "redelivered": redelivered,
        "in_log_not_acknowledged": len(in_log_unacked),
        "out_of_order": out_of_order,
        "latency_ms": _latencies(sends),
        "max_send_lag_ms": round(max(lags), 1) if lags else None,
        "longest_stall": _stall(max(all_gaps, key=lambda gap: gap[1] - gap[0]), started),
        "longest_partition_stall": longest_partition_stall(started, end),
        "restart_windows": windows,
        "phases": steps,
        "errors": _count_errors(errors),
    }


def restart_windows(snapshots, end):
    """Per broker, each time from its first poll seen not ready to its first poll seen ready again.

    snapshots: (time, {broker: {"ready": bool, "started": container start time or None}}) in time order;
    a broker absent from a snapshot (no pod) is not ready. A broker not ready at the first snapshot opens a
    window there; a window still open at ``end`` ends there with ``"closed": False``.
    """
    brokers = sorted({b for _, state in snapshots for b in state}, key=str)
    windows = []
    for broker in brokers:
        opened = None
        for when, state in snapshots:
            seen = state.get(broker) or {"ready": False, "started": None}
            if not seen["ready"] and opened is None:
                opened = when
            elif seen["ready"] and opened is not None:
                windows.append({"broker": broker, "start": opened, "end": when, "closed": True,
                                "container_started": seen.get("started")})
                opened = None
        if opened is not None:
            windows.append({"broker": broker, "start": opened, "end": end, "closed": False,
                            "container_started": None})
    return sorted(windows, key=lambda w: (w["start"], str(w["broker"])))


def service_addresses(namespace, services, pods):
    """Name -> sorted pod addresses for ``namespace``'s Services, by the rule of the test bed's hosts files.

    services: Service dicts (``metadata``, ``spec``). pods: dicts with ``labels``, ``ip``, ``ready``,
    ``terminating``.
    """
    names = {}
    for service in services:
        spec = service.get("spec") or {}
        selector = spec.get("selector") or {}
        if not selector or spec.get("type") == "ExternalName":
            continue
        not_ready_too = bool(spec.get("publishNotReadyAddresses"))
        addresses = sorted({pod["ip"] for pod in pods
                            if pod.get("ip") and all(pod["labels"].get(k) == v for k, v in selector.items())
                            and (not_ready_too or (pod.get("ready") and not pod.get("terminating")))})
        base = service["metadata"]["name"]
        for name in (base, base + "." + namespace, base + "." + namespace + ".svc",
                     base + "." + namespace + ".svc.cluster.local"):
            names[name] = addresses
    return names


def is_local(address, pod_networks=()):
    """True for a loopback address or one of the test bed's pod networks (namespaces on this machine)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback or any(ip in ipaddress.ip_network(n) for n in pod_networks)


def bed_pod_networks(kubeconfig):
    """The pod network of the test bed whose kubeconfig this is (its testbed.json), else none."""
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(kubeconfig)), "testbed.json")) as handle:
            cidr = json.load(handle).get("pod_cidr")
    except (OSError, ValueError):
        return ()
    return (cidr,) if cidr else ()


# --- the Kubernetes side: names and restart windows --------------------------------------------------------------

def _time(value):
    """A Kubernetes timestamp (datetime from the client) as epoch seconds."""
    return value.timestamp() if value is not None else None


class KubeView(threading.Thread):
    """Polls the namespace's pods (and Services, less often): the name map for the resolver shim and, per
    broker, whether a pod of it is ready (the snapshots ``restart_windows`` reads)."""

    def __init__(self, kubeconfig, namespace, clock, interval=0.5, services_every=10, on_error=None,
                 pod_networks=()):
        super().__init__(name="canary-kube", daemon=True)
        from kubernetes import client, config  # pylint: disable=import-outside-toplevel
        self.api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
        self.namespace = namespace
        self.clock = clock
        self.interval = interval
        self.services_every = services_every
        self.on_error = on_error or (lambda kind, message: None)
        self.pod_networks = tuple(pod_networks)
        self.names = {}
        self.snapshots = []
        self.services = []
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self.poll(0)

    def bootstrap_servers(self):
        config_map = self.api.read_namespaced_config_map(CLIENT_CONFIG, self.namespace, _request_timeout=10)
        return config_map.data["bootstrap.servers"]

    def poll(self, count):
        if count % self.services_every == 0:
            self.services = [{"metadata": {"name": s.metadata.name},
                              "spec": {"selector": s.spec.selector, "type": s.spec.type,
                                       "publishNotReadyAddresses": s.spec.publish_not_ready_addresses}}
                             for s in self.api.list_namespaced_service(self.namespace, _request_timeout=5).items]
        listed = self.api.list_namespaced_pod(self.namespace, _request_timeout=5).items
        when = self.clock()
        pods, brokers = [], {}
        for pod in listed:
            labels = pod.metadata.labels or {}
            statuses = pod.status.container_statuses or []
            ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
            terminating = pod.metadata.deletion_timestamp is not None
            pods.append({"labels": labels, "ip": pod.status.pod_ip, "ready": ready, "terminating": terminating})
            broker = labels.get(BROKER_ID_LABEL)
            if broker is None or labels.get("app.kubernetes.io/component") != "broker":
                continue
            started = [_time(c.state.running.started_at) for c in statuses
                       if c.state and c.state.running and c.state.running.started_at]
            ok = ready and not terminating and pod.status.phase == "Running"
            previous = brokers.get(broker)
            if previous is None or (ok and not previous["ready"]):
                brokers[broker] = {"ready": ok, "started": max(started) if started else None}
        names = service_addresses(self.namespace, self.services, pods)
        for name, addresses in names.items():
            refused = [a for a in addresses if not is_local(a, self.pod_networks)]
            if refused:
                self.on_error("resolver", "Service %s has addresses that are not on this machine, not used: %s"
                              % (name, ", ".join(refused)))
                names[name] = [a for a in addresses if is_local(a, self.pod_networks)]
        with self._lock:
            self.names = names
            self.snapshots.append((when, brokers))

    def run(self):
        count = 1
        while not self._stopped.wait(self.interval):
            try:
                self.poll(count)
            except Exception as error:  # pylint: disable=broad-except
                # An API hiccup costs one poll, not the canary.
                self.on_error("kubernetes", "%s: %s" % (type(error).__name__, error))
            count += 1

    def stop(self):
        self._stopped.set()
        self.join(timeout=10)

    def resolve(self, host):
        """The addresses of a Service name of the namespace ([] while it selects no pod), None for any other
        name."""
        with self._lock:
            found = self.names.get(host.rstrip("."))
            return None if found is None else list(found)


def install_resolver(resolve, on_refused, pod_networks=()):
    """Replace kafka-python's name lookup (kafka.conn.dns_lookup) in this process: names through
    ``resolve(host) -> [address] or None`` (None: not a name it knows), only loopback addresses and those of
    ``pod_networks``, IP literals likewise. ``on_refused(host, reason)`` hears of every lookup answered with
    nothing."""
    import kafka.conn  # pylint: disable=import-outside-toplevel

    def dns_lookup(host, port, afi=socket.AF_UNSPEC):
        if is_local(host, pod_networks):
            addresses = [host]
        else:
            known = resolve(host)
            addresses = [a for a in known or () if is_local(a, pod_networks)]
            if known is None:
                on_refused(host, "not a Service of the namespace nor an address of this machine")
            elif not known:
                # Normal while a broker's pod is replaced: its Service selects no pod for a few seconds.
                on_refused(host, "Service selects no pod")
            elif not addresses:
                on_refused(host, "Service addresses are not on this machine")
        found = []
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            if afi in (socket.AF_UNSPEC, family):
                sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
                found.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return found

    kafka.conn.dns_lookup = dns_lookup
    return dns_lookup


class _ErrorLog(logging.Handler):
    """kafka-python's own warnings and errors (disconnects, leader moves, retries), as error events."""

    def __init__(self, record_error):
        super().__init__(level=logging.WARNING)
        self.record_error = record_error

    def emit(self, record):
        # The template, not the formatted text: one kind per kind of message, not per broker or offset.
        self.record_error("client_log", "%s %s: %s" % (record.levelname, record.name, str(record.msg)[:120]),
                          record.getMessage())


# --- the canary ---------------------------------------------------------------------------------------------------

class Canary:
    """Producer and consumer threads at a fixed rate; ``start()``, then ``stop()`` returns the report."""

    def __init__(self, bootstrap_servers, rate=100.0, topic="canary", partitions=6, replication_factor=3,
                 min_insync_replicas=2, kube=None, drain_seconds=60.0, client_config=None):
        self.bootstrap_servers = bootstrap_servers
        self.rate = float(rate)
        self.topic = topic
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.min_insync_replicas = min_insync_replicas
        self.kube = kube
        self.drain_seconds = drain_seconds
        self.client_config = dict(client_config or {})
        self.run_id = uuid.uuid4().hex[:12]
        self._wall0, self._mono0 = time.time(), time.monotonic()
        self.sends = []
        self.consumed = []
        self.errors = []
        self.started = self.stopped = None
        self._stop_sending = threading.Event()
        self._drain_until = None
        self._consumer_ready = threading.Event()
        self._threads = []
        self._producer = None
        self._log_handler = None
        self._partition_count = partitions
        self.phases = []

    @classmethod
    def for_kubeconfig(cls, kubeconfig, namespace="kafka", **kwargs):
        """A canary for the cluster in ``namespace``: bootstrap servers from its client ConfigMap, names
        through the resolver shim (loopback and the bed's pod network only), restart windows from the same
        poll of the API."""
        canary = cls(None, **kwargs)
        networks = bed_pod_networks(kubeconfig)
        canary.kube = KubeView(kubeconfig, namespace, canary.now,
                               on_error=lambda kind, message: canary.record_error(kind, message, message),
                               pod_networks=networks)
        canary.bootstrap_servers = canary.kube.bootstrap_servers().split(",")
        install_resolver(canary.kube.resolve, lambda host, reason: canary.record_error("resolver", reason, host),
                         networks)
        return canary

    def now(self):
        return self._wall0 + (time.monotonic() - self._mono0)

    def mark_phase(self, name, start, end):
        """A step of what the canary watches, from start to end (times of ``now()``): the report gives it
        the figures of a restart window (``phases``)."""
        self.phases.append({"name": name, "start": start, "end": end})

    @contextlib.contextmanager
    def phase(self, name):
        """``with canary.phase("second roll"): ...``: the block's time is a phase of the report."""
        start = self.now()
        try:
            yield
        finally:
            self.mark_phase(name, start, self.now())

    def record_error(self, source, kind, message):
        self.errors.append({"at": self.now(), "source": source, "kind": kind, "message": message})

    def _config(self, **extra):
        config = {"bootstrap_servers": self.bootstrap_servers}
        config.update(extra)
        config.update(self.client_config)
        return config

    def ensure_topic(self, timeout=60.0):
        """Create the canary's topic (or use it as it is). Before anything is sent, a connection that fails is tried
        again until ``timeout`` (each failure recorded): a broker that just started may refuse the first one."""
        from kafka.admin import KafkaAdminClient, NewTopic  # pylint: disable=import-outside-toplevel
        from kafka.errors import KafkaConnectionError, NoBrokersAvailable  # pylint: disable=import-outside-toplevel
        from kafka.errors import TopicAlreadyExistsError  # pylint: disable=import-outside-toplevel
        deadline = time.monotonic() + timeout
        while True:
            try:
                admin = KafkaAdminClient(**self._config(client_id="canary-admin"))
                try:
                    admin.create_topics([NewTopic(self.topic, self.partitions, self.replication_factor,
                                                  topic_configs={"min.insync.replicas": str(self.min_insync_replicas)})],
                                        timeout_ms=30000)
                finally:
                    admin.close()
                return
            except TopicAlreadyExistsError:
                return  # used as it is: its partitions are read from the metadata below
            except (KafkaConnectionError, NoBrokersAvailable) as error:
                self.record_error("admin", type(error).__name__, str(error))
                if time.monotonic() > deadline:
                    raise
                time.sleep(2.0)

    def start(self, ready_timeout=120.0):
        from kafka import KafkaProducer  # pylint: disable=import-outside-toplevel
        self._log_handler = _ErrorLog(self.record_error)
        logging.getLogger("kafka").addHandler(self._log_handler)
        if self.kube is not None:
            self.kube.start()
        self.ensure_topic()
        self._producer = KafkaProducer(**self._config(client_id="canary-producer", enable_idempotence=True,
                                                      acks="all"))
        deadline = time.monotonic() + ready_timeout
        while not self._producer.partitions_for(self.topic) and time.monotonic() < deadline:
            time.sleep(0.5)
        self._partition_count = len(self._producer.partitions_for(self.topic) or ()) or self.partitions
        consumer = threading.Thread(target=self._consume, name="canary-consumer", daemon=True)
        consumer.start()
        if not self._consumer_ready.wait(max(1.0, deadline - time.monotonic())):
            raise RuntimeError("the canary's consumer found no partitions of %s" % self.topic)
        producer = threading.Thread(target=self._produce, name="canary-producer", daemon=True)
        self._threads = [producer, consumer]
        self.started = self.now()
        producer.start()
        return self

    def _produce(self):
        index, origin = 0, time.monotonic()
        while not self._stop_sending.is_set():
            due = origin + index / self.rate
            wait = due - time.monotonic()
            if wait > 0:
                self._stop_sending.wait(wait)
                continue
            record = {"seq": index, "sent": self._wall0 + (due - self._mono0),
                      "partition": index % self._partition_count}
            self.sends.append(record)
            record["called"] = self.now()
            try:
                future = self._producer.send(self.topic, key=("%s:%d" % (self.run_id, index)).encode(),
                                             value=json.dumps({"seq": index, "sent": record["sent"]}).encode(),
                                             partition=record["partition"])
                future.add_callback(self._acked, record)
                future.add_errback(self._failed, record)
            except Exception as error:  # pylint: disable=broad-except
                self._failed(record, error)
            index += 1

    def _acked(self, record, metadata):
        record["acked"] = self.now()
        record["offset"] = metadata.offset

    def _failed(self, record, error):
        record["error"] = "%s: %s" % (type(error).__name__, error)
        self.record_error("produce", type(error).__name__, str(error))

    def _consume(self):
        from kafka import KafkaConsumer, TopicPartition  # pylint: disable=import-outside-toplevel
        consumer = KafkaConsumer(**self._config(client_id="canary-consumer", group_id=None,
                                                enable_auto_commit=False, auto_offset_reset="earliest"))
        try:
            numbers = sorted(consumer.partitions_for_topic(self.topic) or ())
            partitions = [TopicPartition(self.topic, number) for number in numbers]
            if not partitions:
                return
            consumer.assign(partitions)
            for partition, offset in consumer.end_offsets(partitions).items():
                consumer.seek(partition, offset)
            self._consumer_ready.set()
            prefix = (self.run_id + ":").encode()
            while True:
                try:
                    batches = consumer.poll(timeout_ms=200)
                except Exception as error:  # pylint: disable=broad-except
                    # Counted, and read on: a consumer that gave up would report every later message lost.
                    self.record_error("consume", type(error).__name__, str(error))
                    time.sleep(0.5)
                    batches = {}
                for batch in batches.values():
                    at = self.now()
                    for message in batch:
                        if message.key and message.key.startswith(prefix):
                            self.consumed.append({"seq": int(message.key[len(prefix):]), "at": at,
                                                  "partition": message.partition, "offset": message.offset})
                if self._drain_until is not None and self._drained(consumer, partitions):
                    return
        finally:
            consumer.close()

    def _drained(self, consumer, partitions):
        """After stop(): every acknowledged offset read, or the drain time is up."""
        if time.monotonic() > self._drain_until:
            self.record_error("canary", "drain timed out", "the consumer did not reach every acknowledged offset")
            return True
        needed = {}
        for send in list(self.sends):
            if send.get("acked") is not None:
                needed[send["partition"]] = max(needed.get(send["partition"], -1), send["offset"])
        return all(consumer.position(p) > needed.get(p.partition, -1) for p in partitions)

    def stop(self, windows=None):
        """Stop sending, wait for the answers and the consumer, and return the report. ``windows``: restart
        windows (dicts with broker, start, end in epoch seconds) instead of those seen through Kubernetes."""
        self._stop_sending.set()
        self._threads[0].join()
        self.stopped = self.now()
        try:
            self._producer.flush(timeout=self.drain_seconds)
        except Exception as error:  # pylint: disable=broad-except
            # What is still unanswered is reported as such; the consumer is drained all the same.
            self.record_error("canary", "flush: %s" % type(error).__name__, str(error))
        try:
            self._producer.close(timeout=10)
        except Exception as error:  # pylint: disable=broad-except
            # close() flushes again: a send still unanswered stays "unanswered" in the report, never counted as
            # acknowledged; the consumer is drained and the report made all the same (seen once at the end of the
            # migration scenario, where a timeout here had thrown the whole run's measurement away).
            self.record_error("canary", "close: %s" % type(error).__name__, str(error))
        self._drain_until = time.monotonic() + self.drain_seconds
        self._threads[1].join(self.drain_seconds + 30)
        if self.kube is not None:
            self.kube.stop()
            if windows is None:
                windows = restart_windows(self.kube.snapshots, self.stopped)
        logging.getLogger("kafka").removeHandler(self._log_handler)
        report = summarise(self.sends, list(self.consumed), self.started, self.stopped, windows or (),
                           list(self.errors), self.phases)
        report.update({"topic": self.topic, "rate": self.rate, "partitions": self._partition_count,
                       "replication_factor": self.replication_factor,
                       "min_insync_replicas": self.min_insync_replicas,
                       "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                       "client": "kafka-python %s, idempotent, acks=all" % _kafka_version()})
        return report


def _kafka_version():
    import kafka  # pylint: disable=import-outside-toplevel
    return kafka.__version__


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--testbed", help="a test bed's name (.cache/testbeds/NAME/kubeconfig)")
    where.add_argument("--kubeconfig")
    parser.add_argument("--namespace", default="kafka")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second")
    parser.add_argument("--topic", default="canary")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--replication-factor", type=int, default=3)
    parser.add_argument("--min-insync-replicas", type=int, default=2)
    args = parser.parse_args()
    kubeconfig = args.kubeconfig or os.path.join(ROOT, ".cache", "testbeds", args.testbed, "kubeconfig")
    canary = Canary.for_kubeconfig(kubeconfig, args.namespace, rate=args.rate, topic=args.topic,
                                   partitions=args.partitions, replication_factor=args.replication_factor,
                                   min_insync_replicas=args.min_insync_replicas)
    canary.start()
    try:
        time.sleep(args.seconds)
    except KeyboardInterrupt:
        pass
    print(json.dumps(canary.stop(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
