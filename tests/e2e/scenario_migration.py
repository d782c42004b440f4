"""Scenario migration, its whole story in one file: the faults (run by molecule's side_effect through
faults.py) and the checks (verify.py).

A ZooKeeper-mode cluster of 3 brokers (1 ZooKeeper server, 1 KRaft controller: the smallest that shows every
phase) with a canary (acks=all, idempotent, 50 msg/s) running throughout:
  1. kafka_metadata_mode=kraft, killed as soon as the first broker Deployment is in KRaft mode, rerun: it
     continues from the phase it finds and stops at the soak point (brokers in KRaft mode, ZooKeeper still
     written), with every broker registered with the controllers under its own endpoint;
  2. finalize asked while a broker is not registered with the controllers (its pod cannot start): refused by
     the gate, nothing finalized;
  3. kafka_metadata_mode=zookeeper: rolled back (brokers to ZooKeeper mode keeping the migration flag, then the
     controllers and their claims removed, /controller and /migration deleted, brokers rolled without the
     migration settings): every broker registered in /brokers/ids again;
  4. kafka_metadata_mode=kraft with kafka_migration_finalize=true: migrated again in one run and finalized;
  5. kafka_metadata_mode=zookeeper is refused after finalizing, nothing written; a rerun changes nothing.
The messages written before the migration are read back at the end, and the canary lost nothing.
"""
import json
import os
import signal
import subprocess
import time

from lib import BROKER_SELECTOR, CACHE, ROOT, wait_for

CONTROLLER_SELECTOR = "app.kubernetes.io/component=controller"
SCENARIO_VARS = {"zookeeper_replicas": 1, "kafka_broker_count": 3, "kafka_controller_replicas": 1,
                 "kafka_controller_heap_opts": "-Xms256m -Xmx256m"}
TOPIC = "e2e-migration"


def site_vars(**extra):
    return ["-e", json.dumps(dict(SCENARIO_VARS, **extra))]


def broker_modes(cluster):
    """Broker id -> zookeeper | migrating | kraft, from each Deployment's env."""
    modes = {}
    for deployment in cluster.get("deployments", BROKER_SELECTOR):
        (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "broker"]
        env = dict((e["name"], e.get("value")) for e in container.get("env", []))
        mode = "zookeeper"
        if env.get("KAFKA_PROCESS_ROLES"):
            mode = "kraft"
        elif env.get("KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE") == "true":
            mode = "migrating"
        modes[deployment["metadata"]["labels"]["kafka-eks.cluster/broker-id"]] = mode
    return modes


def znodes(cluster, *paths):
    """path -> JSON (or raw text, or None) straight from ZooKeeper."""
    from faults import kazoo_client  # pylint: disable=import-outside-toplevel
    client = kazoo_client(cluster)
    try:
        found = {}
        for path in paths:
            if client.exists(path):
                data = client.get(path)[0].decode()
                try:
                    found[path] = json.loads(data)
                except ValueError:
                    found[path] = data
            else:
                found[path] = None
        return found
    finally:
        client.stop()
        client.close()


def quorum_status(cluster):
    """The controllers' own answer, through Kafka's tool in a controller pod ({} when none answers)."""
    proc = cluster.kubectl("exec", "kafka-controller-0", "-c", "controller", "--", "kafka-metadata-quorum",
                           "--bootstrap-controller", "localhost:9093", "describe", "--status", check=False)
    fields = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(":")
        if value:
            fields[key.strip()] = value.strip()
    return fields


def what_runs(cluster):
    controllers = cluster.get("statefulsets", CONTROLLER_SELECTOR)
    controller_env = {}
    if controllers:
        (container,) = controllers[0]["spec"]["template"]["spec"]["containers"]
        controller_env = dict((e["name"], e.get("value")) for e in container.get("env", []))
    return {
        "brokers": broker_modes(cluster),
        "controllers": len(controllers),
        "controller_migration_flag": controller_env.get("KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE"),
        "controller_claims": sorted(p["metadata"]["name"] for p in cluster.get("pvc", CONTROLLER_SELECTOR)),
        "znodes": znodes(cluster, "/controller", "/migration"),
        "registered_in_zookeeper": sorted(cluster.registered_broker_ids()),
    }


