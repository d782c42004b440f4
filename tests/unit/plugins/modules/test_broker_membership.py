"""broker_membership end to end against a simulated cluster: fake pod API + fake ZooKeeper on a fake clock.

The simulation follows the measured behaviour (docs: zookeeper-heal-facts): a deleted pod goes after its grace
period and a replacement starts; a broker that exits cleanly removes its registration; a dead session's node
stays until it expires; a broker cannot register while a stale node holds its id (NodeExists) and retries.
Each server's ``cons`` lists the sessions of connected clients: a killed client is listed nowhere while its
node lingers, a stopped one stays listed until its session expires (measured with ZooKeeper 3.9.3)."""
import json

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import PodApiError, PodChanged
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import get_each, list_and_get_each
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import (
    BadVersionError,
    NoNodeError,
    parse_srvr,
)
from ansible_collections.kafka_eks.cluster.plugins.modules import broker_membership

WALL0 = 1795590000.0
LABEL = "kafka-eks.cluster/broker-id"


def endpoints(broker_id):
    return ["PLAINTEXT://kafka-service-%d:9092" % broker_id, "INTERNAL://kafka-service-%d:9093" % broker_id]


ADVERTISED = dict((str(i), ",".join(endpoints(i))) for i in range(8))


def iso(seconds):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class World:
    def __init__(self, brokers=4, grace=10, session_timeout=18, start_delay=5, register_delay=8):
        self.t = 0.0
        self.grace, self.session_timeout = grace, session_timeout
        self.start_delay, self.register_delay = start_delay, register_delay
        self.timers = []
        self.pods = {}  # name -> pod json
        self.nodes = {}  # broker id -> {"data", "version", "owner", "expires"}
        self.pod_sessions = {}  # pod name -> session id of its live broker process
        self.behaviour = {}  # broker id -> "register" or "never" (for replacement pods)
        self.seq = 0
        self.pod_deletes = []
        self.zk_deletes = []
        self.zk_batches = []
        self.zk_modes = ["follower", "leader", "follower"]
        self.controller = 1  # broker id in /controller, None: no such node
        self.connected = set()  # sessions some server's cons lists
        self.cons_errors = {}  # server -> error text instead of an answer
        self.cons_calls = 0
        self.in_batch = False
        self.before_single_get = None  # called once on the next get outside a batch (a race in the test)
        self.topics = {}  # topic -> {partition: [replicas]}
        self.min_isr = {}  # topic -> min.insync.replicas override (/config/topics)
        self.isr = {}  # (topic, partition) -> [in-sync replicas]
        for i in range(brokers):
            name = self.new_pod(i, started=-600)
            self.register(i, name)

    # clock
    def clock(self):
        return self.t

    def wall(self):
        return WALL0 + self.t

    def sleep(self, seconds):
        target = self.t + seconds
        while True:
            due = sorted((t, n, f) for t, n, f in self.timers if t <= target)
            if not due:
                break
            when, n, func = due[0]
            self.timers = [x for x in self.timers if x[1] != n]
            self.t = max(self.t, when)
            func()
        self.t = target

    def at(self, delay, func):
        self.seq += 1
        self.timers.append((self.t + delay, self.seq, func))

    # pods
    def new_pod(self, broker_id, started=None, phase="Running", unschedulable=None):
        self.seq += 1
        name = "kafka-broker-%d-%05d" % (broker_id, self.seq)
        status = {"phase": phase, "conditions": []}
        if unschedulable:
            status["conditions"].append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                         "message": unschedulable})
        if started is not None:
            status["containerStatuses"] = [{"name": "broker", "ready": True, "restartCount": 0,
                                            "state": {"running": {"startedAt": iso(self.wall() + started)}}}]
        self.pods[name] = {
            "metadata": {"name": name, "uid": "uid-%d" % self.seq, "creationTimestamp": iso(self.wall()),
                         "labels": {LABEL: str(broker_id), "app.kubernetes.io/component": "broker"}},
            "spec": {"containers": [{"name": "broker", "env": [
                {"name": "KAFKA_BROKER_ID", "value": str(broker_id)},
                {"name": "KAFKA_ADVERTISED_LISTENERS", "value": ",".join(endpoints(broker_id))}]}]},
            "status": status,
        }
        return name

    def start_container(self, name):
        pod = self.pods.get(name)
        if pod is None:
            return
        pod["status"]["phase"] = "Running"
        pod["status"]["containerStatuses"] = [{"name": "broker", "ready": True, "restartCount": 0,
                                               "state": {"running": {"startedAt": iso(self.wall())}}}]
        broker_id = int(pod["metadata"]["labels"][LABEL])
        if self.behaviour.get(broker_id, "register") == "register":
            self.at(self.register_delay, lambda: self.try_register(broker_id, name))

    def try_register(self, broker_id, name):
        if name not in self.pods or self.pods[name]["metadata"].get("deletionTimestamp"):
            return
        if broker_id in self.nodes:  # NodeExists: the broker exits and its container restarts
            self.at(10, lambda: self.try_register(broker_id, name))
            return
        self.register(broker_id, name)

    def register(self, broker_id, name, at=None):
        self.seq += 1
        session = 0x100000000 + self.seq
        self.pod_sessions[name] = session
        self.connected.add(session)
        stamp = int((self.wall() if at is None else WALL0 + at) * 1000)
        self.nodes[broker_id] = {"data": json.dumps({"endpoints": endpoints(broker_id),
                                                     "timestamp": str(stamp), "version": 5}),
                                 "version": 0, "owner": session}

    def stale(self, broker_id, registered_at, expires_in, connected=False, data=None):
        """The broker's node belongs to the session of an earlier process and expires later: a killed one
        (not connected: cons lists it nowhere) or a stopped one (connected until the session expires)."""
        self.seq += 1
        owner = 0x200000000 + self.seq
        self.nodes[broker_id] = {"data": data or json.dumps({"endpoints": endpoints(broker_id),
                                                             "timestamp": str(int((WALL0 + registered_at) * 1000))}),
                                 "version": 0, "owner": owner}
        if connected:
            self.connected.add(owner)
        self.at(expires_in, lambda: self.expire(broker_id, owner))
        return owner

    def expire(self, broker_id, owner):
        self.connected.discard(owner)
        if broker_id in self.nodes and self.nodes[broker_id]["owner"] == owner:
            del self.nodes[broker_id]

    # the pod API the module sees
    def list_pods(self, namespace, selector):
        assert namespace == "kafka" and "component=broker" in selector
        return [json.loads(json.dumps(p)) for p in self.pods.values()]

    def delete_pod(self, namespace, name, uid):
        self.pod_deletes.append((name, uid))
        pod = self.pods.get(name)
        if pod is None:
            return False
        if pod["metadata"]["uid"] != uid:
            raise PodChanged("pod %s/%s no longer has uid %s" % (namespace, name, uid))
        pod["metadata"]["deletionTimestamp"] = iso(self.wall())
        broker_id = int(pod["metadata"]["labels"][LABEL])
        self.at(self.grace, lambda: self.remove(name, broker_id))
        return True

    def remove(self, name, broker_id):
        del self.pods[name]
        session = self.pod_sessions.pop(name, None)
        node = self.nodes.get(broker_id)
        if node and session and node["owner"] == session:
            del self.nodes[broker_id]  # controlled shutdown closes the session
        new = self.new_pod(broker_id, phase="Pending")
        self.at(self.start_delay, lambda: self.start_container(new))

    # the ZooKeeper access the module sees
    def servers(self):
        not_serving = "This ZooKeeper instance is not currently serving requests"
        return dict(("zookeeper-%d" % i, parse_srvr("Mode: %s\n" % m if m else not_serving))
                    for i, m in enumerate(self.zk_modes))

    def sessions(self):
        self.cons_calls += 1
        return dict(("zookeeper-%d" % i, self.cons_errors.get("zookeeper-%d" % i, set(self.connected)))
                    for i in range(len(self.zk_modes)))

    def get_children(self, path):
        if path == "/brokers/topics":
            return sorted(self.topics)
        assert path == "/brokers/ids"
        return sorted(str(i) for i in self.nodes)

    def get(self, path):
        if not self.in_batch and self.before_single_get is not None:
            hook, self.before_single_get = self.before_single_get, None
            hook()
        if path.startswith("/config/topics/"):
            topic = path.rsplit("/", 1)[1]
            if topic not in self.min_isr:
                raise NoNodeError("no znode %s" % path)
            return json.dumps({"version": 1, "config": {"min.insync.replicas": str(self.min_isr[topic])}}), {}
        if path.startswith("/brokers/topics/"):
            parts = path.split("/")  # ['', 'brokers', 'topics', topic, 'partitions', n, 'state']
            topic = parts[3]
            if topic not in self.topics:
                raise NoNodeError("no znode %s" % path)
            if len(parts) == 4:
                return json.dumps({"version": 3, "partitions": dict(
                    (str(p), r) for p, r in self.topics[topic].items())}), {"version": 0}
            isr = self.isr[(topic, int(parts[5]))]
            return json.dumps({"controller_epoch": 1, "leader": isr[0] if isr else -1, "version": 1,
                               "leader_epoch": 3, "isr": isr}), {"version": 2}
        if path == "/controller":
            if self.controller is None:
                raise NoNodeError("no znode %s" % path)
            return json.dumps({"version": 2, "brokerid": self.controller, "timestamp": "1"}), {"version": 0}
        broker_id = int(path.rsplit("/", 1)[1])
        if broker_id not in self.nodes:
            raise NoNodeError("no znode %s" % path)
        node = self.nodes[broker_id]
        return node["data"], {"version": node["version"], "ephemeral_owner": node["owner"], "ctime": None}

    def get_many(self, paths):
        self.zk_batches.append(list(paths))
        self.in_batch = True
        try:
            return get_each(self, paths)
        finally:
            self.in_batch = False

    def list_and_get(self, parent, paths):
        self.zk_batches.append([parent] + list(paths))
        self.in_batch = True
        try:
            return list_and_get_each(self, parent, paths)
        finally:
            self.in_batch = False

    def delete(self, path, version):
        broker_id = int(path.rsplit("/", 1)[1])
        self.zk_deletes.append((path, version))
        if broker_id not in self.nodes:
            raise NoNodeError(path)
        if self.nodes[broker_id]["version"] != version:
            raise BadVersionError(path)
        del self.nodes[broker_id]

    def close(self):
        pass

    def names(self, broker_id):
        return sorted(n for n, p in self.pods.items() if p["metadata"]["labels"][LABEL] == str(broker_id))


