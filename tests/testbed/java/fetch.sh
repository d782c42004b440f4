#!/usr/bin/env bash
# Fetches the test bed's JVM parts from Maven Central (versions pinned in pom.xml), one class path per
# version the test bed runs: every pom profile whose id is <product>-<version> goes to
#   $REPO/.cache/java/<product>-<version>/lib/*.jar
# e.g. zookeeper-3.4.10, zookeeper-3.8.4, zookeeper-3.9.3, kafka-2.5.1, kafka-3.9.2, kafka-4.0.2 (which image tag runs which
# is tests/testbed/podrunner/images.py, RUNTIMES).
# Maven's local repository: $REPO/.cache/m2. Idempotent: each directory has a stamp (the checksum of its
# profile, the pom's properties and this script) and is skipped while it matches; a directory is replaced
# only once its new copy resolved completely. The unversioned .cache/java/zookeeper and .cache/java/kafka of
# older checkouts are never touched.
# Usage: tests/testbed/java/fetch.sh [--force] [PROFILE ...]     (default: every versioned profile)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
pom="$here/pom.xml"
out="$repo/.cache/java"
m2="$repo/.cache/m2"
start=$(date +%s)

die() { echo "fetch.sh: ERROR: $*" >&2; exit 1; }
force=0
if [[ "${1:-}" == "--force" ]]; then force=1; shift; fi
all=$(grep -oE '<id>(zookeeper|kafka)-[0-9][0-9.]*</id>' "$pom" | sed -E 's#</?id>##g')
[[ -n "$all" ]] || die "no <product>-<version> profile in $pom"
profiles=${*:-$all}

# What a profile's class path depends on: its own <profile> block, the pom's <properties> (its versions)
# and this script.
digest() {
  { awk '/<properties>/,/<\/properties>/' "$pom"
    awk -v id="<id>$1</id>" 'index($0, id) {on=1} on {print} on && /<\/profile>/ {exit}' "$pom"
    cat "$here/fetch.sh"; } | sha256sum | cut -d' ' -f1
}
main_jar() {  # the jar that must be there: zookeeper-3.4.10.jar, kafka_2.13-2.5.1.jar
  case "$1" in
    zookeeper-*) echo "zookeeper-${1#zookeeper-}.jar" ;;
    kafka-*) echo "kafka_2.13-${1#kafka-}.jar" ;;
  esac
}

todo=()
for p in $profiles; do
  grep -qx "$p" <<<"$all" || die "no profile $p in $pom (known: $(echo $all))"
  stamp="$out/$p/.fetched"
  if [[ $force == 0 && -f "$stamp" && "$(cat "$stamp")" == "$(digest "$p")" && -f "$out/$p/lib/$(main_jar "$p")" ]]; then
    continue
  fi
  todo+=("$p")
done
if [[ ${#todo[@]} == 0 ]]; then
  echo "fetch.sh: up to date ($out: $(echo $profiles)), 0 s"
  exit 0
fi

command -v mvn >/dev/null || die "mvn not found (Debian package 'maven')"
command -v java >/dev/null || die "java not found (Debian package 'openjdk-17-jre-headless')"
mkdir -p "$out" "$m2"
for p in "${todo[@]}"; do
  dest="$out/$p/lib"
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  log="$out/$p-mvn.log"
  t0=$(date +%s)
  if ! mvn -B -q -f "$pom" -P"$p" -Dmaven.repo.local="$m2" \
        dependency:copy-dependencies -DoutputDirectory="$dest.tmp" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "Maven could not resolve profile $p of $pom (see $log)"
  fi
  [[ -f "$dest.tmp/$(main_jar "$p")" ]] || die "profile $p resolved without $(main_jar "$p") (see $log)"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  digest "$p" > "$out/$p/.fetched"
  echo "fetch.sh: $p: $(ls "$dest" | wc -l) jars in $dest ($(( $(date +%s) - t0 )) s)"
done
echo "fetch.sh: done in $(( $(date +%s) - start )) s"