def faults(cluster, state_file):
    from canary import Canary  # pylint: disable=import-outside-toplevel
    from faults import resource_versions, run_site, save, site_argv, site_env, write_messages  # pylint: disable=import-outside-toplevel
    state = {"before": what_runs(cluster), "messages": write_messages(cluster, TOPIC)}
    canary = Canary.for_kubeconfig(cluster.kubeconfig, namespace=cluster.namespace, rate=50)
    canary.start()
    steps = state["step_seconds"] = {}
    try:
        # 1. Killed once the first broker Deployment is in KRaft mode, then rerun to the soak point.
        began = time.monotonic()
        killed_log = os.path.join(CACHE, "e2e-logs", "migration-killed-run.log")
        os.makedirs(os.path.dirname(killed_log), exist_ok=True)
        with open(killed_log, "w") as log, canary.phase("to_kraft_until_killed"):
            runner = subprocess.Popen(site_argv(cluster, *site_vars(kafka_metadata_mode="kraft")), cwd=ROOT,
                                      env=site_env(), stdout=log, stderr=subprocess.STDOUT, text=True,
                                      start_new_session=True)

            def a_broker_in_kraft_mode():
                if runner.poll() is not None:
                    with open(killed_log) as handle:
                        raise AssertionError("site.yml ended (rc %s) before a broker went to KRaft mode:\n%s"
                                             % (runner.returncode, handle.read()[-6000:]))
                return [b for b, mode in broker_modes(cluster).items() if mode == "kraft"]
            try:
                wait_for(a_broker_in_kraft_mode, 1200, "a broker Deployment in KRaft mode", interval=0.5)
            finally:
                os.killpg(runner.pid, signal.SIGKILL)
                runner.wait()
        with open(killed_log) as handle:
            state["killed_output"] = handle.read()[-20000:]
        state["at_kill"] = what_runs(cluster)
        steps["to_kraft_until_killed"] = round(time.monotonic() - began, 1)
        began = time.monotonic()
        with canary.phase("rerun_to_soak"):
            proc = run_site(cluster, *site_vars(kafka_metadata_mode="kraft"), check=False)
        state["soak_rc"], state["soak_output"] = proc.returncode, proc.stdout[-30000:] + proc.stderr[-4000:]
        state["soak"] = what_runs(cluster)
        state["soak"]["quorum"] = quorum_status(cluster)
        steps["rerun_to_soak"] = round(time.monotonic() - began, 1)
        # A rerun at the soak point changes nothing.
        proc = run_site(cluster, *site_vars(kafka_metadata_mode="kraft"), check=False)
        state["soak_rerun_rc"], state["soak_rerun_output"] = proc.returncode, proc.stdout[-8000:]
        # 3. Back to ZooKeeper from the soak point (brokers in KRaft mode): two rolls.
        began = time.monotonic()
        with canary.phase("rollback_from_kraft"):
            proc = run_site(cluster, *site_vars(kafka_metadata_mode="zookeeper"), check=False)
        state["rollback_rc"], state["rollback_output"] = proc.returncode, proc.stdout[-30000:] + proc.stderr[-4000:]
        state["rolled_back"] = what_runs(cluster)
        steps["rollback_from_kraft"] = round(time.monotonic() - began, 1)
        # 4. Migrate again, finalizing in the same run.
        began = time.monotonic()
        with canary.phase("migrate_and_finalize"):
            proc = run_site(cluster, *site_vars(kafka_metadata_mode="kraft", kafka_migration_finalize=True),
                            check=False)
        state["finalize_rc"], state["finalize_output"] = proc.returncode, proc.stdout[-30000:] + proc.stderr[-4000:]
        state["finalized"] = what_runs(cluster)
        state["finalized"]["quorum"] = quorum_status(cluster)
        steps["migrate_and_finalize"] = round(time.monotonic() - began, 1)
        # 5. No way back after finalizing; a rerun changes nothing.
        before = resource_versions(cluster)
        proc = run_site(cluster, *site_vars(kafka_metadata_mode="zookeeper"), check=False)
        state["refused"] = {"rc": proc.returncode, "output": proc.stdout[-6000:] + proc.stderr[-4000:],
                            "unchanged": resource_versions(cluster) == before}
        proc = run_site(cluster, *site_vars(kafka_metadata_mode="kraft", kafka_migration_finalize=True), check=False)
        state["rerun_rc"], state["rerun_output"] = proc.returncode, proc.stdout[-8000:]
    finally:
        state["canary"] = canary.stop()
    state["received"] = cluster.consume(TOPIC, len(state["messages"]))
    save(state, state_file)