def run(make_module, world, check_mode=False, **args):
    params = {"expected_broker_ids": [0, 1, 2, 3], "advertised_listeners": ADVERTISED, "zookeeper_servers": 3}
    params.update(args)
    options = broker_membership.module_options()
    from conftest import ModuleExit
    with pytest.raises(ModuleExit) as info:
        module = make_module(options.pop("argument_spec"), params, check_mode=check_mode, **options)
        broker_membership.run_module(module, pod_api=world, zk=world, clock=world.clock, sleep=world.sleep,
                                     wall=world.wall)
    return info.value.result


def test_all_joined_reports_and_changes_nothing(make_module):
    world = World()
    result = run(make_module, world, heal=True)
    assert not result.get("failed") and result["changed"] is False
    # one batch for every registration: under exec access that is one zkCli run, whatever the broker count
    assert world.zk_batches == [["/brokers/ids"] + ["/brokers/ids/%d" % i for i in range(4)] + ["/controller"]]
    assert result["all_joined"] is True and result["registered"] == [0, 1, 2, 3]
    assert result["controller"] == 1
    assert result["deleted_pods"] == [] and world.pod_deletes == []
    assert result["quorum"]["leader"] == "zookeeper-1"
    assert result["msg"] == "all 4 expected brokers are registered."


