#!/usr/bin/env python3
"""Benchmark of kafka_eks.cluster on the local test bed; writes docs/benchmarks.md.

    bench/run.py [--repeat N] [--sizes 4,16,32] [--only rollout,noop,growth,heal,multi,canary,tls,migration] [--smoke]
                 [--bed NAME --bed-index I]

Each measurement is repeated --repeat times and reported as median and spread (min-max):
  rollout  seed cluster (3 ZooKeeper, 4 brokers) from an empty namespace: site.yml versus the same rendered
           manifests applied with `kubectl apply --server-side` followed by the same readiness check
           (bench/wait.yml: the collection's zookeeper_quorum and broker_membership modules)
  noop     a rerun on the converged cluster: site.yml versus `kubectl apply --server-side`
  growth   noop and rollout at each broker count of --sizes; the controller's peak memory at the largest
  heal     broker 2's pod deleted while a dead (SIGKILLed) or a stopped (SIGSTOPped) client's session holds
           its registration, until it is registered again through site.yml: the dead one is removed at once
           by proof, the stopped one must be waited out; the canary runs through each case
  multi    1 versus 3 test beds rolled out in parallel (kafka_serial=100%, forks 3)
  canary   what a client sees of a rolling change of all 4 brokers through site.yml: bench/canary.py (an
           idempotent acks=all producer at 100 msg/s and a consumer) from 10 s before to 10 s after the roll
  tls      the same client on plaintext and on TLS listeners (client and inter-broker), interleaved: the seed
           cluster rolled out on each from an empty namespace, then the canary's latency at a steady 100 msg/s and
           the throughput of an acks=all producer sending as fast as it can (once per run of each protocol; not
           part of --only's default)
  migration the seed cluster (3 ZooKeeper, 4 brokers, 3 KRaft controllers) migrated to KRaft, finalized and
           ZooKeeper removed in one site.yml run, then Kafka 4 in another, the canary throughout: seconds per pass
           of the migration (each pass one step, read from the run's task times) and what the client saw
           (once: not part of --only's default)
--smoke runs one repetition of rollout and noop only (part of make test); it does not write the docs.
"""
import argparse
import calendar
import concurrent.futures
import datetime
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache")
sys.path.insert(0, os.path.join(ROOT, "tests", "testbed"))

from canary import Canary  # noqa: E402  pylint: disable=wrong-import-position
from testbed_lib import tls_material  # noqa: E402  pylint: disable=wrong-import-position
from testbed_lib.client import (  # noqa: E402  pylint: disable=wrong-import-position
    Cluster, drop_registration, registration, start_testbed, stop_testbed, wait_for)

VENV_BIN = os.path.join(CACHE, "venv", "bin")
KUBECTL = os.path.join(CACHE, "bin", "kubectl")
TESTBED_VARS = os.path.join(ROOT, "tests", "e2e", "testbed-vars.yml")
BED = "bench"
BED_INDEX = 5
MULTI_BEDS = [("bench", 5), ("bench-b", 6), ("bench-c", 8)]
CANARY_TOPIC = "bench-canary"
CANARY_QUIET_SECONDS = 10


def env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(CACHE, "collections"), ANSIBLE_NOCOLOR="1",
                PATH=VENV_BIN + os.pathsep + os.path.join(CACHE, "bin") + os.pathsep + os.environ["PATH"])


def timed(argv, extra_env=None, **kwargs):
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=dict(env(), **(extra_env or {})), capture_output=True, text=True,
                          check=False, **kwargs)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s\n%s" % (" ".join(argv[:3]), proc.returncode, proc.stdout[-3000:],
                                                        proc.stderr[-2000:]))
    return elapsed, proc


