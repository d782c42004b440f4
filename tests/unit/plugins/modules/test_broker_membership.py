"""broker_membership end to end against a simulated cluster: fake pod API + fake ZooKeeper on a fake clock.

The simulation follows the measured behaviour (docs: zookeeper-heal-facts): a deleted pod goes after its grace
period and a replacement starts; a broker that exits cleanly removes its registration; a dead session's node
stays until it expires; a broker cannot register while a stale node holds its id (NodeExists) and retries."""
import json

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import PodChanged
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import (
    BadVersionError,
    NoNodeError,
    get_each,
    list_and_get_each,
    parse_srvr,
)
from ansible_collections.kafka_eks.cluster.plugins.modules import broker_membership

WALL0 = 1795590000.0
LABEL = "kafka-eks.cluster/broker-id"


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
        self.sessions = {}  # pod name -> session id of its live broker process
        self.behaviour = {}  # broker id -> "register" or "never" (for replacement pods)
        self.seq = 0
        self.pod_deletes = []
        self.zk_deletes = []
        self.zk_batches = []
        self.zk_modes = ["follower", "leader", "follower"]
        self.controller = 1  # broker id in /controller, None: no such node
        self.topics = {}  # topic -> {partition: [replicas]}
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
            "spec": {"containers": [{"name": "broker"}]},
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
        self.sessions[name] = session
        stamp = int((self.wall() if at is None else WALL0 + at) * 1000)
        self.nodes[broker_id] = {"data": json.dumps({"endpoints": ["PLAINTEXT://kafka-service-%d:9092" % broker_id],
                                                     "timestamp": str(stamp), "version": 5}),
                                 "version": 0, "owner": session}

    def stale(self, broker_id, registered_at, expires_in):
        """The broker's node belongs to a dead session (an earlier process) and expires later."""
        self.seq += 1
        self.nodes[broker_id] = {"data": json.dumps({"timestamp": str(int((WALL0 + registered_at) * 1000))}),
                                 "version": 0, "owner": 0x200000000 + self.seq}
        owner = self.nodes[broker_id]["owner"]
        self.at(expires_in, lambda: self.expire(broker_id, owner))

    def expire(self, broker_id, owner):
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
        session = self.sessions.pop(name, None)
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

    def get_children(self, path):
        if path == "/brokers/topics":
            return sorted(self.topics)
        assert path == "/brokers/ids"
        return sorted(str(i) for i in self.nodes)

    def get(self, path):
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
        return get_each(self, paths)

    def list_and_get(self, parent, paths):
        self.zk_batches.append([parent] + list(paths))
        return list_and_get_each(self, parent, paths)

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
    params = {"expected_broker_ids": [0, 1, 2, 3]}
    params.update(args)
    module = make_module(broker_membership.argument_spec(), params, check_mode=check_mode)
    from conftest import ModuleExit
    with pytest.raises(ModuleExit) as info:
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


def test_stale_registration_is_waited_out_then_the_broker_registers(make_module):
    world = World()
    name = world.names(1)[0]
    world.sessions.pop(name)
    world.stale(1, registered_at=-1200, expires_in=25)  # older than the container (started 600 s ago)
    result = run(make_module, world, heal=True)
    assert not result.get("failed"), result["msg"]
    assert [d["pod"] for d in result["deleted_pods"]] == [name]
    assert result["stale"] == [] and result["all_joined"] is True
    assert world.zk_deletes == [] and result["removed_registrations"] == []


def test_remove_stale_registration_deletes_the_node_by_version_once_the_pod_is_gone(make_module):
    world = World()
    name = world.names(1)[0]
    world.sessions.pop(name)
    world.stale(1, registered_at=-1200, expires_in=10000)  # would not expire within register_timeout
    owner = world.nodes[1]["owner"]
    result = run(make_module, world, heal=True, remove_stale_registration=True, register_timeout=120)
    assert not result.get("failed"), result["msg"]
    assert world.zk_deletes == [("/brokers/ids/1", 0)]
    assert result["removed_registrations"] == [{"broker_id": 1, "path": "/brokers/ids/1", "version": 0,
                                                "ephemeral_owner": "0x%x" % owner}]
    assert result["all_joined"] and result["changed"]
    assert world.t < 60  # pod grace + start + register, not the session timeout