def test_report_only_lists_the_missing_broker_and_deletes_nothing(make_module):
    world = World()
    del world.nodes[2]
    result = run(make_module, world)
    assert not result.get("failed") and result["changed"] is False
    assert result["missing"] == [2] and result["all_joined"] is False
    assert [d["pod"] for d in result["would_delete"]] == world.names(2)
    assert world.pod_deletes == [] and result["deleted_pods"] == []
    assert "heal=true would delete pod" in result["msg"]


def a_starting_broker(world, broker_id):
    """Broker broker_id's pod was just replaced (as a Deployment rollout does): Pending, then it starts and
    registers some seconds later."""
    old = world.names(broker_id)[0]
    del world.pods[old]
    del world.nodes[broker_id]
    new = world.new_pod(broker_id, phase="Pending")
    world.at(world.start_delay, lambda: world.start_container(new))
    return new


def test_wait_without_heal_waits_for_a_starting_broker_and_deletes_nothing(make_module):
    world = World()
    a_starting_broker(world, 3)
    result = run(make_module, world, wait=True)
    assert not result.get("failed") and result["changed"] is False
    assert result["all_joined"] is True and result["registered"] == [0, 1, 2, 3]
    assert world.pod_deletes == [] and result["would_delete"] == []
    assert world.t >= world.start_delay + world.register_delay


