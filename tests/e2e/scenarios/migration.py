"""Scenario migration (molecule/migration; `make test-slow`): the faults (side_effect) and the checks (verify).

A ZooKeeper-mode cluster of 3 brokers (1 ZooKeeper server, 1 KRaft controller: the smallest that shows every
phase) with a canary (acks=all, idempotent, 50 msg/s) running throughout:
  1. kafka_metadata_mode=kraft, killed once the controllers are up (phase controllers), then rolled back;
  2. kafka_metadata_mode=kraft, killed once a broker has the migration settings (brokers_migrating), rolled back;
  2b. kafka_metadata_mode=kraft, killed once the copy is done with every broker in migration mode (migrated; or,
     when the kill lands a moment late, brokers_kraft), rolled back;
  3. kafka_metadata_mode=kraft, killed once a broker Deployment is in KRaft mode (brokers_kraft), rerun: it
     continues from the phase it finds and stops at the soak point (brokers in KRaft mode, ZooKeeper still
     written), with every broker registered with the controllers under its own endpoint;
  4. at the soak point `--check --diff` with finalize says it would finalize and writes nothing; finalize asked
     while broker 2 is not registered with the controllers (scaled to 0): refused by the evidence gate, nothing
     written, and playbooks/status.yml says unhealthy (exit 2), naming broker 2, writing nothing;
  5. kafka_metadata_mode=zookeeper from the soak point: rolled back (brokers to ZooKeeper mode keeping the
     migration flag, then the controllers and their claims removed, /controller and /migration deleted, brokers
     rolled without the migration settings): every broker registered in /brokers/ids again;
  6. kafka_metadata_mode=kraft, kafka_migration_finalize=true, kafka_zookeeper_remove=true: migrated again,
     finalized and ZooKeeper removed (its claim kept) in one run, a backup of every znode before each risky step;
  7. kafka_broker_image=cp-kafka 8.0 (Kafka 4.0): the controller, then the brokers, one at a time;
  8. kafka_metadata_mode=zookeeper is refused after finalizing, nothing written; a rerun changes nothing.
Each rollback ends with no controller, no claim of theirs, no /migration, and /brokers/ids = every broker.
playbooks/status.yml reports healthy before the migration (ZooKeeper mode), at the soak point and on Kafka 4
(no ZooKeeper). The messages written before the migration are read back on Kafka 4 at the end, and the canary
lost nothing.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time

from lib import BROKER_SELECTOR, CACHE, ROOT, ZK_SELECTOR, kazoo_client, wait_for
from scenarios import (assert_recap_unchanged, load, new_canary, resource_versions, run_playbook, run_site, save,
                       settled_versions, site_argv, site_env, write_messages)

# Run by `make test-slow` (KAFKA_EKS_SLOW_SCENARIOS=1), not by `make test`: the migration to KRaft and back and on
# to Kafka 4 takes about 30 minutes on 2 cores, which CI's 75-minute budget does not hold next to the others.
SLOW = True
# The molecule run's limit: the migration's story (13 runs of site.yml, 4 of them killed) takes about 33 minutes
# on a quiet 2-core machine, past 40 beside another bed (seen: killed at the limit while finalizing).
TIMEOUT = 3600

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


ZOOKEEPER_STATEFULSET = "zookeeper"
KAFKA_4_IMAGE = "confluentinc/cp-kafka:8.0.0"
BACKUP_DIR = os.path.join(CACHE, "e2e-backups", "migration")


def zookeeper_runs(cluster):
    return any(s["metadata"]["name"] == ZOOKEEPER_STATEFULSET for s in cluster.get("statefulsets"))


def znodes(cluster, *paths):
    """path -> JSON (or raw text, or None) straight from ZooKeeper; {} when ZooKeeper was removed."""
    if not zookeeper_runs(cluster):
        return {}
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


def kraft_registered(cluster):
    """Broker ids the cluster's metadata lists (kafka-broker-api-versions in broker 0's pod), [] when none answers."""
    proc = cluster.kubectl("exec", "deploy/kafka-broker-0", "--", "kafka-broker-api-versions", "--bootstrap-server",
                           "localhost:9092", check=False, timeout=90)
    return sorted(int(m) for m in re.findall(r"\(id: (\d+) rack:", proc.stdout))


def what_runs(cluster):
    controllers = cluster.get("statefulsets", CONTROLLER_SELECTOR)
    controller_env, controller_image = {}, None
    if controllers:
        (container,) = controllers[0]["spec"]["template"]["spec"]["containers"]
        controller_env = dict((e["name"], e.get("value")) for e in container.get("env", []))
        controller_image = container["image"]
    runs = zookeeper_runs(cluster)
    return {
        "brokers": broker_modes(cluster),
        "broker_images": sorted(set(
            c["image"] for d in cluster.get("deployments", BROKER_SELECTOR)
            for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "broker")),
        "controllers": len(controllers),
        "controllers_ready": (controllers[0]["status"].get("readyReplicas", 0) if controllers else 0),
        "controller_image": controller_image,
        "controller_migration_flag": controller_env.get("KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE"),
        "controller_claims": sorted(p["metadata"]["name"] for p in cluster.get("pvc", CONTROLLER_SELECTOR)),
        "zookeeper_runs": runs,
        "zookeeper_services": sorted(s["metadata"]["name"] for s in cluster.get("services", ZK_SELECTOR)),
        "zookeeper_claims": sorted(p["metadata"]["name"] for p in cluster.get("pvc", ZK_SELECTOR)),
        "znodes": znodes(cluster, "/controller", "/migration"),
        "registered_in_zookeeper": sorted(cluster.registered_broker_ids()) if runs else None,
    }


def backups():
    return sorted(os.listdir(BACKUP_DIR)) if os.path.isdir(BACKUP_DIR) else []


class Story:
    """The scenario's runs of site.yml, each a canary phase with its seconds, its output and what runs after."""

    def __init__(self, cluster, canary, state):
        self.cluster, self.canary, self.state = cluster, canary, state
        self.steps = state.setdefault("step_seconds", {})

    def run(self, name, **variables):
        began = time.monotonic()
        with self.canary.phase(name):
            proc = run_site(self.cluster, *site_vars(kafka_backup_dir=BACKUP_DIR, **variables), check=False)
        self.steps[name] = round(time.monotonic() - began, 1)
        self.state[name] = {"rc": proc.returncode, "output": proc.stdout[-30000:] + proc.stderr[-4000:],
                            "after": what_runs(self.cluster)}
        return self.state[name]

    def status(self, name, **variables):
        """playbooks/status.yml (read-only): its exit code, its report and whether any object changed."""
        before = resource_versions(self.cluster)
        proc = run_playbook(self.cluster, "playbooks/status.yml", *site_vars(**variables))
        self.state.setdefault("status", {})[name] = {
            "rc": proc.returncode, "output": proc.stdout[-12000:] + proc.stderr[-4000:],
            "unchanged": resource_versions(self.cluster) == before}

    def preview(self, name, **variables):
        """site.yml --check --diff: what the next step would do, and whether any object changed."""
        before = resource_versions(self.cluster)
        proc = run_site(self.cluster, "--check", "--diff", *site_vars(kafka_backup_dir=BACKUP_DIR, **variables),
                        check=False)
        self.state[name] = {"rc": proc.returncode, "output": proc.stdout[-30000:] + proc.stderr[-4000:],
                            "unchanged": resource_versions(self.cluster) == before, "after": what_runs(self.cluster)}

    def killed(self, name, until, what, **variables):
        """site.yml killed (SIGKILL, its whole process group) as soon as ``until(what_runs)`` holds."""
        began = time.monotonic()
        log_path = os.path.join(CACHE, "e2e-logs", "migration-%s.log" % name)
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with open(log_path, "w") as log, self.canary.phase(name):
            runner = subprocess.Popen(site_argv(self.cluster, *site_vars(kafka_backup_dir=BACKUP_DIR, **variables)),
                                      cwd=ROOT, env=site_env(), stdout=log, stderr=subprocess.STDOUT, text=True,
                                      start_new_session=True)

            def reached():
                if runner.poll() is not None:
                    with open(log_path) as handle:
                        raise AssertionError("site.yml ended (rc %s) before %s:\n%s"
                                             % (runner.returncode, what, handle.read()[-6000:]))
                return until(self.cluster)
            try:
                wait_for(reached, 1200, what, interval=0.5)
            finally:
                os.killpg(runner.pid, signal.SIGKILL)
                runner.wait()
        self.steps[name] = round(time.monotonic() - began, 1)
        with open(log_path) as handle:
            self.state[name] = {"output": handle.read()[-20000:], "after": what_runs(self.cluster)}
        return self.state[name]


