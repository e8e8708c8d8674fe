#!/usr/bin/env bash
# Benchmarks of Tessera's own KVM monitor (issue 6), side by side with QEMU microvm in the same run:
#   1. launch-to-exit of examples/hello (exit code 3), median of RUNS runs, timed by hyperfine -N:
#      tessera-kvm (release build) vs qemu-system-x86_64 -M microvm (the accelerator tessera would
#      pick: KVM when usable, else TCG) — both started directly, no `tessera run` in between;
#   2. peak resident memory (GNU time's %M) of each for the same guest, median of 5;
#   3. the monitor's own setup phases (tessera-kvm --timing), one run;
#   4. lines of code of the monitor (Swift + C shims + the shared ABI file).
# Run from the repository root:  bash benchmarks/monitor.sh      (needs /dev/kvm, QEMU, hyperfine)
set -euo pipefail

RUNS=${RUNS:-50}
APP=examples/hello
TESSERA=.build/debug/tessera
MONITOR=.build/release/tessera-kvm
QEMU=qemu-system-x86_64

[[ -f Package.swift && -d $APP ]] || { echo "run from the repository root: bash benchmarks/monitor.sh" >&2; exit 1; }
[[ -r /dev/kvm && -w /dev/kvm ]] || { echo "/dev/kvm is not usable here" >&2; exit 1; }
for tool in "$QEMU" hyperfine python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install qemu-system-x86 hyperfine python3 time)" >&2; exit 1; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
log() { echo "$*" >&2; }

log "== builds"
swift build --product tessera >&2
swift build -c release --product tessera-kvm >&2
"$TESSERA" build "$APP" --platform kvm -q >&2
"$TESSERA" build "$APP" --platform qemu-microvm -q >&2
KVM_IMAGE=$APP/.tessera/platform-kvm/hello.elf
QEMU_IMAGE=$APP/.tessera/hello.elf

# The accelerator QEMU gets from tessera: KVM only when the probe says so (kvm_pvm: TCG).
ACCEL="-accel tcg -cpu max"
if [[ ! -d /sys/module/kvm_pvm ]]; then ACCEL="-accel kvm -cpu host"; fi
QEMU_COMMAND="$QEMU -M microvm -m 2048K -nodefaults -no-user-config -display none -no-reboot -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -debugcon file:$TMP/exit -kernel $QEMU_IMAGE -append '-- 3' $ACCEL"
MONITOR_COMMAND="$MONITOR -m 2M $KVM_IMAGE -- 3"

log "== checking both print and exit as expected"
out=$($MONITOR_COMMAND) && status=0 || status=$?
[[ $status == 3 && $out == *"Hello from Tessera!"* ]] || { echo "tessera-kvm: exit $status, output: $out" >&2; exit 1; }
out=$(eval "$QEMU_COMMAND" 2>&1) && status=0 || status=$?
[[ $out == *"Hello from Tessera!"* ]] || { echo "qemu: exit $status, output: $out" >&2; exit 1; }

log "== launch-to-exit, $RUNS runs each (hyperfine -N)"
hyperfine -N -i --warmup 3 --runs "$RUNS" --export-json "$TMP/launch.json" \
    -n tessera-kvm "$MONITOR_COMMAND" -n "qemu microvm" "$QEMU_COMMAND" >&2

log "== peak RSS, 5 runs each"
rss() { for _ in 1 2 3 4 5; do /usr/bin/time -f %M -o "$TMP/rss" "$@" >/dev/null 2>&1 || true; tail -n 1 "$TMP/rss"; done | sort -n | sed -n 3p; }
MONITOR_RSS=$(rss $MONITOR -m 2M "$KVM_IMAGE" -- 3)
QEMU_RSS=$(rss sh -c "$QEMU_COMMAND")

log "== monitor phases"
PHASES=$( { $MONITOR --timing -m 2M "$KVM_IMAGE" -- 3 2>&1 >/dev/null || true; } | sed 's/^tessera-kvm: timing: /    /')

count() { cat "$@" | grep -v '^\s*$' | grep -v '^\s*//' | grep -v '^\s*/\?\*' | wc -l; }
MONITOR_FILES="Sources/KVMMonitor/*.swift Sources/tessera-kvm/main.swift Sources/CKVM/CKVM.c Sources/CKVM/include/CKVM.h"
LOC_ALL=$(cat $MONITOR_FILES lib/platform/hypercall-abi/HypercallABI.swift | wc -l)
LOC_CODE=$(count $MONITOR_FILES lib/platform/hypercall-abi/HypercallABI.swift)
SECCOMP_CODE=$(count Sources/KVMMonitor/Seccomp.swift)

python3 - "$TMP/launch.json" "$RUNS" "$MONITOR_RSS" "$QEMU_RSS" "$LOC_ALL" "$LOC_CODE" "$SECCOMP_CODE" "$ACCEL" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
runs, monitor_rss, qemu_rss, loc_all, loc_code, seccomp_code, accel = sys.argv[2:]
by = {r["command"]: r for r in data["results"]}
m, q = by["tessera-kvm"], by["qemu microvm"]
ms = lambda r, k: r[k] * 1000
print("| figure | tessera-kvm | QEMU microvm (%s) | ratio |" % accel.split()[1])
print("|---|---|---|---|")
print("| launch-to-exit, median of %s | %.2f ms | %.2f ms | %.3f |" % (runs, ms(m, "median"), ms(q, "median"), m["median"] / q["median"]))
print("| launch-to-exit, min / max | %.2f / %.2f ms | %.2f / %.2f ms | |" % (ms(m, "min"), ms(m, "max"), ms(q, "min"), ms(q, "max")))
print("| peak RSS (median of 5) | %s KiB | %s KiB | %.3f |" % (monitor_rss, qemu_rss, int(monitor_rss) / int(qemu_rss)))
print("| monitor lines (all / code without comments and blanks) | %s / %s | | |" % (loc_all, loc_code))
print("| of which the seccomp filter (code) | %s | | |" % seccomp_code)
PY
echo
echo "tessera-kvm --timing (one run):"
echo "$PHASES"
echo
echo "commands:"
echo "    $MONITOR_COMMAND"
echo "    $QEMU_COMMAND"