def test_without_wait_a_starting_broker_is_reported_at_once(make_module):
    world = World()
    a_starting_broker(world, 3)
    world.controller = None
    result = run(make_module, world)
    assert result["controller"] is None
    assert result["all_joined"] is False and world.t == 0
    assert [w["broker_id"] for w in result["waiting"]] == [3]


def test_wait_without_heal_does_not_wait_for_a_broker_only_a_heal_would_help(make_module):
    world = World()
    del world.nodes[2]  # its container runs since long ago: it will not register by itself
    result = run(make_module, world, wait=True)
    assert world.t == 0 and world.pod_deletes == []
    assert result["all_joined"] is False and [d["pod"] for d in result["would_delete"]] == world.names(2)
    assert "heal=true would delete pod" in result["msg"]


def test_heal_deletes_only_the_missing_brokers_pod(make_module):
    world = World()
    del world.nodes[2]
    old = world.names(2)[0]
    old_uid = world.pods[old]["metadata"]["uid"]
    result = run(make_module, world, heal=True)
    assert not result.get("failed"), result["msg"]
    assert world.pod_deletes == [(old, old_uid)]
    assert result["deleted_pods"] == [{"broker_id": 2, "pod": old, "uid": old_uid}]
    assert result["changed"] is True and result["all_joined"] is True
    assert result["missing"] == [] and result["attempts"] == {"2": 1}
    assert world.names(2) != [old]
    assert world.zk_deletes == []


def test_check_mode_deletes_nothing_and_says_what_it_would_delete(make_module):
    world = World()
    del world.nodes[1]
    result = run(make_module, world, check_mode=True, heal=True)
    assert world.pod_deletes == [] and result["deleted_pods"] == []
    assert [d["pod"] for d in result["would_delete"]] == world.names(1)
    assert result["changed"] is True and result["all_joined"] is False
    assert "would delete pod" in result["msg"]


def test_no_quorum_fails_and_deletes_nothing(make_module):
    world = World()
    del world.nodes[2]
    world.zk_modes = [None, "leader", None]
    result = run(make_module, world, heal=True)
    assert result["failed"] and world.pod_deletes == []
    assert "ZooKeeper has no quorum" in result["msg"] and "nothing was deleted" in result["msg"]
    assert "zookeeper-0=not serving" in result["msg"]
    assert result["changed"] is False


def test_gives_up_after_max_attempts_with_a_clear_message(make_module):
    world = World()
    del world.nodes[3]
    world.behaviour[3] = "never"
    result = run(make_module, world, heal=True, max_attempts=2, register_timeout=60)
    assert result["failed"]
    assert len(world.pod_deletes) == 2 and all(delete[0].startswith("kafka-broker-3-") for delete in world.pod_deletes)
    assert "Broker 3 did not join the cluster after 2 pod deletion(s); giving up" in result["msg"]
    assert "did not register within 60s" in result["msg"]
    assert "now: kafka-broker-3-" in result["msg"] and "(Running" in result["msg"]
    assert "kubectl -n kafka logs" in result["msg"]
    assert [d["broker_id"] for d in result["deleted_pods"]] == [3, 3]
    assert world.t < 2 * (60 + 30) + 60  # bounded


def test_stale_registration_of_a_stopped_client_is_waited_out_never_removed(make_module):
    world = World()
    name = world.names(1)[0]
    world.pod_sessions.pop(name)
    # older than the container (started 600 s ago), and its client is stopped, not dead: cons still lists it
    owner = world.stale(1, registered_at=-1200, expires_in=25, connected=True)
    result = run(make_module, world, heal=True)
    assert not result.get("failed"), result["msg"]
    assert [d["pod"] for d in result["deleted_pods"]] == [name]
    assert result["stale"] == [] and result["all_joined"] is True
    assert world.zk_deletes == [] and result["removed_registrations"] == []
    assert world.cons_calls >= 1 and owner not in world.connected