def verify(cluster, args):
    from verify import assert_recap_unchanged, load  # pylint: disable=import-outside-toplevel
    state = load(args)
    brokers = ["0", "1", "2"]
    assert state["before"]["brokers"] == dict((b, "zookeeper") for b in brokers), state["before"]
    assert state["before"]["controllers"] == 0
    # Killed mid-way: the controllers were up, the copy done, one or more brokers in KRaft mode.
    killed = state["at_kill"]
    assert killed["controllers"] == 1 and "kraft" in killed["brokers"].values(), killed
    # The rerun continued to the soak point and said so.
    assert state["soak_rc"] == 0, state["soak_output"][-5000:]
    soak = state["soak"]
    assert soak["brokers"] == dict((b, "kraft") for b in brokers), soak
    assert soak["controller_migration_flag"] == "true", soak
    assert (soak["znodes"]["/controller"] or {}).get("kraftControllerEpoch") is not None, soak["znodes"]
    assert (soak["znodes"]["/migration"] or {}).get("kraft_metadata_offset", -1) >= 0, soak["znodes"]
    assert soak["registered_in_zookeeper"] == [], "KRaft brokers in /brokers/ids: %s" % soak
    assert soak["quorum"].get("LeaderId") == "3000", soak["quorum"]
    assert "Soak point" in state["soak_output"], state["soak_output"][-4000:]
    assert state["soak_rerun_rc"] == 0
    assert_recap_unchanged(state["soak_rerun_output"])
    # Rolled back: ZooKeeper mode, no controllers, no claims of theirs, no migration state left.
    assert state["rollback_rc"] == 0, state["rollback_output"][-5000:]
    back = state["rolled_back"]
    assert back["brokers"] == dict((b, "zookeeper") for b in brokers), back
    assert back["controllers"] == 0 and back["controller_claims"] == [], back
    assert back["znodes"]["/migration"] is None, back["znodes"]
    # A ZooKeeper broker holds /controller again (Kafka 3.9 writes kraftControllerEpoch -1 for one).
    assert (back["znodes"]["/controller"] or {}).get("kraftControllerEpoch", -1) == -1, back["znodes"]
    assert (back["znodes"]["/controller"] or {}).get("brokerid") in (0, 1, 2), back["znodes"]
    assert back["registered_in_zookeeper"] == [0, 1, 2], back
    # Migrated again and finalized in one run.
    assert state["finalize_rc"] == 0, state["finalize_output"][-5000:]
    final = state["finalized"]
    assert final["brokers"] == dict((b, "kraft") for b in brokers), final
    assert final["controllers"] == 1 and final["controller_migration_flag"] is None, final
    assert final["quorum"].get("LeaderId") == "3000", final["quorum"]
    assert "FINALIZE (irreversible)" in state["finalize_output"], state["finalize_output"][-4000:]
    refused = state["refused"]
    assert refused["rc"] != 0 and refused["unchanged"], refused["output"][-3000:]
    assert "kafka_metadata_mode" in refused["output"] and "cannot be undone" in refused["output"], refused["output"][-3000:]
    assert state["rerun_rc"] == 0
    assert_recap_unchanged(state["rerun_output"])
    assert sorted(state["received"]) == sorted(state["messages"]), "messages written before the migration were lost"
    report = state["canary"]
    assert report["acknowledged"] > 0 and report["lost"] == 0, report
    print("migration: seconds per step %s" % json.dumps(state["step_seconds"]))
    for phase in report.get("phases", []):
        print("migration: step %s: %.1f s, %d sent, %d acknowledged, %d failed, latency p50/p99/max %s/%s/%s ms, "
              "longest without any ack %s s" % (
                  phase["name"], phase["seconds"], phase["sent"], phase["acknowledged"], phase["failed"],
                  phase["latency_ms"]["p50"], phase["latency_ms"]["p99"], phase["latency_ms"]["max"],
                  (phase["longest_stall"] or {}).get("seconds")))
    print("migration: ZooKeeper -> KRaft (killed, resumed, soak), back to ZooKeeper, KRaft again and finalized;"
          " canary %d acknowledged, %d lost, p99 %s ms, max %s ms" % (
              report["acknowledged"], report["lost"], report.get("latency_ms", {}).get("p99"),
              report.get("latency_ms", {}).get("max")))