def site(kubeconfig, brokers, *extra, profile=None):
    """Run site.yml; with a list as ``profile``, append this run's task times to it (bench/callback_plugins)."""
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "site.yml", "-e", "@" + TESTBED_VARS,
            "-e", "kafka_k8s_kubeconfig=" + kubeconfig, "-e", "kafka_broker_count=%d" % brokers] + list(extra)
    if profile is None:
        return timed(argv)
    with tempfile.NamedTemporaryFile(suffix=".json") as times:
        elapsed, proc = timed(argv, extra_env={
            "ANSIBLE_CALLBACK_PLUGINS": os.path.join(ROOT, "bench", "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "task_times", "BENCH_TASK_TIMES": times.name})
        with open(times.name) as handle:
            profile.append(json.load(handle))
    return elapsed, proc


def slowest_tasks(runs, count=6):
    """The tasks with the largest median time over several runs of one playbook: [{name, median, share}]."""
    by_name = {}
    for run in runs:
        for task in run:
            by_name.setdefault(task["name"], []).append(task["seconds"])
    total = statistics.median([sum(t["seconds"] for t in run) for run in runs])
    medians = sorted(((statistics.median(v), name) for name, v in by_name.items()), reverse=True)[:count]
    return [{"name": name, "median": round(m, 2), "share": round(m / total, 3) if total else 0}
            for m, name in medians]


def render(brokers, directory):
    timed([os.path.join(VENV_BIN, "ansible-playbook"), "playbooks/render.yml", "-e", "@" + TESTBED_VARS,
           "-e", "kafka_render_dir=" + directory, "-e", "kafka_broker_count=%d" % brokers])


def kubectl_apply(kubeconfig, directory):
    # The ZooKeeper file holds the Namespace: it goes first, as site.yml applies it first. Same field manager
    # as site.yml, so that re-applying the same manifests is a no-op for kubectl too, not a takeover.
    files = [os.path.join(directory, name) for name in ("zookeeper.yml", "kafka_broker.yml")]
    elapsed = timed([KUBECTL, "--kubeconfig", kubeconfig, "apply", "--server-side", "--force-conflicts",
                     "--field-manager", "kafka_eks.cluster", "-f", files[0], "-f", files[1]])[0]
    return elapsed


def wait_ready(kubeconfig, brokers):
    elapsed, _ = timed([os.path.join(VENV_BIN, "ansible-playbook"), "bench/wait.yml",
                        "-e", "kafka_k8s_kubeconfig=" + kubeconfig, "-e", "bench_brokers=%d" % brokers])
    return elapsed


def empty_namespace(kubeconfig):
    subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, "delete", "namespace", "kafka", "--ignore-not-found",
                    "--wait=true", "--timeout=300s"], check=True, capture_output=True)


def stats(values):
    values = sorted(values)
    return {"median": statistics.median(values), "min": values[0], "max": values[-1], "n": len(values),
            "runs": [round(v, 2) for v in values]}


def measure_rollout(kubeconfig, brokers, repeat, results, key):
    site_times, baseline_times, profile = [], [], []
    with tempfile.TemporaryDirectory() as directory:
        render(brokers, directory)
        for _ in range(repeat):
            empty_namespace(kubeconfig)
            site_times.append(site(kubeconfig, brokers, profile=profile)[0])
            empty_namespace(kubeconfig)
            applied = kubectl_apply(kubeconfig, directory)
            baseline_times.append(applied + wait_ready(kubeconfig, brokers))
    results[key] = {"site": stats(site_times), "baseline": stats(baseline_times),
                    "ratio": statistics.median(site_times) / statistics.median(baseline_times),
                    "slowest_tasks": slowest_tasks(profile)}


def measure_noop(kubeconfig, brokers, repeat, results, key):
    site(kubeconfig, brokers)  # converge first
    site_times, kubectl_times, profile = [], [], []
    with tempfile.TemporaryDirectory() as directory:
        render(brokers, directory)
        for _ in range(repeat):
            elapsed, proc = site(kubeconfig, brokers, profile=profile)
            assert "changed=0" in proc.stdout, "a no-op rerun changed something"
            site_times.append(elapsed)
            kubectl_times.append(kubectl_apply(kubeconfig, directory))
    results[key] = {"site": stats(site_times), "kubectl": stats(kubectl_times),
                    "ratio": statistics.median(site_times) / statistics.median(kubectl_times),
                    "slowest_tasks": slowest_tasks(profile)}


def measure_growth(kubeconfig, sizes, repeat, rollout_repeat, results, bed=BED):
    for brokers in sizes:
        empty_namespace(kubeconfig)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        measure_rollout(kubeconfig, brokers, rollout_repeat, results, "rollout_%d" % brokers)
        measure_noop(kubeconfig, brokers, repeat, results, "noop_%d" % brokers)
        results["pods_%d" % brokers] = len(Cluster(bed).pods("app.kubernetes.io/component=broker"))
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        results["controller_peak_rss_mib_%d" % brokers] = round(max(peak, before) / 1024.0, 1)
    empty_namespace(kubeconfig)


HOLDER = r"""
import json, sys, time
from kazoo.client import KazooClient
hosts, path, endpoints = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
client = KazooClient(hosts=hosts, timeout=40)
client.start(timeout=30)
data = {"version": 5, "host": "stale", "port": 9092, "timestamp": str(int(time.time() * 1000)), "endpoints": endpoints}
client.create(path, json.dumps(data).encode(), ephemeral=True)
print("holding", flush=True)
time.sleep(3600)
"""


def measure_heal(kubeconfig, repeat, results, bed=BED, rate=100.0):
    """Broker 2's pod is deleted while an earlier session holds /brokers/ids/2 with broker 2's own endpoints
    (40 s session, ZooKeeper's maximum): that session's client is either SIGKILLed (dead: listed by no
    server's cons, so the heal removes the node at once) or SIGSTOPped (alive: listed, so the heal must wait
    until ZooKeeper expires it). Timed from the pod deletion until broker 2 is registered by its new pod,
    through site.yml started right after; also from the new container's start to its registration.

    The canary (bench/canary.py, as in measure_canary) runs through each case, from CANARY_QUIET_SECONDS
    before the registration is taken over until CANARY_QUIET_SECONDS after site.yml ended: what a client sees
    of the heal. Its phases: "fault" (the registration taken over, until the pod deletion) and "heal" (the
    pod deletion until broker 2 is registered by its new pod)."""
    import signal  # pylint: disable=import-outside-toplevel
    cluster = Cluster(bed)
    site(kubeconfig, 4)
    out = dict((case, {"total": [], "after_start": [], "canary": []}) for case in ("killed", "stopped"))
    for _ in range(repeat):
        for case, sig in (("killed", signal.SIGKILL), ("stopped", signal.SIGSTOP)):
            probe = Canary.for_kubeconfig(kubeconfig, namespace="kafka", rate=rate, topic=CANARY_TOPIC)
            probe.start()
            try:
                figures = heal_once(cluster, kubeconfig, sig, probe)
                time.sleep(CANARY_QUIET_SECONDS)
            finally:
                report = probe.stop()
            report["heal_seconds"] = round(figures["total"], 1)
            for key in ("total", "after_start"):
                out[case][key].append(figures[key])
            out[case]["canary"].append(report)
    results["heal"] = dict((case, {"total": stats(v["total"]), "after_start": stats(v["after_start"]),
                                   "canary": v["canary"]}) for case, v in out.items())
    results["heal"].update(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                           canary_rate=rate, quiet_seconds=CANARY_QUIET_SECONDS)


def heal_once(cluster, kubeconfig, sig, probe):
    """One case of measure_heal, the canary already running: returns {"total": pod deletion -> registered,
    "after_start": the new container's start -> registered}, in seconds."""
    time.sleep(CANARY_QUIET_SECONDS)
    fault = probe.now()
    endpoints = registration(cluster, 2)[0]["endpoints"]
    drop_registration(cluster, 2)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, ",".join(cluster.zookeeper_addresses()),
                               "/brokers/ids/2", json.dumps(endpoints)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        owner = registration(cluster, 2)[1]
        holder.send_signal(sig)
        (pod,) = cluster.pods("app.kubernetes.io/component=broker,kafka-eks.cluster/broker-id=2")
        start = time.time()
        deleted = probe.now()
        probe.mark_phase("fault", fault, deleted)
        cluster.kubectl("delete", "pod", pod["metadata"]["name"], "--wait=false")
        runner = subprocess.Popen([os.path.join(VENV_BIN, "ansible-playbook"), "site.yml", "-e",
                                   "@" + TESTBED_VARS, "-e", "kafka_k8s_kubeconfig=" + kubeconfig],
                                  cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        fresh = wait_for(lambda: (lambda r: r if r and r[1] != owner else None)(registration(cluster, 2)),
                         600, "broker 2 registered by its new pod", interval=0.2)
        probe.mark_phase("heal", deleted, probe.now())
        if runner.wait(timeout=900) != 0:
            raise RuntimeError("site.yml failed during the heal benchmark (signal %s)" % sig)
    finally:
        holder.kill()
        holder.wait()
    (new,) = cluster.pods("app.kubernetes.io/component=broker,kafka-eks.cluster/broker-id=2")
    (status,) = [c for c in new["status"]["containerStatuses"] if c["name"] == "broker"]
    started = calendar.timegm(time.strptime(status["state"]["running"]["startedAt"], "%Y-%m-%dT%H:%M:%SZ"))
    return {"total": fresh[2] / 1000.0 - start, "after_start": fresh[2] / 1000.0 - started}


def measure_multi(repeat, results, bed=BED, bed_index=BED_INDEX):
    """1 versus 3 beds: site.yml (multi_cluster.yml, kafka_serial=100%, forks 3), and the baseline (kubectl
    apply + the same readiness check) on 1 versus 3 beds at once, to tell the orchestration's share from what
    running three beds' JVMs on one machine costs."""
    single, parallel, baseline_single, baseline_parallel = [], [], [], []
    beds = [(name, index, start_testbed(name, 3, index)) for name, index in [(bed, bed_index)] + MULTI_BEDS[1:]]
    inventory = {"kafka_clusters": {"hosts": {name: {"kafka_k8s_kubeconfig": kc} for name, _, kc in beds},
                                    "vars": {"ansible_connection": "local"}}}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(inventory, handle)

    def empty_all():
        with concurrent.futures.ThreadPoolExecutor(len(beds)) as pool:
            list(pool.map(empty_namespace, [kc for _, _, kc in beds]))

    try:
        with tempfile.TemporaryDirectory() as directory:
            render(4, directory)

            def baseline(kubeconfig):
                return kubectl_apply(kubeconfig, directory) + wait_ready(kubeconfig, 4)

            for _ in range(repeat):
                empty_all()
                single.append(site(beds[0][2], 4)[0])
                empty_all()
                parallel.append(timed([os.path.join(VENV_BIN, "ansible-playbook"), "-i", handle.name, "-f", "3",
                                       "playbooks/multi_cluster.yml", "-e", "@" + TESTBED_VARS,
                                       "-e", "kafka_serial=100%"])[0])
                empty_all()
                baseline_single.append(baseline(beds[0][2]))
                empty_all()
                start = time.monotonic()
                with concurrent.futures.ThreadPoolExecutor(len(beds)) as pool:
                    list(pool.map(baseline, [kc for _, _, kc in beds]))
                baseline_parallel.append(time.monotonic() - start)
    finally:
        os.unlink(handle.name)
        for name, _, kc in beds:
            empty_namespace(kc)
            if name != bed:
                stop_testbed(name)
    results["multi"] = {"one": stats(single), "three_parallel": stats(parallel),
                        "ratio": statistics.median(parallel) / statistics.median(single),
                        "baseline_one": stats(baseline_single), "baseline_three": stats(baseline_parallel),
                        "baseline_ratio": statistics.median(baseline_parallel) / statistics.median(baseline_single)}


def measure_canary(kubeconfig, repeat, results, rate=100.0):
    """The canary through a rolling change of all 4 brokers. Each repetition sets the brokers'
    log.cleaner.backoff.ms (kafka_broker_extra_config) to a value it did not have, as the least_privilege
    scenario's rolling change does: every broker Deployment's env changes, so site.yml restarts them one at a
    time, each only when no partition would fall below its min ISR. Restart windows are each broker's pod
    not ready (terminating, gone, starting) until a pod of it is ready, from the canary's poll of the API."""
    site(kubeconfig, 4)  # converged first: only the change below restarts brokers
    runs = []
    for run in range(repeat):
        change = {"kafka_broker_extra_config": {"log.cleaner.backoff.ms": str(15001 + run)}}
        probe = Canary.for_kubeconfig(kubeconfig, namespace="kafka", rate=rate, topic=CANARY_TOPIC)
        probe.start()
        try:
            time.sleep(CANARY_QUIET_SECONDS)
            roll_seconds = site(kubeconfig, 4, "-e", json.dumps(change))[0]
            time.sleep(CANARY_QUIET_SECONDS)
        finally:
            report = probe.stop()
        report["roll_seconds"] = round(roll_seconds, 1)
        restarted = sorted({w["broker"] for w in report["restart_windows"] if w["closed"]})
        if restarted != ["0", "1", "2", "3"]:
            raise RuntimeError("the rolling change restarted brokers %s, not all 4: %s"
                               % (restarted, json.dumps(report["restart_windows"])))
        runs.append(report)
    results["canary"] = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                         "brokers": 4, "rate": rate, "quiet_seconds": CANARY_QUIET_SECONDS,
                         "change": "kafka_broker_extra_config log.cleaner.backoff.ms", "runs": runs}


TLS_SECRET = "kafka-tls"
TLS_CANARY_SECONDS = 30
TLS_BURST_MESSAGES = 20000
TLS_BURST_BYTES = 512


def tls_secret(kubeconfig, cafile):
    """A cert-manager-shaped Secret for the seed's 4 brokers in namespace kafka (created first), its CA in cafile."""
    now = datetime.datetime.now(datetime.timezone.utc)
    authority = tls_material.Authority("bench CA", not_before=now - datetime.timedelta(days=1))
    cert, key = authority.issue(dns_names=tls_material.broker_names(4), not_before=now - datetime.timedelta(hours=1))
    with open(cafile, "w") as handle:
        handle.write(tls_material.pem(authority.cert))
    secret = tls_material.secret(TLS_SECRET, "kafka", tls_material.secret_data(cert, key, authority))
    subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, "create", "namespace", "kafka"], check=True,
                   capture_output=True)
    subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, "apply", "-f", "-"], input=json.dumps(secret), text=True,
                   check=True, capture_output=True)


