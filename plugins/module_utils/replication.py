# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Partition replication as ZooKeeper-mode Kafka records it, and when a broker may restart.

A broker that restarts leaves the in-sync replica set (ISR) of every partition it holds and rejoins it once it
has caught up with the leader. Restarting a broker is safe for a partition unless it takes the ISR below the
topic's ``min.insync.replicas`` (producers with ``acks=all`` then fail) or takes away its last replica. The
rule is per broker, as Strimzi's KafkaRoller has it: broker B may restart unless, for some partition with a
replica on B and a replication factor above its min ISR, the ISR is already below min ISR, or equals it with B
in it. Partitions with RF <= min ISR never block (they cannot satisfy acks=all through any restart anyway),
and a partition elsewhere that is stuck does not block B.

Kafka keeps, per topic, ``/brokers/topics/<topic>`` (``{"partitions": {"0": [1, 2, 3], ...}}``: the
replicas), per partition ``/brokers/topics/<topic>/partitions/<n>/state`` (``{"leader": 1, "isr": [1, 2,
3], ...}``) and per topic with overrides ``/config/topics/<topic>`` (``{"config": {"min.insync.replicas":
"2"}}``). ``restart_blockers()`` and ``lagging()`` are pure; ``read_topics()`` reads the assignments and the topic
configs (two zkCli runs under exec access) and ``read_states()`` every partition's state (one);
``wait_partitions()`` polls the states with an injected clock and sleep.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

TOPICS_PATH = "/brokers/topics"
TOPIC_CONFIG_PATH = "/config/topics"


class NotInSyncError(Exception):
    """Partitions stayed in a state that blocks the next step past the timeout."""

    def __init__(self, message, partitions):
        super(NotInSyncError, self).__init__(message)
        self.partitions = partitions


def _json_object(data):
    try:
        value = json.loads(data) if data else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_assignment(data):
    """``{partition: [replica ids]}`` from the JSON of ``/brokers/topics/<topic>`` ({} when unreadable)."""
    value = _json_object(data) or {}
    partitions = value.get("partitions")
    if not isinstance(partitions, dict):
        return {}
    assignment = {}
    for partition, replicas in partitions.items():
        try:
            assignment[int(partition)] = [int(r) for r in replicas]
        except (TypeError, ValueError):
            continue
    return assignment


def parse_state(data):
    """``{"leader": id, "isr": [ids]}`` from the JSON of a partition's ``state`` node, or None."""
    value = _json_object(data)
    if value is None:
        return None
    try:
        return {"leader": int(value.get("leader", -1)), "isr": [int(r) for r in value.get("isr") or []]}
    except (TypeError, ValueError):
        return None


def state_path(topic, partition):
    return "%s/%s/partitions/%d/state" % (TOPICS_PATH, topic, partition)


def describe_partitions(partitions, limit=10):
    """``topic-0 (replicas 1,2,3; in sync 1,3)``, ... for a message; at most ``limit`` of them."""
    texts = ["%s-%d (replicas %s; in sync %s%s)" % (
        p["topic"], p["partition"], ",".join(str(r) for r in p["replicas"]),
        ",".join(str(r) for r in p["isr"]) or "none", "; no leader" if p["leader"] < 0 else "")
        for p in partitions[:limit]]
    if len(partitions) > limit:
        texts.append("and %d more" % (len(partitions) - limit))
    return ", ".join(texts)


def read_states(zk, assignments):
    """``{(topic, partition): state or None}`` for every assigned partition, in one batch."""
    keys = [(topic, partition) for topic in sorted(assignments) for partition in sorted(assignments[topic])]
    if not keys:
        return {}
    found = zk.get_many([state_path(topic, partition) for topic, partition in keys])
    states = {}
    for key in keys:
        node = found.get(state_path(*key))
        states[key] = parse_state(node[0]) if node is not None else None
    return states


