"""Pod facts from real-looking pod JSON, and the pod API calls against fake Kubernetes clients."""
import socket

import pytest
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError
from websocket import WebSocketConnectionClosedException

from ansible_collections.kafka_eks.cluster.plugins.module_utils import k8s_pods
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import (
    PodApi,
    PodApiError,
    PodChanged,
    describe_pod,
    parse_time_ms,
    pod_facts,
)

RUNNING = {
    "metadata": {"name": "kafka-broker-2-5d8f7c9b6-x2x7q", "uid": "0f9d3c52-6c1e-4a0e-8d3f-6b1f0c4a7e21",
                 "creationTimestamp": "2026-11-25T07:00:00Z",
                 "labels": {"app.kubernetes.io/component": "broker", "kafka-eks.cluster/broker-id": "2"}},
    "spec": {"nodeName": "node-b", "containers": [{"name": "broker"}]},
    "status": {
        "phase": "Running",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
        "containerStatuses": [{
            "name": "broker", "ready": True, "restartCount": 2,
            "state": {"running": {"startedAt": "2026-11-25T07:00:12Z"}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "startedAt": "2026-11-25T07:00:03Z",
                                         "finishedAt": "2026-11-25T07:00:09Z"}}}]},
}
PENDING = {
    "metadata": {"name": "kafka-broker-3-6c5b-xyz12", "uid": "u3", "deletionTimestamp": None,
                 "labels": {"kafka-eks.cluster/broker-id": "3"}},
    "spec": {"containers": [{"name": "broker"}]},
    "status": {"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient memory."}]},
}


def test_time_parsing():
    assert parse_time_ms("2026-11-25T07:00:12Z") == 1795590012000
    assert parse_time_ms("2026-11-25T07:00:12.250Z") == 1795590012250
    assert parse_time_ms("2026-11-25T09:00:12+02:00") == 1795590012000
    assert parse_time_ms(None) is None and parse_time_ms("yesterday") is None


def test_running_pod_facts():
    facts = pod_facts(RUNNING, "kafka-eks.cluster/broker-id")
    assert facts["broker_id"] == 2 and facts["phase"] == "Running" and facts["running"] and facts["ready"]
    assert facts["started_at"] == 1795590012000
    assert facts["last_started_at"] == 1795590003000
    assert facts["restart_count"] == 2 and facts["deleting"] is False and facts["unschedulable"] is None
    assert facts["last_state"] == "terminated (Error, exit 1)"
    text = describe_pod(facts)
    assert text.startswith("kafka-broker-2-5d8f7c9b6-x2x7q (Running") and "2 restarts" in text


def test_pending_unschedulable_pod_facts():
    facts = pod_facts(PENDING, "kafka-eks.cluster/broker-id")
    assert facts["broker_id"] == 3 and not facts["running"] and facts["started_at"] is None
    assert facts["unschedulable"] == "Unschedulable: 0/3 nodes are available: 3 Insufficient memory."


def test_bad_id_label_gives_none():
    pod = {"metadata": {"name": "x", "labels": {"kafka-eks.cluster/broker-id": "two"}}, "status": {}}
    assert pod_facts(pod, "kafka-eks.cluster/broker-id")["broker_id"] is None
    assert pod_facts(pod, None)["broker_id"] is None