def burst(bootstrap, client_config, topic):
    """Messages per second of an acks=all producer sending TLS_BURST_MESSAGES as fast as it can (RF 3 topic)."""
    from kafka import KafkaProducer  # pylint: disable=import-outside-toplevel
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, client_id="bench-burst",
                             **client_config)
    payload = b"x" * TLS_BURST_BYTES
    try:
        producer.send(topic, payload).get(timeout=60)  # connections and metadata before the clock starts
        start = time.monotonic()
        futures = [producer.send(topic, payload) for _ in range(TLS_BURST_MESSAGES)]
        producer.flush(300)
        elapsed = time.monotonic() - start
        failed = sum(1 for f in futures if f.failed())
    finally:
        producer.close()
    return {"seconds": round(elapsed, 2), "messages_per_second": round(TLS_BURST_MESSAGES / elapsed),
            "mib_per_second": round(TLS_BURST_MESSAGES * TLS_BURST_BYTES / elapsed / 2 ** 20, 2), "failed": failed}


def measure_tls(kubeconfig, repeat, results, rate=100.0):
    """Plaintext and TLS (client and inter-broker listeners), interleaved run by run on the same bed: rollout from
    an empty namespace, the canary at a steady rate (no roll), then a burst. The client trusts the CA; the brokers
    verify each other's names."""
    runs = {"plaintext": [], "ssl": []}
    with tempfile.TemporaryDirectory() as directory:
        cafile = os.path.join(directory, "ca.pem")
        for _ in range(repeat):
            for protocol in ("plaintext", "ssl"):
                empty_namespace(kubeconfig)
                extra, client = [], {}
                if protocol == "ssl":
                    tls_secret(kubeconfig, cafile)
                    extra = ["-e", json.dumps({"kafka_broker_listener_security": {"client": "ssl", "internal": "ssl"},
                                               "kafka_broker_tls_secret": TLS_SECRET})]
                    client = {"security_protocol": "SSL", "ssl_cafile": cafile}
                rollout = site(kubeconfig, 4, *extra)[0]
                probe = Canary.for_kubeconfig(kubeconfig, namespace="kafka", rate=rate, topic=CANARY_TOPIC,
                                              client_config=client)
                probe.start()
                try:
                    time.sleep(TLS_CANARY_SECONDS)
                finally:
                    report = probe.stop()
                runs[protocol].append({"rollout_seconds": round(rollout, 1), "latency_ms": report["latency_ms"],
                                       "acknowledged": report["acknowledged"], "lost": report["lost"],
                                       "burst": burst(probe.bootstrap_servers, client, CANARY_TOPIC)})
    results["tls"] = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                      "brokers": 4, "rate": rate, "canary_seconds": TLS_CANARY_SECONDS,
                      "burst_messages": TLS_BURST_MESSAGES, "burst_bytes": TLS_BURST_BYTES, "runs": runs}