def test_stale_registration_of_a_dead_client_is_removed_at_once_by_version(make_module):
    world = World()
    name = world.names(1)[0]
    world.pod_sessions.pop(name)
    owner = world.stale(1, registered_at=-1200, expires_in=10000)  # killed: listed by no server
    result = run(make_module, world, heal=True, register_timeout=120)
    assert not result.get("failed"), result["msg"]
    assert world.zk_deletes == [("/brokers/ids/1", 0)]
    (removed,) = result["removed_registrations"]
    assert (removed["broker_id"], removed["path"], removed["version"], removed["ephemeral_owner"]) == (
        1, "/brokers/ids/1", 0, "0x%x" % owner)
    assert "no ZooKeeper server lists session 0x%x" % owner in removed["reason"]
    assert result["all_joined"] and result["changed"]
    assert world.t < 60  # pod grace + start + register, not the session timeout


def test_a_stale_registration_is_not_removed_when_a_server_does_not_answer_cons(make_module):
    world = World()
    world.pod_sessions.pop(world.names(1)[0])
    world.stale(1, registered_at=-1200, expires_in=10000)
    world.cons_errors["zookeeper-2"] = "cons: cons is not whitelisted"
    result = run(make_module, world, heal=True, max_attempts=1, register_timeout=60)
    assert result["failed"] and world.zk_deletes == []
    assert "its old registration is still there" in result["msg"]
    assert "zookeeper-2 did not answer cons" in result["msg"]


def test_without_removal_a_never_expiring_stale_node_makes_it_give_up(make_module):
    world = World()
    world.pod_sessions.pop(world.names(1)[0])
    world.stale(1, registered_at=-1200, expires_in=10000)
    result = run(make_module, world, heal=True, max_attempts=1, register_timeout=60, remove_stale_registration=False)
    assert result["failed"] and world.zk_deletes == [] and world.cons_calls == 0
    assert "its old registration is still there" in result["msg"]


def test_a_foreign_registration_is_reported_with_both_endpoints_and_nothing_is_deleted(make_module):
    world = World()
    world.pod_sessions.pop(world.names(3)[0])
    world.stale(3, registered_at=0, expires_in=10000, connected=True,
                data=json.dumps({"endpoints": ["PLAINTEXT://imposter:1"], "timestamp": str(int(WALL0 * 1000))}))
    result = run(make_module, world, heal=True)
    assert not result.get("failed") and result["all_joined"] is False and result["joined"] == [0, 1, 2]
    assert world.pod_deletes == [] and world.zk_deletes == [] and result["changed"] is False
    assert result["foreign"][0]["endpoints"] == ["PLAINTEXT://imposter:1"]
    assert "PLAINTEXT://imposter:1" in result["msg"] and "PLAINTEXT://kafka-service-3:9092" in result["msg"]
    assert "Nothing was deleted for it" in result["msg"]


def test_a_broker_that_registers_right_before_its_pod_would_be_deleted_keeps_it(make_module):
    world = World()
    del world.nodes[2]
    name = world.names(2)[0]
    world.before_single_get = lambda: world.register(2, name)  # it registers between decision and delete
    result = run(make_module, world, heal=True)
    assert not result.get("failed") and result["all_joined"]
    assert world.pod_deletes == [] and result["deleted_pods"] == []
    assert result["kept_pods"] == [{"broker_id": 2, "pod": name, "reason": "re-read before deletion: registered meanwhile"}]


def test_the_quorum_is_counted_against_the_ensemble_of_the_plan(make_module):
    world = World()
    del world.nodes[2]
    world.zk_modes = ["follower", "leader"]  # two servers answer; the plan has five
    result = run(make_module, world, heal=True, zookeeper_servers=5)
    assert result["failed"] and "ZooKeeper has no quorum" in result["msg"] and world.pod_deletes == []
    assert not run(make_module, World(), heal=True, zookeeper_servers=3).get("failed")