class ApiException(Exception):
    def __init__(self, status, reason="", body=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.body = body


class FakeCore:
    def __init__(self, delete_error=None):
        self.delete_error = delete_error
        self.deleted = []

    def delete_namespaced_pod(self, name, namespace, body, _request_timeout=None):
        self.deleted.append((name, namespace, body.preconditions.uid, body.grace_period_seconds))
        self.request_timeout = _request_timeout
        if self.delete_error:
            raise self.delete_error

    def connect_get_namespaced_pod_exec(self, *args, **kwargs):
        raise AssertionError("called through stream only")


def test_delete_pod_uses_uid_precondition_and_no_force(monkeypatch):
    monkeypatch.setattr(k8s_pods, "ApiException", ApiException)
    core = FakeCore()
    assert PodApi(None, core_v1=core, stream=object()).delete_pod("kafka", "p", "u1") is True
    assert core.deleted == [("p", "kafka", "u1", None)]
    gone = PodApi(None, core_v1=FakeCore(ApiException(404, "Not Found")), stream=object())
    assert gone.delete_pod("kafka", "p", "u1") is False
    replaced = PodApi(None, core_v1=FakeCore(ApiException(409, "Conflict")), stream=object())
    with pytest.raises(PodChanged, match="no longer has uid u1"):
        replaced.delete_pod("kafka", "p", "u1")
    forbidden = PodApi(None, core_v1=FakeCore(ApiException(403, "Forbidden", "pods is forbidden")), stream=object())
    with pytest.raises(PodApiError, match="HTTP 403 Forbidden"):
        forbidden.delete_pod("kafka", "p", "u1")


class FakeWs:
    def __init__(self, out, err, rc, never_closes=False):
        self.out, self.err, self.rc = list(out), list(err), rc
        self.never_closes = never_closes
        self.closed = False

    def is_open(self):
        return self.never_closes or bool(self.out or self.err)

    def update(self, timeout=0):
        pass

    def peek_stdout(self):
        return bool(self.out)

    def read_stdout(self):
        return self.out.pop(0)

    def peek_stderr(self):
        return bool(self.err)

    def read_stderr(self):
        return self.err.pop(0)

    def read_channel(self, channel):
        assert channel == k8s_pods.ERROR_CHANNEL
        if self.rc is None:
            return ""
        if self.rc == 0:
            return '{"metadata":{},"status":"Success"}'
        return ('{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code",'
                '"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"%d"}]}}' % self.rc)

    def close(self):
        self.closed = True


def test_exec_collects_output_and_return_code():
    calls = []
    ws = FakeWs(["Mode: ", "leader\n"], ["ZooKeeper JMX enabled by default\n"], 0)

    def stream(func, name, namespace, **kwargs):
        calls.append((name, namespace, kwargs))
        return ws

    api = PodApi(None, core_v1=FakeCore(), stream=stream)
    assert api.exec("kafka", "zookeeper-0", ["zkServer.sh", "status"], container="zookeeper") == (
        0, "Mode: leader\n", "ZooKeeper JMX enabled by default\n")
    assert calls[0][2]["command"] == ["zkServer.sh", "status"] and calls[0][2]["container"] == "zookeeper"
    assert calls[0][2]["tty"] is False and calls[0][2]["stdin"] is False
    assert ws.closed


def test_exec_returns_a_non_zero_exit_code():
    api = PodApi(None, core_v1=FakeCore(), stream=lambda *a, **k: FakeWs([], ["Error contacting service.\n"], 1))
    assert api.exec("kafka", "zookeeper-0", ["zkServer.sh", "status"])[0] == 1


@pytest.mark.parametrize("status, code", [
    ('{"metadata":{},"status":"Success"}', 0),
    ('{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}', 3),
    # KWOK runs the command itself and only names the exit status in the message.
    ('{"status":"Failure","message":"error executing command [zkServer.sh status], exit status 1"}', 1),
    ('{"status":"Failure","message":"something else went wrong"}', 1),
    ("", None),
])
def test_exit_code_from_the_error_channel(status, code):
    assert k8s_pods.exit_code(status) == code


def test_exec_timeout_names_pod_and_command():
    ticks = iter(range(0, 1000, 10))
    api = PodApi(None, core_v1=FakeCore(), stream=lambda *a, **k: FakeWs([], [], None, never_closes=True))
    with pytest.raises(PodApiError, match=r"exec `zkCli.sh ls /` in pod kafka/zookeeper-1 did not finish"):
        api.exec("kafka", "zookeeper-1", ["zkCli.sh", "ls", "/"], timeout=30, clock=lambda: next(ticks))


def test_auth_params_keep_only_kubernetes_core_auth_options():
    params = {"kubeconfig": "/k", "context": None, "namespace": "kafka", "validate_certs": False}
    assert k8s_pods.auth_params(params) == {"kubeconfig": "/k", "validate_certs": False}


def test_make_pod_api_reports_a_bad_kubeconfig(tmp_path):
    with pytest.raises(PodApiError, match="cannot create a Kubernetes API client"):
        k8s_pods.make_pod_api({"kubeconfig": str(tmp_path / "missing-kubeconfig")})


# --- awkward failures: every call bounded, every failure a PodApiError naming the call, transient ones marked ---

class FlakyCore:
    """list_namespaced_pod raising each of ``errors`` in turn, then answering with one pod."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = []

    def list_namespaced_pod(self, namespace, label_selector=None, _request_timeout=None):
        self.calls.append((namespace, label_selector, _request_timeout))
        if self.errors:
            raise self.errors.pop(0)
        return type("PodList", (), {"items": [RUNNING]})()


class Plain:
    @staticmethod
    def sanitize_for_serialization(obj):
        return obj


def _api(core, **kwargs):
    return PodApi(Plain(), core_v1=core, stream=kwargs.pop("stream", object()), **kwargs)


def test_list_pods_passes_a_request_timeout():
    core = FlakyCore()
    assert _api(core, request_timeout=7).list_pods("kafka", "app=zk") == [RUNNING]
    assert core.calls == [("kafka", "app=zk", 7)]
    assert k8s_pods.REQUEST_TIMEOUT > 0 and _api(FlakyCore()).request_timeout == k8s_pods.REQUEST_TIMEOUT


def test_delete_pod_passes_a_request_timeout(monkeypatch):
    monkeypatch.setattr(k8s_pods, "ApiException", ApiException)
    core = FakeCore()
    _api(core, request_timeout=9).delete_pod("kafka", "p", "u1")
    assert core.request_timeout == 9


@pytest.mark.parametrize("error, transient, text", [
    (ApiException(500, "Internal Server Error", "etcdserver: request timed out"), True, "HTTP 500"),
    (ApiException(503, "Service Unavailable"), True, "HTTP 503"),
    (ApiException(429, "Too Many Requests"), True, "HTTP 429"),
    (ApiException(403, "Forbidden", "pods is forbidden"), False, "HTTP 403 Forbidden"),
    (ReadTimeoutError(None, "/api/v1/namespaces/kafka/pods", "Read timed out. (read timeout=30)"), True,
     "ReadTimeoutError"),
    (MaxRetryError(None, "/api/v1/namespaces/kafka/pods", ConnectionRefusedError(111, "Connection refused")), True,
     "MaxRetryError"),
    (ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")), True,
     "Connection reset by peer"),
    (ConnectionResetError(104, "Connection reset by peer"), True, "ConnectionResetError"),
    (socket.timeout("timed out"), True, "timed out"),
])
def test_list_pods_turns_each_failure_into_a_pod_api_error(monkeypatch, error, transient, text):
    monkeypatch.setattr(k8s_pods, "ApiException", ApiException)
    with pytest.raises(PodApiError) as info:
        _api(FlakyCore(error)).list_pods("kafka", "app=zk")
    assert str(info.value).startswith("listing pods app=zk in namespace kafka failed: ")
    assert text in str(info.value) and info.value.transient is transient


def test_a_bug_is_not_dressed_up_as_an_api_error():
    with pytest.raises(TypeError):
        _api(FlakyCore(TypeError("unexpected keyword"))).list_pods("kafka", "app=zk")


@pytest.mark.parametrize("error, transient", [
    (ApiException(502, "Bad Gateway"), True),
    (ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")), True),
    (ApiException(422, "Unprocessable Entity"), False),
])
def test_delete_pod_failures_name_the_pod(monkeypatch, error, transient):
    monkeypatch.setattr(k8s_pods, "ApiException", ApiException)
    core = FakeCore(error)
    with pytest.raises(PodApiError, match=r"^deleting pod kafka/kafka-broker-2-x failed: ") as info:
        _api(core).delete_pod("kafka", "kafka-broker-2-x", "u1")
    assert info.value.transient is transient and not isinstance(info.value, PodChanged)
    assert len(core.deleted) == 1, "a delete must never be retried by PodApi"


def test_exec_handshake_refused_is_not_transient(monkeypatch):
    monkeypatch.setattr(k8s_pods, "ApiException", ApiException)

    def refused(*args, **kwargs):
        raise ApiException(0, "Handshake status 403 Forbidden -+-+- {} -+-+- pods/exec is forbidden")

    with pytest.raises(PodApiError, match=r"^exec `zkServer.sh status` in pod kafka/zookeeper-0 failed: ") as info:
        _api(FakeCore(), stream=refused).exec("kafka", "zookeeper-0", ["zkServer.sh", "status"])
    assert info.value.transient is False


def test_exec_connection_refused_is_transient_and_bounded(monkeypatch):
    monkeypatch.setattr(k8s_pods, "ApiException", ApiException)
    seen = {}

    def refused(*args, **kwargs):
        seen["request_timeout"] = kwargs.get("_request_timeout")
        seen["socket_timeout"] = k8s_pods.websocket_client.getdefaulttimeout()
        raise ApiException(0, "[Errno 111] Connection refused")

    before = k8s_pods.websocket_client.getdefaulttimeout()
    with pytest.raises(PodApiError, match="exec `zkCli.sh ls /` in pod kafka/zookeeper-1 failed") as info:
        _api(FakeCore(), stream=refused, request_timeout=11).exec("kafka", "zookeeper-1", ["zkCli.sh", "ls", "/"])
    assert info.value.transient is True
    assert seen == {"request_timeout": 11, "socket_timeout": 11}
    assert k8s_pods.websocket_client.getdefaulttimeout() == before, "the process-wide socket default leaked"


class DroppingWs(FakeWs):
    def update(self, timeout=0):
        raise WebSocketConnectionClosedException("Connection to remote host was lost.")


def test_exec_connection_dropped_mid_command():
    ws = DroppingWs([], [], None, never_closes=True)
    with pytest.raises(PodApiError, match="exec `zkCli.sh ls /` in pod kafka/zookeeper-1 lost its connection") as info:
        _api(FakeCore(), stream=lambda *a, **k: ws).exec("kafka", "zookeeper-1", ["zkCli.sh", "ls", "/"])
    assert info.value.transient is True and ws.closed


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_retry_transient_retries_until_the_call_answers(monkeypatch):
    monkeypatch.setattr(k8s_pods, "ApiException", ApiException)
    clock = Clock()
    core = FlakyCore(ApiException(503, "Service Unavailable"),
                     ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))
    api = _api(core)
    pods = PodApi.retry_transient(lambda: api.list_pods("kafka", "app=zk"), deadline=60, clock=clock,
                                  sleep=clock.sleep)
    assert pods == [RUNNING] and len(core.calls) == 3 and clock.now == 2 * k8s_pods.RETRY_INTERVAL


def test_retry_transient_gives_up_at_the_deadline_with_the_last_error(monkeypatch):
    monkeypatch.setattr(k8s_pods, "ApiException", ApiException)
    clock = Clock()
    core = FlakyCore(*[ApiException(500, "Internal Server Error")] * 100)
    api = _api(core)
    with pytest.raises(PodApiError, match=r"listing pods app=zk in namespace kafka failed: HTTP 500.*after 5 tries"):
        PodApi.retry_transient(lambda: api.list_pods("kafka", "app=zk"), deadline=10, clock=clock, sleep=clock.sleep)
    assert len(core.calls) == 5 and clock.now < 10


def test_retry_transient_does_not_retry_a_lasting_error(monkeypatch):
    monkeypatch.setattr(k8s_pods, "ApiException", ApiException)
    clock = Clock()
    core = FlakyCore(ApiException(403, "Forbidden"))
    api = _api(core)
    with pytest.raises(PodApiError, match="HTTP 403") as info:
        PodApi.retry_transient(lambda: api.list_pods("kafka", "app=zk"), deadline=60, clock=clock, sleep=clock.sleep)
    assert len(core.calls) == 1 and clock.now == 0 and "tries" not in str(info.value)


def nodeport_pod(host_ip, extra_env=()):
    pod = {"metadata": {"name": "kafka-broker-0-x", "namespace": "kafka"},
           "spec": {"nodeName": "node-a", "containers": [
               {"name": "sidecar", "env": [{"name": "KAFKA_ADVERTISED_LISTENERS", "value": "SIDECAR://x:1"}]},
               {"name": "broker", "env": [
                   {"name": "KAFKA_EXTERNAL_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                   {"name": "KAFKA_ADVERTISED_LISTENERS",
                    "value": "PLAINTEXT://kafka-service-0:9092,EXTERNAL://$(KAFKA_EXTERNAL_HOST):31090"},
               ] + list(extra_env)}]},
           "status": {}}
    if host_ip is not None:
        pod["status"]["hostIP"] = host_ip
    return pod


def test_advertised_listeners_are_expanded_with_the_pods_node_address_as_the_kubelet_does():
    facts = pod_facts(nodeport_pod("10.0.3.7"), container="broker")
    assert facts["advertised_listeners"] == "PLAINTEXT://kafka-service-0:9092,EXTERNAL://10.0.3.7:31090"


def test_a_pod_not_yet_on_a_node_keeps_the_reference_as_written():
    facts = pod_facts(nodeport_pod(None), container="broker")
    assert facts["advertised_listeners"].endswith("EXTERNAL://$(KAFKA_EXTERNAL_HOST):31090")


@pytest.mark.parametrize("value, known, expanded", [
    ("$(A):1", {"A": "h"}, "h:1"),
    ("$$(A):1", {"A": "h"}, "$(A):1"),  # escaped
    ("$(B):1", {"A": "h"}, "$(B):1"),  # not defined before: left as written
    ("a$b$(A)", {"A": "h"}, "a$bh"),
])
def test_env_expansion_follows_kubernetes(value, known, expanded):
    assert k8s_pods.expand_env(value, known) == expanded


def test_a_later_env_entry_is_not_visible_to_an_earlier_one():
    pod = nodeport_pod("10.0.3.7")
    env = pod["spec"]["containers"][1]["env"]
    env.insert(0, env.pop())  # KAFKA_ADVERTISED_LISTENERS before KAFKA_EXTERNAL_HOST
    assert pod_facts(pod, container="broker")["advertised_listeners"].endswith("$(KAFKA_EXTERNAL_HOST):31090")


def test_exec_sends_standard_input_on_the_stream_never_in_the_command():
    calls, sent = [], []
    ws = FakeWs(["ok\n"], [], 0)
    ws.write_stdin = sent.append

    def stream(func, name, namespace, **kwargs):
        calls.append(kwargs)
        return ws

    api = PodApi(None, core_v1=FakeCore(), stream=stream)
    assert api.exec("kafka", "zookeeper-0", ["sh", "-c", "head -c 5 | cat"], stdin="data\n") == (0, "ok\n", "")
    assert calls[0]["stdin"] is True and sent == ["data\n"]
    assert "data" not in " ".join(calls[0]["command"])
