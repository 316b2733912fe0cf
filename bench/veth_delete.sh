#!/usr/bin/env bash
# What the kernel alone charges for deleting a veth pair, by how the pair is set up, with no CNI
# plugin involved: `ip link del` of the host end, N pairs in a row, styles alternating round by
# round. Explains the CNI DEL comparison in BENCHMARKS.md.
#
#   bridge   the host end is a port of a bridge; the container end has a /16 and a gateway
#            (what the bridge plugin builds)
#   routed   tabby's layout for an IPv4 workload: host end with MAC ee:ee:ee:ee:ee:ee, proxy ARP,
#            forwarding, IPv6 off, a /32 route; container end a /32 and routes via 169.254.1.1
#   dual     routed, as for a dual-stack workload: IPv6 left on at the host end and IPv6
#            forwarding on in the host (net.ipv6.conf.all.forwarding=1)
#   plain    a veth pair with both ends up and nothing else
#
#   bench/veth_delete.sh [PAIRS] [ROUNDS]      (as root)
set -euo pipefail
pairs=${1:-40}
rounds=${2:-4}
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
prefix=tabbyveth-$$
cleanup() {
  for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix" || true); do ip netns del "$ns"; done
}
trap cleanup EXIT

# Prints the mean microseconds per deletion for one round of style $1.
round() {
  local style=$1 host=$prefix-h
  ip netns add "$host"
  ip -n "$host" link set lo up
  ip netns exec "$host" sysctl -qw net.ipv4.ip_forward=1
  [ "$style" = dual ] && ip netns exec "$host" sysctl -qw net.ipv6.conf.all.forwarding=1
  if [ "$style" = bridge ]; then
    ip -n "$host" link add br0 type bridge
    ip -n "$host" addr add 10.99.0.1/16 dev br0
    ip -n "$host" link set br0 up
  fi
  for i in $(seq 1 "$pairs"); do
    local c=$prefix-c$i address=10.99.$((i / 200)).$((i % 200 + 2))
    ip netns add "$c"
    ip -n "$c" link set lo up
    ip -n "$host" link add "v$i" type veth peer name eth0 netns "$c"
    case $style in
      bridge)
        ip -n "$host" link set "v$i" master br0
        ip -n "$c" addr add "$address/16" dev eth0
        ip -n "$c" link set eth0 up
        ip -n "$c" route add default via 10.99.0.1 ;;
      routed | dual)
        ip -n "$host" link set "v$i" address ee:ee:ee:ee:ee:ee
        ip netns exec "$host" sysctl -qw "net.ipv4.conf.v$i.proxy_arp=1" \
          "net.ipv4.conf.v$i.forwarding=1"
        [ "$style" = routed ] && ip netns exec "$host" sysctl -qw "net.ipv6.conf.v$i.disable_ipv6=1"
        ip -n "$c" addr add "$address/32" dev eth0
        ip -n "$c" link set eth0 up
        ip -n "$c" route add 169.254.1.1 dev eth0 scope link
        ip -n "$c" route add default via 169.254.1.1 dev eth0 ;;
      plain)
        ip -n "$c" link set eth0 up ;;
    esac
    ip -n "$host" link set "v$i" up
    [ "$style" = routed ] || [ "$style" = dual ] && ip -n "$host" route add "$address/32" dev "v$i"
  done
  local start end
  start=$(date +%s%N)
  for i in $(seq 1 "$pairs"); do ip -n "$host" link del "v$i"; done
  end=$(date +%s%N)
  echo $(((end - start) / pairs / 1000))
  cleanup
}

styles=(bridge routed dual plain)
declare -A results
for _ in $(seq 1 "$rounds"); do
  for style in "${styles[@]}"; do results[$style]+="$(round "$style") "; done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${results[bridge]}" | median)
echo "veth deletion, $pairs pairs per round, $rounds alternating rounds (median of round means)"
echo "| style | ms per deletion | ratio to bridge |"
echo "|---|---|---|"
for style in "${styles[@]}"; do
  m=$(echo "${results[$style]}" | median)
  awk -v s="$style" -v m="$m" -v b="$base" 'BEGIN {printf "| %s | %.1f | %.2f |\n", s, m / 1000, m / b}'
done
