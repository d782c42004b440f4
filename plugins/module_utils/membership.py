# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Broker membership: which expected brokers are in the cluster, proven by a registration that is their
own, and what the heal may do about the others.

``decide()`` is a pure function. ``Membership`` runs the check and the heal; it does no I/O of its own: it
calls the ZooKeeper access object (``zookeeper.ExecAccess``/``DirectAccess``), the pod API
(``k8s_pods.PodApi``) and the clock and sleep it is given, so unit tests run it against fakes without
sleeping.

Rules (from the field report and measured ZooKeeper behaviour):
- a registration ``/brokers/ids/<id>`` is broker N's own only when its endpoints are exactly the listeners
  broker N advertises (the plan's, or those its current pod declares) and it is not older than the running
  ``broker`` container (found by name: sidecars exist). Anything else is ``foreign``, ``unparsable`` or
  ``stale``, never ``joined``;
- nothing is deleted for a foreign or unparsable registration: the run fails naming both endpoints;
- a stale registration (ours, but older than every live container of the broker) is removed at once only on
  two proofs together: Kubernetes shows its writer is dead (no pod of the broker is terminating and no
  running container can have written it), and every ZooKeeper server answered ``cons`` without listing its
  owner session. It is deleted with its version, so a fresh registration is never removed. Otherwise it is
  waited out (the session expires), and the reason is said;
- only the pod of a broker that is not in the cluster is ever deleted, one at a time, with a uid
  precondition and its normal grace period, and only after reading its registration once more; never a
  Deployment, a PVC, or a pod of a joined broker;
- a container that has not passed its startup probe (loading its logs after an unclean shutdown, or
  connecting to ZooKeeper) is starting, not stuck: it is waited for within its probe's budget;
- a Pending pod (unschedulable, image pull errors) is reported as not healable by deletion, not deleted;
- no ZooKeeper quorum (counted against the ensemble size of the plan): stop before deleting anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import (
    PodApi,
    PodApiError,
    PodChanged,
    describe_pod,
    pod_facts,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import describe_quorum, quorum_state
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import (
    BadVersionError,
    NoNodeError,
    ZooKeeperError,
)

BROKER_IDS_PATH = "/brokers/ids"
CONTROLLER_PATH = "/controller"
# A registration counts as written by a container only if the container started no later than this after the
# registration's timestamp (clock skew between the broker's node and the kubelet that reports startedAt).
STALE_TOLERANCE_MS = 2000
# A broker container that started less than this ago is given time to register before its pod is deleted.
STARTUP_GRACE_MS = 30000
DEAD_PHASES = ("Failed", "Succeeded")
# Waiting reasons of a Pending pod's container that deleting the pod does not cure: the same spec fails the
# same way.
NOT_HEALABLE_WAITING = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError",
                        "CreateContainerError", "RunContainerError")


def registration_timestamp(registration, stat=None):
    """When a registration was made (epoch ms): ZooKeeper's own ``ctime`` of the node when known, else the
    ``timestamp`` Kafka wrote into its JSON; None when neither is readable."""
    ctime = (stat or {}).get("ctime")
    if isinstance(ctime, int) and not isinstance(ctime, bool) and ctime > 0:
        return ctime
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


def registration_endpoints(registration):
    """The ``endpoints`` list of a registration (strings), or None when it has none or it is not readable."""
    if not isinstance(registration, dict) or "unparsed" in registration:
        return None
    endpoints = registration.get("endpoints")
    if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
        return None
    return list(endpoints)


def split_listeners(value):
    """``"PLAINTEXT://a:9092,INTERNAL://a:9093"`` or a list of them -> the endpoints as a list of strings."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def controller_id(data):
    """The ``brokerid`` in the JSON of ``/controller`` (the broker that is the controller), or None."""
    try:
        return int(json.loads(data)["brokerid"]) if data else None
    except (ValueError, TypeError, KeyError):
        return None


def _holds(pod, timestamp, tolerance_ms):
    """Could this pod's running broker container have written a registration made at ``timestamp``?"""
    if not pod.get("running"):
        return False
    started = pod.get("started_at")
    return timestamp is None or started is None or started <= timestamp + tolerance_ms


def _hex(session):
    return "0x%x" % session if isinstance(session, int) else str(session)


def session_proof(owner, sessions, servers):
    """Does ZooKeeper show that no live client holds session ``owner``? (pure)

    ``sessions``: server name -> set of session ids its ``cons`` lists, or an error text when it did not
    answer. ``servers``: the ensemble size of the plan. Returns ``(proven, why)``.
    """
    if not isinstance(owner, int) or owner <= 0:
        return False, "the node is not ephemeral (ephemeralOwner %s): not a broker's registration" % _hex(owner)
    if sessions is None:
        return False, "the ZooKeeper servers were not asked for their connections"
    failed = sorted(name for name, listed in sessions.items() if not isinstance(listed, (set, frozenset)))
    if failed:
        return False, "%s did not answer cons (%s), so a live client could still hold session %s" % (
            ", ".join(failed), "; ".join(str(sessions[n]) for n in failed), _hex(owner))
    if servers and len(sessions) < servers:
        return False, "only %d of the %d ZooKeeper servers answered cons" % (len(sessions), servers)
    holders = sorted(name for name, listed in sessions.items() if owner in listed)
    if holders:
        return False, "session %s is still connected to %s: its client is alive (stopped, or slow), so the " \
                      "node is waited out until the session expires" % (_hex(owner), ", ".join(holders))
    return True, "no ZooKeeper server lists session %s" % _hex(owner)


def _expected_endpoint_sets(broker_id, advertised, live):
    """The endpoint lists that prove a registration is broker ``broker_id``'s (compared in any order): the
    plan's, and the one its current pods declare (a pod that still runs the previous spec of a rolling
    change)."""
    lists = []
    plan = split_listeners((advertised or {}).get(broker_id))
    if plan:
        lists.append(plan)
    for pod in live:
        declared = split_listeners(pod.get("advertised_listeners"))
        if declared and sorted(declared) not in [sorted(known) for known in lists]:
            lists.append(declared)
    return lists


def _is_starting(pod, now_ms):
    """A running container that has not passed its startup probe yet, within the probe's budget."""
    if not pod.get("running") or pod.get("started") is not False or not pod.get("startup_budget_ms"):
        return False
    started = pod.get("started_at")
    return now_ms is None or started is None or now_ms - started < pod["startup_budget_ms"]


def decide(expected_ids, registrations, pods, now_ms=None, startup_grace_ms=0, tolerance_ms=STALE_TOLERANCE_MS,
           stats=None, advertised=None, sessions=None, zookeeper_servers=None):
    """Compare the expected brokers with their registrations and pods (pure).

    ``registrations`` maps broker id -> the JSON of ``/brokers/ids/<id>``; ``stats`` broker id -> its node's
    stat (``version``, ``ephemeral_owner``, ``ctime``). ``pods`` maps broker id -> list of
    ``k8s_pods.pod_facts()`` dicts of the ``broker`` container. ``advertised`` maps broker id -> the
    listeners the plan advertises for it. ``sessions`` (optional): every ZooKeeper server's ``cons``
    answer (see ``session_proof``); ``zookeeper_servers``: the ensemble size of the plan.

    Returns a dict of sorted lists:
    ``expected``, ``registered`` (every id in ZooKeeper), ``joined`` (registration proven the broker's own),
    ``missing`` (no registration), ``unexpected`` (registered, not expected), ``foreign``
    (``{broker_id, endpoints, expected, session}``: the endpoints are not the broker's), ``unparsable``
    (``{broker_id, data}``), ``stale`` (the broker's endpoints, but no running container of its pods can have
    written it), ``to_unregister`` (``{broker_id, path, version, ephemeral_owner, reason}``: stale and proven
    dead by Kubernetes and by ZooKeeper), ``needs_sessions`` (stale ids whose removal waits only for the
    ``cons`` answers), ``to_delete`` (``{broker_id, pod, uid, reason}``), ``waiting`` (``{broker_id, pod,
    reason, kind}``: not joined yet, but deleting its pod now would not help) and ``blocked`` (``{broker_id,
    pod, reason}``: not healable by deleting a pod).
    """
    stats = stats or {}
    expected = sorted(set(int(i) for i in expected_ids))
    registered = sorted(set(int(i) for i in registrations))
    advertised = dict((int(k), v) for k, v in (advertised or {}).items())
    result = {
        "expected": expected,
        "registered": registered,
        "joined": [],
        "missing": [],
        "unexpected": sorted(set(registered) - set(expected)),
        "foreign": [],
        "unparsable": [],
        "stale": [],
        "stale_reasons": {},
        "to_unregister": [],
        "needs_sessions": [],
        "to_delete": [],
        "waiting": [],
        "blocked": [],
    }
    for broker_id in expected:
        registration = registrations.get(broker_id)
        stat = stats.get(broker_id) or {}
        plist = list(pods.get(broker_id) or [])
        live = [p for p in plist if not p.get("deleting") and p.get("phase") not in DEAD_PHASES]
        leaving = [p for p in plist if p.get("deleting")]
        stale = False
        if registration is not None:
            endpoints = registration_endpoints(registration)
            owner = stat.get("ephemeral_owner")
            if endpoints is None:
                result["unparsable"].append({"broker_id": broker_id, "session": _hex(owner),
                                             "data": str(registration.get("unparsed", registration))[:200]})
                continue
            wanted = _expected_endpoint_sets(broker_id, advertised, live)
            if sorted(endpoints) not in [sorted(w) for w in wanted]:
                result["foreign"].append({
                    "broker_id": broker_id, "endpoints": endpoints, "session": _hex(owner),
                    "expected": [",".join(w) for w in wanted] or ["(no advertised listeners known)"]})
                continue
            timestamp = registration_timestamp(registration, stat)
            if any(_holds(p, timestamp, tolerance_ms) for p in live):
                result["joined"].append(broker_id)
                continue
            holders = [p for p in leaving if _holds(p, timestamp, tolerance_ms)]
            if holders:
                result["waiting"].append({
                    "broker_id": broker_id, "pod": (live or holders)[0].get("name"), "kind": "leaving",
                    "reason": "its registration is held by pod %s, which is being deleted; waiting for it to go"
                              % ", ".join(p.get("name") or "?" for p in holders)})
                continue
            stale = True
            result["stale"].append(broker_id)
            if leaving:
                # A pod being deleted may still run the process that wrote it (its clock or status may lag).
                result["stale_reasons"][broker_id] = ("pod %s is still being deleted, so the writer may be alive"
                                                      % leaving[0].get("name"))
            elif live and any(p.get("phase") not in ("Running", "Pending") for p in live):
                result["stale_reasons"][broker_id] = "a pod of the broker is in an unknown state (is its node lost?)"
            else:
                proven, why = session_proof(owner, sessions, zookeeper_servers)
                result["stale_reasons"][broker_id] = why
                if proven:
                    result["to_unregister"].append({
                        "broker_id": broker_id, "path": "%s/%d" % (BROKER_IDS_PATH, broker_id),
                        "version": stat.get("version"), "ephemeral_owner": owner,
                        "reason": "registration made before every running container of broker %d and no pod "
                                  "that could have written it remains; %s" % (broker_id, why)})
                    continue
                if sessions is None and isinstance(owner, int) and owner > 0:
                    result["needs_sessions"].append(broker_id)
        else:
            result["missing"].append(broker_id)
        what = "its registration is stale" if stale else "it is not registered"
        if not live:
            if leaving:
                result["waiting"].append({
                    "broker_id": broker_id, "pod": leaving[0].get("name"), "kind": "leaving",
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
            if pod.get("container_found") is False:
                result["blocked"].append({
                    "broker_id": broker_id, "pod": pod.get("name"),
                    "reason": "%s; pod %s has no container named %s" % (
                        what, pod.get("name"), pod.get("container"))})
                continue
            if _is_starting(pod, now_ms):
                result["waiting"].append({
                    "broker_id": broker_id, "pod": pod.get("name"), "kind": "starting",
                    "until_ms": (started or 0) + pod["startup_budget_ms"],
                    "reason": "%s; its container is running and has not passed its startup probe yet (loading "
                              "its logs, or connecting to ZooKeeper): waiting up to the probe's %ds budget"
                              % (what, pod["startup_budget_ms"] // 1000)})
                continue
            if (pod.get("running") and startup_grace_ms and now_ms is not None and started is not None
                    and now_ms - started < startup_grace_ms):
                result["waiting"].append({
                    "broker_id": broker_id, "pod": pod.get("name"), "kind": "grace",
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
                    "broker_id": broker_id, "pod": pod.get("name"), "kind": "pending",
                    "reason": "%s; pod %s is Pending (%s)"
                              % (what, pod.get("name"), pod.get("waiting_reason") or "being created")})
        else:
            result["blocked"].append({
                "broker_id": broker_id, "pod": pod.get("name"),
                "reason": "%s; pod %s is in phase %s (is its node lost?)" % (what, pod.get("name"), phase)})
    result["all_joined"] = result["joined"] == expected
    return result


def describe_foreign(item):
    """A sentence for a registration that is not the broker's own."""
    return ("broker %d: /brokers/ids/%d is held by a registration that is not broker %d's: endpoints %s, "
            "expected %s (ZooKeeper session %s). Nothing was deleted for it: find the client that holds that "
            "session (the ZooKeeper servers' cons lists it) and stop it, or fix the broker's advertised listeners"
            % (item["broker_id"], item["broker_id"], item["broker_id"], ",".join(item["endpoints"]) or "none",
               " or ".join(item["expected"]), item["session"]))


def describe_unparsable(item):
    return ("broker %d: /brokers/ids/%d holds data that is not a Kafka broker registration (%r, session %s). "
            "Nothing was deleted for it: find the client that wrote it and remove it yourself"
            % (item["broker_id"], item["broker_id"], item["data"], item["session"]))


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

    ``zk``: ZooKeeper access (``servers``, ``sessions``, ``list_and_get``, ``get_many``, ``get``, ``delete``);
    ``pod_api``: ``list_pods`` and ``delete_pod``; ``clock`` (monotonic seconds), ``sleep`` and ``wall``
    (epoch seconds) are injected.
    """

    def __init__(self, zk, pod_api, namespace, expected_ids, selector, id_label, heal=False, wait=False,
                 check_mode=False, max_attempts=3, register_timeout=300, wait_sleep=5,
                 remove_stale_registration=True, startup_grace_ms=STARTUP_GRACE_MS, advertised=None,
                 container="broker", zookeeper_servers=None, clock=time.monotonic, sleep=time.sleep,
                 wall=time.time):
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
        self.advertised = dict((int(k), v) for k, v in (advertised or {}).items())
        self.container = container
        self.zookeeper_servers = zookeeper_servers
        self.clock = clock
        self.sleep = sleep
        self.wall = wall
        self.changed = False
        self.deleted_pods = []
        self.deleted_at = {}
        self.removed_registrations = []
        self.unregister_attempts = {}
        self.kept = []
        self.attempts = {}
        self.notes = []
        self.quorum = None
        self.controller = None

    # ------------------------------------------------------------------ observation

    def now_ms(self):
        return int(self.wall() * 1000)

    def _retrying(self, call, deadline, doing):
        """``call()``; within a wait (``deadline``, a ``clock()`` value), a transient Kubernetes API error is
        retried until the deadline (``PodApi.retry_transient``: reads only) and one that lasts says what was
        being done. Without a deadline it is called once, its errors unchanged."""
        if deadline is None:
            return call()
        try:
            return PodApi.retry_transient(call, deadline, clock=self.clock, sleep=self.sleep)
        except PodApiError as exc:
            raise PodApiError("%s: %s" % (doing, exc), transient=exc.transient)

    def check_quorum(self, deadline=None):
        try:
            answers = self._retrying(self.zk.servers, deadline, "asking ZooKeeper for its state")
        except ZooKeeperError as exc:
            raise QuorumError("cannot ask ZooKeeper for its state: %s. Nothing was deleted." % exc)
        state = quorum_state(answers, self.zookeeper_servers or max(len(answers), 1))
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
                self._note("ignored %s/%s: not a broker id" % (BROKER_IDS_PATH, child))
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

    def _note(self, note):
        if note not in self.notes:
            self.notes.append(note)

    def read_pods(self):
        by_id, unlabelled = group_pods(self.pod_api.list_pods(self.namespace, self.selector), self.id_label,
                                       self.container)
        for name in unlabelled:
            self._note("pod %s matches %s but has no integer label %s" % (name, self.selector, self.id_label))
        return by_id

    def read_sessions(self):
        """Every ZooKeeper server's connected sessions (``cons``); a server that fails is named, not fatal."""
        try:
            return self.zk.sessions()
        except ZooKeeperError as exc:
            return {"ZooKeeper": "cons: %s" % exc}

    def _decide(self, registrations, stats, pods, grace=True, sessions=None):
        return decide(self.expected_ids, registrations, pods, now_ms=self.now_ms(),
                      startup_grace_ms=self.startup_grace_ms if grace else 0, stats=stats,
                      advertised=self.advertised, sessions=sessions, zookeeper_servers=self.zookeeper_servers)

    def observe(self, grace=True):
        registrations, stats = self.read_registrations()
        pods = self.read_pods()
        decision = self._decide(registrations, stats, pods, grace)
        sessions = None
        if decision["needs_sessions"] and self.remove_stale_registration:
            # Asked only when a stale registration is otherwise proven dead: one exec per server.
            sessions = self.read_sessions()
            decision = self._decide(registrations, stats, pods, grace, sessions)
        return {"registrations": registrations, "stats": stats, "pods": pods, "decision": decision,
                "sessions": sessions}

    def _observe_until(self, deadline):
        """``observe()`` within a wait: a transient Kubernetes API error is retried until ``deadline``."""
        return self._retrying(self.observe, deadline, "waiting for the brokers to join (reading their "
                                                      "registrations and pods)")

    # ------------------------------------------------------------------ heal

    def unregister(self, item):
        """Delete one proven-stale registration by version, after reading it once more."""
        broker_id, path = item["broker_id"], item["path"]
        registration, stat = self.read_registration(broker_id)
        if (registration is None or stat.get("ephemeral_owner") != item["ephemeral_owner"]
                or stat.get("version") != item["version"]):
            self._note("broker %d: its registration changed before it was removed; kept" % broker_id)
            return
        try:
            self.zk.delete(path, item["version"])
        except (NoNodeError, BadVersionError):
            return
        self.changed = True
        self.removed_registrations.append({
            "broker_id": broker_id, "path": path, "version": item["version"],
            "ephemeral_owner": _hex(item["ephemeral_owner"]), "reason": item["reason"]})

    def still_deletable(self, item):
        """Read the broker's registration and pods once more right before deleting its pod: a broker that
        registered meanwhile keeps its pod. Returns the current to_delete item, or None."""
        broker_id = item["broker_id"]
        registration, stat = self.read_registration(broker_id)
        pods = self.read_pods()
        one = decide([broker_id], {broker_id: registration} if registration is not None else {},
                     {broker_id: pods.get(broker_id, [])}, now_ms=self.now_ms(),
                     startup_grace_ms=self.startup_grace_ms, stats={broker_id: stat or {}},
                     advertised=self.advertised, zookeeper_servers=self.zookeeper_servers)
        for fresh in one["to_delete"]:
            if fresh["uid"] == item["uid"]:
                return fresh
        self.kept.append({"broker_id": broker_id, "pod": item["pod"],
                          "reason": "re-read before deletion: %s" % (
                              "registered meanwhile" if broker_id in one["joined"] else "its state changed")})
        return None

    def _wait_gone(self, broker_id, uid, deadline):
        while True:
            pods = self._retrying(self.read_pods, deadline, "waiting for the deleted pod of broker %d to be gone"
                                  % broker_id).get(broker_id, [])
            leftover = [p for p in pods if p.get("uid") == uid]
            if not leftover:
                return None
            if self.clock() >= deadline:
                return ("pod %s was deleted but is still terminating after %ss (is its node unreachable? it is "
                        "not force-deleted)" % (describe_pod(leftover[0]), self.register_timeout))
            self.sleep(self.wait_sleep)

    def delete_one(self, item, failures, deadline=None):
        broker_id = item["broker_id"]
        item = self._retrying(lambda: self.still_deletable(item), deadline,
                              "re-reading broker %d before deleting its pod" % broker_id)
        if item is None:
            return
        self.check_quorum(deadline)
        self.attempts[broker_id] = self.attempts.get(broker_id, 0) + 1
        try:
            deleted = self.pod_api.delete_pod(self.namespace, item["pod"], item["uid"])
        except PodChanged as exc:
            failures[broker_id] = str(exc)
            return
        if deleted:
            self.changed = True
            self.deleted_pods.append({"broker_id": broker_id, "pod": item["pod"], "uid": item["uid"]})
        self.deleted_at[broker_id] = self.clock()
        why = self._wait_gone(broker_id, item["uid"], self.clock() + self.register_timeout)
        if why:
            failures[broker_id] = why

    def _recently_deleted(self, decision):
        """A broker whose pod this run deleted less than register_timeout ago is waited for, not deleted
        again: its replacement may still be waiting for the old session to expire."""
        now = self.clock()
        keep = []
        for item in decision["to_delete"]:
            since = self.deleted_at.get(item["broker_id"])
            if since is not None and now - since < self.register_timeout:
                decision["waiting"].append(dict(item, kind="deleted", reason="%s; its pod was deleted %ds ago, "
                                                "waiting for the replacement to register" % (
                                                    item["reason"], now - since)))
            else:
                keep.append(item)
        decision["to_delete"] = keep
        return decision

    def _give_up(self, item, snapshot, failures):
        broker_id = item["broker_id"]
        pods = snapshot["pods"].get(broker_id, [])
        detail = failures.get(broker_id)
        if broker_id in snapshot["decision"]["stale"]:
            detail = "its old registration is still there (%s)" % snapshot["decision"]["stale_reasons"].get(
                broker_id, "session not expired")
        raise HealError(
            "Broker %d did not join the cluster after %d pod deletion(s); giving up. Last attempt: %s; now: %s. "
            "Check its log (kubectl -n %s logs %s, and --previous after a restart) for NodeExists, "
            "InconsistentBrokerIdException or ZooKeeper connection errors."
            % (broker_id, self.attempts.get(broker_id, 0),
               detail or "it did not register within %ss after its pod was deleted" % self.register_timeout,
               "; ".join(describe_pod(p) for p in pods) or "no pod", self.namespace, item["pod"]),
            self.result(snapshot, would_delete=[]))

    def run(self):
        self.check_quorum()
        snapshot = self.observe()
        decision = snapshot["decision"]
        if self.check_mode or not (self.heal or self.wait):
            return self.result(snapshot, would_delete=[dict(i) for i in decision["to_delete"]])
        failures = {}
        deadline = self.clock() + self.register_timeout
        while not decision["all_joined"]:
            unregister = [i for i in decision["to_unregister"]
                          if self.unregister_attempts.get(i["broker_id"], 0) < self.max_attempts]
            if self.heal and unregister and self.remove_stale_registration:
                self.check_quorum(deadline)
                for item in unregister:
                    self.unregister_attempts[item["broker_id"]] = self.unregister_attempts.get(item["broker_id"], 0) + 1
                    self.unregister(item)
                deadline = max(deadline, self.clock() + self.register_timeout)
                snapshot = self._observe_until(deadline)
                decision = snapshot["decision"]
                continue
            if self.heal:
                decision = self._recently_deleted(decision)
            if decision["to_delete"] and self.heal:
                item = decision["to_delete"][0]
                if self.attempts.get(item["broker_id"], 0) >= self.max_attempts:
                    self._give_up(item, snapshot, failures)
                self.delete_one(item, failures, deadline)
                deadline = max(deadline, self.clock() + self.register_timeout)
                snapshot = self._observe_until(deadline)
                decision = snapshot["decision"]
                continue
            starting = [w.get("until_ms") for w in decision["waiting"] if w.get("kind") == "starting"]
            until = deadline
            if starting:
                until = max(until, self.clock() + (max(starting) - self.now_ms()) / 1000.0)
            if decision["waiting"] and self.clock() < until:
                self.sleep(self.wait_sleep)
                snapshot = self._observe_until(until)
                decision = snapshot["decision"]
                continue
            break
        if self.heal:
            decision = self._recently_deleted(decision)
            snapshot["decision"] = decision
            for item in decision["waiting"]:
                if item.get("kind") == "deleted" and self.attempts.get(item["broker_id"], 0) >= self.max_attempts:
                    self._give_up(item, snapshot, failures)
        return self.result(snapshot, would_delete=[] if self.heal else [dict(i) for i in decision["to_delete"]],
                           failures=failures)

    def result(self, snapshot, would_delete, failures=None):
        decision = snapshot["decision"]
        msgs = []
        for item in decision["foreign"]:
            msgs.append(describe_foreign(item))
        for item in decision["unparsable"]:
            msgs.append(describe_unparsable(item))
        for item in decision["blocked"]:
            msgs.append("broker %d is not healable by deleting a pod: %s" % (item["broker_id"], item["reason"]))
        for item in decision["waiting"]:
            msgs.append("broker %d: %s" % (item["broker_id"], item["reason"]))
        for broker_id in decision["stale"]:
            if broker_id not in [i["broker_id"] for i in decision["to_unregister"]]:
                msgs.append("broker %d: its registration is stale and is not removed now: %s" % (
                    broker_id, decision["stale_reasons"].get(broker_id, "unknown")))
        if would_delete:
            verb = "would delete" if self.heal else "heal=true would delete"
            for item in would_delete:
                msgs.append("%s pod %s of broker %d (%s)" % (verb, item["pod"], item["broker_id"], item["reason"]))
        if self.check_mode or not (self.heal or self.wait):
            for item in decision["to_unregister"]:
                msgs.append("%s stale registration %s of broker %d (%s)" % (
                    "would remove" if self.heal else "heal=true would remove", item["path"], item["broker_id"],
                    item["reason"]))
        for item in self.removed_registrations:
            msgs.append("removed the stale registration %s of broker %d (%s)" % (
                item["path"], item["broker_id"], item["reason"]))
        for broker_id in sorted(failures or {}):
            if broker_id not in decision["joined"]:
                msgs.append(failures[broker_id])
        if decision["unexpected"]:
            msgs.append("registered but not expected: %s" % ", ".join(str(i) for i in decision["unexpected"]))
        msgs.extend(self.notes)
        if decision["all_joined"] and not msgs:
            msgs.append("all %d expected brokers are registered" % len(decision["expected"]))
        would_unregister = [] if (self.heal and not self.check_mode) else [
            dict(i, ephemeral_owner=_hex(i["ephemeral_owner"])) for i in decision["to_unregister"]]
        return {
            "changed": self.changed or (self.check_mode and self.heal and bool(would_delete or would_unregister)),
            "expected": decision["expected"],
            "registered": decision["registered"],
            "joined": decision["joined"],
            "missing": decision["missing"],
            "unexpected": decision["unexpected"],
            "foreign": decision["foreign"],
            "unparsable": decision["unparsable"],
            "stale": decision["stale"],
            "waiting": decision["waiting"],
            "blocked": decision["blocked"],
            "would_delete": would_delete,
            "would_unregister": would_unregister,
            "deleted_pods": list(self.deleted_pods),
            "kept_pods": list(self.kept),
            "removed_registrations": list(self.removed_registrations),
            "all_joined": decision["all_joined"],
            "attempts": dict((str(k), v) for k, v in sorted(self.attempts.items())),
            "quorum": self.quorum,
            "controller": self.controller,
            "msg": " ".join(m.rstrip(".") + "." for m in msgs),
        }
