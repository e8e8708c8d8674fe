#!/usr/bin/env bash
# HTTP benchmarks for examples/httpd (issue 4): wrk requests/s on the 612-byte index page against the
# Tessera image and, in the same run with the same wrk settings, against nginx from Debian on the host
# serving the same folder (the ratio is the figure); the image size; the smallest -m that serves.
# Run from the repository root as root (for the tap device):  bash benchmarks/httpd.sh
# PLATFORMS (default "qemu-microvm", plus "kvm" when /dev/kvm and a tap device are usable) lists the
# platforms measured in the same run: qemu-microvm boots under QEMU, kvm on Tessera's own monitor.
# Without root it uses QEMU user networking (-p) instead of a tap device and says so.
# Scratch files go to a temporary directory; the tap device and nginx are removed on exit.
set -euo pipefail

DURATION=${DURATION:-10}          # seconds per wrk run
CONNECTIONS=${CONNECTIONS:-"10 100"}
APP=examples/httpd
TESSERA=.build/debug/tessera
TAP=tsrbench0
SUBNET=10.79.0

[[ -f Package.swift && -d $APP ]] || { echo "run from the repository root: bash benchmarks/httpd.sh" >&2; exit 1; }
for tool in wrk curl nginx qemu-system-x86_64; do
    command -v $tool >/dev/null || { echo "$tool not found (Debian packages: wrk curl nginx-light qemu-system-x86)" >&2; exit 1; }
done

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    [[ -f $TMP/nginx.pid ]] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
    ip link delete $TAP 2>/dev/null || true
    sleep 0.5
    rm -rf "$TMP"
}
trap cleanup EXIT
log() { echo "$*" >&2; }

log "== swift build; $TESSERA build $APP"
swift build --product tessera >&2
swift build --product tessera-kvm >&2
"$TESSERA" build -q "$APP" >&2

# ---- network: a tap device when we may, else user networking with a forwarded port --------------
if [[ $(id -u) -eq 0 && -e /dev/net/tun ]]; then
    ip link delete $TAP 2>/dev/null || true
    ip tuntap add dev $TAP mode tap
    ip addr add $SUBNET.1/24 dev $TAP
    ip link set $TAP up
    NETWORK="tap ($TAP, guest $SUBNET.2)"
    RUN_NET=(--net tap:$TAP -e ip=$SUBNET.2/24 -e gateway=$SUBNET.1)
    URL=http://$SUBNET.2/
    [[ -r /dev/kvm && -w /dev/kvm ]] && DEFAULT_PLATFORMS="qemu-microvm kvm"
else
    NETWORK="QEMU user networking (-p 18080:80; not root, so no tap device)"
    RUN_NET=(-p 18080:80)
    URL=http://127.0.0.1:18080/
fi

PLATFORMS=${PLATFORMS:-${DEFAULT_PLATFORMS:-qemu-microvm}}
PLATFORM=qemu-microvm
start_httpd() {  # $1: memory; prints nothing; waits until the page is served (on $PLATFORM)
    "$TESSERA" run "$APP" --platform "$PLATFORM" -m "$1" "${RUN_NET[@]}" -- --quiet >"$TMP/httpd.log" 2>&1 &
    HTTPD=$!
    PIDS+=($HTTPD)
    for _ in $(seq 1 150); do
        curl -s -o /dev/null --max-time 1 "$URL" && return 0
        kill -0 $HTTPD 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}
stop_httpd() { kill $HTTPD 2>/dev/null || true; wait $HTTPD 2>/dev/null || true; }

# ---- nginx on the host, serving the same rootfs/www/ with one worker ---------------------------------
NGINX_PORT=18081
cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/octet-stream;
    types { text/html html; text/css css; text/plain txt; }
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$NGINX_PORT; root $PWD/$APP/rootfs/www; index index.html; }
}
EOF
nginx -c "$TMP/nginx.conf"
sleep 0.5

wrk_rate() {  # $1: connections, $2: url -> requests/s
    wrk -t2 -c"$1" -d"${DURATION}s" --timeout 10s "$2" >"$TMP/wrk.txt" 2>&1
    if grep -q "Non-2xx\|Socket errors" "$TMP/wrk.txt"; then log "$(cat "$TMP/wrk.txt")"; fi
    awk '/Requests\/sec/ { print $2 }' "$TMP/wrk.txt"
}

ROWS=()
ACCELERATORS=()
for PLATFORM in $PLATFORMS; do
    log "== $PLATFORM: throughput: wrk -t2 -d${DURATION}s, connections: $CONNECTIONS; network: $NETWORK"
    start_httpd 8M || { cat "$TMP/httpd.log" >&2; exit 1; }
    BYTES=$(curl -s "$URL" | wc -c)
    if [[ $PLATFORM == kvm ]]; then ACCELERATORS+=("kvm: Tessera's monitor");
    else ACCELERATORS+=("$PLATFORM: $(grep -q 'TCG' "$TMP/httpd.log" && echo TCG || echo KVM)"); fi
    for c in $CONNECTIONS; do
        tessera_rate=$(wrk_rate "$c" "$URL")
        nginx_rate=$(wrk_rate "$c" "http://127.0.0.1:$NGINX_PORT/")
        ratio=$(awk -v a="$tessera_rate" -v b="$nginx_rate" 'BEGIN { printf "%.3f", a / b }')
        ROWS+=("| $PLATFORM: wrk -t2 -c$c -d${DURATION}s, $BYTES-byte page | $tessera_rate req/s | $nginx_rate req/s | $ratio |")
        log "   c=$c: tessera $tessera_rate, nginx $nginx_rate, ratio $ratio"
    done
    stop_httpd
done
PLATFORM=${PLATFORMS%% *}

# ---- size and the smallest memory that serves (64 KiB steps, bisection), first platform -------
IMAGE_BYTES=$(stat -c %s "$APP/.tessera/httpd.elf")
serves() {  # $1: memory in KiB
    start_httpd "${1}K" || { stop_httpd; return 1; }
    local ok=0
    for _ in 1 2 3; do curl -s --max-time 5 "$URL" | cmp -s - "$APP/rootfs/www/index.html" || ok=1; done
    stop_httpd
    return $ok
}
low=1024; high=8192
serves $high || { echo "httpd does not serve even with ${high}K" >&2; exit 1; }
while (( high - low > 64 )); do
    mid=$(( (low + high) / 2 / 64 * 64 ))
    if serves $mid; then high=$mid; else low=$mid; fi
    log "   -m: serves at ${high}K, not at ${low}K"
done

echo
echo "Date: $(date +%F); network: $NETWORK; $(nproc) cores; $(IFS=';'; echo "${ACCELERATORS[*]}")"
echo "Command: bash benchmarks/httpd.sh (DURATION=$DURATION CONNECTIONS=\"$CONNECTIONS\" PLATFORMS=\"$PLATFORMS\")"
echo
echo "| Measure | Tessera httpd | nginx on the host (1 worker) | Ratio |"
echo "|---|---|---|---|"
for row in "${ROWS[@]}"; do echo "$row"; done
echo "| Image size (httpd.elf, stripped, 3 files embedded) | $IMAGE_BYTES bytes | — | — |"
echo "| Smallest -m that serves the page on $PLATFORM (64 KiB steps) | ${high}K | — | — |"
