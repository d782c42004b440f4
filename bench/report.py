#!/usr/bin/env python3
"""Turn bench/run.py's results JSON into the tables of docs/benchmarks.md (printed to stdout).

    bench/report.py .cache/bench/results.json [--canary-only | --heal-only | --tls-only]
    bench/report.py .cache/e2e-logs/upgrade-state.json --upgrade   (the upgrade scenario's steps)
"""
import json
import statistics
import sys


def cell(entry):
    if not entry:
        return "not measured"
    digits = 2 if entry["median"] < 10 else 1
    return "%.*f s (%.*f–%.*f, n=%d)" % (digits, entry["median"], digits, entry["min"], digits, entry["max"],
                                         entry["n"])


MSK_PATCHING = ("Amazon MSK Developer Guide, \"Patching\" (patching-impact.html, Standard brokers): "
                "https://docs.aws.amazon.com/msk/latest/developerguide/patching-impact.html")


def ms(value):
    return "none" if value is None else ("%.0f ms" % value if value < 1000 else "%.2f s" % (value / 1000.0))


def stall(entry):
    if not entry:
        return "none"
    where = " (partition %d)" % entry["partition"] if "partition" in entry else ""
    return "%.2f s%s" % (entry["seconds"], where)


def error_summary(errors):
    """'3 produce errors (KafkaTimeoutError 3); 41 client warnings (most: ...)'."""
    parts = []
    for source, label in (("produce", "failed sends"), ("consume", "consumer errors"),
                          ("client_log", "client warnings/errors"), ("resolver", "name lookups without an address"),
                          ("kubernetes", "API polls failed")):
        kinds = errors.get(source) or {}
        total = sum(k["count"] for k in kinds.values())
        if total:
            top = sorted(kinds.items(), key=lambda item: -item[1]["count"])[:2]
            parts.append("%d %s (%s)" % (total, label, "; ".join("%s: %d" % (kind.replace("|", "/"), k["count"])
                                                                 for kind, k in top)))
    return ", ".join(parts) or "none"


def total_errors(runs):
    """Failed sends and kafka-python's warnings/errors over all runs, per roll."""
    failed = sum(r["failed"] for r in runs)
    logged = sum(k["count"] for r in runs for k in (r["errors"].get("client_log") or {}).values())
    return "%d failed sends; %d client warnings/errors in %d rolls (%.0f per roll: disconnects, leader moves, " \
           "retries)" % (failed, logged, len(runs), logged / float(len(runs)))


