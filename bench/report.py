#!/usr/bin/env python3
"""Turn bench/run.py's results JSON into the tables of docs/benchmarks.md (printed to stdout).

    bench/report.py .cache/bench/results.json
"""
import json
import sys


def cell(entry):
    if not entry:
        return "not measured"
    digits = 2 if entry["median"] < 10 else 1
    return "%.*f s (%.*f–%.*f, n=%d)" % (digits, entry["median"], digits, entry["min"], digits, entry["max"],
                                         entry["n"])


def main():
    with open(sys.argv[1]) as handle:
        results = json.load(handle)
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
    heal = results.get("heal")
    if heal and "killed" in heal:
        lines += ["", "| heal: broker 2's pod deleted while an earlier session holds its registration | dead client "
                  "(SIGKILL) | stopped client (SIGSTOP) |", "|---|---|---|",
                  "| pod deleted → registered again, site.yml started at once | %s | %s |"
                  % (cell(heal["killed"]["total"]), cell(heal["stopped"]["total"])),
                  "| new container started → registered | %s | %s |"
                  % (cell(heal["killed"]["after_start"]), cell(heal["stopped"]["after_start"]))]
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
    print("\n".join(lines))


if __name__ == "__main__":
    main()
