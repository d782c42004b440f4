"""ZooKeeper parsers (zookeeper_parsers.py), the quorum decision and both access paths (zookeeper.py), against recorded and real-looking outputs."""
import os

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils import zookeeper as zkmod
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import RETRY_INTERVAL, PodApiError
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import (
    DirectAccess,
    ExecAccess,
    quorum_state,
    wait_for_quorum,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import (
    BadVersionError,
    NoNodeError,
    ZooKeeperError,
    parse_cons,
    parse_srvr,
    parse_zkcli_get,
    parse_zkcli_ls,
    split_zkcli_session,
    zkcli_error,
)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

LEADER_38 = """Zookeeper version: 3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f, built on 2022-02-25 08:49 UTC
Latency min/avg/max: 0/0.0/0
Received: 3
Sent: 2
Connections: 1
Outstanding: 0
Zxid: 0x100000000
Mode: leader
Node count: 5
Proposal sizes last/min/max: -1/-1/-1
"""
FOLLOWER_38 = """Zookeeper version: 3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f, built on 2022-02-25 08:49 UTC
Latency min/avg/max: 0/0.4286/2
Received: 14
Sent: 13
Connections: 2
Outstanding: 0
Zxid: 0x100000003
Mode: follower
Node count: 7
"""
# A real answer of ZooKeeper 3.9.3 started alone (recorded on this machine).
STANDALONE_39 = """Zookeeper version: 3.9.3-c26634f34490bb0ea7a09cc51e05ede3b4e320ee, built on 2024-10-17 23:21 UTC
Latency min/avg/max: 0/0.0/0
Received: 1
Sent: 0
Connections: 1
Outstanding: 0
Zxid: 0x0
Mode: standalone
Node count: 5
"""
NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"
STATUS_FOLLOWER = """ZooKeeper JMX enabled by default
Using config: /conf/zoo.cfg
Client port found: 2181. Client address: localhost. Client SSL: false.
Mode: follower
"""
STATUS_DOWN = """ZooKeeper JMX enabled by default
Using config: /conf/zoo.cfg
Client port found: 2181. Client address: localhost. Client SSL: false.
Error contacting service. It is probably not running.
"""
STATUS_34 = """ZooKeeper JMX enabled by default
Using config: /opt/zookeeper/bin/../conf/zoo.cfg
Mode: leader
"""
# zkCli.sh of ZooKeeper 3.4 (kubernetes-zookeeper image): log4j to stdout, `get` prints data and stat.
ZKCLI_34_GET = "\n".join([
    'Connecting to localhost:2181',
    ('2026-11-25 07:00:01,123 [myid:] - INFO  [main:Environment@100] - Client environment:zookeeper.versio'
     'n=3.4.10-39d3a4f269333c922ed3db283be479f9deacaa0f, built on 03/23/2017 10:13 GMT'),
    ('2026-11-25 07:00:01,130 [myid:] - INFO  [main:ZooKeeper@438] - Initiating client connection, connect'
     'String=localhost:2181 sessionTimeout=30000 watcher=org.apache.zookeeper.ZooKeeperMain$MyWatcher@1a86'
     'f2f1'),
    ('2026-11-25 07:00:01,160 [myid:] - INFO  [main-SendThread(localhost:2181):ClientCnxn$SendThread@1032]'
     ' - Opening socket connection to server localhost/127.0.0.1:2181. Will not attempt to authenticate us'
     'ing SASL (unknown error)'),
    ('2026-11-25 07:00:01,250 [myid:] - INFO  [main-SendThread(localhost:2181):ClientCnxn$SendThread@1299]'
     ' - Session establishment complete on server localhost/127.0.0.1:2181, sessionid = 0x15ffb0a6c3a0003,'
     ' negotiated timeout = 30000'),
    '',
    'WATCHER::',
    '',
    'WatchedEvent state:SyncConnected type:None path:null',
    ('{"listener_security_protocol_map":{"INTERNAL":"PLAINTEXT","PLAINTEXT":"PLAINTEXT"},"endpoints":["INT'
     'ERNAL://kafka-service-2:9093","PLAINTEXT://kafka-service-2:9092"],"jmx_port":-1,"host":"kafka-servic'
     'e-2","timestamp":"1795590000123","port":9092,"version":4}'),
    'cZxid = 0x100000031',
    'ctime = Wed Nov 25 07:00:00 UTC 2026',
    'mZxid = 0x100000031',
    'mtime = Wed Nov 25 07:00:00 UTC 2026',
    'pZxid = 0x100000031',
    'cversion = 0',
    'dataVersion = 0',
    'aclVersion = 0',
    'ephemeralOwner = 0x15ffb0a6c3a0002',
    'dataLength = 231',
    'numChildren = 0',
    '',
])
ZKCLI_34_GET_S = """Connecting to localhost:2181
Exception in thread "main" java.lang.IllegalArgumentException: Path must start with / character
\tat org.apache.zookeeper.common.PathUtils.validatePath(PathUtils.java:51)
"""


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


# ------------------------------------------------------------------------------------------- srvr


def test_srvr_leader_38():
    parsed = parse_srvr(LEADER_38)
    assert parsed["serving"] is True
    assert parsed["mode"] == "leader"
    assert parsed["version"].startswith("3.8.0-")
    assert (parsed["latency_min"], parsed["latency_avg"], parsed["latency_max"]) == (0, 0.0, 0)
    assert (parsed["received"], parsed["sent"], parsed["connections"], parsed["outstanding"]) == (3, 2, 1, 0)
    assert parsed["zxid"] == "0x100000000"
    assert parsed["node_count"] == 5
    assert parsed["error"] is None


def test_srvr_follower_has_no_proposal_line():
    parsed = parse_srvr(FOLLOWER_38)
    assert parsed["mode"] == "follower"
    assert parsed["latency_avg"] == pytest.approx(0.4286)
    assert parsed["node_count"] == 7


def test_srvr_standalone_39_real_answer():
    parsed = parse_srvr(STANDALONE_39)
    assert parsed["mode"] == "standalone" and parsed["serving"]
    assert parsed["version"].startswith("3.9.3-")


def test_srvr_not_serving():
    parsed = parse_srvr(NOT_SERVING)
    assert parsed["serving"] is False
    assert parsed["mode"] is None
    assert "not currently serving" in parsed["error"]


def test_srvr_empty_and_bytes():
    assert parse_srvr("")["error"] == "no answer"
    assert parse_srvr(LEADER_38.encode())["mode"] == "leader"


def test_zkserver_status_outputs():
    assert parse_srvr(STATUS_FOLLOWER)["mode"] == "follower"
    assert parse_srvr(STATUS_34)["mode"] == "leader"
    down = parse_srvr(STATUS_DOWN)
    assert down["serving"] is False and down["mode"] is None
    assert down["error"].startswith("Error contacting service")


# ------------------------------------------------------------------------------------------ quorum


def answers(*modes):
    out = {}
    for index, mode in enumerate(modes):
        name = "zookeeper-%d" % index
        if mode is None:
            out[name] = parse_srvr(NOT_SERVING)
        elif isinstance(mode, Exception):
            out[name] = mode
        else:
            out[name] = parse_srvr("Zxid: 0x1\nMode: %s\n" % mode)
    return out


def test_quorum_one_leader_two_followers():
    state = quorum_state(answers("follower", "leader", "follower"), 3)
    assert state["quorum"] and state["majority"]
    assert state["leader"] == "zookeeper-1"
    assert state["followers"] == ["zookeeper-0", "zookeeper-2"]
    assert state["problems"] == []


def test_no_quorum_when_a_server_does_not_serve_but_still_a_majority():
    state = quorum_state(answers("follower", "leader", None), 3)
    assert state["quorum"] is False
    assert state["majority"] is True
    assert any("zookeeper-2: not serving" in p for p in state["problems"])


def test_two_of_three_down_is_neither_quorum_nor_majority():
    state = quorum_state(answers(None, "leader", None), 3)
    assert not state["quorum"] and not state["majority"]
    state = quorum_state(answers(None, None, None), 3)
    assert not state["quorum"] and "no server says leader" in state["problems"]


def test_two_leaders_is_no_quorum():
    state = quorum_state(answers("leader", "leader", "follower"), 3)
    assert not state["quorum"] and state["leader"] is None
    assert any("2 servers say leader" in p for p in state["problems"])


def test_missing_server_is_no_quorum():
    state = quorum_state(answers("leader", "follower"), 3)
    assert not state["quorum"]
    assert state["majority"]
    assert "2 of 3 expected servers found" in state["problems"]


def test_standalone_server_in_an_ensemble_is_a_problem():
    state = quorum_state(answers("standalone", "leader", "follower"), 3)
    assert not state["quorum"]
    assert any("mode standalone" in p for p in state["problems"])


def test_single_server_must_be_standalone():
    assert quorum_state(answers("standalone"), 1)["quorum"]
    assert quorum_state(answers("standalone"), 1)["leader"] == "zookeeper-0"
    assert quorum_state(answers("leader"), 1)["quorum"]  # standaloneEnabled=false
    assert not quorum_state(answers("follower"), 1)["quorum"]
    assert not quorum_state(answers(None), 1)["quorum"]


def test_errors_are_kept_per_server():
    state = quorum_state(answers("leader", "follower", ZooKeeperError("pod is Pending")), 3)
    assert state["servers"]["zookeeper-2"] == {"mode": None, "serving": False, "error": "pod is Pending",
                                               "zxid": None, "version": None}
    assert "zookeeper-2=not serving (pod is Pending)" in zkmod.describe_quorum(state)


# ------------------------------------------------------------------------------------------- zkCli


def test_zkcli_ls_real_39_output_with_log_noise():
    assert parse_zkcli_ls(fixture("zkcli-3.9-ls.stdout")) == ["0", "1"]


def test_zkcli_ls_ignores_bracketed_log_text_and_reads_empty_lists():
    text = ("07:40:00.557 [main] INFO org.apache.zookeeper.common.X509Util - supported TLS protocols are "
            "[TLSv1.3, TLSv1.2]\n[zk: localhost:2181(CONNECTED) 0] ls /brokers/ids\n[]\n")
    assert parse_zkcli_ls(text) == []
    with pytest.raises(ZooKeeperError):
        parse_zkcli_ls("Connecting to localhost:2181\n")


def test_zkcli_get_real_39_output():
    data, stat = parse_zkcli_get(fixture("zkcli-3.9-get.stdout"))
    assert data == '{"timestamp":"1700000000000"}'
    assert stat["version"] == 0
    assert stat["ephemeral_owner"] == 0
    assert stat["ctime_text"] == "Wed Nov 25 07:39:57 UTC 2026"
    assert stat["ctime"] == 1795592397000
    assert stat["czxid"] == "0x5" and stat["data_length"] == 29 and stat["num_children"] == 0


def test_zkcli_get_34_output_with_log4j_on_stdout():
    data, stat = parse_zkcli_get(ZKCLI_34_GET)
    assert data.startswith('{"listener_security_protocol_map"')
    assert '"timestamp":"1795590000123"' in data
    assert stat["ephemeral_owner"] == 0x15ffb0a6c3a0002
    assert stat["version"] == 0


def test_zkcli_get_without_stat_is_an_error():
    # 3.9's `get` without -s prints the data only.
    with pytest.raises(ZooKeeperError, match="no stat"):
        parse_zkcli_get(fixture("zkcli-3.9-get-without-s.stdout"))


def test_zkcli_error_outputs_recorded_from_39():
    assert isinstance(zkcli_error(fixture("zkcli-3.9-get-nonode.stderr"), "/brokers/ids/9"), NoNodeError)
    assert isinstance(zkcli_error(fixture("zkcli-3.9-ls-nonode.stderr")), NoNodeError)
    assert isinstance(zkcli_error(fixture("zkcli-3.9-delete-badversion.stderr")), BadVersionError)
    assert isinstance(zkcli_error("KeeperErrorCode = NoNode for /brokers/ids/3"), NoNodeError)
    assert isinstance(zkcli_error("KeeperErrorCode = BadVersion for /brokers/ids/3"), BadVersionError)
    err = zkcli_error("Exception: KeeperErrorCode = ConnectionLoss for /brokers/ids")
    assert err.__class__ is ZooKeeperError and "ConnectionLoss" in str(err)
    assert zkcli_error(fixture("zkcli-3.9-ls.stdout")) is None


# --------------------------------------------------------------------------------------- exec access


class FakeExecPods:
    """Pods and canned exec answers: (pod, argv tuple) -> (rc, stdout, stderr) or an exception."""

    def __init__(self, pods, answers):
        self.pods = pods
        self.answers = answers
        self.calls = []

    def list_pods(self, namespace, selector):
        return self.pods

    def exec(self, namespace, name, argv, container=None, timeout=60):
        self.calls.append((name, tuple(argv), container))
        answer = self.answers.get((name, tuple(argv)))
        if answer is None:
            answer = self.answers.get(tuple(argv), (127, "", "exec: \"%s\": executable file not found in $PATH"
                                                    % argv[0]))
        if isinstance(answer, Exception):
            raise answer
        return answer


def zk_pod(name, phase="Running", deleting=False):
    meta = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-25T07:00:00Z"
    return {"metadata": meta, "spec": {"containers": [{"name": "zookeeper"}]}, "status": {"phase": phase}}


def test_exec_servers_modes_and_pod_states():
    pods = FakeExecPods(
        [zk_pod("zookeeper-0"), zk_pod("zookeeper-1"), zk_pod("zookeeper-2", phase="Pending")],
        {("zookeeper-0", ("zkServer.sh", "status")): (0, STATUS_FOLLOWER, ""),
         ("zookeeper-1", ("zkServer.sh", "status")): (1, STATUS_DOWN, "")})
    access = ExecAccess(pods, "kafka", "app=zk")
    got = access.servers()
    assert got["zookeeper-0"]["mode"] == "follower"
    assert got["zookeeper-1"]["serving"] is False and "rc 1" in got["zookeeper-1"]["error"]
    assert got["zookeeper-2"] == "pod is Pending"
    assert pods.calls[0] == ("zookeeper-0", ("zkServer.sh", "status"), "zookeeper")


def test_exec_missing_tool_names_pod_and_command():
    pods = FakeExecPods([zk_pod("zookeeper-0")], {})
    got = ExecAccess(pods, "kafka", "app=zk").servers()
    assert "pod kafka/zookeeper-0" in got["zookeeper-0"] and "zkServer.sh status" in got["zookeeper-0"]


def test_exec_no_pods_is_an_error():
    with pytest.raises(ZooKeeperError, match="no ZooKeeper pod matches app=zk in namespace kafka"):
        ExecAccess(FakeExecPods([], {}), "kafka", "app=zk").servers()


def test_exec_zkcli_runs_in_a_serving_pod():
    cli = ("zkCli.sh", "-server", "localhost:2181")
    pods = FakeExecPods(
        [zk_pod("zookeeper-0"), zk_pod("zookeeper-1")],
        {("zookeeper-0", ("zkServer.sh", "status")): (1, STATUS_DOWN, ""),
         ("zookeeper-1", ("zkServer.sh", "status")): (0, STATUS_FOLLOWER, ""),
         ("zookeeper-1", cli + ("ls", "/brokers/ids")): (0, fixture("zkcli-3.9-ls.stdout"), ""),
         ("zookeeper-1", cli + ("get", "-s", "/brokers/ids/1")): (0, fixture("zkcli-3.9-get.stdout"), ""),
         ("zookeeper-1", cli + ("get", "-s", "/brokers/ids/9")): (
             1, fixture("zkcli-3.9-get-nonode.stdout"), fixture("zkcli-3.9-get-nonode.stderr")),
         ("zookeeper-1", cli + ("delete", "-v", "7", "/brokers/ids/1")): (
             1, fixture("zkcli-3.9-delete-badversion.stdout"), fixture("zkcli-3.9-delete-badversion.stderr")),
         ("zookeeper-1", cli + ("delete", "-v", "0", "/brokers/ids/1")): (0, "Connecting to localhost:2181\n", "")})
    access = ExecAccess(pods, "kafka", "app=zk")
    assert access.get_children("/brokers/ids") == ["0", "1"]
    data, stat = access.get("/brokers/ids/1")
    assert stat["version"] == 0
    with pytest.raises(NoNodeError, match=r"pod kafka/zookeeper-1: `zkCli.sh -server localhost:2181 get -s "
                                          r"/brokers/ids/9`"):
        access.get("/brokers/ids/9")
    with pytest.raises(BadVersionError):
        access.delete("/brokers/ids/1", 7)
    access.delete("/brokers/ids/1", 0)


GET_MANY = ["/brokers/ids/0", "/brokers/ids/7", "/brokers/ids/1"]
GET_MANY_ARGV = ("sh", "-c", "printf '%s' 'get -s /brokers/ids/0\nget -s /brokers/ids/7\nget -s /brokers/ids/1\n' "
                 "| zkCli.sh -server localhost:2181")


def test_split_zkcli_session_by_prompt():
    # Real zkCli 3.9.3 output for three `get -s` read from standard input (DEBUG/INFO lines removed).
    sections = split_zkcli_session(fixture("zkcli-3.9-session-get-many.stdout"))
    assert sections["get -s /brokers/ids/7"].strip() == ""
    data, stat = parse_zkcli_get(sections["get -s /brokers/ids/1"])
    assert data == '{"timestamp":"1700000000000"}' and stat["version"] == 0
    assert split_zkcli_session("Connecting to localhost:2181\n{}\ncZxid = 0x1\n") is None


def test_exec_get_many_reads_every_path_in_one_zkcli_run():
    pods = FakeExecPods([zk_pod("zk-0")], {
        ("zkServer.sh", "status"): (0, STATUS_FOLLOWER, ""),
        GET_MANY_ARGV: (0, fixture("zkcli-3.9-session-get-many.stdout"),
                        fixture("zkcli-3.9-session-get-many.stderr"))})
    got = ExecAccess(pods, "kafka", "app=zk").get_many(GET_MANY)
    assert got["/brokers/ids/7"] is None
    assert got["/brokers/ids/0"][0] == '{"timestamp":"1","port":9092}'
    assert got["/brokers/ids/1"][1]["ctime"] is not None
    assert [call[1] for call in pods.calls] == [("zkServer.sh", "status"), GET_MANY_ARGV]


def test_exec_list_and_get_in_one_zkcli_run():
    argv = ("sh", "-c", "printf '%s' 'ls /brokers/ids\nget -s /brokers/ids/0\nget -s /brokers/ids/7\nget -s "
            "/brokers/ids/1\n' | zkCli.sh -server localhost:2181")
    pods = FakeExecPods([zk_pod("zk-0")], {
        ("zkServer.sh", "status"): (0, STATUS_FOLLOWER, ""),
        argv: (0, fixture("zkcli-3.9-session-get-many.stdout"), fixture("zkcli-3.9-session-get-many.stderr"))})
    children, found = ExecAccess(pods, "kafka", "app=zk").list_and_get("/brokers/ids", GET_MANY)
    assert children == ["0", "1"]
    assert found["/brokers/ids/7"] is None and found["/brokers/ids/1"][1]["version"] == 0
    assert len(pods.calls) == 2


def test_exec_list_and_get_before_any_broker_registered():
    argv = ("sh", "-c", "printf '%s' 'ls /brokers/ids\nget -s /brokers/ids/0\n' | zkCli.sh -server localhost:2181")
    session = ("[zk: localhost:2181(CONNECTED) 0] ls /brokers/ids\n[zk: localhost:2181(CONNECTED) 1] get -s "
               "/brokers/ids/0\n[zk: localhost:2181(CONNECTED) 2] ")
    pods = FakeExecPods([zk_pod("zk-0")], {
        ("zkServer.sh", "status"): (0, STATUS_FOLLOWER, ""),
        argv: (1, session, "Node does not exist: /brokers/ids\nNode does not exist: /brokers/ids/0\n")})
    children, found = ExecAccess(pods, "kafka", "app=zk").list_and_get("/brokers/ids", ["/brokers/ids/0"])
    assert children == [] and found == {"/brokers/ids/0": None}


def test_exec_get_many_without_prompts_reads_one_path_per_run():
    cli = ("zkCli.sh", "-server", "localhost:2181")
    pods = FakeExecPods([zk_pod("zk-0")], {
        ("zkServer.sh", "status"): (0, STATUS_FOLLOWER, ""),
        GET_MANY_ARGV: (0, "Connecting to localhost:2181\n", ""),
        cli + ("get", "-s", "/brokers/ids/0"): (0, fixture("zkcli-3.9-get.stdout"), ""),
        cli + ("get", "-s", "/brokers/ids/1"): (0, fixture("zkcli-3.9-get.stdout"), ""),
        cli + ("get", "-s", "/brokers/ids/7"): (
            1, fixture("zkcli-3.9-get-nonode.stdout"), fixture("zkcli-3.9-get-nonode.stderr"))})
    got = ExecAccess(pods, "kafka", "app=zk").get_many(GET_MANY)
    assert got["/brokers/ids/7"] is None and got["/brokers/ids/0"][1]["version"] == 0
    assert len(pods.calls) == 5


def test_exec_get_many_names_an_error_it_cannot_read_past():
    # The session lost its connection before the last read: no data, an error on standard error.
    prompt = "[zk: localhost:2181(CONNECTED) 3]"
    session = fixture("zkcli-3.9-session-get-many.stdout").split(prompt)[0] + prompt + " get -s /brokers/ids/1\n"
    pods = FakeExecPods([zk_pod("zk-0")], {
        ("zkServer.sh", "status"): (0, STATUS_FOLLOWER, ""),
        GET_MANY_ARGV: (0, session, "KeeperErrorCode = ConnectionLoss for /brokers/ids/1\n")})
    with pytest.raises(ZooKeeperError, match="(?s)pod kafka/zk-0: .*ConnectionLoss"):
        ExecAccess(pods, "kafka", "app=zk").get_many(GET_MANY)


def test_exec_zkcli_falls_back_to_34_syntax():
    cli = ("zkCli.sh", "-server", "localhost:2181")
    pods = FakeExecPods(
        [zk_pod("zk-0")],
        {("zkServer.sh", "status"): (0, STATUS_34, ""),
         cli + ("get", "-s", "/brokers/ids/2"): (1, ZKCLI_34_GET_S, ""),
         cli + ("get", "/brokers/ids/2"): (0, ZKCLI_34_GET, ""),
         cli + ("delete", "/brokers/ids/2", "0"): (0, "", "")})
    access = ExecAccess(pods, "kafka", "app=zk")
    data, stat = access.get("/brokers/ids/2")
    assert stat["ephemeral_owner"] == 0x15ffb0a6c3a0002
    access.delete("/brokers/ids/2", 0)
    assert pods.calls[-1][1] == cli + ("delete", "/brokers/ids/2", "0")


def test_exec_zkcli_connection_loss_is_an_error():
    cli = ("zkCli.sh", "-server", "localhost:2181")
    pods = FakeExecPods([zk_pod("zk-0")], {
        ("zkServer.sh", "status"): (0, STATUS_FOLLOWER, ""),
        cli + ("ls", "/brokers/ids"): (1, "", "KeeperErrorCode = ConnectionLoss for /brokers/ids")})
    with pytest.raises(ZooKeeperError, match="ConnectionLoss"):
        ExecAccess(pods, "kafka", "app=zk").get_children("/brokers/ids")


def test_exec_without_serving_pod_refuses_zkcli():
    pods = FakeExecPods([zk_pod("zk-0")], {("zkServer.sh", "status"): (1, STATUS_DOWN, "")})
    with pytest.raises(ZooKeeperError, match="is serving; cannot run zkCli.sh"):
        ExecAccess(pods, "kafka", "app=zk").get_children("/brokers/ids")


# ------------------------------------------------------------------------------------- direct access


def test_direct_servers_with_fake_socket():
    def fourlw(host, port, word, timeout):
        assert word == "srvr"
        if port == 2182:
            raise ZooKeeperError("cannot connect to %s:%s: refused" % (host, port))
        return LEADER_38 if host == "zk1" else FOLLOWER_38

    access = DirectAccess(["zk1:2181", "zk2", "zk3:2182"], fourlw=fourlw)
    got = access.servers()
    assert got["zk1:2181"]["mode"] == "leader"
    assert got["zk2"]["mode"] == "follower"
    assert "refused" in got["zk3:2182"]
    assert not quorum_state(got, 3)["quorum"]


def test_four_letter_word_reads_until_close_and_reports_whitelist():
    class Sock:
        def __init__(self, chunks):
            self.chunks = list(chunks)
            self.sent = b""

        def settimeout(self, value):
            pass

        def sendall(self, data):
            self.sent += data

        def recv(self, size):
            return self.chunks.pop(0) if self.chunks else b""

        def close(self):
            pass

    sock = Sock([LEADER_38[:20].encode(), LEADER_38[20:].encode()])
    assert zkmod.four_letter_word("h", 2181, "srvr", connect=lambda addr, timeout: sock) == LEADER_38
    assert sock.sent == b"srvr"
    refused = Sock([b"srvr is not executed because it is not in the whitelist.\n"])
    with pytest.raises(ZooKeeperError, match="4lw.commands.whitelist"):
        zkmod.four_letter_word("h", 2181, "srvr", connect=lambda addr, timeout: refused)

    def refuse(addr, timeout):
        raise OSError("Connection refused")

    with pytest.raises(ZooKeeperError, match="cannot connect to h:2181"):
        zkmod.four_letter_word("h", 2181, "srvr", connect=refuse)


class FakeStat:
    version = 2
    ephemeralOwner = 0x100003bf4250007
    ctime = 1795592426098
    czxid = 15
    mzxid = 16
    dataLength = 30
    numChildren = 0


class NoNodeError_(Exception):
    pass


NoNodeError_.__name__ = "NoNodeError"


class FakeKazoo:
    def __init__(self, hosts, timeout, read_only):
        self.hosts = hosts
        self.deleted = []

    def start(self, timeout):
        pass

    def get_children(self, path):
        return ["3", "1"]

    def get(self, path):
        if path.endswith("/9"):
            raise NoNodeError_()
        return b'{"timestamp":"1"}', FakeStat()

    def delete(self, path, version):
        self.deleted.append((path, version))

    def stop(self):
        pass

    def close(self):
        pass


def test_direct_znodes_through_kazoo_interface():
    access = DirectAccess(["zk1:2181", "zk2:2181"], kazoo_factory=FakeKazoo)
    assert access.get_children("/brokers/ids") == ["1", "3"]
    data, stat = access.get("/brokers/ids/1")
    assert data == '{"timestamp":"1"}'
    assert stat["version"] == 2 and stat["ephemeral_owner"] == 0x100003bf4250007 and stat["czxid"] == "0xf"
    with pytest.raises(NoNodeError):
        access.get("/brokers/ids/9")
    access.delete("/brokers/ids/1", 2)
    assert access._zk.deleted == [("/brokers/ids/1", 2)]
    assert access._zk.hosts == "zk1:2181,zk2:2181"
    access.close()


def test_direct_without_kazoo_says_so(monkeypatch):
    monkeypatch.setattr(zkmod, "HAS_KAZOO", False)
    with pytest.raises(ZooKeeperError, match="needs the Python library kazoo"):
        DirectAccess(["zk1:2181"]).get_children("/brokers/ids")


class SecretApi:
    """A pod API whose core reads one Secret (or answers 404)."""
    request_timeout = 5

    def __init__(self, secrets):
        import base64
        secrets = dict((name, {"data": dict((k, base64.b64encode(v.encode()).decode()) for k, v in data.items())})
                       for name, data in secrets.items())

        class Core:
            @staticmethod
            def read_namespaced_secret(name, namespace, _request_timeout=None):
                if name not in secrets:
                    error = Exception("not found")
                    error.status = 404
                    raise error
                return secrets[name]
        self.core = Core()
        self.api_client = type("C", (), {"sanitize_for_serialization": staticmethod(lambda obj: obj)})()


def test_direct_access_logs_in_with_sasl_from_the_secret_and_never_shows_the_password():
    made = []

    def factory(hosts, timeout, read_only, **options):
        made.append(options)
        return FakeKazoo(hosts, timeout, read_only)
    params = {"zookeeper_access": "direct", "zookeeper_hosts": ["zk1:2181"], "namespace": "kafka",
              "zookeeper_auth_user": "kafka", "zookeeper_auth_secret": "zk-auth"}
    access = zkmod.make_access(params, pod_api_factory=lambda: SecretApi({"zk-auth": {"password": "pw 1"}}),
                               kazoo_factory=factory)
    access.get_children("/brokers/ids")
    assert made == [{"sasl_options": {"mechanism": "DIGEST-MD5", "username": "kafka", "password": "pw 1"}}]
    # Without the Secret option kazoo does not log in; a missing Secret or key is named, its value never.
    plain = zkmod.make_access(dict(params, zookeeper_auth_secret=""), pod_api_factory=None, kazoo_factory=factory)
    plain.get_children("/brokers/ids")
    assert made[-1] == {}
    for secrets, words in (({}, r"cannot be read \(HTTP 404\)"), ({"zk-auth": {"other": "x"}}, "has no key password")):
        with pytest.raises(ZooKeeperError, match=words) as caught:
            zkmod.make_access(params, pod_api_factory=lambda s=secrets: SecretApi(s), kazoo_factory=factory)
        assert "zk-auth" in str(caught.value) and "zookeeper_auth_secret" in str(caught.value)


def test_direct_needs_hosts():
    with pytest.raises(ZooKeeperError, match="zookeeper_hosts"):
        DirectAccess([])


# ---------------------------------------------------------------------------------------------- wait


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Sequence:
    def __init__(self, *results):
        self.results = list(results)

    def servers(self):
        result = self.results.pop(0) if len(self.results) > 1 else self.results[0]
        if isinstance(result, Exception):
            raise result
        return result


def test_wait_for_quorum_polls_until_leader_elected():
    clock = Clock()
    access = Sequence(ZooKeeperError("no ZooKeeper pod matches"), answers(None, None, None),
                      answers("follower", "leader", "follower"))
    state, polls = wait_for_quorum(access, 3, 300, 5, clock=clock, sleep=clock.sleep)
    assert state["quorum"] and polls == 3 and clock.sleeps == [5, 5]


def test_wait_for_quorum_gives_up_at_timeout_without_oversleeping():
    clock = Clock()
    state, polls = wait_for_quorum(Sequence(answers("leader", None, None)), 3, 12, 5, clock=clock,
                                   sleep=clock.sleep)
    assert not state["quorum"]
    assert clock.sleeps == [5, 5, 2] and clock.now == 12 and polls == 4


def test_wait_for_quorum_timeout_zero_asks_once():
    clock = Clock()
    state, polls = wait_for_quorum(Sequence(ZooKeeperError("boom")), 3, 0, 5, clock=clock, sleep=clock.sleep)
    assert polls == 1 and clock.sleeps == [] and state["problems"][0] == "boom"


# ------------------------------------------------------------------------------ cons: who is connected

# ZooKeeper 3.9.3's answer to cons with a broker connected (the second line is the connection that asked).
CONS_39 = (" /10.244.0.7:40682[1](queued=0,recved=1205,sent=1206,sid=0x1000d1e6e6b0003,lop=PING,est=1795590000123,"
           "to=18000,lcxid=0x5d,lzxid=0x10000012f,lresp=1795590403512,llat=0,minlat=0,avglat=0.2,maxlat=9)\n"
           " /127.0.0.1:52616[0](queued=0,recved=1,sent=0)\n\n")
# 3.4.10 prints the same fields.
CONS_34 = (" /10.244.0.9:51012[1](queued=0,recved=9,sent=9,sid=0x15ff0f0c8a80000,lop=PING,est=1511000000000,"
           "to=6000,lcxid=0x0,lzxid=0xffffffffffffffff,lresp=1511000001000,llat=0,minlat=0,avglat=0,maxlat=1)\n"
           " /127.0.0.1:34330[0](queued=0,recved=1,sent=0)\n")


def test_parse_cons_lists_session_ids_of_39_and_34():
    assert parse_cons(CONS_39) == {0x1000d1e6e6b0003}
    assert parse_cons(CONS_34) == {0x15ff0f0c8a80000}
    assert parse_cons(" /127.0.0.1:52616[0](queued=0,recved=1,sent=0)\n") == set()


@pytest.mark.parametrize("answer, words", [
    ("", "no connection list"),
    ("cons is not executed because it is not in the whitelist.\n", "not whitelisted"),
    ("This ZooKeeper instance is not currently serving requests\n", "not currently serving"),
    ("sid=0x1 somewhere in a log line\n", "no connection list"),
])
def test_an_answer_that_is_not_a_cons_listing_is_an_error_never_an_empty_set(answer, words):
    with pytest.raises(ZooKeeperError) as info:
        parse_cons(answer)
    assert words in str(info.value)


CONS_ARGV = ("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2181 && printf cons >&3 && cat <&3")


def test_exec_sessions_asks_every_running_pod_and_names_those_that_cannot_answer():
    pods = FakeExecPods([zk_pod("zookeeper-0"), zk_pod("zookeeper-1"), zk_pod("zookeeper-2", phase="Pending")], {
        ("zookeeper-0", CONS_ARGV): (0, CONS_39, ""),
        ("zookeeper-1", CONS_ARGV): (1, "", "bash: connect: Connection refused\n")})
    got = ExecAccess(pods, "kafka", "app=zk").sessions()
    assert got["zookeeper-0"] == {0x1000d1e6e6b0003}
    assert "no connection list" in got["zookeeper-1"] and "Connection refused" in got["zookeeper-1"]
    assert got["zookeeper-2"] == "pod is Pending"
    assert [c[0] for c in pods.calls] == ["zookeeper-0", "zookeeper-1"]


SRVR_ARGV = ("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2181 && printf srvr >&3 && cat <&3")
SRVR_34 = """Zookeeper version: 3.4.10-39d3a4f269333c922ed3db283be479f9deacaa0f, built on 03/23/2017 10:13 GMT
Latency min/avg/max: 0/0/0
Mode: follower
Node count: 4
"""


def test_exec_versions_ask_srvr_inside_each_running_pod():
    # zkServer.sh status names no version; the upgrade check needs the one the server runs.
    pods = FakeExecPods([zk_pod("zookeeper-0"), zk_pod("zookeeper-1"), zk_pod("zookeeper-2", deleting=True)], {
        ("zookeeper-0", SRVR_ARGV): (0, SRVR_34, ""),
        ("zookeeper-1", SRVR_ARGV): (1, "", "bash: connect: Connection refused\n")})
    got = ExecAccess(pods, "kafka", "app=zk").versions()
    assert got == {"zookeeper-0": "3.4.10-39d3a4f269333c922ed3db283be479f9deacaa0f, built on 03/23/2017 10:13 GMT",
                   "zookeeper-1": None, "zookeeper-2": None}
    assert [c[0] for c in pods.calls] == ["zookeeper-0", "zookeeper-1"]


def test_direct_versions_come_from_srvr():
    got = DirectAccess(["zk1"], fourlw=lambda host, port, word, timeout: SRVR_34).versions()
    assert got["zk1"].startswith("3.4.10-")


def test_direct_sessions_with_fake_socket():
    def fourlw(host, port, word, timeout):
        assert word == "cons"
        if host == "zk3":
            raise ZooKeeperError("cannot connect to zk3:2181: refused")
        return CONS_39

    got = DirectAccess(["zk1", "zk3"], fourlw=fourlw).sessions()
    assert got["zk1"] == {0x1000d1e6e6b0003} and "refused" in got["zk3"]


# ---------------------------------------------------------- znode data that imitates zkCli's own output

STAT_BLOCK = ["cZxid = 0x5", "ctime = Wed Nov 25 07:39:57 UTC 2026", "mZxid = 0x5",
              "mtime = Wed Nov 25 07:39:57 UTC 2026", "pZxid = 0x5", "cversion = 0", "dataVersion = %d",
              "aclVersion = 0", "ephemeralOwner = %s", "dataLength = %d", "numChildren = 0"]


def stat_block(version, owner, length):
    return "\n".join(STAT_BLOCK) % (version, owner, length)


def test_get_takes_the_last_stat_block_and_data_of_the_reported_length():
    hostile = '{"endpoints":[]}\n' + stat_block(7, "0x0", 3)  # the data itself looks like data + a stat
    text = hostile + "\n" + stat_block(0, "0x1000d1e6e6b0003", len(hostile))
    data, stat = parse_zkcli_get(text)
    assert stat["version"] == 0 and stat["ephemeral_owner"] == 0x1000d1e6e6b0003
    assert data == hostile  # the whole data, which no registration parser takes for a registration
    # the real case: one JSON line, with a log line that slipped through before it
    line = '{"endpoints":["PLAINTEXT://kafka-service-1:9092"],"timestamp":"1"}'
    data, stat = parse_zkcli_get("stray text\n%s\n%s" % (line, stat_block(0, "0x1", len(line))))
    assert data == line


def test_a_prompt_inside_znode_data_makes_the_session_output_ambiguous():
    commands = ["get -s /brokers/ids/1", "get -s /brokers/ids/2"]
    fake = '[zk: localhost:2181(CONNECTED) 2] get -s /brokers/ids/2'
    text = "\n".join([
        "[zk: localhost:2181(CONNECTED) 1] get -s /brokers/ids/1", fake, '{"endpoints":["PLAINTEXT://x:1"]}',
        stat_block(0, "0x0", 10), "[zk: localhost:2181(CONNECTED) 2] get -s /brokers/ids/2",
        '{"endpoints":["PLAINTEXT://kafka-service-2:9092"]}', stat_block(0, "0x2", 49),
        "[zk: localhost:2181(CONNECTED) 3] "])
    assert split_zkcli_session(text, commands) is None  # the caller reads each node in a run of its own
    assert split_zkcli_session(text.replace(fake + "\n", ""), commands) is not None


def test_a_children_list_split_by_the_event_threads_output_is_joined_back():
    # Seen on the test bed under load: zkCli 3.9.3's WatchedEvent line printed inside the list.
    text = ("Connecting to localhost:2181\n\nWATCHER::\n[__consumer_offsets, e2e-rf1, e2e-rf2\n"
            "WatchedEvent state:SyncConnected type:None path:null zxid: -1\n, e2e-rolling]\n")
    assert parse_zkcli_ls(text) == ["__consumer_offsets", "e2e-rf1", "e2e-rf2", "e2e-rolling"]
    line = '{"endpoints":["PLAINTEXT://kafka-service-1:9092"],"timestamp":"1"}'
    split = line[:20] + "\nWatchedEvent state:SyncConnected type:None path:null zxid: -1\n" + line[20:]
    data, dummy = parse_zkcli_get("%s\n%s" % (split, stat_block(0, "0x1", len(line))))
    assert data == line


@pytest.mark.parametrize("data", [
    '{"endpoints":["PLAINTEXT://x:1"],"note":"Node does not exist: /brokers/ids/1"}',
    'KeeperErrorCode = NoNode for /brokers/ids/1',
    'KeeperErrorCode = ConnectionLoss',
    'java.lang.IllegalArgumentException: Path must start with / character',
])
def test_a_read_whose_data_imitates_a_zkcli_error_returns_the_data(data):
    # One zkCli run per read (the fallback, and every read right before a deletion): the stat block says the
    # node was read, so nothing in its data is taken for zkCli's own error or for the 3.4 syntax.
    cli = ("zkCli.sh", "-server", "localhost:2181")
    pods = FakeExecPods([zk_pod("zk-0")], {
        ("zkServer.sh", "status"): (0, STATUS_FOLLOWER, ""),
        cli + ("get", "-s", "/brokers/ids/1"): (0, "%s\n%s\n" % (data, stat_block(3, "0x1", len(data))), "")})
    access = ExecAccess(pods, "kafka", "app=zk")
    got, stat = access.get("/brokers/ids/1")
    assert got == data and stat["version"] == 3 and stat["ephemeral_owner"] == 1
    assert access.get_many(["/brokers/ids/1"]) == {"/brokers/ids/1": (got, stat)}
    assert access._old_syntax is False


# ------------------------------------------------------- the Kubernetes API failing during the wait

def listing_failed():
    return PodApiError("listing pods app=zk in namespace kafka failed: HTTP 503 Service Unavailable",
                       transient=True)


def test_wait_for_quorum_retries_a_transient_api_error_until_it_answers():
    clock = Clock()
    access = Sequence(listing_failed(), answers("follower", "leader", "follower"))
    state, polls = wait_for_quorum(access, 3, 300, 5, clock=clock, sleep=clock.sleep)
    assert state["quorum"] and polls == 1 and clock.sleeps == [RETRY_INTERVAL]


def test_wait_for_quorum_fails_naming_the_wait_when_the_api_error_outlasts_the_deadline():
    clock = Clock()
    with pytest.raises(PodApiError) as info:
        wait_for_quorum(Sequence(listing_failed()), 3, 10, 5, clock=clock, sleep=clock.sleep)
    assert str(info.value).startswith("waiting for a ZooKeeper quorum: listing pods app=zk in namespace kafka "
                                      "failed: HTTP 503")
    assert "(after 5 tries)" in str(info.value) and clock.now == 8 and info.value.transient


def test_wait_for_quorum_does_not_retry_a_lasting_api_error():
    clock = Clock()
    forbidden = PodApiError("listing pods app=zk in namespace kafka failed: HTTP 403 Forbidden")
    with pytest.raises(PodApiError, match="^waiting for a ZooKeeper quorum: .*403 Forbidden$"):
        wait_for_quorum(Sequence(forbidden), 3, 300, 5, clock=clock, sleep=clock.sleep)
    assert clock.now == 0


def test_a_cli_script_goes_to_zkclis_standard_input_with_its_length_on_the_command_line():
    from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import ExecAccess

    class Api:
        def __init__(self):
            self.calls = []

        def list_pods(self, namespace, selector):
            return [{"metadata": {"name": "zookeeper-0"}, "status": {"phase": "Running"},
                     "spec": {"containers": [{"name": "zookeeper"}]}}]

        def exec(self, namespace, name, argv, container=None, timeout=60, stdin=None):
            self.calls.append((argv, stdin))
            if argv[:2] == ["zkServer.sh", "status"]:
                return 0, "Mode: standalone\n", ""
            return 0, "echoed", ""

    api = Api()
    access = ExecAccess(api, "kafka", "app=zk")
    script = "create /x '{\"a\":1}'\nquit\n"
    assert access.run_cli_script(script) == ("zookeeper-0", 0, "echoed", "")
    argv, stdin = api.calls[-1]
    assert stdin == script and argv == ["sh", "-c", "head -c %d | zkCli.sh -server localhost:2181" % len(script)]
    assert "create" not in " ".join(argv)


def test_the_write_script_creates_parents_then_creates_sets_and_sequences_and_quits():
    import shlex
    from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import SEQUENTIAL, zkcli_write_script
    script = zkcli_write_script(["/a", "/a/b"], [("/a/b/c", '{"x":1}', None), ("/a/b/d", "y", 4),
                                                 ("/a/n_", "z", SEQUENTIAL)])
    assert script.splitlines() == ["create /a ''", "create /a/b ''", "create /a/b/c '{\"x\":1}'",
                                   "set -v 4 /a/b/d 'y'", "create -s /a/n_ 'z'", "quit"]
    assert all(shlex.split(line) for line in script.splitlines())
    for data in ("it's", "a b", "a\nb"):
        with pytest.raises(ValueError):
            zkcli_write_script([], [("/a", data, None)])