MIGRATION_PASS_START = "Read the KRaft controller StatefulSet, the broker Deployments and the ZooKeeper StatefulSet that run now"
KAFKA_4_IMAGE = "confluentinc/cp-kafka:8.0.0"


def migration_passes(tasks, output):
    """Seconds of each pass of one site.yml run (a pass starts with the migration's read of what runs), each
    named by the step the run said it took ("Migration (phase ...): ..."). The tasks before the first pass (the
    preflight, ZooKeeper) count with the first, the post_tasks with the last."""
    # The debug line, as JSON ("msg": "...") or YAML (msg: '...', folded over lines): up to the closing quote.
    said = [" ".join(m.split()) for m in re.findall(r"Migration \(phase [a-z_]+\): [^\"']*", output)]
    passes, current, started = [], 0.0, False
    for task in tasks:
        if task["name"].endswith(MIGRATION_PASS_START):
            if started:
                passes.append(current)
                current = 0.0
            started = True
        current += task["seconds"]
    passes.append(current)
    return [{"step": said[i] if i < len(said) else "(no step said)", "seconds": round(seconds, 1)}
            for i, seconds in enumerate(passes)]


def measure_migration(kubeconfig, results, rate=50.0):
    """The seed cluster through the whole migration under the canary: forward, finalize and ZooKeeper's removal
    in one run, then Kafka 4 in another."""
    site(kubeconfig, 4)
    probe = Canary.for_kubeconfig(kubeconfig, namespace="kafka", rate=rate, topic=CANARY_TOPIC)
    probe.start()
    runs = {}
    try:
        time.sleep(CANARY_QUIET_SECONDS)
        for name, extra in (
                ("migrate_finalize_remove_zookeeper", {"kafka_metadata_mode": "kraft", "kafka_migration_finalize": True,
                                                       "kafka_zookeeper_remove": True}),
                ("kafka_4", {"kafka_metadata_mode": "kraft", "kafka_migration_finalize": True,
                             "kafka_zookeeper_remove": True, "kafka_broker_image": KAFKA_4_IMAGE})):
            profile = []
            with probe.phase(name):
                seconds, proc = site(kubeconfig, 4, "-e", json.dumps(extra), profile=profile)
            runs[name] = {"seconds": round(seconds, 1), "passes": migration_passes(profile[0], proc.stdout)}
        time.sleep(CANARY_QUIET_SECONDS)
    finally:
        report = probe.stop()
    results["migration"] = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                            "brokers": 4, "zookeeper": 3, "controllers": 3, "rate": rate, "runs": runs,
                            "canary": report}


