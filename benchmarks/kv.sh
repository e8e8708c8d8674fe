#!/usr/bin/env bash
# Key-value benchmarks for examples/kv (issue 5): redis-benchmark -t get,set -P 16 -c 30 against the
# Tessera image and, in the same run with the same settings, against Debian's redis-server on the host
# (the ratio is the figure); the same against a copy of the image without metrics-exporter (the cost of
# metrics); the image size; the smallest -m that serves.
# Run from the repository root as root (for the tap device):  bash benchmarks/kv.sh
set -euo pipefail

REQUESTS=${REQUESTS:-100000}
APP=examples/kv
TESSERA=.build/debug/tessera
TAP=tsrbenchk0
SUBNET=10.80.0

[[ -f Package.swift && -d $APP ]] || { echo "run from the repository root: bash benchmarks/kv.sh" >&2; exit 1; }
[[ $(id -u) -eq 0 && -e /dev/net/tun ]] || { echo "needs root and /dev/net/tun for a tap device" >&2; exit 1; }
for tool in redis-benchmark redis-server redis-cli qemu-system-x86_64; do
    command -v $tool >/dev/null || { echo "$tool not found (Debian packages: redis-tools redis-server qemu-system-x86)" >&2; exit 1; }
done
TMP=$(mktemp -d)
GUEST=""
cleanup() {
    [[ -n $GUEST ]] && kill "$GUEST" 2>/dev/null || true
    redis-cli -p 16399 shutdown nosave >/dev/null 2>&1 || true
    ip link delete $TAP 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
log() { echo "$*" >&2; }

swift build --product tessera >&2
ip link delete $TAP 2>/dev/null || true
ip tuntap add dev $TAP mode tap && ip addr add $SUBNET.1/24 dev $TAP && ip link set $TAP up

# The image without metrics: the same sources, metrics-exporter not selected.
mkdir -p "$TMP/kv-nometrics"
cp $APP/*.swift "$TMP/kv-nometrics/"
sed 's/use: \[net-stack, resp, kv-store, metrics-exporter\]/use: [net-stack, resp, kv-store]/; /metrics.port/d' \
    $APP/tessera.yaml > "$TMP/kv-nometrics/tessera.yaml"
"$TESSERA" build -q $APP >&2
"$TESSERA" build -q "$TMP/kv-nometrics" >&2

start_guest() {  # $1: app folder, $2: memory
    "$TESSERA" run "$1" -m "$2" --net tap:$TAP -e ip=$SUBNET.2/24 -e gateway=$SUBNET.1 >"$TMP/guest.log" 2>&1 &
    GUEST=$!
    for _ in $(seq 1 150); do
        redis-cli -h $SUBNET.2 ping 2>/dev/null | grep -q PONG && return 0
        kill -0 $GUEST 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}
stop_guest() { kill $GUEST 2>/dev/null || true; wait $GUEST 2>/dev/null || true; GUEST=""; }
rate() {  # $1: host, $2: port, $3: test -> requests/s
    redis-benchmark -h "$1" -p "$2" -q -n "$REQUESTS" -P 16 -c 30 -t "$3" 2>/dev/null | tr '\r' '\n' \
        | awk -F'[: ]+' '/requests per second/ { print $2 }' | tail -1
}

redis-server --port 16399 --save '' --appendonly no --daemonize yes >/dev/null
sleep 0.5
ROWS=()
for test in set get; do
    start_guest $APP 16M || { cat "$TMP/guest.log" >&2; exit 1; }
    tessera_rate=$(rate $SUBNET.2 6379 $test); stop_guest
    start_guest "$TMP/kv-nometrics" 16M || { cat "$TMP/guest.log" >&2; exit 1; }
    bare_rate=$(rate $SUBNET.2 6379 $test); stop_guest
    redis_rate=$(rate 127.0.0.1 16399 $test)
    ratio=$(awk -v a="$tessera_rate" -v b="$redis_rate" 'BEGIN { printf "%.3f", a / b }')
    cost=$(awk -v a="$tessera_rate" -v b="$bare_rate" 'BEGIN { printf "%+.1f%%", (a / b - 1) * 100 }')
    ROWS+=("| ${test^^}, redis-benchmark -P 16 -c 30 -n $REQUESTS | $tessera_rate | $bare_rate ($cost with metrics) | $redis_rate | $ratio |")
    log "   $test: tessera $tessera_rate, without metrics $bare_rate, redis-server $redis_rate"
done

IMAGE_BYTES=$(stat -c %s $APP/.tessera/kv.elf)
serves() {
    start_guest $APP "${1}K" || { stop_guest; return 1; }
    local ok=0
    redis-cli -h $SUBNET.2 set k v | grep -q OK || ok=1
    redis-cli -h $SUBNET.2 get k | grep -q v || ok=1
    stop_guest
    return $ok
}
low=1024; high=16384
while (( high - low > 64 )); do
    mid=$(( (low + high) / 2 / 64 * 64 ))
    if serves $mid; then high=$mid; else low=$mid; fi
    log "   -m: serves at ${high}K, not at ${low}K"
done

echo
echo "Date: $(date +%F); tap networking; $(nproc) cores; TCG; command: bash benchmarks/kv.sh (REQUESTS=$REQUESTS)"
echo
echo "| Test | Tessera kv (req/s) | kv without metrics-exporter | redis-server on the host | Ratio |"
echo "|---|---|---|---|---|"
for row in "${ROWS[@]}"; do echo "$row"; done
echo
echo "Image size (kv.elf, stripped, with metrics-exporter): $IMAGE_BYTES bytes; smallest -m that serves (64 KiB steps): ${high}K"