def min_isr_override(config):
    """The ``min.insync.replicas`` of a topic's own config overrides (``{key: value}``, from ZooKeeper or from the
    KRaft metadata), or None."""
    if not isinstance(config, dict) or config.get("min.insync.replicas") is None:
        return None
    try:
        return int(str(config["min.insync.replicas"]).strip())
    except ValueError:
        return None


def parse_min_isr(data):
    """The ``min.insync.replicas`` override in the JSON of ``/config/topics/<topic>``, or None."""
    return min_isr_override((_json_object(data) or {}).get("config"))


def restart_blockers(broker_id, assignments, states, min_isr, default_min_isr):
    """The partitions that restarting ``broker_id`` now would take below their min ISR (pure).

    ``min_isr``: ``{topic: override}``; ``default_min_isr``: the brokers' ``min.insync.replicas``. Returns
    a list of ``{topic, partition, replicas, isr, leader, min_isr, why}`` sorted by topic and partition.
    """
    blockers = []
    for topic in sorted(assignments):
        wanted = min_isr.get(topic, default_min_isr)
        for partition in sorted(assignments[topic]):
            replicas = assignments[topic][partition]
            if broker_id not in replicas or len(replicas) <= wanted:
                continue  # not on this broker, or RF <= min ISR: acks=all cannot be kept through any restart
            state = states.get((topic, partition))
            isr = state["isr"] if state else []
            leader = state["leader"] if state else -1
            why = None
            if len(isr) < wanted:
                why = "in sync %d < min ISR %d" % (len(isr), wanted)
            elif len(isr) == wanted and broker_id in isr:
                why = "in sync %d = min ISR %d with broker %d among them" % (len(isr), wanted, broker_id)
            if why:
                blockers.append({"topic": topic, "partition": partition, "replicas": replicas, "isr": isr,
                                 "leader": leader, "min_isr": wanted, "why": why})
    return blockers


def lagging(broker_ids, assignments, states):
    """Partitions where one of ``broker_ids`` is a replica but not in the ISR while the partition has a
    leader (pure): what a restarted broker has still to catch up. Without a leader nothing can catch up, so
    such partitions are not returned (``restart_blockers`` reports them before the next restart)."""
    wanted = set(int(i) for i in broker_ids)
    out = []
    for topic in sorted(assignments):
        for partition in sorted(assignments[topic]):
            replicas = assignments[topic][partition]
            state = states.get((topic, partition))
            if not state or state["leader"] < 0:
                continue
            behind = [r for r in replicas if r in wanted and r not in state["isr"]]
            if behind:
                out.append({"topic": topic, "partition": partition, "replicas": replicas, "isr": state["isr"],
                            "leader": state["leader"], "out_of_sync": behind})
    return out


def describe_blockers(blockers, limit=10):
    texts = ["%s-%d (replicas %s; in sync %s; %s)" % (
        b["topic"], b["partition"], ",".join(str(r) for r in b["replicas"]),
        ",".join(str(r) for r in b["isr"]) or "none", b["why"]) for b in blockers[:limit]]
    if len(blockers) > limit:
        texts.append("and %d more" % (len(blockers) - limit))
    return ", ".join(texts)


def read_topics(zk):
    """``(assignments, min ISR overrides)`` of every topic: the listing, then every topic's node and its
    ``/config/topics`` node in one batch (two zkCli runs under exec access, whatever the topic count)."""
    topics = zk.list_and_get(TOPICS_PATH, [])[0]
    if not topics:
        return {}, {}
    nodes = dict((topic, "%s/%s" % (TOPICS_PATH, topic)) for topic in topics)
    configs = dict((topic, "%s/%s" % (TOPIC_CONFIG_PATH, topic)) for topic in topics)
    found = zk.get_many([nodes[t] for t in topics] + [configs[t] for t in topics])
    assignments, overrides = {}, {}
    for topic in topics:
        node = found.get(nodes[topic])
        if node is not None:  # None: deleted between the listing and the read
            assignments[topic] = parse_assignment(node[0])
        config = found.get(configs[topic])
        value = parse_min_isr(config[0]) if config is not None else None
        if value is not None:
            overrides[topic] = value
    return assignments, overrides