def test_pending_unschedulable_pod_is_reported_not_deleted(make_module):
    world = World()
    old = world.names(3)[0]
    del world.pods[old]
    del world.nodes[3]
    world.new_pod(3, phase="Pending", unschedulable="0/3 nodes are available: 3 Insufficient cpu.")
    result = run(make_module, world, heal=True)
    assert not result.get("failed") and world.pod_deletes == []
    assert result["all_joined"] is False and result["missing"] == [3]
    assert result["blocked"][0]["broker_id"] == 3
    assert "not healable by deleting a pod" in result["msg"] and "Insufficient cpu" in result["msg"]


def test_two_missing_brokers_are_healed_one_at_a_time(make_module):
    world = World()
    del world.nodes[0], world.nodes[2]
    result = run(make_module, world, heal=True)
    assert not result.get("failed"), result["msg"]
    assert [d["broker_id"] for d in result["deleted_pods"]] == [0, 2]
    assert result["all_joined"]


def test_unexpected_registration_is_reported(make_module):
    world = World(brokers=5)
    result = run(make_module, world)
    assert result["unexpected"] == [4] and result["all_joined"]
    assert "registered but not expected: 4" in result["msg"]


def test_direct_access_needs_hosts(make_module):
    world = World()
    result = run(make_module, world, zookeeper_access="direct")
    assert result["failed"] and "zookeeper_access is direct but all of the following are missing: " \
        "zookeeper_hosts" in result["msg"]
    assert world.pod_deletes == [] and world.zk_deletes == []


def a_topic(world, topic="orders", partitions=3, rf=3):
    for p in range(partitions):
        replicas = [(p + i) % 4 for i in range(rf)]
        world.topics.setdefault(topic, {})[p] = replicas
        world.isr[(topic, p)] = list(replicas)


def test_wait_restartable_waits_until_restarting_the_broker_keeps_min_isr(make_module):
    world = World()
    a_topic(world)  # orders-0 [0,1,2], orders-1 [1,2,3], orders-2 [2,3,0]
    world.isr[("orders", 1)] = [1, 2]  # broker 3 (restarted before) is behind; broker 2 is at min ISR there

    def caught_up():
        world.isr[("orders", 1)].append(3)
    world.at(12, caught_up)
    result = run(make_module, world, wait=True, wait_restartable=2, default_min_insync_replicas=2, wait_sleep=2)
    assert not result.get("failed") and result["changed"] is False
    assert result["restartable"]["broker_id"] == 2 and result["restartable"]["partitions"] == 3
    assert result["restartable"]["waited_for"] == [
        {"topic": "orders", "partition": 1, "why": "in sync 2 = min ISR 2 with broker 2 among them"}]
    assert 12 <= world.t <= 14 and world.pod_deletes == []
    # the assignments and topic configs are read once (one batch), then only the partitions' state nodes
    assert world.zk_batches.count(["/brokers/topics/orders", "/config/topics/orders"]) == 1
    assert "may restart after" in result["restartable"]["summary"] and "orders-1" in result["restartable"]["summary"]


def test_an_unrelated_stuck_partition_does_not_block_the_restart(make_module):
    world = World()
    world.topics = {"stuck": {0: [0, 1, 3]}, "rf1": {0: [2]}, "rf2": {0: [1, 2]}}
    world.isr = {("stuck", 0): [0], ("rf1", 0): [2], ("rf2", 0): [1, 2]}
    result = run(make_module, world, wait=True, wait_restartable=2, default_min_insync_replicas=2)
    assert not result.get("failed") and world.t == 0 and result["restartable"]["waited_for"] == []


def test_wait_restartable_fails_naming_the_partitions_and_the_option(make_module):
    world = World()
    a_topic(world, partitions=1, rf=4)
    world.min_isr["orders"] = 3  # the topic's own min ISR wins over the default 2
    world.isr[("orders", 0)] = [0, 1, 2]
    result = run(make_module, world, wait=True, wait_restartable=0, default_min_insync_replicas=2,
                 in_sync_timeout=30)
    assert result["failed"] is True
    assert "broker 0 cannot restart yet" in result["msg"]
    assert "orders-0 (replicas 0,1,2,3; in sync 0,1,2; in sync 3 = min ISR 3 with broker 0 among them)" in result["msg"]
    assert "in_sync_timeout" in result["msg"]
    assert result["blocking_partitions"][0]["min_isr"] == 3
    assert 30 <= world.t <= 35 and world.pod_deletes == []


