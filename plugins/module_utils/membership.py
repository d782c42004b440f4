# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Broker membership: which expected brokers are in the cluster (registered in ``/brokers/ids``) and which
pod to delete so that a broker that did not join gets a fresh start.

``decide()`` is a pure function. ``Membership`` runs the check and the heal; it does no I/O of its own: it
calls the ZooKeeper access object (``zookeeper.ExecAccess``/``DirectAccess``), the pod API
(``k8s_pods.PodApi``) and the clock and sleep it is given, so unit tests run it against fakes without
sleeping.

Rules (from the field report and measured ZooKeeper behaviour):
- only the pod of a broker that is not in the cluster is ever deleted, one broker at a time, with a uid
  precondition and its normal grace period; never a Deployment, a PVC, or a pod of a joined broker;
- a registration older than the broker's running container is stale: the old process's session still holds
  ``/brokers/ids/<id>``, and the live broker cannot register (``NodeExists``) until it expires;
- a Pending pod (unschedulable, image pull errors) is reported as not healable by deletion, not deleted;
- no ZooKeeper quorum: stop before deleting anything (nothing expires, nothing can be deleted).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import (
    NOT_HEALABLE_WAITING,
    PodChanged,
    describe_pod,
    pod_facts,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import (
    BadVersionError,
    NoNodeError,
    ZooKeeperError,
    describe_quorum,
    quorum_state,
)

BROKER_IDS_PATH = "/brokers/ids"
CONTROLLER_PATH = "/controller"
# A registration counts as written by a container only if the container started no later than this after the
# registration's timestamp (clock skew between the broker's node and the kubelet that reports startedAt).
STALE_TOLERANCE_MS = 2000
# A broker container that started less than this ago is given time to register before its pod is deleted.
STARTUP_GRACE_MS = 30000
DEAD_PHASES = ("Failed", "Succeeded")


def registration_timestamp(registration):
    """The ``timestamp`` (epoch ms, a string in Kafka's JSON) of a registration, or None."""
    if not isinstance(registration, dict):
        return None
    try:
        return int(registration.get("timestamp"))
    except (TypeError, ValueError):
        return None


def parse_registration(data):
    """The JSON of a ``/brokers/ids/<id>`` node as a dict (``{"unparsed": text}`` when it is not a JSON object)."""
    try:
        registration = json.loads(data) if data else {}
    except ValueError:
        return {"unparsed": data}
    return registration if isinstance(registration, dict) else {"unparsed": data}


def controller_id(data):
    """The ``brokerid`` in the JSON of ``/controller`` (the broker that is the controller), or None."""
    try:
        return int(json.loads(data)["brokerid"]) if data else None
    except (ValueError, TypeError, KeyError):
        return None


def _holds(pod, timestamp, tolerance_ms):
    """Could this pod's running container have written a registration made at ``timestamp``?"""
    if not pod.get("running"):
        return False
    started = pod.get("started_at")
    return started is None or started <= timestamp + tolerance_ms


def decide(expected_ids, registrations, pods, now_ms=None, startup_grace_ms=0, tolerance_ms=STALE_TOLERANCE_MS):
    """Compare the expected brokers with their registrations and pods (pure).

    ``registrations`` maps broker id -> the JSON of ``/brokers/ids/<id>`` (``timestamp`` in ms, endpoints).
    ``pods`` maps broker id -> list of ``k8s_pods.pod_facts()`` dicts.

    Returns a dict of sorted lists:
    ``expected``, ``registered`` (every id in ZooKeeper), ``joined``, ``missing`` (expected, no
    registration), ``unexpected`` (registered, not expected), ``stale`` (registered, but no running
    container of the broker's current pod can have written it: the live broker is not in the cluster),
    ``to_delete`` (``{broker_id, pod, uid, reason}``: at most one Running pod per missing or stale broker),
    ``waiting`` (``{broker_id, pod, reason}``: not joined yet, but deleting its pod now would not help: just
    started, Pending while being created, the old pod still terminating), ``blocked`` (``{broker_id, pod,
    reason}``: not healable by deleting a pod: unschedulable, image errors, no pod, several pods).
    """
    expected = sorted(set(int(i) for i in expected_ids))
    registered = sorted(set(int(i) for i in registrations))
    result = {
        "expected": expected,
        "registered": registered,
        "joined": [],
        "missing": [],
        "unexpected": sorted(set(registered) - set(expected)),
        "stale": [],
        "to_delete": [],
        "waiting": [],
        "blocked": [],
    }
    for broker_id in expected:
        registration = registrations.get(broker_id)
        plist = list(pods.get(broker_id) or [])
        live = [p for p in plist if not p.get("deleting") and p.get("phase") not in DEAD_PHASES]
        leaving = [p for p in plist if p.get("deleting")]
        stale = False
        held_by_leaving = False
        if registration is not None:
            timestamp = registration_timestamp(registration)
            if timestamp is not None and live:
                live_holders = [p for p in live if _holds(p, timestamp, tolerance_ms)]
                leaving_holders = [p for p in leaving if _holds(p, timestamp, tolerance_ms)]
                if not live_holders and leaving_holders:
                    held_by_leaving = True
                elif not live_holders:
                    stale = True
            if not stale and not held_by_leaving:
                result["joined"].append(broker_id)
                continue
        if stale:
            result["stale"].append(broker_id)
        elif registration is None:
            result["missing"].append(broker_id)
        what = "its registration is stale" if stale else "it is not registered"
        if held_by_leaving:
            names = ", ".join(p.get("name") or "?" for p in leaving)
            result["waiting"].append({
                "broker_id": broker_id, "pod": live[0].get("name"),
                "reason": "its registration is held by pod %s, which is being deleted; waiting for it to go"
                          % names})
            continue
        if not live:
            if leaving:
                result["waiting"].append({
                    "broker_id": broker_id, "pod": leaving[0].get("name"),
                    "reason": "%s; pod %s is being deleted and its replacement does not exist yet"
                              % (what, leaving[0].get("name"))})
            else:
                result["blocked"].append({
                    "broker_id": broker_id, "pod": None,
                    "reason": "%s and no pod of broker %d exists (is its Deployment missing or scaled to 0?)"
                              % (what, broker_id)})
            continue
        if len(live) > 1:
            result["blocked"].append({
                "broker_id": broker_id, "pod": None,
                "reason": "%s and %d pods carry its id (%s); refusing to choose one: two pods of one broker "
                          "share its id and volume"
                          % (what, len(live), ", ".join(sorted(p.get("name") or "?" for p in live)))})
            continue
        pod = live[0]
        phase = pod.get("phase")
        if phase == "Running":
            started = pod.get("started_at")
            if (pod.get("running") and startup_grace_ms and now_ms is not None and started is not None
                    and now_ms - started < startup_grace_ms):
                result["waiting"].append({
                    "broker_id": broker_id, "pod": pod.get("name"),
                    "reason": "%s; its container started %ds ago, giving it time to register"
                              % (what, max(0, (now_ms - started) // 1000))})
                continue
            result["to_delete"].append({
                "broker_id": broker_id, "pod": pod.get("name"), "uid": pod.get("uid"),
                "reason": "%s; pod %s" % (what, describe_pod(pod))})
        elif phase == "Pending":
            if pod.get("unschedulable"):
                result["blocked"].append({
                    "broker_id": broker_id, "pod": pod.get("name"),
                    "reason": "%s; pod %s cannot be scheduled, deleting it would not help: %s"
                              % (what, pod.get("name"), pod["unschedulable"])})
            elif pod.get("waiting_reason") in NOT_HEALABLE_WAITING:
                result["blocked"].append({
                    "broker_id": broker_id, "pod": pod.get("name"),
                    "reason": "%s; pod %s cannot start its container (%s), deleting it would not help"
                              % (what, pod.get("name"), pod.get("waiting_reason"))})
            else:
                result["waiting"].append({
                    "broker_id": broker_id, "pod": pod.get("name"),
                    "reason": "%s; pod %s is Pending (%s)"
                              % (what, pod.get("name"), pod.get("waiting_reason") or "being created")})
        else:
            result["blocked"].append({
                "broker_id": broker_id, "pod": pod.get("name"),
                "reason": "%s; pod %s is in phase %s (is its node lost?)" % (what, pod.get("name"), phase)})
    result["all_joined"] = result["joined"] == expected
    return result


def group_pods(pod_list, id_label, container=None):
    """Pod JSON list -> (broker id -> list of pod facts, names of pods without a usable id label)."""
    by_id = {}
    unlabelled = []
    for pod in pod_list:
        facts = pod_facts(pod, id_label, container)
        if facts["broker_id"] is None:
            unlabelled.append(facts["name"])
            continue
        by_id.setdefault(facts["broker_id"], []).append(facts)
    return by_id, unlabelled


class HealError(Exception):
    """The heal gave up; the message says which broker, its pod's state and what to check; ``result`` holds
    what was found and done so far."""

    def __init__(self, message, result=None):
        super(HealError, self).__init__(message)
        self.result = result or {}


class QuorumError(Exception):
    """ZooKeeper has no working quorum; nothing was deleted."""


class Membership:
    """Check, and with ``heal`` repair, broker membership; with ``wait`` (or ``heal``), wait for brokers that
    are starting.

    ``zk``: ZooKeeper access (``servers``, ``get_children``, ``get``, ``delete``); ``pod_api``: ``list_pods``
    and ``delete_pod``; ``clock`` (monotonic seconds), ``sleep`` and ``wall`` (epoch seconds) are injected.
    """

    def __init__(self, zk, pod_api, namespace, expected_ids, selector, id_label, heal=False, wait=False,
                 check_mode=False, max_attempts=3, register_timeout=300, wait_sleep=5,
                 remove_stale_registration=False, startup_grace_ms=STARTUP_GRACE_MS, clock=time.monotonic, sleep=time.sleep, wall=time.time):
        self.zk = zk
        self.pod_api = pod_api
        self.namespace = namespace
        self.expected_ids = sorted(set(int(i) for i in expected_ids))
        self.selector = selector
        self.id_label = id_label
        self.heal = heal
        self.wait = wait
        self.check_mode = check_mode
        self.max_attempts = max_attempts
        self.register_timeout = register_timeout
        self.wait_sleep = wait_sleep
        self.remove_stale_registration = remove_stale_registration
        self.startup_grace_ms = startup_grace_ms
        self.clock = clock
        self.sleep = sleep
        self.wall = wall
        self.changed = False
        self.deleted_pods = []
        self.removed_registrations = []
        self.attempts = {}
        self.notes = []
        self.quorum = None
        self.controller = None

    # ------------------------------------------------------------------ observation

    def now_ms(self):
        return int(self.wall() * 1000)

    def check_quorum(self):
        try:
            answers = self.zk.servers()
        except ZooKeeperError as exc:
            raise QuorumError("cannot ask ZooKeeper for its state: %s. Nothing was deleted." % exc)
        state = quorum_state(answers, max(len(answers), 1))
        self.quorum = {"leader": state["leader"], "followers": state["followers"],
                       "servers": describe_quorum(state)}
        if not state["majority"]:
            raise QuorumError(
                "ZooKeeper has no quorum (%s; %s): nothing was deleted, and no broker can register or lose a "
                "stale registration until it has one. Check the ZooKeeper pods and their logs, and that every "
                "server lists the same ensemble." % (describe_quorum(state), "; ".join(state["problems"])))
        return state

    def read_registration(self, broker_id):
        """(registration dict or None, stat or None) of one broker."""
        try:
            data, stat = self.zk.get("%s/%d" % (BROKER_IDS_PATH, broker_id))
        except NoNodeError:
            return None, None
        return parse_registration(data), stat

    def read_registrations(self):
        """Every registration under /brokers/ids: the listing, the expected brokers' nodes and /controller in
        one batch (one zkCli run under exec access), then any other registered id in a second one."""
        expected = dict((broker_id, "%s/%d" % (BROKER_IDS_PATH, broker_id)) for broker_id in self.expected_ids)
        children, found = self.zk.list_and_get(BROKER_IDS_PATH,
                                               [expected[i] for i in self.expected_ids] + [CONTROLLER_PATH])
        controller = found.pop(CONTROLLER_PATH, None)
        self.controller = controller_id(controller[0]) if controller else None
        others = {}
        for child in children:
            try:
                broker_id = int(child)
            except ValueError:
                self.notes.append("ignored %s/%s: not a broker id" % (BROKER_IDS_PATH, child))
                continue
            if broker_id not in expected:
                others[broker_id] = "%s/%s" % (BROKER_IDS_PATH, child)
        if others:
            found.update(self.zk.get_many([others[i] for i in sorted(others)]))
        registrations, stats = {}, {}
        for broker_id, path in sorted(list(expected.items()) + list(others.items())):
            node = found.get(path)
            if node is not None:  # None: not registered, or gone between the listing and the read
                registrations[broker_id] = parse_registration(node[0])
                stats[broker_id] = node[1]
        return registrations, stats

    def read_pods(self):
        by_id, unlabelled = group_pods(self.pod_api.list_pods(self.namespace, self.selector), self.id_label)
        for name in unlabelled:
            note = "pod %s matches %s but has no integer label %s" % (name, self.selector, self.id_label)
            if note not in self.notes:
                self.notes.append(note)
        return by_id

    def observe(self, grace=True):
        registrations, stats = self.read_registrations()
        pods = self.read_pods()
        decision = decide(self.expected_ids, registrations, pods, now_ms=self.now_ms(),
                          startup_grace_ms=self.startup_grace_ms if grace else 0)
        return {"registrations": registrations, "stats": stats, "pods": pods, "decision": decision}

    # ------------------------------------------------------------------ heal

    def _wait_gone(self, broker_id, uid, deadline):
        while True:
            pods = self.read_pods().get(broker_id, [])
            leftover = [p for p in pods if p.get("uid") == uid]
            if not leftover:
                return None
            if self.clock() >= deadline:
                return ("pod %s was deleted but is still terminating after %ss (is its node unreachable? it is "
                        "not force-deleted)" % (describe_pod(leftover[0]), self.register_timeout))
            self.sleep(self.wait_sleep)

    def heal_one(self, item, snapshot):
        """Delete one broker's pod and wait for its replacement to register. Returns None or why not."""
        broker_id, name, uid = item["broker_id"], item["pod"], item["uid"]
        old_uids = set(p.get("uid") for p in snapshot["pods"].get(broker_id, []))
        stale_stat = snapshot["stats"].get(broker_id) if broker_id in snapshot["decision"]["stale"] else None
        try:
            deleted = self.pod_api.delete_pod(self.namespace, name, uid)
        except PodChanged as exc:
            return str(exc)
        if deleted:
            self.changed = True
            self.deleted_pods.append({"broker_id": broker_id, "pod": name, "uid": uid})
        deadline = self.clock() + self.register_timeout
        why = self._wait_gone(broker_id, uid, deadline)
        if why:
            return why
        path = "%s/%d" % (BROKER_IDS_PATH, broker_id)
        last = None
        while True:
            registration, stat = self.read_registration(broker_id)
            pods = self.read_pods().get(broker_id, [])
            if (registration is not None and stale_stat is not None and self.remove_stale_registration
                    and stat.get("ephemeral_owner") == stale_stat.get("ephemeral_owner")
                    and stat.get("ephemeral_owner")
                    and not any(p.get("uid") in old_uids for p in pods)):
                # The session that wrote it belonged to a process of a pod that is now gone (deleted
                # normally, no longer listed): remove the node by version, so a fresh one is never removed.
                try:
                    self.zk.delete(path, stat["version"])
                except (NoNodeError, BadVersionError):
                    pass
                else:
                    self.changed = True
                    self.removed_registrations.append({
                        "broker_id": broker_id, "path": path, "version": stat["version"],
                        "ephemeral_owner": "0x%x" % stat["ephemeral_owner"]})
                continue
            one = decide([broker_id], {broker_id: registration} if registration is not None else {},
                         {broker_id: pods})
            fresh = [p for p in pods if p.get("uid") not in old_uids and p.get("running")]
            if broker_id in one["joined"] and fresh:
                return None
            last = one
            if self.clock() >= deadline:
                break
            self.sleep(self.wait_sleep)
        state = "; ".join(describe_pod(p) for p in pods) or "no pod"
        if last and broker_id in last["stale"]:
            hint = "" if self.remove_stale_registration else (
                "; remove_stale_registration=true removes it once the old pod is gone")
            detail = "its old registration is still there (session not expired%s)" % hint
        else:
            detail = "it did not register"
        return "broker %d: %s within %ss after deleting pod %s; now: %s" % (
            broker_id, detail, self.register_timeout, name, state)

    def run(self):
        self.check_quorum()
        snapshot = self.observe()
        decision = snapshot["decision"]
        if self.check_mode or not (self.heal or self.wait):
            return self.result(snapshot, would_delete=[dict(i) for i in decision["to_delete"]])
        failures = {}
        waiting_deadline = self.clock() + self.register_timeout
        while not decision["all_joined"]:
            if decision["to_delete"] and self.heal:
                item = decision["to_delete"][0]
                broker_id = item["broker_id"]
                if self.attempts.get(broker_id, 0) >= self.max_attempts:
                    pods = snapshot["pods"].get(broker_id, [])
                    raise HealError(
                        "Broker %d did not join the cluster after %d pod deletion(s); giving up. %s. Check its "
                        "log (kubectl -n %s logs %s, and --previous after a restart) for NodeExists, "
                        "InconsistentBrokerIdException or ZooKeeper connection errors."
                        % (broker_id, self.attempts.get(broker_id, 0),
                           ("Last attempt: %s" % failures[broker_id]) if broker_id in failures else
                           "Pod now: %s" % ("; ".join(describe_pod(p) for p in pods) or "none"),
                           self.namespace, item["pod"]),
                        self.result(snapshot, would_delete=[]))
                self.check_quorum()
                self.attempts[broker_id] = self.attempts.get(broker_id, 0) + 1
                why = self.heal_one(item, snapshot)
                if why:
                    failures[broker_id] = why
                waiting_deadline = self.clock() + self.register_timeout
                snapshot = self.observe()
                decision = snapshot["decision"]
                continue
            if decision["waiting"] and self.clock() < waiting_deadline:
                self.sleep(self.wait_sleep)
                snapshot = self.observe()
                decision = snapshot["decision"]
                continue
            break
        return self.result(snapshot, would_delete=[] if self.heal else [dict(i) for i in decision["to_delete"]],
                           failures=failures)

    def result(self, snapshot, would_delete, failures=None):
        decision = snapshot["decision"]
        msgs = []
        for item in decision["blocked"]:
            msgs.append("broker %d is not healable by deleting a pod: %s" % (item["broker_id"], item["reason"]))
        for item in decision["waiting"]:
            msgs.append("broker %d: %s" % (item["broker_id"], item["reason"]))
        if would_delete:
            verb = "would delete" if self.heal else "heal=true would delete"
            for item in would_delete:
                msgs.append("%s pod %s of broker %d (%s)" % (verb, item["pod"], item["broker_id"], item["reason"]))
        for broker_id in sorted(failures or {}):
            if broker_id not in decision["joined"]:
                msgs.append(failures[broker_id])
        if decision["unexpected"]:
            msgs.append("registered but not expected: %s" % ", ".join(str(i) for i in decision["unexpected"]))
        msgs.extend(self.notes)
        if decision["all_joined"] and not msgs:
            msgs.append("all %d expected brokers are registered" % len(decision["expected"]))
        return {
            "changed": self.changed or (self.check_mode and self.heal and bool(would_delete)),
            "expected": decision["expected"],
            "registered": decision["registered"],
            "joined": decision["joined"],
            "missing": decision["missing"],
            "unexpected": decision["unexpected"],
            "stale": decision["stale"],
            "waiting": decision["waiting"],
            "blocked": decision["blocked"],
            "would_delete": would_delete,
            "deleted_pods": list(self.deleted_pods),
            "removed_registrations": list(self.removed_registrations),
            "all_joined": decision["all_joined"],
            "attempts": dict((str(k), v) for k, v in sorted(self.attempts.items())),
            "quorum": self.quorum,
            "controller": self.controller,
            "msg": " ".join(m.rstrip(".") + "." for m in msgs),
        }