def wait_partitions(zk, default_min_isr, timeout, caught_up=(), restartable=None, sleep_seconds=5,
                    clock=time.monotonic, sleep=time.sleep, source=None):
    """Between two restarts of a rolling change: wait until the brokers in ``caught_up`` (just restarted) are
    back in the ISR of every partition they hold that has a leader, and until restarting broker
    ``restartable`` (the next one) takes no partition below its min ISR. The topics are read once (a rolling
    change does not move partitions); each poll reads the partition states once for both.

    ``source``: where the partitions are read, an object with ``topics()`` and ``states(assignments)`` (as
    ``read_topics``/``read_states``; ``kraft.KRaftPartitions`` once ZooKeeper is no longer written); None: ``zk``.

    Returns ``(caught_up result or None, restartable result or None)``, each with ``waited``, ``waited_for``
    (what blocked at first) and a ``summary`` sentence; raises NotInSyncError naming the partitions that still
    block after ``timeout`` seconds.
    """
    caught_up = sorted(int(i) for i in caught_up or [])
    start = clock()
    assignments, overrides = source.topics() if source is not None else read_topics(zk)
    first = {"behind": None, "blockers": None}
    done = {"behind": None, "blockers": None}
    while True:
        states = source.states(assignments) if source is not None else read_states(zk, assignments)
        behind = lagging(caught_up, assignments, states) if caught_up else []
        blockers = (restart_blockers(restartable, assignments, states, overrides, default_min_isr)
                    if restartable is not None else [])
        waited = round(clock() - start, 1)
        for key, found in (("behind", behind), ("blockers", blockers)):
            if first[key] is None:
                first[key] = found
            if not found and done[key] is None:
                done[key] = waited
        if not behind and not blockers:
            break
        if waited >= timeout:
            if behind:
                raise NotInSyncError(
                    "broker(s) %s restarted but did not catch up within %ds: %d partition(s) still lack them in "
                    "their in-sync replicas: %s. Check the restarted broker's log for replication errors."
                    % (",".join(str(i) for i in caught_up), timeout, len(behind), describe_partitions(behind)), behind)
            raise NotInSyncError(
                "broker %d cannot restart yet: after %ds, restarting it would take %d partition(s) below their "
                "min.insync.replicas: %s. Another broker is out of these partitions' in-sync replicas; check the "
                "brokers named by the replicas missing from 'in sync'."
                % (restartable, timeout, len(blockers), describe_blockers(blockers)), blockers)
        sleep(sleep_seconds)
    caught = None
    if caught_up:
        caught = {"brokers": caught_up, "waited": done["behind"],
                  "waited_for": [dict((k, b[k]) for k in ("topic", "partition", "out_of_sync")) for b in first["behind"]],
                  "summary": "broker(s) %s in sync after %ss (%s)." % (
                      ",".join(str(i) for i in caught_up), done["behind"],
                      ("waited for " + describe_partitions(first["behind"], limit=5)) if first["behind"]
                      else "nothing to catch up")}
    may = None
    if restartable is not None:
        on_broker = sum(1 for topic in assignments for p in assignments[topic].values() if restartable in p)
        may = {"broker_id": restartable, "partitions": on_broker, "waited": done["blockers"],
               "waited_for": [dict((k, b[k]) for k in ("topic", "partition", "why")) for b in first["blockers"]],
               "summary": "broker %d may restart after %ss (%d partitions on it; %s)." % (
                   restartable, done["blockers"], on_broker,
                   ("waited for " + describe_blockers(first["blockers"], limit=5)) if first["blockers"]
                   else "none had to catch up")}
    return caught, may
