"""zookeeper_quorum with a real AnsibleModule, fake ZooKeeper answers and a fake clock."""
import pytest

from conftest import ModuleExit
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import PodApiError
from ansible_collections.kafka_eks.cluster.plugins.modules import zookeeper_quorum

LEADER = "Zookeeper version: 3.8.0-x, built on 2022\nZxid: 0x100000000\nMode: leader\nNode count: 5\n"
FOLLOWER = "Zookeeper version: 3.8.0-x, built on 2022\nZxid: 0x100000000\nMode: follower\nNode count: 5\n"
DOWN = "This ZooKeeper instance is not currently serving requests\n"
STATUS = "ZooKeeper JMX enabled by default\nUsing config: /conf/zoo.cfg\nMode: %s\n"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def run(make_module, args, **kwargs):
    options = zookeeper_quorum.module_options()
    with pytest.raises(ModuleExit) as info:
        module = make_module(options.pop("argument_spec"), args, **options)
        zookeeper_quorum.run_module(module, **kwargs)
    return info.value.result


def test_direct_quorum(make_module):
    answers = {"zk1": LEADER, "zk2": FOLLOWER, "zk3": FOLLOWER}
    clock = Clock()
    result = run(make_module, {"zookeeper_access": "direct", "zookeeper_hosts": ["zk1:2181", "zk2:2181", "zk3:2181"],
                               "expected_servers": 3},
                 fourlw=lambda host, port, word, timeout: answers[host], clock=clock, sleep=clock.sleep)
    assert not result.get("failed") and result["changed"] is False
    assert result["quorum"] is True and result["leader"] == "zk1:2181"
    assert result["followers"] == ["zk2:2181", "zk3:2181"] and result["polls"] == 1


def test_direct_waits_then_fails_with_each_servers_state(make_module):
    clock = Clock()
    answers = {"zk1": LEADER, "zk2": DOWN, "zk3": DOWN}
    result = run(make_module, {"zookeeper_access": "direct", "zookeeper_hosts": ["zk1:2181", "zk2:2181", "zk3:2181"],
                               "expected_servers": 3, "wait_timeout": 20, "wait_sleep": 5},
                 fourlw=lambda host, port, word, timeout: answers[host], clock=clock, sleep=clock.sleep)
    assert result["failed"] and result["quorum"] is False
    assert result["polls"] == 5 and clock.now == 20
    assert "ZooKeeper has no quorum after 20s" in result["msg"]
    assert "zk2:2181=not serving (This ZooKeeper instance is not currently serving requests)" in result["msg"]
    assert "4lw.commands.whitelist" in result["msg"]


class FakePods:
    def __init__(self, modes):
        self.modes = modes
        self.polls = 0

    def list_pods(self, namespace, selector):
        assert namespace == "kafka"
        assert selector == "app.kubernetes.io/component=zookeeper,app.kubernetes.io/instance=kafka"
        return [{"metadata": {"name": "zookeeper-%d" % i}, "status": {"phase": "Running"},
                 "spec": {"containers": [{"name": "zookeeper"}]}} for i in range(len(self.modes))]

    def exec(self, namespace, name, argv, container=None, timeout=60):
        assert argv == ["zkServer.sh", "status"] and container == "zookeeper"
        index = int(name.rsplit("-", 1)[1])
        if index == 0:
            self.polls += 1
        mode = self.modes[index][min(self.polls, len(self.modes[index])) - 1]
        if mode is None:
            return 1, "Error contacting service. It is probably not running.\n", ""
        return 0, STATUS % mode, ""


def test_exec_polls_until_the_ensemble_elects_a_leader(make_module):
    clock = Clock()
    pods = FakePods([[None, "follower"], [None, "leader"], [None, "follower"]])
    result = run(make_module, {"expected_servers": 3}, pod_api_factory=lambda: pods, clock=clock, sleep=clock.sleep)
    assert not result.get("failed"), result["msg"]
    assert result["leader"] == "zookeeper-1" and result["polls"] == 2 and clock.now == 5
    assert result["servers"]["zookeeper-0"]["mode"] == "follower"


def test_exec_wait_false_asks_once_and_fails(make_module):
    clock = Clock()
    pods = FakePods([["follower"], ["follower"], ["follower"]])
    result = run(make_module, {"expected_servers": 3, "wait": False}, pod_api_factory=lambda: pods, clock=clock,
                 sleep=clock.sleep)
    assert result["failed"] and result["polls"] == 1 and clock.now == 0
    assert "(asked once)" in result["msg"] and "no server says leader" in result["msg"]
    assert "kubectl -n kafka get pods" in result["msg"]


def test_single_server_standalone(make_module):
    pods = FakePods([["standalone"]])
    result = run(make_module, {"expected_servers": 1}, pod_api_factory=lambda: pods)
    assert result["quorum"] and result["leader"] == "zookeeper-0"


def test_bad_arguments(make_module):
    assert "expected_servers must be at least 1" in run(make_module, {"expected_servers": 0})["msg"]
    result = run(make_module, {"expected_servers": 3, "zookeeper_access": "direct"})
    assert result["failed"] and "zookeeper_access is direct but all of the following are missing: " \
        "zookeeper_hosts" in result["msg"]
    # An empty list passes required_if; the access itself refuses it.
    result = run(make_module, {"expected_servers": 3, "zookeeper_access": "direct", "zookeeper_hosts": []})
    assert result["failed"] and "zookeeper_access=direct needs zookeeper_hosts" in result["msg"]


class FlakyPods(FakePods):
    """The API server answers the pod listing with HTTP 503 ``failures`` times, then as FakePods."""

    def __init__(self, modes, failures):
        super(FlakyPods, self).__init__(modes)
        self.failures = failures
        self.listings = 0

    def list_pods(self, namespace, selector):
        self.listings += 1
        if self.listings <= self.failures:
            raise PodApiError("listing pods %s in namespace %s failed: HTTP 503 Service Unavailable"
                              % (selector, namespace), transient=True)
        return super(FlakyPods, self).list_pods(namespace, selector)


def test_a_transient_api_error_during_the_wait_is_retried(make_module):
    clock = Clock()
    pods = FlakyPods([["follower"], ["leader"], ["follower"]], failures=1)
    result = run(make_module, {"expected_servers": 3}, pod_api_factory=lambda: pods, clock=clock, sleep=clock.sleep)
    assert not result.get("failed"), result["msg"]
    assert result["leader"] == "zookeeper-1" and result["polls"] == 1 and pods.listings == 2


def test_an_api_error_past_the_deadline_fails_naming_the_wait(make_module):
    clock = Clock()
    pods = FlakyPods([["leader"]], failures=1000)
    result = run(make_module, {"expected_servers": 3, "wait_timeout": 30}, pod_api_factory=lambda: pods,
                 clock=clock, sleep=clock.sleep)
    assert result["failed"] and clock.now < 30
    assert result["msg"].startswith("waiting for a ZooKeeper quorum: listing pods app.kubernetes.io/component="
                                    "zookeeper,app.kubernetes.io/instance=kafka in namespace kafka failed: HTTP 503")
    assert "after %d tries" % pods.listings in result["msg"]