def controllers_up(cluster):
    found = cluster.get("statefulsets", CONTROLLER_SELECTOR)
    return bool(found) and found[0]["status"].get("readyReplicas", 0) >= 1


def copied_with_every_broker_migrating(cluster):
    """Phase migrated: every broker with the migration settings and ZooKeeper showing the copy done (/migration
    with a KRaft offset). A broker may already be in KRaft mode when the kill lands: then it is brokers_kraft."""
    modes = set(broker_modes(cluster).values())
    if "zookeeper" in modes:
        return False
    migration = znodes(cluster, "/migration").get("/migration") or {}
    return isinstance(migration, dict) and migration.get("kraft_metadata_offset", -1) >= 0


def a_broker_in(mode):
    def found(cluster):
        return [b for b, m in broker_modes(cluster).items() if m == mode]
    return found


def broker_deployment(cluster, broker):
    (deployment,) = [d for d in cluster.get("deployments", BROKER_SELECTOR)
                     if d["metadata"]["labels"]["kafka-eks.cluster/broker-id"] == str(broker)]
    return deployment["metadata"]["name"]


def side_effect(cluster, state_file):
    shutil.rmtree(BACKUP_DIR, ignore_errors=True)
    state = {"before": what_runs(cluster), "messages": write_messages(cluster, TOPIC)}
    canary = new_canary(cluster)
    canary.start()
    story = Story(cluster, canary, state)
    story.status("zookeeper_mode")
    try:
        # 1-2. Killed in the phases "controllers" and "brokers_migrating", each rolled back from where it stopped.
        story.killed("killed_at_controllers", controllers_up, "the controllers ready", kafka_metadata_mode="kraft")
        story.run("rollback_from_controllers", kafka_metadata_mode="zookeeper")
        story.killed("killed_at_brokers_migrating", a_broker_in("migrating"),
                     "a broker Deployment with the migration settings", kafka_metadata_mode="kraft")
        story.run("rollback_from_brokers_migrating", kafka_metadata_mode="zookeeper")
        story.killed("killed_at_migrated", copied_with_every_broker_migrating,
                     "the copy done with every broker in migration mode", kafka_metadata_mode="kraft")
        story.run("rollback_from_migrated", kafka_metadata_mode="zookeeper")
        # 3. Killed once the first broker Deployment is in KRaft mode, then rerun to the soak point.
        story.killed("killed_at_brokers_kraft", a_broker_in("kraft"), "a broker Deployment in KRaft mode",
                     kafka_metadata_mode="kraft")
        story.run("rerun_to_soak", kafka_metadata_mode="kraft")
        state["rerun_to_soak"]["quorum"] = quorum_status(cluster)
        state["rerun_to_soak"]["kraft_registered"] = kraft_registered(cluster)
        story.run("soak_rerun", kafka_metadata_mode="kraft")
        story.status("soak", kafka_metadata_mode="kraft")
        story.preview("finalize_preview", kafka_metadata_mode="kraft", kafka_migration_finalize=True)
        # 4. Finalize while broker 2 is not registered with the controllers: refused by the gate, nothing written.
        name = broker_deployment(cluster, 2)
        cluster.kubectl("scale", "deployment", name, "--replicas=0")
        wait_for(lambda: 2 not in kraft_registered(cluster) and not cluster.pods(BROKER_SELECTOR + ",kafka-eks.cluster/broker-id=2"),
                 180, "broker 2 gone from the KRaft metadata and its pod gone")
        # The Deployment's and the PDB's status settle after the pod is gone: the snapshot is taken once two reads
        # agree, so that only a write of the refused run could change it.
        before = settled_versions(cluster)
        story.run("finalize_refused", kafka_metadata_mode="kraft", kafka_migration_finalize=True)
        state["finalize_refused"]["unchanged"] = resource_versions(cluster) == before
        story.status("broker_2_down", kafka_metadata_mode="kraft")
        cluster.kubectl("scale", "deployment", name, "--replicas=1")
        wait_for(lambda: kraft_registered(cluster) == [0, 1, 2], 300, "broker 2 registered with the controllers again")
        # 5. Back to ZooKeeper from the soak point (brokers in KRaft mode): two rolls.
        story.run("rollback_from_kraft", kafka_metadata_mode="zookeeper")
        # 6. Migrate again, finalize and remove ZooKeeper in the same run.
        backups_before = backups()
        story.run("migrate_finalize_remove_zookeeper", kafka_metadata_mode="kraft", kafka_migration_finalize=True,
                  kafka_zookeeper_remove=True)
        state["migrate_finalize_remove_zookeeper"]["quorum"] = quorum_status(cluster)
        state["backups"] = {"before": backups_before, "after": backups()}
        # 7. Kafka 4: the controller first, then the brokers.
        story.run("kafka_4", kafka_metadata_mode="kraft", kafka_migration_finalize=True, kafka_zookeeper_remove=True,
                  kafka_broker_image=KAFKA_4_IMAGE)
        state["kafka_4"]["quorum"] = quorum_status(cluster)
        state["kafka_4"]["kraft_registered"] = kraft_registered(cluster)
        story.status("kafka_4", kafka_metadata_mode="kraft", kafka_broker_image=KAFKA_4_IMAGE)
        # 8. No way back after finalizing; a rerun changes nothing.
        before = resource_versions(cluster)
        proc = run_site(cluster, *site_vars(kafka_metadata_mode="zookeeper", kafka_broker_image=KAFKA_4_IMAGE),
                        check=False)
        state["refused"] = {"rc": proc.returncode, "output": proc.stdout[-6000:] + proc.stderr[-4000:],
                            "unchanged": resource_versions(cluster) == before}
        story.run("rerun", kafka_metadata_mode="kraft", kafka_migration_finalize=True, kafka_zookeeper_remove=True,
                  kafka_broker_image=KAFKA_4_IMAGE)
    finally:
        state["canary"] = canary.stop()
    state["received"] = cluster.consume(TOPIC, len(state["messages"]))
    save(state, state_file)


