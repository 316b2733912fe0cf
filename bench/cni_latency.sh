#!/usr/bin/env bash
# CNI ADD and DEL latency: tabby (on the embedded datastore and on a one-member etcd) versus the
# reference bridge + host-local plugins, invoked the same way, side by side in one run
# (TESTING.md's method): CNI_* environment, the plugin run in a host network namespace, N
# workloads added in a row, then deleted in a row. Rounds alternate between the configurations
# so that machine noise hits all alike. Prints each one's mean and p99 and its ratio to the
# reference; the etcd configuration also its ratio to the embedded one.
#
#   bench/cni_latency.sh [WORKLOADS_PER_ROUND] [ROUNDS] [BUILD_DIR]     (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-50}
rounds=${2:-3}
build=${3:-build}
CNI=$PWD/$build/src/cmd/tabby-cni/tabby-cni
CTL=$PWD/$build/src/cmd/tabbyctl/tabbyctl
REF=/usr/lib/cni
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
[ -x "$CNI" ] || { echo "build first: ninja -C $build tabby-cni tabbyctl" >&2; exit 1; }
[ -x "$REF/bridge" ] || { echo "containernetworking-plugins is not installed" >&2; exit 1; }
command -v etcd >/dev/null || { echo "etcd is not installed (scripts/install-deps)" >&2; exit 1; }

work=$(mktemp -d /tmp/tabby-bench-cni.XXXXXX)
host=tabbybench-$$
etcd_pid=
cleanup() {
  set +e
  [ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null && wait "$etcd_pid" 2>/dev/null
  for ns in $(ip netns list | awk '{print $1}' | grep "^$host"); do ip netns del "$ns"; done
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$host"
ip -n "$host" link set lo up
# etcd on the host namespace's loopback, where the plugin runs.
etcd_url=etcd://127.0.0.1:23890
ip netns exec "$host" etcd --name bench --data-dir "$work/etcd" \
  --listen-client-urls http://127.0.0.1:23890 --advertise-client-urls http://127.0.0.1:23890 \
  --listen-peer-urls http://127.0.0.1:23891 --initial-advertise-peer-urls http://127.0.0.1:23891 \
  --initial-cluster bench=http://127.0.0.1:23891 --log-level error >"$work/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 1 100); do
  ip netns exec "$host" etcdctl --endpoints=127.0.0.1:23890 endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done
for url in "sqlite://$work/tabby.db" "$etcd_url"; do
  ip netns exec "$host" env TABBY_DATASTORE="$url" "$CTL" datastore init >/dev/null
  ip netns exec "$host" env TABBY_DATASTORE="$url" "$CTL" apply -f - >/dev/null <<'EOF'
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: bench}
spec: {cidr: 10.80.0.0/16}
EOF
done
cat > "$work/tabby.json" <<EOF
{"cniVersion": "1.0.0", "name": "bench", "type": "tabby", "nodename": "bench",
 "datastore": "sqlite://$work/tabby.db"}
EOF
cat > "$work/tabby-etcd.json" <<EOF
{"cniVersion": "1.0.0", "name": "bench", "type": "tabby", "nodename": "bench",
 "datastore": "$etcd_url"}
EOF
cat > "$work/bridge.json" <<EOF
{"cniVersion": "1.0.0", "name": "benchbr", "type": "bridge", "bridge": "benchbr0",
 "isGateway": true, "ipMasq": false,
 "ipam": {"type": "host-local", "subnet": "10.81.0.0/16", "dataDir": "$work/host-local"}}
EOF

now_ns() { date +%s%N; }

# invoke COMMAND PLUGIN CONFIG LABEL I: one timed plugin call; appends its latency (µs) to a file.
invoke() {
  local command=$1 plugin=$2 config=$3 label=$4 i=$5 start end
  start=$(now_ns)
  ip netns exec "$host" env CNI_COMMAND="$command" CNI_CONTAINERID="$label-$i" \
    CNI_NETNS="/var/run/netns/$host-$label-$i" CNI_IFNAME=eth0 CNI_PATH="$REF" \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=$label-$i" "$plugin" \
    <"$config" >"$work/out" || { cat "$work/out" >&2; exit 1; }
  end=$(now_ns)
  echo $(((end - start) / 1000)) >>"$work/$label.${command,,}"
}

# run_round PLUGIN_BINARY CONFIG LABEL: N ADDs, then N DELs.
run_round() {
  local plugin=$1 config=$2 label=$3
  for i in $(seq 1 "$count"); do ip netns add "$host-$label-$i"; done
  for i in $(seq 1 "$count"); do invoke ADD "$plugin" "$config" "$label" "$i"; done
  for i in $(seq 1 "$count"); do invoke DEL "$plugin" "$config" "$label" "$i"; done
  for i in $(seq 1 "$count"); do ip netns del "$host-$label-$i"; done
}

for r in $(seq 1 "$rounds"); do
  run_round "$CNI" "$work/tabby.json" tabby
  run_round "$CNI" "$work/tabby-etcd.json" etcd
  run_round "$REF/bridge" "$work/bridge.json" reference
done

# stats FILE -> "mean p99" in ms
stats() {
  sort -n "$1" | awk '{v[NR]=$1; s+=$1} END {
    i=int(NR*0.99); if (i<1) i=1; if (i>NR) i=NR;
    printf "%.2f %.2f", s/NR/1000, v[i]/1000 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
samples=$((count * rounds))
echo "CNI latency, $samples workloads per configuration ($rounds alternating rounds of $count)"
printf '| operation | tabby, embedded: mean (p99) ms | tabby, etcd: mean (p99) ms | bridge+host-local: mean (p99) ms | embedded / reference | etcd / reference | etcd / embedded |\n'
printf '|---|---|---|---|---|---|---|\n'
for op in add del; do
  read -r t t99 <<<"$(stats "$work/tabby.$op")"
  read -r e e99 <<<"$(stats "$work/etcd.$op")"
  read -r r r99 <<<"$(stats "$work/reference.$op")"
  printf '| %s | %s (%s) | %s (%s) | %s (%s) | %s | %s | %s |\n' "${op^^}" "$t" "$t99" "$e" "$e99" \
    "$r" "$r99" "$(ratio "$t" "$r")" "$(ratio "$e" "$r")" "$(ratio "$e" "$t")"
done
