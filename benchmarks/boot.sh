#!/usr/bin/env bash
# Boot benchmarks for the hello example (issue 2): image size, guest entry-to-main time,
# launch-to-exit wall time (qemu-microvm vs qemu-pc, QEMU timed directly, plus `tessera run`), and the
# smallest guest memory that still boots. Prints a Markdown table and the exact commands used.
# Run from the repository root:  bash benchmarks/boot.sh
# Writes nothing into the repository except the build output tessera itself keeps in
# examples/hello/.tessera/; scratch files go to a temporary directory that is removed on exit.
set -euo pipefail

RUNS=${RUNS:-20}           # boots per timing figure
EXPECT=7                   # the guest's exit code: hello exits with its first argument
APP=examples/hello
IMAGE=$APP/.tessera/hello.elf
TESSERA=.build/debug/tessera
QEMU=qemu-system-x86_64
TIMEOUT=60                 # seconds before a single boot counts as hung

[[ -f Package.swift && -d $APP ]] || { echo "run from the repository root: bash benchmarks/boot.sh" >&2; exit 1; }
command -v "$QEMU" >/dev/null || { echo "$QEMU not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found (used for timing)" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

log() { echo "$*" >&2; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- build -------------------------------------------------------------------------------------
log "== swift build"
for attempt in $(seq 1 30); do
    if swift build >"$TMP/swift-build.log" 2>&1; then break; fi
    if grep -qi "lock" "$TMP/swift-build.log" && (( attempt < 30 )); then
        log "   build folder locked, retrying in 10 s"; sleep 10
    else
        cat "$TMP/swift-build.log" >&2; exit 1
    fi
done
log "== $TESSERA build $APP"
"$TESSERA" build "$APP" >&2

# ---- 1. image size -----------------------------------------------------------------------------
SIZE=$(stat -c %s "$IMAGE")
SIZE_LINE=$("$TESSERA" size "$APP" | tail -n 1)

# ---- host TSC frequency ------------------------------------------------------------------------
# Under TCG, QEMU 7.x answers the guest's RDTSC from the host's TSC (cpu_get_host_ticks), so guest
# cycles convert to time with the host TSC frequency. Preferred: measure RDTSC against
# CLOCK_MONOTONIC_RAW over 0.5 s; fallback: /proc/cpuinfo "cpu MHz".
TSC_MHZ=""; TSC_METHOD=""
if command -v gcc >/dev/null; then
    cat >"$TMP/tsc.c" <<'EOF'
#include <stdio.h>
#include <stdint.h>
#include <time.h>
#include <x86intrin.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC_RAW, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(void) {
    double m[3];
    for (int i = 0; i < 3; i++) {               /* three 0.5 s windows; print the median */
        double t0 = now(); uint64_t c0 = __rdtsc();
        struct timespec d = { 0, 500000000 }; nanosleep(&d, NULL);
        double t1 = now(); uint64_t c1 = __rdtsc();
        m[i] = (c1 - c0) / (t1 - t0) / 1e6;
    }
    double lo = m[0] < m[1] ? m[0] : m[1], hi = m[0] < m[1] ? m[1] : m[0];
    printf("%.1f\n", m[2] < lo ? lo : m[2] > hi ? hi : m[2]);
    return 0;
}
EOF
    if gcc -O2 -o "$TMP/tsc" "$TMP/tsc.c" 2>/dev/null; then
        TSC_MHZ=$("$TMP/tsc")
        TSC_METHOD="host RDTSC measured against CLOCK_MONOTONIC_RAW (gcc-built probe, median of 3 x 0.5 s)"
    fi
fi
if [[ -z $TSC_MHZ ]]; then
    TSC_MHZ=$(awk -F: '/^cpu MHz/ { gsub(/ /, "", $2); print $2; exit }' /proc/cpuinfo)
    TSC_METHOD='/proc/cpuinfo "cpu MHz" (assumes TSC runs at that rate)'
fi
CPUINFO_MHZ=$(awk -F: '/^cpu MHz/ { gsub(/ /, "", $2); print $2; exit }' /proc/cpuinfo)

# ---- 2. entry to main --------------------------------------------------------------------------
BOOTSTATS_CMD="$TESSERA run $APP --boot-stats -- $EXPECT"
log "== entry to main: $RUNS x $BOOTSTATS_CMD"
: >"$TMP/cycles"
STATED_MHZ=""
for i in $(seq 1 "$RUNS"); do
    rc=0
    timeout "$TIMEOUT" $BOOTSTATS_CMD </dev/null >"$TMP/out" 2>"$TMP/err" || rc=$?
    if (( rc != EXPECT )); then
        log "boot-stats run $i exited $rc, expected $EXPECT"; cat "$TMP/out" "$TMP/err" >&2; exit 1
    fi
    line=$(grep 'tessera: boot: entry to main' "$TMP/out") || { log "no boot-stats line in run $i"; cat "$TMP/out" >&2; exit 1; }
    awk '{ for (i = 1; i < NF; i++) if ($(i + 1) ~ /^cycles/) print $i }' <<<"$line" >>"$TMP/cycles"
    if [[ $line =~ at\ ([0-9]+)\ MHz\ TSC ]]; then STATED_MHZ=${BASH_REMATCH[1]}; fi
done
CYCLES_MED=$(median <"$TMP/cycles")
CYCLES_MIN=$(sort -n "$TMP/cycles" | head -n 1)
CYCLES_MAX=$(sort -n "$TMP/cycles" | tail -n 1)
if [[ -n $STATED_MHZ ]]; then CONV_MHZ=$STATED_MHZ; CONV_METHOD="TSC frequency stated by the guest CPU ($STATED_MHZ MHz)"
else CONV_MHZ=$TSC_MHZ; CONV_METHOD="guest stated no TSC frequency; used host TSC ${TSC_MHZ} MHz from $TSC_METHOD"; fi
us() { awk -v c="$1" -v m="$CONV_MHZ" 'BEGIN { printf "%.0f", c / m }'; }
ENTRY_US=$(us "$CYCLES_MED"); ENTRY_US_MIN=$(us "$CYCLES_MIN"); ENTRY_US_MAX=$(us "$CYCLES_MAX")

# ---- accelerator: what tessera run would pick ----------------------------------------------------
ACCEL_ARGS=(-accel tcg -cpu max)
if grep -q "KVM not usable" "$TMP/err"; then ACCEL=TCG; else ACCEL=KVM; ACCEL_ARGS=(-accel kvm -cpu host); fi

# ---- 3. launch to exit -------------------------------------------------------------------------
# The QEMU command line of QEMURunner.qemuArguments (Sources/TesseraKit/QEMURunner.swift), memory from
# the manifest (2M = 2048K), kernel command line "-- 7". The guest writes its exit code to the debug
# console file and then to isa-debug-exit, so QEMU exits with (7 << 1) | 1 = 15.
MEM_K=2048
shell_words() {   # prints its arguments as one shell command line, single-quoting only where needed
    local word out=""
    for word in "$@"; do
        if [[ $word =~ ^[A-Za-z0-9_./:=,+-]+$ ]]; then out+=" $word"; else out+=" '${word//\'/\'\\\'\'}'"; fi
    done
    echo "${out# }"
}
qemu_cmd() {   # $1 = QEMU machine string, $2 = exit-record file, [$3 = command line, $4... = accelerator]
    local machine=$1 record=$2 append=${3:-"-- $EXPECT"}
    shift 2; (( $# )) && shift
    local accel=("${ACCEL_ARGS[@]}")
    (( $# )) && accel=("$@")
    shell_words "$QEMU" -M "$machine" -m "${MEM_K}K" -nodefaults -no-user-config -display none -no-reboot \
        -chardev stdio,id=console,signal=on -serial chardev:console \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 -debugcon "file:$record" \
        -kernel "$IMAGE" -append "$append" "${accel[@]}"
}
MICROVM_M="microvm,x-option-roms=off,acpi=off"
PC_M="pc"
QEMU_MICROVM_CMD=$(qemu_cmd "$MICROVM_M" /tmp/exit-record)
QEMU_PC_CMD=$(qemu_cmd "$PC_M" /tmp/exit-record)
TESSERA_RUN_CMD="$TESSERA run $APP -- $EXPECT"

# ---- 2b. entry to main in guest instructions (deterministic) -------------------------------------
# With -icount shift=0 QEMU's TCG advances the guest TSC by one per executed instruction, so the
# boot-stats "cycles" are the number of guest instructions from the first kernel instruction to main:
# a figure that does not depend on emulation speed or on the machine's load.
ICOUNT_CMD=$(qemu_cmd "$MICROVM_M" "$TMP/icount-record" "tessera.bootstats -- $EXPECT" \
    -accel tcg -cpu max -icount shift=0)
log "== entry to main in instructions: $ICOUNT_CMD"
bash -c "exec $ICOUNT_CMD" </dev/null >"$TMP/icount-out" 2>/dev/null || true
INSTRUCTIONS=$(sed -n 's/.*entry to main \([0-9]*\) cycles.*/\1/p' "$TMP/icount-out" | head -n 1)
[[ -n $INSTRUCTIONS ]] || { log "no boot-stats line with -icount"; cat "$TMP/icount-out" >&2; exit 1; }

log "== launch to exit: $RUNS x (qemu-microvm, qemu-pc) interleaved, then $RUNS x $TESSERA_RUN_CMD"
cat >"$TMP/time.py" <<'EOF'
# argv: runs expect-code timeout tmpdir ; stdin: one "name<TAB>mode<TAB>shell-command" line per variant,
# mode "qemu" (check the exit record's last byte and QEMU's status) or "plain" (check the exit status).
# Runs the variants interleaved and prints "name ms" per run.
import subprocess, sys, time, os
runs, expect, timeout, tmp = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
variants = [line.rstrip("\n").split("\t") for line in sys.stdin if line.strip()]
for i in range(runs):
    for name, mode, command in variants:
        record = os.path.join(tmp, "exit-record")
        open(record, "wb").close()
        command = command.replace("/tmp/exit-record", record)
        t0 = time.perf_counter()
        p = subprocess.run(["bash", "-c", "exec " + command], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        ms = (time.perf_counter() - t0) * 1000
        if mode == "qemu":
            data = open(record, "rb").read()
            ok = data[-1:] == bytes([expect]) and p.returncode == (expect << 1) | 1
            got = f"record {list(data[-1:])}, QEMU status {p.returncode}"
        else:
            ok = p.returncode == expect
            got = f"status {p.returncode}"
        if not ok:
            sys.stderr.write(f"{name} run {i + 1}: {got}, expected guest code {expect}\n")
            sys.stderr.write(p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace"))
            sys.exit(1)
        print(name, f"{ms:.2f}", flush=True)
EOF
printf 'microvm\tqemu\t%s\npc\tqemu\t%s\n' "$QEMU_MICROVM_CMD" "$QEMU_PC_CMD" \
    | python3 "$TMP/time.py" "$RUNS" "$EXPECT" "$TIMEOUT" "$TMP" >"$TMP/qemu-times"
printf 'tessera\tplain\t%s\n' "$TESSERA_RUN_CMD" \
    | python3 "$TMP/time.py" "$RUNS" "$EXPECT" "$TIMEOUT" "$TMP" >"$TMP/tessera-times"
MICROVM_MS=$(awk '$1 == "microvm" { print $2 }' "$TMP/qemu-times" | median)
PC_MS=$(awk '$1 == "pc" { print $2 }' "$TMP/qemu-times" | median)
TESSERA_MS=$(awk '{ print $2 }' "$TMP/tessera-times" | median)

# ---- 4. smallest memory ------------------------------------------------------------------------
log "== smallest -m on qemu-microvm: from 2048K down in 16K steps"
SMALLEST=""; FIRST_FAIL=""; FAIL_NOTE=""
for (( k = 2048; k > 0; k -= 16 )); do
    rc=0
    timeout "$TIMEOUT" "$TESSERA" run "$APP" --platform qemu-microvm -m "${k}K" -- "$EXPECT" \
        </dev/null >"$TMP/out" 2>"$TMP/err" || rc=$?
    if (( rc == EXPECT )); then
        SMALLEST=$k
    else
        FIRST_FAIL=$k
        FAIL_NOTE="exit $rc: $(grep -v 'KVM not usable' "$TMP/err" | head -n 1)"
        break
    fi
done
[[ -n $SMALLEST ]] || { log "hello does not boot even with 2048K: $FAIL_NOTE"; exit 1; }

# ---- report ------------------------------------------------------------------------------------
kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }
cat <<EOF

## Boot benchmark: $APP ($(date -u +%Y-%m-%d), $(nproc) cores, accelerator $ACCEL, $($QEMU --version | head -n 1))

| Measure | Tessera | Target | Unikraft helloworld |
|---|---|---|---|
| Image size (hello.elf) | $SIZE bytes ($(kb "$SIZE") KiB) | <= 100 KB | 197-213 KB |
| Guest entry to main (median of $RUNS, qemu-microvm) | $CYCLES_MED cycles = $ENTRY_US µs (range $ENTRY_US_MIN-$ENTRY_US_MAX µs) | <= 50 µs | 55-85 µs |
| Guest entry to main, instructions (TCG \`-icount shift=0\`, deterministic) | $INSTRUCTIONS instructions (≈ $(awk -v n="$INSTRUCTIONS" 'BEGIN { printf "%.0f", n / 1000 }') µs at 1 instruction/ns) | <= 50 µs | 55-85 µs |
| Launch to exit, QEMU direct, qemu-microvm (median of $RUNS) | $MICROVM_MS ms | | |
| Launch to exit, QEMU direct, qemu-pc (median of $RUNS) | $PC_MS ms | | |
| Launch to exit, \`tessera run\`, qemu-microvm (median of $RUNS) | $TESSERA_MS ms | | |
| Smallest \`-m\` that boots (qemu-microvm, 16K steps) | ${SMALLEST}K ($(awk -v k="$SMALLEST" 'BEGIN { printf "%.2f", k / 1024 }') MiB) | 1 MiB | 2 MB |

Notes:
- \`tessera size\`: $SIZE_LINE
- Cycles to µs: $CONV_METHOD. /proc/cpuinfo says cpu MHz = $CPUINFO_MHZ.
- Accelerator $ACCEL: under TCG the guest's RDTSC is the host TSC, so µs are real time but measure emulation
  (including translating each code block on first execution), not what the kernel would take under KVM.
- Launch-to-exit runs were interleaved microvm, pc, microvm, pc...; every run's guest exit code was checked ($EXPECT).
- Memory search: ${FIRST_FAIL:-?}K failed ($FAIL_NOTE).

Commands:
\`\`\`
swift build
$TESSERA build $APP && stat -c %s $IMAGE
$TESSERA size $APP
$BOOTSTATS_CMD                        # x $RUNS, cycles from the "entry to main" line
$QEMU_MICROVM_CMD
$QEMU_PC_CMD
$ICOUNT_CMD   # once: instructions to main
$TESSERA_RUN_CMD                            # x $RUNS
$TESSERA run $APP --platform qemu-microvm -m <K>K -- $EXPECT   # K = 2048, 2032, ... until it fails
\`\`\`
(/tmp/exit-record stands for a fresh empty file per run; each run is timed with python3 time.perf_counter.)
EOF
