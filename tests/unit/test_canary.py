"""bench/canary.py: the report maths over recorded events, restart windows from Kubernetes polls, the
name-resolution shim (loopback only), the producer and consumer threads against a fake client, and the
benchmark report's canary section."""
import collections
import datetime
import os
import socket
import sys
import threading
import time
from types import SimpleNamespace as Obj

import kafka
import kafka.admin
import kafka.conn
import kubernetes
import pytest
from kafka.future import Future

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "bench"))

import canary  # noqa: E402  pylint: disable=wrong-import-position
import report  # noqa: E402  pylint: disable=wrong-import-position

T0 = 1000.0


def steady(count, partitions=2, latency=0.01, rate=100.0):
    """count messages at rate, message i on partition i mod partitions, each acked after latency, at offset
    i // partitions (the partition's own sequence)."""
    sends = []
    for seq in range(count):
        sent = T0 + seq / rate
        sends.append({"seq": seq, "sent": sent, "called": sent, "partition": seq % partitions,
                      "acked": sent + latency, "offset": seq // partitions})
    return sends


def read_all(sends):
    return [{"seq": s["seq"], "partition": s["partition"], "offset": s["offset"], "at": s["acked"] + 0.001}
            for s in sends if s.get("acked") is not None]


def test_clean_run_counts_everything_once():
    sends = steady(100)
    report = canary.summarise(sends, read_all(sends), T0, T0 + 1.0)
    assert (report["sent"], report["acknowledged"], report["consumed"]) == (100, 100, 100)
    assert (report["lost"], report["duplicated"], report["redelivered"], report["out_of_order"]) == (0, 0, 0, 0)
    assert report["latency_ms"] == {"p50": 10.0, "p99": 10.0, "max": 10.0, "n": 100}
    # Acks every 10 ms; the first comes 10 ms after the start.
    assert report["longest_stall"]["seconds"] == pytest.approx(0.01, abs=1e-6)
    assert report["errors"] == {}


def test_a_message_at_two_offsets_is_a_duplicate_and_one_offset_read_twice_is_not():
    sends = steady(10)
    consumed = read_all(sends)
    # Message 3 written a second time (a retry the idempotent producer failed to fence), at a new offset...
    consumed.append({"seq": 3, "partition": 1, "offset": 5, "at": T0 + 2})
    # ...and message 4's record read again at the same offset (the consumer re-fetched it).
    consumed.append({"seq": 4, "partition": 0, "offset": 2, "at": T0 + 2})
    report = canary.summarise(sends, consumed, T0, T0 + 1.0)
    assert report["duplicated"] == 1 and report["duplicated_sample"] == [3]
    assert report["redelivered"] == 1
    assert report["consumed"] == 10 and report["consumed_records"] == 12
    assert report["lost"] == 0


def test_an_ack_never_consumed_is_lost():
    sends = steady(10)
    consumed = [c for c in read_all(sends) if c["seq"] != 7]
    report = canary.summarise(sends, consumed, T0, T0 + 1.0)
    assert report["lost"] == 1 and report["lost_sample"] == [7]
    assert report["acknowledged"] == 10 and report["consumed"] == 9


def test_a_failed_send_found_in_the_log_is_not_lost_and_is_counted_apart():
    sends = steady(4)
    consumed = read_all(sends)
    del sends[2]["acked"], sends[2]["offset"]
    sends[2]["error"] = "KafkaTimeoutError: Batch for TopicPartition(topic='canary', partition=0) expired"
    errors = [{"at": T0 + 0.5, "source": "produce", "kind": "KafkaTimeoutError", "message": "expired"}]
    report = canary.summarise(sends, consumed, T0, T0 + 1.0, errors=errors)
    assert (report["failed"], report["lost"], report["in_log_not_acknowledged"]) == (1, 0, 1)
    assert report["errors"]["produce"]["KafkaTimeoutError"]["count"] == 1
    assert report["errors"]["produce"]["KafkaTimeoutError"]["first"] == T0 + 0.5


def test_a_stall_spanning_a_restart_window_is_that_windows_stall_whole():
    # Acks until 1 s, none from 1 s to 5 s, then again; broker 2 restarts from 2 s to 3 s.
    sends = [s for s in steady(700, latency=0.0) if not T0 + 1 < s["sent"] < T0 + 5]
    for send in sends:
        if send["sent"] > T0 + 5:
            send["acked"] = send["sent"]
    windows = [{"broker": "2", "start": T0 + 2, "end": T0 + 3, "container_started": T0 + 2.5}]
    report = canary.summarise(sends, read_all(sends), T0, T0 + 7.0, restart_windows=windows)
    assert report["longest_stall"] == {"seconds": pytest.approx(4.0, abs=0.02), "from": pytest.approx(1.0, abs=0.02),
                                       "to": pytest.approx(5.0, abs=0.02)}
    (window,) = report["restart_windows"]
    assert window["longest_stall"] == report["longest_stall"]
    assert (window["broker"], window["start"], window["end"], window["seconds"]) == ("2", 2.0, 3.0, 1.0)
    assert window["container_started"] == 2.5
    assert window["sent"] == 0 and window["latency_ms"]["p99"] is None


def test_a_window_without_a_stall_reports_the_short_gap_it_overlaps():
    sends = steady(300)
    windows = [{"broker": "0", "start": T0 + 1.0, "end": T0 + 2.0}]
    report = canary.summarise(sends, read_all(sends), T0, T0 + 3.0, restart_windows=windows)
    (window,) = report["restart_windows"]
    assert window["longest_stall"]["seconds"] == pytest.approx(0.01, abs=1e-6)
    assert window["sent"] == 101 and window["acknowledged"] == 101


def test_a_partition_stalled_while_others_are_acked_shows_in_the_partition_stall():
    sends = steady(400, partitions=2)
    for send in sends:
        # Partition 1's leader is gone from 1 s to 3 s: its messages wait, and are acked at 3 s.
        if send["partition"] == 1 and T0 + 1 <= send["sent"] < T0 + 3:
            send["acked"] = T0 + 3
    windows = [{"broker": "1", "start": T0 + 1.5, "end": T0 + 2.5}]
    report = canary.summarise(sends, read_all(sends), T0, T0 + 4.0, restart_windows=windows)
    assert report["longest_stall"]["seconds"] < 0.05
    assert report["longest_partition_stall"]["partition"] == 1
    assert report["longest_partition_stall"]["seconds"] == pytest.approx(2.0, abs=0.03)
    (window,) = report["restart_windows"]
    assert window["longest_partition_stall"]["partition"] == 1
    assert window["latency_ms"]["max"] == pytest.approx(1500, abs=20)


def test_a_phase_gets_the_figures_of_its_own_messages_and_names_the_restarts_that_began_in_it():
    # Two steps of an upgrade: a quiet one (0-2 s), then one where partition 1 waits from 2.5 s to 3.5 s
    # while broker 1 restarts (2.4-3.6 s); a message failed in the second.
    sends = steady(400, partitions=2)
    for send in sends:
        if send["partition"] == 1 and T0 + 2.5 <= send["sent"] < T0 + 3.5:
            send["acked"] = T0 + 3.5
    failed = sends[301]
    del failed["acked"], failed["offset"]
    failed["error"] = "KafkaTimeoutError: expired"
    windows = [{"broker": "1", "start": T0 + 2.4, "end": T0 + 3.6}]
    phases = [{"name": "second", "start": T0 + 2.0, "end": T0 + 4.0}, {"name": "first", "start": T0, "end": T0 + 2.0}]
    report = canary.summarise(sends, read_all(sends), T0, T0 + 4.0, restart_windows=windows, phases=phases)
    first, second = report["phases"]
    assert (first["name"], first["start"], first["end"], first["seconds"]) == ("first", 0.0, 2.0, 2.0)
    assert first["sent"] == first["acknowledged"] == 201 and first["failed"] == 0
    assert first["latency_ms"]["max"] == pytest.approx(10.0) and first["restart_windows"] == []
    assert first["longest_partition_stall"]["seconds"] < 0.05
    assert second["name"] == "second" and second["restart_windows"] == ["1"]
    assert (second["sent"], second["acknowledged"], second["failed"]) == (200, 199, 1)
    assert second["latency_ms"]["max"] == pytest.approx(1000, abs=20)
    assert second["longest_partition_stall"]["partition"] == 1
    assert second["longest_partition_stall"]["seconds"] == pytest.approx(1.0, abs=0.03)


def test_the_canary_marks_a_phase_around_a_block(monkeypatch):
    probe = canary.Canary(["127.0.0.1:9092"])
    clock = iter([T0 + 1, T0 + 5])
    monkeypatch.setattr(probe, "now", lambda: next(clock))
    with pytest.raises(ValueError):
        with probe.phase("roll"):
            raise ValueError("the step failed: its time is still a phase")
    assert probe.phases == [{"name": "roll", "start": T0 + 1, "end": T0 + 5}]


def test_no_acks_at_all():
    sends = [{"seq": i, "sent": T0 + i / 100.0, "called": T0 + i / 100.0, "partition": i % 3} for i in range(50)]
    windows = [{"broker": "0", "start": T0 + 0.1, "end": T0 + 0.2}]
    report = canary.summarise(sends, [], T0, T0 + 0.5, restart_windows=windows)
    assert (report["acknowledged"], report["unanswered"], report["consumed"], report["lost"]) == (0, 50, 0, 0)
    assert report["latency_ms"] == {"p50": None, "p99": None, "max": None, "n": 0}
    assert report["longest_stall"] == {"seconds": 0.5, "from": 0.0, "to": 0.5}
    assert report["restart_windows"][0]["longest_stall"]["seconds"] == 0.5


def test_nothing_sent():
    report = canary.summarise([], [], T0, T0 + 1.0)
    assert report["sent"] == 0 and report["longest_stall"]["seconds"] == 1.0
    assert report["longest_partition_stall"] is None and report["max_send_lag_ms"] is None


def test_out_of_order_consumption_is_not_a_reorder_in_the_log():
    sends = steady(20, partitions=3)
    consumed = list(reversed(read_all(sends)))
    report = canary.summarise(sends, consumed, T0, T0 + 1.0)
    assert (report["out_of_order"], report["lost"], report["duplicated"]) == (0, 0, 0)


def test_a_reorder_in_the_log_is_counted():
    sends = steady(6, partitions=1)
    sends[4]["offset"], sends[5]["offset"] = 5, 4  # 5 written before 4
    report = canary.summarise(sends, read_all(sends), T0, T0 + 1.0)
    assert report["out_of_order"] == 1


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert [canary.percentile(values, pct) for pct in (50, 99, 100)] == [50, 99, 100]
    assert canary.percentile([7.0], 99) == 7.0


def test_latency_counts_from_the_scheduled_time_and_send_lag_is_reported():
    sends = steady(3)
    sends[1]["called"] = sends[1]["sent"] + 0.25  # the canary's own thread was late
    sends[1]["acked"] = sends[1]["called"] + 0.01
    report = canary.summarise(sends, read_all(sends), T0, T0 + 1.0)
    assert report["latency_ms"]["max"] == 260.0
    assert report["max_send_lag_ms"] == 250.0


def test_restart_windows_from_polls():
    up = {"ready": True, "started": T0 - 100}
    snapshots = [
        (T0, {"0": up, "1": up}),
        (T0 + 1, {"0": {"ready": False, "started": T0 - 100}, "1": up}),
        (T0 + 2, {"1": up}),  # broker 0 without a pod: not ready
        (T0 + 3, {"0": {"ready": False, "started": T0 + 2.6}, "1": up}),
        (T0 + 4, {"0": {"ready": True, "started": T0 + 2.6}, "1": {"ready": False, "started": T0 - 100}}),
    ]
    windows = canary.restart_windows(snapshots, T0 + 5)
    assert windows == [
        {"broker": "0", "start": T0 + 1, "end": T0 + 4, "closed": True, "container_started": T0 + 2.6},
        {"broker": "1", "start": T0 + 4, "end": T0 + 5, "closed": False, "container_started": None},
    ]


def test_a_broker_not_ready_at_the_first_poll_opens_a_window_there():
    snapshots = [(T0, {"0": {"ready": False, "started": None}}), (T0 + 1, {"0": {"ready": True, "started": T0}})]
    assert canary.restart_windows(snapshots, T0 + 2) == [
        {"broker": "0", "start": T0, "end": T0 + 1, "closed": True, "container_started": T0}]


def test_service_names_follow_the_hosts_file_rule():
    services = [
        {"metadata": {"name": "kafka-service-0"},
         "spec": {"selector": {"broker": "0"}, "publishNotReadyAddresses": True}},
        {"metadata": {"name": "ready-only"}, "spec": {"selector": {"broker": "0"}}},
        {"metadata": {"name": "no-selector"}, "spec": {}},
    ]
    pods = [{"labels": {"broker": "0"}, "ip": "127.29.0.7", "ready": False, "terminating": False},
            {"labels": {"broker": "0"}, "ip": "127.29.0.3", "ready": True, "terminating": False},
            {"labels": {"broker": "1"}, "ip": "127.29.0.4", "ready": True, "terminating": False},
            {"labels": {"broker": "0"}, "ip": None, "ready": False, "terminating": False}]
    names = canary.service_addresses("kafka", services, pods)
    assert names["kafka-service-0"] == ["127.29.0.3", "127.29.0.7"]
    assert names["kafka-service-0.kafka.svc.cluster.local"] == ["127.29.0.3", "127.29.0.7"]
    assert names["ready-only.kafka"] == ["127.29.0.3"]
    assert "no-selector" not in names


def test_the_resolver_answers_only_with_addresses_of_this_machine(monkeypatch):
    """Loopback and the bed's pod network (namespaces on this machine's bridge); never a ClusterIP, another
    private address or a public one."""
    monkeypatch.setattr(kafka.conn, "dns_lookup", kafka.conn.dns_lookup)  # restored after the test
    table = {"kafka-service-0": ["10.244.29.13"], "outside": ["10.96.0.10", "127.29.0.9"], "cluster-ip": ["10.96.0.1"],
             "kafka-service-1": [], "other-bed": ["10.244.30.12"]}
    refused = []
    canary.install_resolver(table.get, lambda host, reason: refused.append(host), ("10.244.29.0/24",))
    lookup = kafka.conn.dns_lookup
    assert lookup("kafka-service-0", 9092) == [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                                               ("10.244.29.13", 9092))]
    assert [entry[4][0] for entry in lookup("outside", 9092)] == ["127.29.0.9"]
    assert lookup("127.0.0.1", 9092)[0][4] == ("127.0.0.1", 9092)
    assert lookup("10.244.29.40", 9092)[0][4] == ("10.244.29.40", 9092)
    assert lookup("10.0.0.1", 9092) == [] and lookup("example.com", 9092) == []
    assert lookup("cluster-ip", 9092) == [] and lookup("kafka-service-1", 9092) == []
    assert lookup("other-bed", 9092) == []  # another bed's network is not this canary's
    assert lookup("kafka-service-0", 9092, socket.AF_INET6) == []
    assert refused == ["10.0.0.1", "example.com", "cluster-ip", "kafka-service-1", "other-bed"]


def test_the_pod_network_comes_from_the_beds_testbed_json(tmp_path):
    (tmp_path / "kubeconfig").write_text("")
    assert canary.bed_pod_networks(str(tmp_path / "kubeconfig")) == ()  # not a test bed: loopback only
    (tmp_path / "testbed.json").write_text('{"pod_cidr": "10.244.29.0/24"}')
    assert canary.bed_pod_networks(str(tmp_path / "kubeconfig")) == ("10.244.29.0/24",)
    assert canary.is_local("10.244.29.5", ("10.244.29.0/24",)) and not canary.is_local("10.244.29.5")
    assert not canary.is_local("not-an-address", ("10.244.29.0/24",))


def test_the_canary_does_not_import_from_tests():
    with open(canary.__file__) as handle:
        source = handle.read()
    assert "tests/" not in source.replace("tests/requirements.txt", "") and "from lib " not in source


def test_the_benchmark_report_prints_the_canary_beside_the_msk_envelope():
    sends = steady(300, partitions=3)
    windows = [{"broker": "0", "start": T0 + 1.0, "end": T0 + 2.0, "closed": True, "container_started": T0 + 1.5},
               {"broker": "1", "start": T0 + 2.5, "end": T0 + 3.0, "closed": False, "container_started": None}]
    errors = [{"at": T0 + 1.2, "source": "client_log", "kind": "WARNING kafka.conn: %s: socket disconnected",
               "message": "x"}]
    run = canary.summarise(sends, read_all(sends), T0, T0 + 3.0, restart_windows=windows, errors=errors)
    run["roll_seconds"] = 80.0
    lines = report.canary_lines({"date": "2026-12-02T14:00:00+00:00", "brokers": 4, "rate": 100.0,
                                 "quiet_seconds": 10, "change": "a broker setting", "runs": [run]})
    text = "\n".join(lines)
    assert "patching-impact.html" in text and "up to ~2 s" in text
    assert "| 1 | 0 | 1.0 s (1.0 → 2.0 s) | 101 | 10 ms / 10 ms |" in text
    assert "still open at the end" in text
    assert "1 client warnings/errors (WARNING kafka.conn: %s: socket disconnected: 1)" in text
    assert "0 failed sends; 1 client warnings/errors in 1 rolls" in text


def test_the_benchmark_report_prints_the_heal_under_the_canary_beside_the_msk_envelope():
    sends = steady(300, partitions=3)
    windows = [{"broker": "2", "start": T0 + 1.0, "end": T0 + 2.5, "closed": True, "container_started": T0 + 2.0}]
    phases = [{"name": "fault", "start": T0, "end": T0 + 1.0}, {"name": "heal", "start": T0 + 1.0, "end": T0 + 2.8}]
    run = canary.summarise(sends, read_all(sends), T0, T0 + 3.0, restart_windows=windows, phases=phases)
    run["heal_seconds"] = 29.04
    timing = {"median": 29.0, "min": 29.0, "max": 29.0, "n": 1}
    heal = {"date": "2026-12-02T19:00:00+00:00", "canary_rate": 100.0, "quiet_seconds": 10,
            "killed": {"total": timing, "after_start": timing, "canary": [run]},
            "stopped": {"total": timing, "after_start": timing, "canary": [run, run]}}
    text = "\n".join(report.heal_lines({"heal": heal}))
    assert "(measured 2026-12-02T19:00:00+00:00) | dead client (SIGKILL) | stopped client (SIGSTOP) |" in text
    assert "n=2 per case" in text and "patching-impact.html" in text
    assert "| dead client (SIGKILL) | 1 | 29.0 s | 300 | 300 | 300 | 0 | 0 | 10 ms / 10 ms / 10 ms |" in text
    assert "| 1.5 s | 10 ms / 10 ms, " in text
    assert "| time broker 2 was out (pod not ready → ready) | 1.5 s | 1.5 s |" in text
    assert "| messages lost / duplicated (all runs) | 0 / 0 | 0 / 0 |" in text
    # An older results file without the canary still prints the times.
    old = {"heal": {"killed": {"total": timing, "after_start": timing}, "stopped": {"total": timing,
                                                                                    "after_start": timing}}}
    assert "Canary" not in "\n".join(report.heal_lines(old)) and "29.0 s" in "\n".join(report.heal_lines(old))


def test_the_report_prints_the_upgrade_steps_under_the_canary():
    sends = steady(300, partitions=3)
    phases = [{"name": "zookeeper_roll", "start": T0, "end": T0 + 1.0},
              {"name": "second_roll_protocol_raised", "start": T0 + 1.0, "end": T0 + 3.0}]
    windows = [{"broker": "1", "start": T0 + 1.5, "end": T0 + 2.0, "closed": True}]
    run = canary.summarise(sends, read_all(sends), T0, T0 + 3.0, restart_windows=windows, phases=phases)
    zookeeper, second = report.phase_lines(run, report.UPGRADE_STEPS)[2:]
    assert zookeeper.startswith("| ZooKeeper 3.4.10 → 3.9.3") and zookeeper.endswith("| none |")
    assert "| 1.0 s | 101 | 101 | 0 | 10 ms / 10 ms / 10 ms |" in zookeeper
    assert second.startswith("| second roll (protocol raised to 3.9) | 2.0 s |") and second.endswith("| 1 |")


class FakeCluster:
    """A topic's partitions as lists of (key, value), written by FakeProducer after a short delay; ``drop``
    holds sequence numbers acknowledged but never written (a loss)."""

    def __init__(self, partitions=3):
        self.log = {p: [] for p in range(partitions)}
        self.lock = threading.Lock()
        self.drop = set()
        self.created = []


def fake_kafka(monkeypatch, cluster):
    metadata = collections.namedtuple("RecordMetadata", "topic partition offset")
    record = collections.namedtuple("ConsumerRecord", "topic partition offset key value")

    class Admin:
        def __init__(self, **config):
            self.config = config

        def create_topics(self, topics, timeout_ms=None):
            cluster.created.extend(t.name for t in topics)

        def close(self):
            pass

    class Producer:
        def __init__(self, **config):
            assert config["enable_idempotence"] and config["acks"] == "all"
            self.pending = []

        def partitions_for(self, topic):
            return set(cluster.log)

        def send(self, topic, key, value, partition):
            future = Future()

            def write():
                with cluster.lock:
                    offset = len(cluster.log[partition])
                    if int(key.split(b":")[1]) not in cluster.drop:
                        cluster.log[partition].append((key, value))
                future.success(metadata(topic, partition, offset))
            timer = threading.Timer(0.005, write)
            self.pending.append(timer)
            timer.start()
            return future

        def flush(self, timeout=None):
            for timer in self.pending:
                timer.join(timeout)

        def close(self, timeout=None):
            pass

    class Consumer:
        def __init__(self, **config):
            assert config["group_id"] is None
            self.positions = {}

        def partitions_for_topic(self, topic):
            return set(cluster.log)

        def assign(self, partitions):
            self.positions = {tp: 0 for tp in partitions}

        def end_offsets(self, partitions):
            with cluster.lock:
                return {tp: len(cluster.log[tp.partition]) for tp in partitions}

        def seek(self, partition, offset):
            self.positions[partition] = offset

        def position(self, partition):
            return self.positions[partition]

        def poll(self, timeout_ms):
            time.sleep(timeout_ms / 5000.0)
            out = {}
            with cluster.lock:
                for tp, position in self.positions.items():
                    entries = cluster.log[tp.partition][position:]
                    if entries:
                        out[tp] = [record(tp.topic, tp.partition, position + i, key, value)
                                   for i, (key, value) in enumerate(entries)]
                        self.positions[tp] = position + len(entries)
            return out

        def close(self):
            pass

    monkeypatch.setattr(kafka, "KafkaProducer", Producer)
    monkeypatch.setattr(kafka, "KafkaConsumer", Consumer)
    monkeypatch.setattr(kafka.admin, "KafkaAdminClient", Admin)


def test_the_canary_threads_record_every_send_ack_and_read(monkeypatch):
    cluster = FakeCluster()
    cluster.log[0].append((b"an-earlier-run:0", b"{}"))  # before the start: not this run's
    fake_kafka(monkeypatch, cluster)
    probe = canary.Canary(["kafka-service-0:9092"], rate=200, topic="t", partitions=3, drain_seconds=5)
    probe.start()
    time.sleep(0.3)
    report = probe.stop(windows=[])
    assert cluster.created == ["t"]
    assert report["partitions"] == 3 and report["sent"] >= 40
    assert report["acknowledged"] == report["consumed"] == report["sent"]
    assert (report["lost"], report["duplicated"], report["failed"], report["unanswered"]) == (0, 0, 0, 0)
    assert 5 <= report["latency_ms"]["p50"] < 200
    assert report["errors"] == {}


def test_an_acknowledged_message_overwritten_in_the_log_is_lost(monkeypatch):
    cluster = FakeCluster()
    cluster.drop = {5}  # acknowledged, never written: the next message of its partition takes its offset
    fake_kafka(monkeypatch, cluster)
    probe = canary.Canary(["kafka-service-0:9092"], rate=200, topic="t", partitions=3, drain_seconds=5)
    probe.start()
    time.sleep(0.2)
    report = probe.stop(windows=[])
    assert report["lost"] == 1 and report["lost_sample"] == [5]
    assert "canary" not in report["errors"]


def test_the_canary_stops_draining_when_acknowledged_offsets_never_come(monkeypatch):
    cluster = FakeCluster()
    cluster.drop = set(range(20, 100000))  # the log's tail lost after its acks
    fake_kafka(monkeypatch, cluster)
    probe = canary.Canary(["kafka-service-0:9092"], rate=200, topic="t", partitions=3, drain_seconds=1)
    probe.start()
    time.sleep(0.2)
    started = time.monotonic()
    report = probe.stop(windows=[])
    assert time.monotonic() - started < 5
    assert report["consumed"] == 20 and report["lost"] == report["sent"] - 20
    assert "drain timed out" in report["errors"]["canary"]


def fake_pod(broker, ip, ready=True, terminating=False, started=None):
    running = Obj(started_at=datetime.datetime.fromtimestamp(started, datetime.timezone.utc)) if started else None
    return Obj(metadata=Obj(labels={"app.kubernetes.io/component": "broker", "kafka-eks.cluster/broker-id": broker},
                            deletion_timestamp=object() if terminating else None),
               status=Obj(pod_ip=ip, phase="Running", container_statuses=[Obj(state=Obj(running=running))],
                          conditions=[Obj(type="Ready", status="True" if ready else "False")]))


def test_kube_view_polls_names_and_broker_readiness_and_stops(monkeypatch):
    pods = [fake_pod("0", "127.29.0.3", started=T0)]
    service = Obj(metadata=Obj(name="kafka-service-0"),
                  spec=Obj(selector={"kafka-eks.cluster/broker-id": "0"}, type="ClusterIP",
                           publish_not_ready_addresses=True))

    class Api:
        def __init__(self, api_client):
            pass

        def list_namespaced_service(self, namespace, _request_timeout=None):
            return Obj(items=[service])

        def list_namespaced_pod(self, namespace, _request_timeout=None):
            return Obj(items=list(pods))

    monkeypatch.setattr(kubernetes.config, "new_client_from_config", lambda config_file: None)
    monkeypatch.setattr(kubernetes.client, "CoreV1Api", Api)
    clock = iter(range(1, 1000))
    view = canary.KubeView("kubeconfig", "kafka", lambda: float(next(clock)), interval=0.01)
    assert view.resolve("kafka-service-0") == ["127.29.0.3"] and view.resolve("elsewhere") is None
    view.start()
    pods[:] = [fake_pod("0", "127.29.0.3", ready=False, terminating=True, started=T0)]
    time.sleep(0.1)
    pods[:] = [fake_pod("0", "127.29.0.8", started=T0 + 5)]
    time.sleep(0.1)
    view.stop()
    assert not view.is_alive()
    assert view.resolve("kafka-service-0.kafka.svc") == ["127.29.0.8"]
    (window,) = canary.restart_windows(view.snapshots, 2000.0)
    assert window["broker"] == "0" and window["closed"] and window["container_started"] == T0 + 5