def test_wait_caught_up_waits_for_the_restarted_broker_only(make_module):
    world = World()
    a_topic(world)
    world.isr[("orders", 0)] = [0, 1]  # broker 2 just restarted
    world.topics["elsewhere"] = {0: [1, 3]}
    world.isr[("elsewhere", 0)] = [1]  # broker 3 is behind too, but it was not restarted now
    world.at(8, lambda: world.isr[("orders", 0)].append(2))
    result = run(make_module, world, wait=True, wait_caught_up=[2], wait_sleep=2)
    assert not result.get("failed") and 8 <= world.t <= 10
    assert result["caught_up"]["waited_for"] == [{"topic": "orders", "partition": 0, "out_of_sync": [2]}]


def test_caught_up_and_restartable_share_one_read_of_the_topics_and_of_each_poll(make_module):
    world = World()
    a_topic(world)
    world.isr[("orders", 0)] = [0, 1]  # broker 2 just restarted; broker 3 is next
    world.at(4, lambda: world.isr[("orders", 0)].append(2))
    result = run(make_module, world, wait=True, wait_caught_up=[2], wait_restartable=3, default_min_insync_replicas=2,
                 wait_sleep=2)
    assert not result.get("failed") and result["caught_up"]["waited"] >= 4
    assert result["restartable"]["waited_for"] == [] and result["restartable"]["broker_id"] == 3
    state_reads = [b for b in world.zk_batches if b and b[0].endswith("/state")]
    assert len(state_reads) == 3  # t=0, 2, 4: each poll answers both questions
    assert world.zk_batches.count(["/brokers/topics"]) == 1


def test_availability_waits_are_skipped_in_check_mode(make_module):
    world = World()
    a_topic(world, partitions=1)
    world.isr[("orders", 0)] = [0]
    result = run(make_module, world, check_mode=True, wait_restartable=1, wait_caught_up=[1, 2])
    assert not result.get("failed") and result["restartable"] is None and result["caught_up"] is None
    assert world.t == 0


class FlakyApiWorld(World):
    """After a pod deletion the API server answers the next ``failures`` pod listings with HTTP 503."""

    def __init__(self, failures, **kwargs):
        super(FlakyApiWorld, self).__init__(**kwargs)
        self.failures = failures
        self.failing = 0
        self.failed_listings = 0

    def delete_pod(self, namespace, name, uid):
        self.failing = self.failures
        return super(FlakyApiWorld, self).delete_pod(namespace, name, uid)

    def list_pods(self, namespace, selector):
        if self.failing:
            self.failing -= 1
            self.failed_listings += 1
            raise PodApiError("listing pods %s in namespace %s failed: HTTP 503 Service Unavailable"
                              % (selector, namespace), transient=True)
        return super(FlakyApiWorld, self).list_pods(namespace, selector)


def test_a_transient_api_error_while_waiting_for_the_healed_broker_is_retried(make_module):
    world = FlakyApiWorld(failures=1)
    del world.nodes[2]
    old = world.names(2)[0]
    result = run(make_module, world, heal=True)
    assert not result.get("failed"), result["msg"]
    assert world.failed_listings == 1 and [d[0] for d in world.pod_deletes] == [old]
    assert result["all_joined"] is True and result["attempts"] == {"2": 1}


def test_an_api_error_outlasting_the_wait_fails_naming_the_wait_and_what_was_deleted(make_module):
    world = FlakyApiWorld(failures=10 ** 6)
    del world.nodes[2]
    old = world.names(2)[0]
    result = run(make_module, world, heal=True, register_timeout=60)
    assert result["failed"] and result["changed"] is True
    assert result["msg"].startswith("waiting for the deleted pod of broker 2 to be gone: listing pods "
                                    "app.kubernetes.io/component=broker,app.kubernetes.io/instance=kafka in "
                                    "namespace kafka failed: HTTP 503 Service Unavailable (after %d tries)"
                                    % world.failed_listings)
    assert result["msg"].endswith("(deleted so far: %s)" % old)
    assert world.clock() < 60 + 5 and [d["pod"] for d in result["deleted_pods"]] == [old]