def canary_lines(canary):
    """The canary through a rolling change, beside the Amazon MSK patching envelope."""
    runs = canary["runs"]
    windows = [w for run in runs for w in run["restart_windows"] if w.get("closed")]
    worst_p99 = max((w["latency_ms"]["p99"] or 0 for w in windows), default=None)
    lines = ["", "Canary through a rolling change of all %d brokers by site.yml (measured %s, n=%d): "
             "`bench/canary.py`, an idempotent kafka-python producer (acks=all) at %g msg/s to a topic with RF 3, "
             "min ISR 2, and a consumer reading it back, from %d s before the roll to %d s after it; the change: %s."
             % (canary["brokers"], canary["date"], len(runs), canary["rate"], canary["quiet_seconds"],
                canary["quiet_seconds"], canary["change"]), ""]
    lines += ["| run | roll (site.yml) | sent | acknowledged | consumed | lost | duplicated | latency p50 / p99 / max "
              "| longest without any ack | longest on one partition | errors |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for number, run in enumerate(runs, 1):
        latency = run["latency_ms"]
        lines.append("| %d | %.1f s | %d | %d | %d | %d | %d | %s / %s / %s | %s | %s | %s |" % (
            number, run["roll_seconds"], run["sent"], run["acknowledged"], run["consumed"], run["lost"],
            run["duplicated"], ms(latency["p50"]), ms(latency["p99"]), ms(latency["max"]),
            stall(run["longest_stall"]), stall(run["longest_partition_stall"]), error_summary(run["errors"])))
    lines += ["", "| run | broker | restart window: pod not ready → a pod of it ready | messages sent in it | "
              "latency p99 / max of those | longest on one partition (overlapping) |", "|---|---|---|---|---|---|"]
    for number, run in enumerate(runs, 1):
        for window in run["restart_windows"]:
            latency = window["latency_ms"]
            lines.append("| %d | %s | %.1f s (%.1f → %.1f s)%s | %d | %s / %s | %s |" % (
                number, window["broker"], window["seconds"], window["start"], window["end"],
                "" if window.get("closed") else ", still open at the end", window["sent"], ms(latency["p99"]),
                ms(latency["max"]), stall(window["longest_partition_stall"])))
    overall_p99 = max(run["latency_ms"]["p99"] or 0 for run in runs)
    longest_window = max((w["seconds"] for w in windows), default=None)
    lines += ["", "| | test bed (worst run) | Amazon MSK, patching one broker at a time |", "|---|---|---|",
              "| p99 produce latency, whole run | %s | spikes \"typically high milliseconds, up to ~2 seconds\" |"
              % ms(overall_p99),
              "| p99 of the messages sent during one broker's restart, worst broker | %s | up to ~2 s |"
              % ms(worst_p99),
              "| time one broker's restart affects clients | %s (pod not ready → ready) | \"up to 2 mins, typically "
              "less\" per broker |" % ("%.1f s" % longest_window if longest_window is not None else "none"),
              "| messages lost / duplicated | %d / %d | \"no impact on your applications' writes and reads if you "
              "follow best practices\" |"
              % (sum(r["lost"] for r in runs), sum(r["duplicated"] for r in runs)),
              "| client errors | %s | \"transient disconnect errors\" are normal |" % total_errors(runs),
              "", "Envelope: " + MSK_PATCHING + "."]
    return lines


HEAL_CASES = (("killed", "dead client (SIGKILL)"), ("stopped", "stopped client (SIGSTOP)"))


def heal_canary_lines(heal):
    """The canary through each heal case (bench/run.py measure_heal), beside the Amazon MSK envelope."""
    cases = [(case, label, heal[case]["canary"]) for case, label in HEAL_CASES if heal.get(case, {}).get("canary")]
    if not cases:
        return []
    count = max(len(runs) for _, _, runs in cases)
    lines = ["", "Canary through the heal (measured %s, n=%d per case): `bench/canary.py` at %g msg/s (idempotent, "
             "acks=all, RF 3, min ISR 2, 6 partitions) from %d s before broker 2's registration is taken over until "
             "%d s after site.yml ended. Phases: *fault* = the registration taken over until the pod deletion, "
             "*heal* = the pod deletion until broker 2 is registered by its new pod."
             % (heal.get("date", "?"), count, heal.get("canary_rate", 100.0), heal.get("quiet_seconds", 10),
                heal.get("quiet_seconds", 10)), ""]
    lines += ["| case | run | pod deleted → registered | sent | acknowledged | consumed | lost | duplicated | "
              "latency p50 / p99 / max | longest without any ack | longest on one partition | broker 2 out "
              "(pod not ready → ready) | heal phase: p99 / max, longest on one partition | errors |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for case, label, runs in cases:
        for number, run in enumerate(runs, 1):
            latency = run["latency_ms"]
            out = [w for w in run["restart_windows"] if str(w.get("broker")) == "2"]
            window = "; ".join("%.1f s%s" % (w["seconds"], "" if w.get("closed") else " (still open)") for w in out)
            phase = dict((p["name"], p) for p in run.get("phases", [])).get("heal")
            phase_cell = ("%s / %s, %s" % (ms(phase["latency_ms"]["p99"]), ms(phase["latency_ms"]["max"]),
                                           stall(phase["longest_partition_stall"])) if phase else "none")
            lines.append("| %s | %d | %.1f s | %d | %d | %d | %d | %d | %s / %s / %s | %s | %s | %s | %s | %s |" % (
                label, number, run["heal_seconds"], run["sent"], run["acknowledged"], run["consumed"], run["lost"],
                run["duplicated"], ms(latency["p50"]), ms(latency["p99"]), ms(latency["max"]),
                stall(run["longest_stall"]), stall(run["longest_partition_stall"]), window or "none", phase_cell,
                error_summary(run["errors"])))
    lines += ["", "| | " + " | ".join("heal, %s (worst run)" % label for _, label, _ in cases)
              + " | Amazon MSK, patching one broker at a time |", "|---" * (len(cases) + 2) + "|"]

    def worst(runs, pick):
        values = [pick(run) for run in runs]
        values = [v for v in values if v is not None]
        return max(values) if values else None

    def broker_out(run):
        return max((w["seconds"] for w in run["restart_windows"] if str(w.get("broker")) == "2"), default=None)

    rows = (("p99 produce latency, whole run", lambda r: r["latency_ms"]["p99"], ms,
             "spikes \"typically high milliseconds, up to ~2 seconds\""),
            ("max produce latency", lambda r: r["latency_ms"]["max"], ms, "not stated"),
            ("longest on one partition", lambda r: (r["longest_partition_stall"] or {}).get("seconds"),
             lambda v: "none" if v is None else "%.2f s" % v, "not stated"),
            ("time broker 2 was out (pod not ready → ready)", broker_out,
             lambda v: "none" if v is None else "%.1f s" % v, "\"up to 2 mins, typically less\" per broker"))
    for label, pick, fmt, msk in rows:
        lines.append("| %s | %s | %s |" % (label, " | ".join(fmt(worst(runs, pick)) for _, _, runs in cases), msk))
    lines.append("| messages lost / duplicated (all runs) | %s | \"no impact on your applications' writes and reads "
                 "if you follow best practices\" |" % " | ".join(
                     "%d / %d" % (sum(r["lost"] for r in runs), sum(r["duplicated"] for r in runs))
                     for _, _, runs in cases))
    lines.append("| failed sends (all runs) | %s | \"transient disconnect errors\" are normal |"
                 % " | ".join("%d" % sum(r["failed"] for r in runs) for _, _, runs in cases))
    lines += ["", "Envelope: " + MSK_PATCHING + "."]
    return lines


UPGRADE_STEPS = {
    "zookeeper_roll": "ZooKeeper 3.4.10 → 3.9.3 (site.yml's start until every server is ready on the new image)",
    "first_broker_roll_until_killed": "first roll (binaries, protocol pinned): until the run was killed",
    "rerun_first_broker_roll_held": "first roll: the rerun, which finished it (bump_protocol false)",
    "second_roll_protocol_raised": "second roll (protocol raised to 3.9)",
}


def phase_lines(report, labels=None):
    """The canary's figures per phase of one run (the upgrade scenario's steps): a table."""
    labels = labels or {}
    lines = ["| step | seconds | sent | acknowledged | failed | latency p50 / p99 / max | longest without any ack | "
             "longest on one partition | broker restarts in it |", "|---|---|---|---|---|---|---|---|---|"]
    for phase in report.get("phases", []):
        latency = phase["latency_ms"]
        lines.append("| %s | %.1f s | %d | %d | %d | %s / %s / %s | %s | %s | %s |" % (
            labels.get(phase["name"], phase["name"]), phase["seconds"], phase["sent"], phase["acknowledged"],
            phase["failed"], ms(latency["p50"]), ms(latency["p99"]), ms(latency["max"]), stall(phase["longest_stall"]),
            stall(phase["longest_partition_stall"]), ", ".join(str(b) for b in phase["restart_windows"]) or "none"))
    return lines


def heal_lines(results):
    """The heal's times, then what the canary saw of it."""
    heal = results.get("heal")
    if not heal or "killed" not in heal:
        return []
    when = " (measured %s)" % heal["date"] if heal.get("date") else ""
    return ["", "| heal: broker 2's pod deleted while an earlier session holds its registration%s | dead client "
            "(SIGKILL) | stopped client (SIGSTOP) |" % when, "|---|---|---|",
            "| pod deleted → registered again, site.yml started at once | %s | %s |"
            % (cell(heal["killed"]["total"]), cell(heal["stopped"]["total"])),
            "| new container started → registered | %s | %s |"
            % (cell(heal["killed"]["after_start"]), cell(heal["stopped"]["after_start"]))] + heal_canary_lines(heal)


def tls_lines(tls):
    """Plaintext beside TLS: each run's rollout, the canary's steady latency and the burst's throughput."""
    lines = ["| listeners | run | rollout (site.yml) | canary acknowledged / lost | latency p50 / p99 / max "
             "(%g msg/s, %d s) | burst: acks=all, %d × %d B |" % (tls["rate"], tls["canary_seconds"],
                                                                  tls["burst_messages"], tls["burst_bytes"]),
             "|---|---|---|---|---|---|"]
    medians = {}
    for protocol, label in (("plaintext", "PLAINTEXT"), ("ssl", "TLS (client and inter-broker)")):
        runs = tls["runs"][protocol]
        for index, run in enumerate(runs, 1):
            latency, burst = run["latency_ms"], run["burst"]
            lines.append("| %s | %d | %.1f s | %d / %d | %s / %s / %s | %d msg/s (%.2f MiB/s, %d failed) |" % (
                label, index, run["rollout_seconds"], run["acknowledged"], run["lost"], ms(latency["p50"]),
                ms(latency["p99"]), ms(latency["max"]), burst["messages_per_second"], burst["mib_per_second"],
                burst["failed"]))
        medians[protocol] = (statistics.median(r["burst"]["messages_per_second"] for r in runs),
                             statistics.median(r["latency_ms"]["p99"] for r in runs))
    plain, secured = medians["plaintext"], medians["ssl"]
    lines += ["", "Median burst throughput: PLAINTEXT %.0f msg/s, TLS %.0f msg/s (%.2fx); median p99 at %g msg/s: "
              "PLAINTEXT %s, TLS %s." % (plain[0], secured[0], secured[0] / float(plain[0]), tls["rate"],
                                         ms(plain[1]), ms(secured[1]))]
    return lines


def main():
    with open(sys.argv[1]) as handle:
        results = json.load(handle)
    if "--canary-only" in sys.argv[2:]:
        print("\n".join(canary_lines(results["canary"])[1:]))
        return
    if "--upgrade" in sys.argv[2:]:
        # The upgrade scenario's state file (tests/e2e/scenarios/upgrade.py): its steps under the canary.
        print("\n".join(phase_lines(results["canary"], UPGRADE_STEPS)))
        return
    if "--tls-only" in sys.argv[2:]:
        print("\n".join(tls_lines(results["tls"])))
        return
    if "--heal-only" in sys.argv[2:]:
        print("\n".join(heal_lines(results)[1:]))
        return
    lines = ["Measured %s on %s; median (min–max, number of runs)." % (results["date"], results["machine"]), ""]
    lines += ["| measurement | site.yml | baseline | ratio |", "|---|---|---|---|"]
    for key, label, base in (("rollout_4", "full rollout, 4 brokers", "baseline"),
                             ("noop_4", "no-op rerun, 4 brokers", "kubectl"),
                             ("rollout_16", "full rollout, 16 brokers", "baseline"),
                             ("noop_16", "no-op rerun, 16 brokers", "kubectl"),
                             ("rollout_32", "full rollout, 32 brokers", "baseline"),
                             ("noop_32", "no-op rerun, 32 brokers", "kubectl")):
        entry = results.get(key)
        if entry:
            lines.append("| %s | %s | %s | %.2fx |" % (label, cell(entry["site"]), cell(entry[base]), entry["ratio"]))
        else:
            lines.append("| %s | not measured | | |" % label)
    for key, label in (("rollout_4", "full rollout, 4 brokers"), ("noop_4", "no-op rerun, 4 brokers"),
                       ("rollout_32", "full rollout, 32 brokers"), ("noop_32", "no-op rerun, 32 brokers")):
        tasks = (results.get(key) or {}).get("slowest_tasks")
        if tasks:
            lines += ["", "Where site.yml's time goes, %s (median per task, share of the run):" % label, ""]
            lines += ["| task | seconds | share |", "|---|---|---|"]
            lines += ["| %s | %.2f | %.0f%% |" % (t["name"].replace("|", "/"), t["median"], 100 * t["share"])
                      for t in tasks]
    lines += heal_lines(results)
    multi = results.get("multi")
    if multi:
        when = " (measured %s)" % results["multi_date"] if results.get("multi_date") else ""
        lines += ["", "| multi-cluster rollout%s | seconds |" % when, "|---|---|",
                  "| 1 test bed, site.yml | %s |" % cell(multi["one"]),
                  "| 3 test beds, multi_cluster.yml, kafka_serial=100%%, forks 3 | %s |" % cell(multi["three_parallel"]),
                  "| ratio | %.2fx |" % multi["ratio"]]
        if multi.get("baseline_one"):
            lines += ["| baseline (kubectl apply + the same check), 1 test bed | %s |" % cell(multi["baseline_one"]),
                      "| baseline, 3 test beds at once | %s |" % cell(multi["baseline_three"]),
                      "| baseline ratio | %.2fx |" % multi["baseline_ratio"]]
    peaks = sorted((int(k.rsplit("_", 1)[1]), v) for k, v in results.items() if k.startswith("controller_peak_rss"))
    if peaks:
        lines += ["", "Controller peak memory (largest resident set of any process the benchmark started, MiB): "
                  + ", ".join("%d brokers: %.0f" % (n, v) for n, v in peaks)]
    if results.get("canary"):
        lines += canary_lines(results["canary"])
    print("\n".join(lines))


if __name__ == "__main__":
    main()
