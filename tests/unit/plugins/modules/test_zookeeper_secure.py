"""zookeeper_secure against a fake ensemble read through zkCli (zookeeper_fakes) and a broker pod whose
zookeeper-security-migration does what it is made to: secure every znode, secure only some, fail, or never be
needed. The module believes the ACLs it reads back, never the tool's exit code alone."""
import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils import zookeeper_auth as za
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_backup import open_tree
from ansible_collections.kafka_eks.cluster.plugins.modules import zookeeper_secure as module

from zookeeper_fakes import FakeZkCliPods, FakeZooKeeper

BROKER_SELECTOR = "app.kubernetes.io/component=broker,app.kubernetes.io/instance=kafka"
KAFKA_PATHS = ["/brokers", "/brokers/ids", "/brokers/ids/0", "/brokers/topics", "/brokers/topics/t", "/config",
               "/config/users", "/config/users/alice", "/config/topics", "/config/changes", "/admin",
               "/admin/delete_topics", "/cluster", "/cluster/id", "/controller_epoch", "/isr_change_notification"]


def kafka_tree():
    zk = FakeZooKeeper()
    for path in KAFKA_PATHS:
        zk.create(path, b"{}")
    return zk


def secure(zk, only=None):
    """What zookeeper-security-migration --zookeeper.acl=secure does, logged in as kafka: Kafka's ACL on every znode
    under its secured roots (``only``: under those roots alone)."""
    for path in sorted(zk.nodes):
        roots = only or za.SECURE_ROOT_PATHS
        if any(path == r or path.startswith(r + "/") for r in roots):
            zk.nodes[path].acl = [(e["scheme"], e["id"], 31 if e["perms"] == "cdrwa" else 1)
                                  for e in za.znode_acl("kafka", path)]


class Pods(FakeZkCliPods):
    """One ZooKeeper pod (zkCli against ``zk``) and broker pods; the tool runs ``tool(zk)`` and returns its rc."""

    def __init__(self, zk, tool=None, ready=(True,)):
        super(Pods, self).__init__(zk)
        self.tool = tool
        self.ready = ready
        self.tool_runs = []

    def list_pods(self, namespace, selector):
        if selector == BROKER_SELECTOR:
            return [{"metadata": {"name": "kafka-broker-%d-x" % i}, "spec": {"containers": [{"name": "broker"}]},
                     "status": {"phase": "Running", "containerStatuses": [{"name": "broker", "ready": ok}]}}
                    for i, ok in enumerate(self.ready)]
        return super(Pods, self).list_pods(namespace, selector)

    def exec(self, namespace, name, argv, container=None, timeout=60):
        if argv[0] == module.TOOL:
            self.tool_runs.append((name, container, list(argv)))
            return self.tool(self.zk), "", "tool said no"
        return super(Pods, self).exec(namespace, name, argv, container=container, timeout=timeout)


class FakeModule:
    def __init__(self, check_mode=False, secure=True):
        self.check_mode = check_mode
        self.params = {"namespace": "kafka", "zookeeper_access": "exec", "zookeeper_hosts": None,
                       "zookeeper_pod_selector": "app.kubernetes.io/component=zookeeper", "client_port": 2181,
                       "exec_timeout": 60, "zookeeper_auth_user": "kafka", "zookeeper_auth_secret": "",
                       "user": "kafka", "secure": secure, "zookeeper_connect": "zk-cs:2181",
                       "broker_pod_selector": BROKER_SELECTOR, "broker_container": "broker", "tool_timeout": 600}


def run(pods, module_obj=None):
    module_obj = module_obj or FakeModule()
    tree, dummy = open_tree(module_obj.params, pod_api_factory=lambda: pods)
    return module.run(module_obj, pods, tree)


def test_open_znodes_are_secured_by_the_tool_in_a_ready_broker_pod_and_proven_by_their_acls():
    zk = kafka_tree()
    pods = Pods(zk, tool=lambda z: secure(z) or 0, ready=(False, True))
    result = run(pods)
    assert result["changed"] and result["secured"] and result["ran_tool"] == "kafka-broker-1-x"
    assert {o["path"] for o in result["open"]} >= {"/brokers/ids", "/config/users", "/admin"}
    assert pods.tool_runs == [("kafka-broker-1-x", "broker", [module.TOOL, "--zookeeper.acl=secure",
                                                              "--zookeeper.connect=zk-cs:2181"])]
    assert zk.nodes["/config/users/alice"].acl == [("sasl", "kafka", 31)]
    again = run(pods)
    assert not again["changed"] and again["secured"] and len(pods.tool_runs) == 1


def test_a_tool_that_exits_0_but_leaves_znodes_open_fails_naming_them():
    pods = Pods(kafka_tree(), tool=lambda z: secure(z, only=["/brokers"]) or 0)
    with pytest.raises(module.Refused) as caught:
        run(pods)
    message = str(caught.value)
    assert "still open" in message and "/config/users (anyone may cdwa)" in message and "/brokers " not in message


def test_a_failing_tool_and_no_ready_broker_are_refused():
    with pytest.raises(module.Refused, match="exited 1: tool said no"):
        run(Pods(kafka_tree(), tool=lambda z: 1))
    pods = Pods(kafka_tree(), tool=lambda z: 0, ready=(False,))
    with pytest.raises(module.Refused, match="no broker pod"):
        run(pods)
    assert pods.tool_runs == []


def test_check_mode_and_report_only_read_and_run_nothing():
    for module_obj in (FakeModule(check_mode=True), FakeModule(secure=False)):
        pods = Pods(kafka_tree(), tool=lambda z: 0)
        result = run(pods, module_obj)
        assert not result["secured"] and result["open"] and pods.tool_runs == []
        assert result["changed"] is module_obj.check_mode


def test_a_secured_ensemble_whose_znodes_the_user_cannot_change_is_open_to_the_module():
    zk = kafka_tree()
    secure(zk)
    zk.nodes["/brokers/ids"].acl = [("sasl", "someone-else", 31), ("world", "anyone", 1)]
    result = run(Pods(zk, tool=lambda z: 0), FakeModule(secure=False))
    assert result["open"] == [{"path": "/brokers/ids", "why": "the user kafka may not change it"}]