def assert_rolled_back(step, brokers):
    """A rollback ended in a whole ZooKeeper-mode cluster with nothing of the migration left."""
    assert step["rc"] == 0, step["output"][-5000:]
    back = step["after"]
    assert back["brokers"] == dict((b, "zookeeper") for b in brokers), back
    assert back["controllers"] == 0 and back["controller_claims"] == [], back
    assert back["znodes"]["/migration"] is None, back["znodes"]
    # A ZooKeeper broker holds /controller again (Kafka 3.9 writes kraftControllerEpoch -1 for one).
    assert (back["znodes"]["/controller"] or {}).get("kraftControllerEpoch", -1) == -1, back["znodes"]
    assert (back["znodes"]["/controller"] or {}).get("brokerid") in (0, 1, 2), back["znodes"]
    assert back["registered_in_zookeeper"] == [0, 1, 2], back


def verify(cluster, state_file):
    state = load(state_file)
    brokers = ["0", "1", "2"]
    assert state["before"]["brokers"] == dict((b, "zookeeper") for b in brokers), state["before"]
    assert state["before"]["controllers"] == 0
    # 1. Killed with the controllers up and no broker in KRaft mode; rolled back from there.
    killed = state["killed_at_controllers"]["after"]
    assert killed["controllers"] == 1 and "kraft" not in killed["brokers"].values(), killed
    assert_rolled_back(state["rollback_from_controllers"], brokers)
    # 2. Killed with a broker in migration mode and none in KRaft mode; rolled back from there.
    killed = state["killed_at_brokers_migrating"]["after"]
    assert "migrating" in killed["brokers"].values() and "kraft" not in killed["brokers"].values(), killed
    assert_rolled_back(state["rollback_from_brokers_migrating"], brokers)
    # 2b. Killed with the copy done (migrated, or brokers_kraft when the kill landed a moment late); rolled back.
    killed = state["killed_at_migrated"]["after"]
    assert "zookeeper" not in killed["brokers"].values(), killed
    assert (killed["znodes"]["/migration"] or {}).get("kraft_metadata_offset", -1) >= 0, killed["znodes"]
    assert_rolled_back(state["rollback_from_migrated"], brokers)
    # 3. Killed mid-way: the copy done, one or more brokers in KRaft mode; the rerun continued to the soak point.
    killed = state["killed_at_brokers_kraft"]["after"]
    assert killed["controllers"] == 1 and "kraft" in killed["brokers"].values(), killed
    soak_step = state["rerun_to_soak"]
    assert soak_step["rc"] == 0, soak_step["output"][-5000:]
    soak = soak_step["after"]
    assert soak["brokers"] == dict((b, "kraft") for b in brokers), soak
    assert soak["controller_migration_flag"] == "true", soak
    assert (soak["znodes"]["/controller"] or {}).get("kraftControllerEpoch", -1) >= 0, soak["znodes"]
    assert (soak["znodes"]["/migration"] or {}).get("kraft_metadata_offset", -1) >= 0, soak["znodes"]
    assert soak["registered_in_zookeeper"] == [], "KRaft brokers in /brokers/ids: %s" % soak
    assert soak_step["quorum"].get("LeaderId") == "3000", soak_step["quorum"]
    assert soak_step["kraft_registered"] == [0, 1, 2], soak_step["kraft_registered"]
    assert "Soak point" in soak_step["output"], soak_step["output"][-4000:]
    assert state["soak_rerun"]["rc"] == 0
    assert_recap_unchanged(state["soak_rerun"]["output"])
    # 4. The preview says it would finalize and writes nothing.
    preview = state["finalize_preview"]
    assert preview["rc"] == 0 and preview["unchanged"], preview["output"][-4000:]
    assert "FINALIZE (irreversible)" in preview["output"], preview["output"][-4000:]
    assert preview["after"]["controller_migration_flag"] == "true", preview["after"]
    # The gate refused to finalize without broker 2, writing nothing.
    refused = state["finalize_refused"]
    assert refused["rc"] != 0 and refused["unchanged"], refused["output"][-4000:]
    assert "evidence gate does not hold" in refused["output"] and "Broker(s) 2" in refused["output"], \
        refused["output"][-4000:]
    assert refused["after"]["controller_migration_flag"] == "true", refused["after"]
    # The status report, read-only each time: healthy in ZooKeeper mode, at the soak point and on Kafka 4;
    # unhealthy, naming broker 2, while it is down.
    status = state["status"]
    for name in ("zookeeper_mode", "soak", "kafka_4", "broker_2_down"):
        assert status[name]["unchanged"], "status.yml changed an object (%s)" % name
    for name in ("zookeeper_mode", "soak", "kafka_4"):
        assert status[name]["rc"] == 0, status[name]["output"][-4000:]
    assert "unhealthy" in status["broker_2_down"]["output"] and status["broker_2_down"]["rc"] != 0, \
        status["broker_2_down"]["output"][-4000:]
    assert "Broker 2 is not registered under its own endpoint" in status["broker_2_down"]["output"], \
        status["broker_2_down"]["output"][-4000:]
    # 5. Rolled back from the soak point.
    assert_rolled_back(state["rollback_from_kraft"], brokers)
    # 6. Migrated again, finalized and ZooKeeper removed in one run; its claim kept; a backup before each step.
    final_step = state["migrate_finalize_remove_zookeeper"]
    assert final_step["rc"] == 0, final_step["output"][-5000:]
    final = final_step["after"]
    assert final["brokers"] == dict((b, "kraft") for b in brokers), final
    assert final["controllers"] == 1 and final["controller_migration_flag"] is None, final
    assert final_step["quorum"].get("LeaderId") == "3000", final_step["quorum"]
    assert "FINALIZE (irreversible)" in final_step["output"], final_step["output"][-4000:]
    assert not final["zookeeper_runs"] and final["zookeeper_services"] == [], final
    assert final["zookeeper_claims"] == ["data-zookeeper-0"], final
    # deploy_controllers, brokers_to_kraft, finalize and remove_zookeeper each took one (the rollbacks more).
    new = sorted(set(state["backups"]["after"]) - set(state["backups"]["before"]))
    assert len(new) >= 2 and all(n.startswith("kafka-zookeeper-") for n in new), state["backups"]
    # 7. Kafka 4: every controller and broker on the new image, all registered, the quorum led.
    four = state["kafka_4"]
    assert four["rc"] == 0, four["output"][-5000:]
    assert four["after"]["controller_image"] == KAFKA_4_IMAGE and four["after"]["broker_images"] == [KAFKA_4_IMAGE], \
        four["after"]
    assert four["quorum"].get("LeaderId") == "3000" and four["kraft_registered"] == [0, 1, 2], four
    output = four["output"]
    assert output.index("Apply the KRaft controllers") < output.index("Roll the running brokers"), \
        "the brokers rolled before the controllers"
    # 8. No way back after finalizing; a rerun changes nothing.
    refused = state["refused"]
    assert refused["rc"] != 0 and refused["unchanged"], refused["output"][-3000:]
    assert "kafka_metadata_mode" in refused["output"] and "cannot be undone" in refused["output"], refused["output"][-3000:]
    assert state["rerun"]["rc"] == 0, state["rerun"]["output"][-4000:]
    assert_recap_unchanged(state["rerun"]["output"])
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
    print("migration: ZooKeeper -> KRaft and back from controllers, brokers_migrating and the soak point, three"
          " killed runs, finalize refused by the gate, finalized, ZooKeeper removed, Kafka 4; canary %d"
          " acknowledged, %d lost, p99 %s ms, max %s ms" % (
              report["acknowledged"], report["lost"], report.get("latency_ms", {}).get("p99"),
              report.get("latency_ms", {}).get("max")))