def machine():
    with open("/proc/meminfo") as handle:
        mem = int(handle.readline().split()[1]) // (1024 * 1024)
    cpu = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return "%d cores (%s), %d GiB, Linux %s, Python %s" % (os.cpu_count(), cpu, mem, platform.release(),
                                                            platform.python_version())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rollout-repeat", type=int, help="repetitions of the growth rollouts (default --repeat)")
    parser.add_argument("--sizes", default="16,32", help="growth sizes; the seed's 4 brokers are measured first")
    parser.add_argument("--multi-repeat", type=int, help="repetitions of the multi-cluster run (default --repeat)")
    parser.add_argument("--canary-repeat", type=int, help="rolling changes under the canary (default --repeat)")
    parser.add_argument("--only", default="rollout,noop,growth,heal,multi,canary")
    parser.add_argument("--bed", default=BED, help="the test bed's name (default %(default)s)")
    parser.add_argument("--bed-index", type=int, default=BED_INDEX, help="its index (ports, pod addresses)")
    parser.add_argument("--canary-rate", type=float, default=100.0, help="canary messages per second")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", default=os.path.join(CACHE, "bench", "results.json"))
    args = parser.parse_args()
    only = {"rollout", "noop"} if args.smoke else set(args.only.split(","))
    repeat = 1 if args.smoke else args.repeat
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), "repeat": repeat}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)

    def save():
        # After every measurement, so that a failure later keeps what was measured.
        with open(args.out, "w") as handle:
            json.dump(results, handle, indent=2)

    kubeconfig = start_testbed(args.bed, 3, args.bed_index)
    try:
        if "rollout" in only:
            measure_rollout(kubeconfig, 4, repeat, results, "rollout_4")
            save()
        if "noop" in only:
            measure_noop(kubeconfig, 4, repeat, results, "noop_4")
            save()
        if "growth" in only:
            sizes = [int(s) for s in args.sizes.split(",")]
            measure_growth(kubeconfig, sizes, repeat, args.rollout_repeat or repeat, results, args.bed)
            save()
        if "heal" in only:
            measure_heal(kubeconfig, repeat, results, args.bed, args.canary_rate)
            save()
        if "multi" in only:
            measure_multi(args.multi_repeat or repeat, results, args.bed, args.bed_index)
            save()
        if "canary" in only:
            measure_canary(kubeconfig, args.canary_repeat or repeat, results, args.canary_rate)
            save()
        if "tls" in only:
            measure_tls(kubeconfig, repeat, results, args.canary_rate)
            save()
        if "migration" in only:
            measure_migration(kubeconfig, results)
            save()
    finally:
        empty_namespace(kubeconfig)
        stop_testbed(args.bed)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
