#!/usr/bin/env bash
# Fetches the test bed's JVM parts from Maven Central (versions pinned in pom.xml):
#   $REPO/.cache/java/zookeeper/lib/*.jar   ZooKeeper 3.9.3 server + metrics-core + logback
#   $REPO/.cache/java/kafka/lib/*.jar       Kafka 3.9.x broker, tools, clients + reload4j
# Maven's local repository: $REPO/.cache/m2. Idempotent: a stamp file (the pom's checksum) skips the work.
# Usage: tests/testbed/java/fetch.sh [--force]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="$repo/.cache/java"
m2="$repo/.cache/m2"
stamp="$out/.fetched"
start=$(date +%s)

die() { echo "fetch.sh: ERROR: $*" >&2; exit 1; }
command -v mvn >/dev/null || die "mvn not found (Debian package 'maven')"
command -v java >/dev/null || die "java not found (Debian package 'openjdk-17-jre-headless')"

want="$(sha256sum "$here/pom.xml" "$here/fetch.sh" | sha256sum | cut -d' ' -f1)"
if [[ "${1:-}" != "--force" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
   && ls "$out"/zookeeper/lib/zookeeper-3*.jar "$out"/kafka/lib/kafka_2.13-*.jar >/dev/null 2>&1; then
  echo "fetch.sh: up to date ($out), 0 s"
  exit 0
fi

mkdir -p "$out" "$m2"
for profile in zookeeper kafka; do
  dest="$out/$profile/lib"
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  log="$out/$profile-mvn.log"
  echo "fetch.sh: resolving $profile (log: $log)"
  if ! mvn -B -q -f "$here/pom.xml" -P"$profile" -Dmaven.repo.local="$m2" \
        dependency:copy-dependencies -DoutputDirectory="$dest.tmp" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "Maven could not resolve the $profile profile of $here/pom.xml (see $log)"
  fi
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  echo "fetch.sh: $profile: $(ls "$dest" | wc -l) jars in $dest"
done
ls "$out"/zookeeper/lib/zookeeper-3.9.3.jar >/dev/null || die "zookeeper-3.9.3.jar missing"
ls "$out"/kafka/lib/kafka_2.13-*.jar >/dev/null || die "kafka_2.13 jar missing"
echo "$want" > "$stamp"
echo "fetch.sh: done in $(( $(date +%s) - start )) s"