def test_without_removal_a_never_expiring_stale_node_makes_it_give_up(make_module):
    world = World()
    world.sessions.pop(world.names(1)[0])
    world.stale(1, registered_at=-1200, expires_in=10000)
    result = run(make_module, world, heal=True, max_attempts=1, register_timeout=60)
    assert result["failed"] and world.zk_deletes == []
    assert "its old registration is still there" in result["msg"]
    assert "remove_stale_registration=true" in result["msg"]


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
    assert result["failed"] and "zookeeper_hosts" in result["msg"]


def a_topic(world, topic="orders", partitions=3, rf=3):
    for p in range(partitions):
        replicas = [(p + i) % 4 for i in range(rf)]
        world.topics.setdefault(topic, {})[p] = replicas
        world.isr[(topic, p)] = list(replicas)


def test_wait_in_sync_waits_until_a_restarted_broker_is_back_in_every_isr(make_module):
    world = World()
    a_topic(world)
    lagging = [key for key, isr in world.isr.items() if 3 in isr]
    for key in lagging:
        world.isr[key].remove(3)

    def caught_up():
        for key in lagging:
            world.isr[key].append(3)
    world.at(12, caught_up)
    result = run(make_module, world, wait=True, wait_in_sync=True, wait_sleep=2)
    assert not result.get("failed") and result["changed"] is False
    assert result["in_sync"]["partitions"] == 3 and result["in_sync"]["ignored"] == []
    assert 12 <= world.t <= 14 and result["in_sync"]["waited"] == world.t
    assert world.pod_deletes == []
    # the assignments are read once (listing + topic nodes), then only the partitions' state nodes
    state_batches = [b for b in world.zk_batches if b[0].endswith("/state")]
    assert len(state_batches) >= 6
    assert world.zk_batches.count(["/brokers/topics/orders"]) == 1


def test_wait_in_sync_fails_naming_the_partitions_and_the_option(make_module):
    world = World()
    a_topic(world, partitions=1)
    world.isr[("orders", 0)] = [0]
    result = run(make_module, world, wait=True, wait_in_sync=True, in_sync_timeout=30)
    assert result["failed"] is True
    assert "orders-0 (replicas 0,1,2; in sync 0)" in result["msg"]
    assert "in_sync_timeout" in result["msg"]
    assert result["under_replicated"][0]["out_of_sync"] == [1, 2]
    assert 30 <= world.t <= 35 and world.pod_deletes == []


def test_wait_in_sync_does_not_wait_for_a_replica_on_a_broker_not_deployed(make_module):
    world = World()
    world.topics["old"] = {0: [0, 1, 7]}
    world.isr[("old", 0)] = [0, 1]
    result = run(make_module, world, wait_in_sync=True)
    assert not result.get("failed") and world.t == 0
    assert [(p["topic"], p["out_of_sync"]) for p in result["in_sync"]["ignored"]] == [("old", [7])]


def test_wait_in_sync_is_skipped_in_check_mode_and_without_a_topic_costs_one_read(make_module):
    world = World()
    a_topic(world, partitions=1)
    world.isr[("orders", 0)] = [0]
    result = run(make_module, world, check_mode=True, wait_in_sync=True)
    assert not result.get("failed") and result["in_sync"] is None and world.t == 0
    empty = World()
    result = run(make_module, empty, wait_in_sync=True)
    assert result["in_sync"] == {"partitions": 0, "ignored": [], "waited": 0}
    assert empty.zk_batches[-1] == ["/brokers/topics"]
