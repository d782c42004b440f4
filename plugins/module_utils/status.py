# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster's status report, from what was read (pure).

``cluster_status`` (the module) reads once - Kubernetes objects, ZooKeeper (unless the migration to KRaft was
finalized), the KRaft tools where controllers run - and hands everything to ``build_report()``, which
classifies it and says, in one place, what makes the cluster unhealthy:

- a broker that is not registered under its own endpoint (missing, foreign, stale or unparsable in ZooKeeper's
  ``/brokers/ids`` as ``membership.decide`` tells them; missing or foreign in the KRaft metadata as
  ``kraft.own_registrations`` does);
- no quorum: ZooKeeper without one leader and every other expected server a follower (while ZooKeeper holds
  the metadata, that is until the migration is finalized), or KRaft controllers without a leader or without
  their expected voters;
- an offline partition (no leader: ``-1``, or no state at all) and an under-replicated one (its in-sync replicas
  fewer than its replicas);
- a read that failed for any of the above: what could not be seen cannot be called healthy.

Everything else (zones, bootstrap servers, versions, a missing ConfigMap, an unexpected registration, no
controller elected) is reported, in ``notes`` when it deserves a word, and never changes ``healthy``.
Nothing here waits, so nothing takes a clock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import pod_facts
from ansible_collections.kafka_eks.cluster.plugins.module_utils.kraft import own_registrations
from ansible_collections.kafka_eks.cluster.plugins.module_utils.membership import (
    controller_id,
    decide,
    registration_endpoints,
    split_listeners,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.migration import (
    BROKER_KRAFT,
    BROKER_MIGRATING,
    BROKER_ZOOKEEPER,
    broker_modes,
    controller_migration_flag,
    detect_phase,
    kraft_holds_controller,
    partitions_source,
    registrations_source,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.replication import describe_partitions
from ansible_collections.kafka_eks.cluster.plugins.module_utils.versions import (
    format_version,
    kafka_release,
    zookeeper_version,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import describe_quorum, quorum_state

ZONE_LABEL = "topology.kubernetes.io/zone"
NO_ZONE = "(no zone label)"
UNSCHEDULED = "(not scheduled)"
UNKNOWN_ZONE = "(zone unknown)"
RACK_ENV = "KAFKA_BROKER_RACK"
# Partitions named in one problem sentence; the rest are counted.
LIST_LIMIT = 10


# ------------------------------------------------------------------------------------------- partitions

def partitions_from_topics(described):
    """``(assignments, states)`` as ``replication.read_topics``/``read_states`` return them, from
    ``kraft.parse_topics()``' answer (``kafka-topics --describe``): one read gives both."""
    assignments, states = {}, {}
    for topic, found in (described or {}).items():
        replicas = found.get("replicas") or {}
        assignments[topic] = dict((p, list(r)) for p, r in replicas.items())
        for partition in replicas:
            isr = (found.get("isr") or {}).get(partition)
            states[(topic, partition)] = None if isr is None else {
                "leader": (found.get("leader") or {}).get(partition, -1), "isr": list(isr)}
    return assignments, states


def classify_partitions(assignments, states, min_isr=None, default_min_isr=1):
    """Every partition classified from its replicas (``assignments``: ``{topic: {partition: [ids]}}``) and state
    (``states``: ``{(topic, partition): {"leader", "isr"} or None}``) (pure).

    Returns ``topics``, ``total``, ``offline`` (no leader: leader -1, or no state), ``under_replicated`` (a
    leader, and fewer in-sync replicas than replicas) and ``under_min_isr`` (a leader, and fewer in-sync replicas
    than the topic's ``min.insync.replicas``: producers with acks=all fail), each a list of ``{topic, partition,
    replicas, isr, leader, min_isr}`` sorted by topic and partition. An offline partition is in no other list."""
    min_isr = min_isr or {}
    offline, under, below = [], [], []
    total = 0
    for topic in sorted(assignments):
        wanted = min_isr.get(topic, default_min_isr)
        for partition in sorted(assignments[topic]):
            total += 1
            replicas = list(assignments[topic][partition])
            state = states.get((topic, partition))
            leader = state["leader"] if state else -1
            isr = list(state["isr"]) if state else []
            item = {"topic": topic, "partition": partition, "replicas": replicas, "isr": isr, "leader": leader,
                    "min_isr": wanted}
            if leader is None or leader < 0:
                offline.append(item)
                continue
            if set(replicas) - set(isr):
                under.append(item)
            if len(isr) < wanted:
                below.append(item)
    return {"topics": len(assignments), "total": total, "offline": offline, "under_replicated": under,
            "under_min_isr": below}


# ------------------------------------------------------------------------------------ objects and pods

def container(obj, name):
    """The container named ``name`` of a pod, or of a workload's pod template; never simply the first (sidecars
    exist). None when there is none of that name."""
    spec = (obj or {}).get("spec") or {}
    if "template" in spec:
        spec = (spec.get("template") or {}).get("spec") or {}
    for item in spec.get("containers") or []:
        if item.get("name") == name:
            return item
    return None


def env_value(item, name):
    for entry in (item or {}).get("env") or []:
        if entry.get("name") == name and isinstance(entry.get("value"), str):
            return entry["value"]
    return None


def node_zones(nodes, label=ZONE_LABEL):
    """``{node name: zone}`` (None for a node without the label); None when the nodes were not read."""
    if nodes is None:
        return None
    return dict((((n.get("metadata") or {}).get("name")), ((n.get("metadata") or {}).get("labels") or {}).get(label))
                for n in nodes)


def pod_zone(node, zones):
    """The zone of a pod on ``node``, or a word for why it has none."""
    if not node:
        return UNSCHEDULED
    if zones is None or node not in zones:
        return UNKNOWN_ZONE
    return zones[node] or NO_ZONE


def _live(pods):
    """A broker's pod to report: the first that is not being deleted, else the first."""
    ordered = sorted(pods or [], key=lambda p: p.get("name") or "")
    live = [p for p in ordered if not p.get("deleting")]
    return (live or ordered or [None])[0]


def _name(obj):
    return ((obj or {}).get("metadata") or {}).get("name")


def _ids(values):
    return ", ".join(str(v) for v in values)


def _sentence(text):
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


# ------------------------------------------------------------------------------------- metadata mode

def metadata_state(deployments, controller_statefulset, broker_id_label, controller_znode=None,
                   migration_znode=None):
    """Where the metadata lives, from the broker Deployments, the controller StatefulSet and (before finalizing)
    ZooKeeper's ``/controller`` and ``/migration`` (``migration.detect_phase``).

    Returns ``mode`` (zookeeper | migrating | kraft), ``phase``, ``finalized``, ``reverting``, ``brokers_by_mode``,
    ``controllers`` (a controller StatefulSet exists), ``zookeeper`` (ZooKeeper is asked: until finalized),
    ``registrations`` and ``partitions`` (zookeeper | kraft: where each is read, as the roles read them)."""
    flag = controller_migration_flag(controller_statefulset) if controller_statefulset else None
    controllers = None if flag is None else {"migration": flag}
    evidence = {"brokers": broker_modes(deployments, broker_id_label), "controllers": controllers,
                "zookeeper": {"migration": migration_znode, "controller": controller_znode,
                              "migration_exists": migration_znode is not None}}
    found = detect_phase(evidence)
    phase = found["phase"]
    finalized = phase == "finalized"
    mode = "zookeeper" if phase == "zookeeper" else "kraft" if finalized else "migrating"
    decision = {"phase": phase, "step": "status", "controllers": "absent" if controllers is None else "migration"}
    return {"mode": mode, "phase": phase, "finalized": finalized, "reverting": found["reverting"],
            "brokers_by_mode": found["brokers_by_mode"], "controllers": controllers is not None,
            "zookeeper": not finalized, "registrations": registrations_source(decision),
            "partitions": partitions_source(decision)}


def describe_metadata(state):
    if state["mode"] == "zookeeper":
        text = "Metadata: ZooKeeper mode (no migration to KRaft)"
        if state["reverting"]:
            text += "; a rollback of a migration is half-way (a broker keeps the migration settings or /migration "\
                    "exists): site.yml with kafka_metadata_mode=zookeeper finishes it"
        return _sentence(text)
    if state["mode"] == "kraft":
        return "Metadata: KRaft mode (the migration was finalized); ZooKeeper is not asked."
    by_mode = state["brokers_by_mode"]
    parts = ["%s %s" % (word, _ids(sorted(by_mode.get(mode) or [], key=_int_key)))
             for mode, word in ((BROKER_ZOOKEEPER, "ZooKeeper mode"), (BROKER_MIGRATING, "migration mode"),
                                (BROKER_KRAFT, "KRaft mode")) if by_mode.get(mode)]
    return _sentence("Metadata: migrating to KRaft, phase %s (brokers in %s)" % (state["phase"], "; ".join(parts)
                                                                                 or "no broker Deployment"))


def _int_key(value):
    try:
        return (0, int(value), "")
    except (TypeError, ValueError):
        return (1, 0, str(value))


# ---------------------------------------------------------------------------------------- registrations

def client_endpoints(advertised, port):
    """``{broker id: "host:port"}``: for each broker, the advertised listener on the client ``port`` (what the
    KRaft metadata lists for a client that asks on that port)."""
    found = {}
    for broker, listeners in (advertised or {}).items():
        for endpoint in split_listeners(listeners):
            address = endpoint.split("://", 1)[-1]
            if address.rsplit(":", 1)[-1] == str(port):
                found[int(broker)] = address
                break
    return found


def _zookeeper_brokers(expected, registrations, stats, pods_by_id, advertised):
    """Per broker: state (joined | missing | foreign | stale | unparsable | not_own), endpoints and why."""
    decision = decide(expected, registrations, pods_by_id, stats=stats, advertised=advertised)
    foreign = dict((f["broker_id"], f) for f in decision["foreign"])
    unparsable = dict((u["broker_id"], u) for u in decision["unparsable"])
    reasons = dict((w["broker_id"], w["reason"]) for w in decision["waiting"] + decision["blocked"])
    entries = {}
    for broker in expected:
        registration = registrations.get(broker)
        endpoints = registration_endpoints(registration) if registration is not None else None
        entry = {"endpoints": endpoints or [], "rack": (registration or {}).get("rack") if isinstance(
            registration, dict) else None}
        if broker in decision["joined"]:
            entry.update(state="joined", reason=None)
        elif broker in foreign:
            entry.update(state="foreign", expected_endpoints=foreign[broker]["expected"],
                         reason="/brokers/ids/%d has endpoints %s, not broker %d's own (%s); ZooKeeper session %s"
                                % (broker, ",".join(endpoints or []) or "none", broker,
                                   " or ".join(foreign[broker]["expected"]), foreign[broker]["session"]))
        elif broker in unparsable:
            entry.update(state="unparsable", reason="/brokers/ids/%d holds data that is not a broker registration "
                                                    "(%r)" % (broker, unparsable[broker]["data"]))
        elif broker in decision["stale"]:
            entry.update(state="stale", reason="its registration is older than every running broker container (a "
                                               "dead process's session holds /brokers/ids/%d)" % broker)
        elif broker in decision["missing"]:
            entry.update(state="missing", reason="no /brokers/ids/%d%s" % (
                broker, "; " + reasons[broker] if broker in reasons else ""))
        else:
            entry.update(state="not_own", reason=reasons.get(broker) or "its registration is not proven its own")
        entries[broker] = entry
    return entries, decision["unexpected"]


def _kraft_brokers(expected, endpoints, addresses):
    split = own_registrations(endpoints, dict((b, addresses.get(b)) for b in expected))
    foreign = dict((f["broker"], f) for f in split["foreign"])
    entries = {}
    for broker in expected:
        found = endpoints.get(broker)
        entry = {"endpoints": [found] if found else [], "rack": None}
        if broker in split["joined"]:
            entry.update(state="joined", reason=None)
        elif broker in foreign:
            entry.update(state="foreign", expected_endpoints=[foreign[broker]["expected"] or "(none known)"],
                         reason="the KRaft metadata lists broker %d at %s, not at its own %s"
                                % (broker, found, foreign[broker]["expected"] or "(no endpoint known)"))
        else:
            entry.update(state="missing", reason="the KRaft metadata does not list broker %d (not registered with "
                                                 "the controllers, or fenced)" % broker)
        entries[broker] = entry
    unexpected = sorted(set(endpoints) - set(expected))
    return entries, unexpected


# ----------------------------------------------------------------------------------------------- report

def build_report(observed, settings):
    """The report from what ``cluster_status`` read (pure).

    ``observed``: ``namespace``, ``expected_broker_ids``, ``advertised`` ({id: listeners}), ``addresses`` ({id:
    host:port}), ``deployments``, ``broker_pods``, ``zookeeper_pods``, ``controller_pods``, ``nodes`` (None: not
    read), ``zookeeper_statefulset``, ``controller_statefulset``, ``client_config`` (each object or None),
    ``metadata`` (``metadata_state()``), ``zookeeper_answers`` (server -> srvr dict or error; None: not asked),
    ``registrations``, ``stats`` (from /brokers/ids; None: not read), ``controller_znode``, ``kraft_quorum``,
    ``kraft_endpoints`` (None: not asked), ``partitions`` (``{"assignments", "states", "min_isr"}``, None: not
    read), ``errors`` ({what: message} of the reads that failed) and ``skipped`` ({what: why} of those not made).

    ``settings``: ``broker_id_label``, ``broker_container``, ``zookeeper_container``, ``controller_container``,
    ``zookeeper_servers`` (None: the StatefulSet's replicas), ``expected_controller_ids``,
    ``default_min_insync_replicas``, ``client_config_name``.

    Returns ``{"healthy", "problems", "notes", "lines", "status"}``."""
    errors = dict(observed.get("errors") or {})
    skipped = dict(observed.get("skipped") or {})
    problems, notes = [], []
    state = observed["metadata"]
    expected = sorted(set(int(i) for i in observed.get("expected_broker_ids") or []))
    label = settings.get("broker_id_label")
    status = {"namespace": observed.get("namespace"), "metadata": dict(state)}

    # ZooKeeper's quorum, while it holds the metadata.
    zookeeper = {"asked": state["zookeeper"]}
    if not state["zookeeper"]:
        zookeeper["reason"] = "the migration to KRaft was finalized: ZooKeeper is no longer used"
    elif "zookeeper_quorum" in errors:
        zookeeper.update(quorum=False, majority=False, leader=None, followers=[], servers={},
                         error=errors["zookeeper_quorum"])
        problems.append(_sentence("ZooKeeper could not be asked for its state, so no quorum is known: %s"
                                  % errors["zookeeper_quorum"]))
    else:
        answers = observed.get("zookeeper_answers") or {}
        expected_servers = settings.get("zookeeper_servers") or (
            ((observed.get("zookeeper_statefulset") or {}).get("spec") or {}).get("replicas")) or max(len(answers), 1)
        quorum = quorum_state(answers, int(expected_servers))
        zookeeper.update(quorum=quorum["quorum"], majority=quorum["majority"], leader=quorum["leader"],
                         followers=quorum["followers"], servers=quorum["servers"], expected_servers=expected_servers)
        if not quorum["majority"]:
            problems.append(_sentence("ZooKeeper has no quorum (%s; %s)" % (
                describe_quorum(quorum), "; ".join(quorum["problems"]) or "no leader")))
        elif not quorum["quorum"]:
            problems.append(_sentence("ZooKeeper serves, but its ensemble is not whole: %s (%s)" % (
                describe_quorum(quorum), "; ".join(quorum["problems"]))))
    status["zookeeper"] = zookeeper

    # The KRaft controllers' quorum, where they run.
    kraft = {"controllers": state["controllers"], "quorum": None}
    if state["controllers"]:
        wanted = sorted(settings.get("expected_controller_ids") or [])
        if "kraft_quorum" in errors:
            kraft["error"] = errors["kraft_quorum"]
            problems.append(_sentence("The KRaft controllers did not answer for their quorum: %s"
                                      % errors["kraft_quorum"]))
        else:
            found = dict(observed.get("kraft_quorum") or {})
            kraft["quorum"] = found
            if found.get("leader_id") is None:
                problems.append("The KRaft controllers have no quorum: no leader (voters %s)."
                                % (_ids(found.get("voters") or []) or "none"))
            elif wanted and sorted(found.get("voters") or []) != wanted:
                problems.append("The KRaft controller quorum is not whole: voters %s, expected %s."
                                % (_ids(found.get("voters") or []) or "none", _ids(wanted)))
    status["kraft"] = kraft

    # Pods, nodes and zones.
    zones = node_zones(observed.get("nodes"), settings.get("zone_label") or ZONE_LABEL)
    if "nodes" in errors:
        notes.append(_sentence("The nodes could not be read, so no zone is known: %s" % errors["nodes"]))
    broker_container = settings.get("broker_container") or "broker"
    pods_by_id = {}
    for pod in observed.get("broker_pods") or []:
        facts = pod_facts(pod, label, broker_container)
        if facts["broker_id"] is not None:
            pods_by_id.setdefault(facts["broker_id"], []).append(facts)
    if "broker_pods" in errors:
        problems.append(_sentence("The broker pods could not be read, so no registration can be proven a "
                                  "broker's own: %s" % errors["broker_pods"]))
    deployments = {}
    for deployment in observed.get("deployments") or []:
        value = ((deployment.get("metadata") or {}).get("labels") or {}).get(label)
        try:
            deployments[int(str(value).strip())] = deployment
        except (TypeError, ValueError):
            continue
    if "deployments" in errors:
        notes.append(_sentence("The broker Deployments could not be read (images, modes and racks unknown): %s"
                               % errors["deployments"]))
    modes = broker_modes(observed.get("deployments") or [], label)

    # Registrations.
    source = state["registrations"]
    what = "registrations" if source == "zookeeper" else "kraft_endpoints"
    entries, unexpected = {}, []
    if what in errors or what in skipped:
        why = errors.get(what) or skipped.get(what)
        where = "in ZooKeeper (/brokers/ids)" if source == "zookeeper" else "in the KRaft metadata"
        (problems if what in errors else notes).append(_sentence(
            "The brokers' registrations %s could not be read: %s" % (where, why)))
        for broker in expected:
            entries[broker] = {"state": "unknown", "endpoints": [], "rack": None, "reason": why}
    elif source == "zookeeper":
        entries, unexpected = _zookeeper_brokers(expected, observed.get("registrations") or {},
                                                 observed.get("stats") or {}, pods_by_id,
                                                 observed.get("advertised") or {})
    else:
        entries, unexpected = _kraft_brokers(expected, observed.get("kraft_endpoints") or {},
                                             observed.get("addresses") or {})
    brokers = []
    for broker in expected:
        entry = entries[broker]
        pod = _live(pods_by_id.get(broker))
        deployment = deployments.get(broker)
        spec = container(deployment, broker_container)
        rack = entry.get("rack") or env_value(spec, RACK_ENV)
        item = {"id": broker, "state": entry["state"], "own": entry["state"] == "joined",
                "endpoints": entry["endpoints"], "rack": rack,
                "pod": pod.get("name") if pod else None, "node": pod.get("node") if pod else None,
                "zone": pod_zone(pod.get("node"), zones) if pod else None,
                "pod_state": pod.get("state") if pod else None,
                "deployment": _name(deployment), "image": (spec or {}).get("image"),
                "mode": modes.get(str(broker)), "reason": entry.get("reason")}
        if entry.get("expected_endpoints"):
            item["expected_endpoints"] = entry["expected_endpoints"]
        brokers.append(item)
        if entry["state"] not in ("joined", "unknown"):
            problems.append(_sentence("Broker %d is not registered under its own endpoint (%s): %s" % (
                broker, entry["state"], entry["reason"])))
    status["brokers"] = brokers
    status["unexpected_brokers"] = unexpected
    if unexpected:
        notes.append("Registered but not expected: broker(s) %s." % _ids(unexpected))

    # The controller.
    controller = None
    if state["zookeeper"] and observed.get("controller_znode") is not None:
        holder = controller_id(observed["controller_znode"])
        if holder is not None:
            kind = "kraft_controller" if kraft_holds_controller(observed["controller_znode"]) else "broker"
            controller = {"id": holder, "kind": kind, "source": "zookeeper /controller"}
    elif not state["zookeeper"] and (kraft.get("quorum") or {}).get("leader_id") is not None:
        controller = {"id": kraft["quorum"]["leader_id"], "kind": "kraft_controller", "source": "KRaft quorum leader"}
    status["controller"] = controller
    if controller is None and "registrations" not in errors and "registrations" not in skipped:
        notes.append("No controller is elected right now.")

    # Partitions.
    partitions = {"source": state["partitions"]}
    if "partitions" in errors or "partitions" in skipped:
        why = errors.get("partitions") or skipped.get("partitions")
        partitions["error"] = why
        (problems if "partitions" in errors else notes).append(_sentence(
            "The partitions could not be read from %s: %s" % (
                "ZooKeeper" if state["partitions"] == "zookeeper" else "the KRaft metadata", why)))
    else:
        read = observed.get("partitions") or {}
        partitions.update(classify_partitions(read.get("assignments") or {}, read.get("states") or {},
                                              read.get("min_isr") or {},
                                              settings.get("default_min_insync_replicas") or 1))
        if partitions["offline"]:
            problems.append("%d partition(s) offline (no leader): %s." % (
                len(partitions["offline"]), describe_partitions(partitions["offline"], LIST_LIMIT)))
        if partitions["under_replicated"]:
            problems.append("%d partition(s) under-replicated (fewer in-sync replicas than replicas): %s." % (
                len(partitions["under_replicated"]), describe_partitions(partitions["under_replicated"], LIST_LIMIT)))
        if "min_isr" in errors:
            notes.append(_sentence("The topics' own min.insync.replicas could not be read (%s); the brokers' %s is "
                                   "used for all" % (errors["min_isr"], settings.get("default_min_insync_replicas"))))
    status["partitions"] = partitions

    # Placement per zone.
    placement = {}

    def place(zone, kind, name):
        placement.setdefault(zone, {"brokers": [], "zookeeper": [], "controllers": []})[kind].append(name)
    for item in brokers:
        if item["pod"]:
            place(item["zone"], "brokers", item["id"])
    for kind, key in (("zookeeper", "zookeeper_pods"), ("controllers", "controller_pods")):
        for pod in sorted(observed.get(key) or [], key=_name):
            if ((pod.get("metadata") or {}).get("deletionTimestamp")):
                continue
            place(pod_zone((pod.get("spec") or {}).get("nodeName"), zones), kind, _name(pod))
    status["placement"] = placement

    # Bootstrap servers.
    config = observed.get("client_config")
    data = (config or {}).get("data") or {}
    status["bootstrap_servers"] = {"config_map": settings.get("client_config_name"), "found": config is not None,
                                   "internal": data.get("bootstrap.servers"),
                                   "external": data.get("bootstrap.servers.external")}
    if "client_config" in errors:
        notes.append(_sentence("The ConfigMap %s could not be read: %s" % (
            settings.get("client_config_name"), errors["client_config"])))
    elif config is None:
        notes.append("The ConfigMap %s (the clients' bootstrap.servers) does not exist."
                     % settings.get("client_config_name"))

    # Versions.
    images = {}
    for item in brokers:
        if item["image"]:
            images.setdefault(item["image"], []).append(item["id"])
    zookeeper_image = (container(observed.get("zookeeper_statefulset"), settings.get("zookeeper_container")
                                 or "zookeeper") or {}).get("image")
    controller_image = (container(observed.get("controller_statefulset"), settings.get("controller_container")
                                  or "controller") or {}).get("image")
    status["versions"] = {
        "brokers": [{"image": image, "kafka": format_version(kafka_release(image)), "brokers": ids}
                    for image, ids in sorted(images.items())],
        "zookeeper": None if zookeeper_image is None else {
            "image": zookeeper_image, "version": format_version(zookeeper_version(zookeeper_image))},
        "controllers": None if controller_image is None else {
            "image": controller_image, "kafka": format_version(kafka_release(controller_image))},
    }
    for what in ("zookeeper_statefulset", "controller_statefulset", "zookeeper_pods", "controller_pods"):
        if what in errors:
            notes.append(_sentence("Could not read the %s: %s" % (what.replace("_", " "), errors[what])))

    healthy = not problems
    status["healthy"] = healthy
    status["problems"] = list(problems)
    return {"healthy": healthy, "problems": problems, "notes": notes, "status": status,
            "lines": report_lines(status, problems, notes)}


# ------------------------------------------------------------------------------------------------ lines

def _zookeeper_line(zookeeper):
    if not zookeeper["asked"]:
        return "ZooKeeper: not asked (%s)." % zookeeper["reason"]
    if zookeeper.get("error"):
        return "ZooKeeper: could not be asked (%s)." % zookeeper["error"]
    servers = "; ".join("%s %s" % (name, entry["mode"] if entry["serving"] and entry["mode"] else
                                   "not serving (%s)" % (entry["error"] or "no mode"))
                        for name, entry in sorted(zookeeper["servers"].items()))
    if zookeeper["quorum"]:
        head = "quorum, leader %s" % zookeeper["leader"]
    elif zookeeper["majority"]:
        head = "serving with a majority, leader %s, but not whole" % zookeeper["leader"]
    else:
        head = "NO QUORUM"
    return "ZooKeeper: %s (%d expected; %s)." % (head, int(zookeeper["expected_servers"]), servers or "no server")


def _broker_line(item):
    if item["state"] == "joined":
        head = "registered under its own endpoint %s" % ",".join(item["endpoints"])
    elif item["state"] == "unknown":
        head = "registration unknown"
    else:
        head = "NOT registered under its own endpoint (%s)" % item["state"]
    bits = []
    if item.get("rack"):
        bits.append("rack %s" % item["rack"])
    if item["pod"]:
        bits.append("zone %s" % item["zone"])
        bits.append("pod %s on %s" % (item["pod"], item["node"] or "no node"))
    else:
        bits.append("no pod")
    if item.get("mode"):
        bits.append("%s mode" % {"zookeeper": "ZooKeeper", "migrating": "migration", "kraft": "KRaft"}.get(
            item["mode"], item["mode"]))
    return "Broker %d: %s; %s." % (item["id"], head, "; ".join(bits))


def _partitions_line(partitions):
    if "total" not in partitions:
        return "Partitions: unknown (%s)." % partitions.get("error")
    return ("Partitions (from %s): %d in %d topic(s); %d offline, %d under-replicated, %d below their min ISR."
            % ("ZooKeeper" if partitions["source"] == "zookeeper" else "the KRaft metadata", partitions["total"],
               partitions["topics"], len(partitions["offline"]), len(partitions["under_replicated"]),
               len(partitions["under_min_isr"])))


def _placement_line(placement):
    if not placement:
        return "Placement: no pod found."
    parts = []
    for zone in sorted(placement):
        found = placement[zone]
        bits = []
        if found["brokers"]:
            bits.append("brokers %s" % _ids(found["brokers"]))
        if found["zookeeper"]:
            bits.append("ZooKeeper %s" % ", ".join(found["zookeeper"]))
        if found["controllers"]:
            bits.append("controllers %s" % ", ".join(found["controllers"]))
        parts.append("%s: %s" % (zone, "; ".join(bits)))
    return "Placement per zone: %s." % " | ".join(parts)


def _versions_line(versions):
    parts = ["brokers %s: %s%s" % (_ids(v["brokers"]), v["image"], " (Kafka %s)" % v["kafka"] if v["kafka"] else "")
             for v in versions["brokers"]]
    zookeeper, controllers = versions["zookeeper"], versions["controllers"]
    if zookeeper:
        parts.append("ZooKeeper %s%s" % (zookeeper["image"], " (%s)" % zookeeper["version"] if zookeeper["version"]
                                         else ""))
    if controllers:
        parts.append("controllers %s%s" % (controllers["image"], " (Kafka %s)" % controllers["kafka"]
                                           if controllers["kafka"] else ""))
    return "Versions: %s." % ("; ".join(parts) or "unknown")


def report_lines(status, problems, notes):
    """The report as sentences, one a line: what a person reads in the playbook's output."""
    lines = [describe_metadata(status["metadata"]), _zookeeper_line(status["zookeeper"])]
    kraft = status["kraft"]
    if kraft["controllers"]:
        quorum = kraft.get("quorum")
        if kraft.get("error"):
            lines.append("KRaft controllers: did not answer (%s)." % kraft["error"])
        elif quorum:
            lines.append("KRaft controllers: leader %s (epoch %s), voters %s%s." % (
                quorum.get("leader_id") if quorum.get("leader_id") is not None else "NONE", quorum.get("leader_epoch"),
                _ids(quorum.get("voters") or []) or "none",
                ", observers %s" % _ids(quorum["observers"]) if quorum.get("observers") else ""))
    for item in status["brokers"]:
        lines.append(_broker_line(item))
    controller = status["controller"]
    if controller:
        kind = "KRaft controller" if controller["kind"] == "kraft_controller" else "broker"
        lines.append("Controller: %s %s (%s)." % (kind, controller["id"], controller["source"]))
    else:
        lines.append("Controller: none known.")
    lines.append(_partitions_line(status["partitions"]))
    lines.append(_placement_line(status["placement"]))
    bootstrap = status["bootstrap_servers"]
    lines.append("Bootstrap servers (ConfigMap %s): internal %s; external %s." % (
        bootstrap["config_map"], bootstrap["internal"] or "(none)", bootstrap["external"] or "(none)"))
    lines.append(_versions_line(status["versions"]))
    lines.extend("Note: %s" % note for note in notes)
    if problems:
        lines.append("UNHEALTHY: %d problem(s)." % len(problems))
        lines.extend("Problem: %s" % problem for problem in problems)
    else:
        lines.append("Healthy.")
    return lines
