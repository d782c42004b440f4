#!/usr/bin/env bash
# make demo: site.yml against a running local test bed, the bootstrap servers it published, and one
# message produced and consumed with Kafka's own console clients inside the broker pods.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
name=${1:-tb1}
state="$repo/.cache/testbeds/$name"
[ -f "$state/env" ] || { echo "demo: test bed $name is not up (make testbed-up TESTBED_NAME=$name)"; exit 1; }
# shellcheck disable=SC1091
source "$state/env"
export PATH="$repo/.cache/venv/bin:$repo/.cache/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$repo/.cache/collections"
cd "$repo"
start=$SECONDS
ansible-playbook site.yml -e kafka_k8s_kubeconfig="$KUBECONFIG" -e @tests/e2e/testbed-vars.yml
echo "demo: site.yml took $((SECONDS - start))s"
bootstrap=$(kubectl -n kafka get configmap kafka-client-config -o jsonpath='{.data.bootstrap\.servers}')
echo "demo: bootstrap.servers=$bootstrap"
topic="demo-$(date +%s)"
message="hello from kafka_eks.cluster $(date -u +%FT%TZ)"
kubectl -n kafka exec deploy/kafka-broker-0 -- kafka-topics --bootstrap-server "$bootstrap" \
  --create --if-not-exists --topic "$topic" --partitions 3 --replication-factor 3
echo "$message" | kubectl -n kafka exec -i deploy/kafka-broker-1 -- kafka-console-producer \
  --bootstrap-server "$bootstrap" --topic "$topic" --producer-property acks=all
received=$(kubectl -n kafka exec deploy/kafka-broker-2 -- kafka-console-consumer --bootstrap-server "$bootstrap" \
  --topic "$topic" --from-beginning --max-messages 1 --timeout-ms 60000 2>/dev/null | tail -1)
echo "demo: sent     '$message'"
echo "demo: received '$received'"
[ "$received" = "$message" ] || { echo "demo: the message did not come back"; exit 1; }
echo "demo: a message went through Kafka (topic $topic, replication factor 3)"
