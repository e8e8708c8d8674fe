#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/targets/ and runs each for a while (docs/fuzzing.md).
#
#   scripts/fuzz.sh [--seconds N | --runs N] [--jobs N] [--fresh] [--build-only] [TARGET...]
#   scripts/fuzz.sh --reproduce TARGET FILE     run one input again, with the crash report
#   scripts/fuzz.sh --list                      the targets
#
# Build. Each library a target imports is compiled once as its own module, with libFuzzer's coverage
# instrumentation and AddressSanitizer (-sanitize=fuzzer,address), -O, and -assert-config Debug so that
# the standard library's bounds checks on unsafe buffers stay on. A target is its file plus
# fuzz/support/*.swift, linked against those modules and the toolchain's libFuzzer runtime. Outputs go
# to .build-fuzz/ (git-ignored); a module or target is rebuilt only when the hash of its sources, its
# dependencies, the flags or the compiler changed.
#
# Run. libFuzzer starts from the target's working corpus (.build-fuzz/corpus/TARGET, where it keeps
# what it finds; --fresh empties it first) and the seeds in fuzz/corpus/TARGET (never written to),
# for N seconds (default 5) or N runs. Each target's line reports executions, exec/s, coverage and
# corpus size; they are also written to .build-fuzz/summary.tsv. A crash, a timeout or an
# out-of-memory stops that target: its input is kept under .build-fuzz/crashes/TARGET/, the report is
# printed with the command that reproduces it, and the script exits 1 after running the others.
# Exit 2: the toolchain has no libFuzzer runtime, or a build failed.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=.build-fuzz
SECONDS_EACH=5
RUNS=""
JOBS=1
FRESH=0
BUILD_ONLY=0
REPRODUCE=()
TARGETS=()

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while (($#)); do
    case $1 in
        --seconds) SECONDS_EACH=${2:?}; shift 2 ;;
        --runs) RUNS=${2:?}; shift 2 ;;
        --jobs) JOBS=${2:?}; shift 2 ;;
        --fresh) FRESH=1; shift ;;
        --build-only) BUILD_ONLY=1; shift ;;
        --reproduce) REPRODUCE=("${2:?}" "${3:?}"); shift 3 ;;
        --list) for file in fuzz/targets/*.swift; do basename "$file" .swift; done; exit 0 ;;
        -h|--help) usage ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done

# ---- the host libraries, as Package.swift builds them for the host ----------------------------------
# module: its sources; and the modules it imports.
module_sources() {
    case $1 in
        NetWire) echo lib/net/net-wire/*.swift ;;
        NetDeviceAPI) echo lib/drivers/netdev-api/*.swift ;;
        NetInterface) echo lib/net/net-interface/*.swift ;;
        NetTCP) echo lib/net/net-tcp/*.swift ;;
        DNSClient) echo lib/net/dns-client/*.swift ;;
        HTTP) echo lib/services/http/*.swift ;;
        RESP) echo lib/services/resp/*.swift ;;
        BootArguments) echo lib/core/boot-arguments/*.swift ;;
        HypercallABI) echo lib/platform/hypercall-abi/*.swift ;;
        VFS) echo lib/fs/vfs/*.swift ;;
        RamFS) echo lib/fs/ramfs/*.swift ;;
        CPIO) echo lib/fs/cpio/*.swift ;;
        Ext2) echo lib/fs/ext2/*.swift ;;
        # The KVM monitor's checks of untrusted input that need no /dev/kvm: the ELF loader, guest-memory
        # ranges and the boot layout (the rest of the module talks to the kernel through CKVM).
        KVMMonitor) echo Sources/KVMMonitor/ELFLoader.swift Sources/KVMMonitor/GuestMemory.swift \
                         Sources/KVMMonitor/BootLayout.swift ;;
        PCILogic) echo lib/drivers/pci/PCIAddress.swift lib/drivers/pci/PCIBAR.swift lib/drivers/pci/PCICapabilities.swift \
                       lib/drivers/pci/PCIConfigurationSpace.swift ;;
        *) return 1 ;;
    esac
}
module_dependencies() {
    case $1 in
        NetDeviceAPI|DNSClient|NetTCP) echo NetWire ;;
        NetInterface) echo NetDeviceAPI NetWire ;;
        KVMMonitor) echo HypercallABI ;;
        RamFS|CPIO|Ext2) echo VFS ;;
        *) echo ;;
    esac
}

# ---- toolchain -----------------------------------------------------------------------------------
SWIFTC=$(command -v swiftc || true)
[[ -n $SWIFTC ]] || { echo "fuzz.sh: swiftc not found on PATH" >&2; exit 2; }
TOOLCHAIN=$(dirname "$(dirname "$(readlink -f "$SWIFTC")")")
RUNTIME=$(ls "$TOOLCHAIN"/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
             "$TOOLCHAIN"/lib/swift/clang/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null | head -n 1 || true)
if [[ -z $RUNTIME ]]; then
    echo "fuzz.sh: no libFuzzer runtime (libclang_rt.fuzzer) in the toolchain at $TOOLCHAIN;" \
         "install a swift.org Linux toolchain" >&2
    exit 2
fi
FLAGS=(-sanitize=fuzzer,address -O -assert-config Debug -g)
LINKER=()
[[ -x $TOOLCHAIN/bin/ld.lld ]] && LINKER=(-use-ld=lld)        # quieter and faster than gold here
COMPILER_ID=$("$SWIFTC" --version 2>&1 | head -n 1)
FLAGS_ID="${FLAGS[*]} ${LINKER[*]} $COMPILER_ID"

hash_of() { { echo "$FLAGS_ID"; cat "$@"; } | sha256sum | cut -c1-16; }

mkdir -p "$BUILD/modules" "$BUILD/bin" "$BUILD/logs"
# One run at a time per checkout (`swift test` and a person may start one together).
if command -v flock >/dev/null; then
    exec 9>"$BUILD/lock"
    flock 9
fi

# ---- build ---------------------------------------------------------------------------------------
declare -A MODULE_HASH=()

# build_module NAME: compiles NAME (after its dependencies) unless its stamp is current.
build_module() {
    local name=$1 dependency sources stamp hash
    [[ -n ${MODULE_HASH[$name]:-} ]] && return 0
    sources=$(module_sources "$name") || { echo "fuzz.sh: unknown module $name (add it to module_sources)" >&2; return 1; }
    local inputs=()
    for dependency in $(module_dependencies "$name"); do
        build_module "$dependency" || return 1
        inputs+=("$BUILD/modules/$dependency.stamp")
    done
    # shellcheck disable=SC2086
    hash=$(hash_of $sources "${inputs[@]}")
    stamp=$BUILD/modules/$name.stamp
    if [[ ! -f $stamp || $(cat "$stamp") != "$hash" ]]; then
        echo "fuzz: compiling module $name" >&2
        rm -f "$stamp"
        # shellcheck disable=SC2086
        if ! "$SWIFTC" "${FLAGS[@]}" -enable-testing -parse-as-library -wmo -module-name "$name" \
                -I "$BUILD/modules" -emit-module -emit-module-path "$BUILD/modules/$name.swiftmodule" \
                -emit-object -o "$BUILD/modules/$name.o" $sources >"$BUILD/logs/$name.build.log" 2>&1; then
            cat "$BUILD/logs/$name.build.log" >&2
            return 1
        fi
        echo "$hash" >"$stamp"
    fi
    MODULE_HASH[$name]=$hash
}

# The modules a target file imports (`import X`, `@testable import X`), with their dependencies.
target_modules() {
    local name modules=() seen=" "
    add() {
        local module=$1 dependency
        [[ $seen == *" $module "* ]] && return
        for dependency in $(module_dependencies "$module"); do add "$dependency"; done
        seen+="$module "
        modules+=("$module")
    }
    for name in $(sed -n -E 's/^(@testable +)?import +([A-Za-z0-9_]+).*/\2/p' "$1"); do add "$name"; done
    echo "${modules[@]}"
}

# build_target NAME: links .build-fuzz/bin/NAME unless its stamp is current.
build_target() {
    local name=$1 source=fuzz/targets/$1.swift module modules objects=() stamps=() hash stamp
    modules=$(target_modules "$source")
    for module in $modules; do
        build_module "$module" || return 1
        objects+=("$BUILD/modules/$module.o")
        stamps+=("$BUILD/modules/$module.stamp")
    done
    hash=$(hash_of "$source" fuzz/support/*.swift "${stamps[@]}")
    stamp=$BUILD/bin/$name.stamp
    if [[ -x $BUILD/bin/$name && -f $stamp && $(cat "$stamp") == "$hash" ]]; then return 0; fi
    echo "fuzz: building target $name" >&2
    rm -f "$stamp"
    if ! "$SWIFTC" "${FLAGS[@]}" "${LINKER[@]}" -parse-as-library -module-name "Fuzz_${name//-/_}" \
            -I "$BUILD/modules" "$source" fuzz/support/*.swift "${objects[@]}" \
            -o "$BUILD/bin/$name" >"$BUILD/logs/$name.build.log" 2>&1; then
        cat "$BUILD/logs/$name.build.log" >&2
        return 1
    fi
    echo "$hash" >"$stamp"
}

# ---- run -----------------------------------------------------------------------------------------
# What the targets run under: crashes go to libFuzzer's handler at once (not Swift's backtracer, which
# would take seconds), and Dictionary and Set hash deterministically, so a crash reproduces.
export SWIFT_BACKTRACE=enable=no
export SWIFT_DETERMINISTIC_HASHING=1

reproduce() {
    local name=$1 file=$2
    build_target "$name" || exit 2
    echo "fuzz: running $name on $file" >&2
    exec "$BUILD/bin/$name" -runs=1 "$file"
}

# run_target NAME: fuzzes NAME, writes its log and summary line; returns non-zero on a crash.
run_target() {
    local name=$1 log=$BUILD/logs/$1.log corpus=$BUILD/corpus/$1 crashes=$BUILD/crashes/$1 limit status=0
    [[ $FRESH == 1 ]] && rm -rf "$corpus"
    mkdir -p "$corpus" "$crashes" "fuzz/corpus/$name"
    if [[ -n $RUNS ]]; then limit=-runs=$RUNS; else limit=-max_total_time=$SECONDS_EACH; fi
    local started=$(date +%s%N)
    "$BUILD/bin/$name" "$limit" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$crashes/" "$corpus" "fuzz/corpus/$name" >"$log" 2>&1 || status=$?
    local elapsed=$((($(date +%s%N) - started) / 1000000))
    local executions rate coverage corpus_size
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    coverage=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n -E 's/.* cov: ([0-9]+).*/\1/p')
    corpus_size=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n -E 's/.* corp: ([0-9]+)\/.*/\1/p')
    local line
    line=$(printf 'fuzz: %s: %s executions, %s exec/s, coverage %s, corpus %s, %d.%01d s' "$name" \
        "${executions:-0}" "${rate:-0}" "${coverage:-?}" "${corpus_size:-?}" $((elapsed / 1000)) $((elapsed % 1000 / 100)))
    if [[ $status == 0 ]]; then
        echo "$line"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${executions:-0}" "${rate:-0}" "${coverage:-}" "${corpus_size:-}" ok \
            >"$BUILD/summary.d/$name"
        return 0
    fi
    local artifact
    artifact=$(sed -n -E 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n 1)
    [[ -n $artifact ]] || artifact=$(ls -t "$crashes" 2>/dev/null | head -n 1 | sed "s|^|$crashes/|")
    {
        echo "$line -- FAILED (libFuzzer exit $status)"
        echo "---- the report (all of it: $log) ----"
        # From the first sign of trouble on, without libFuzzer's progress lines and the runtime's
        # unsymbolized trace (AddressSanitizer's symbolized one follows it).
        sed -n -E '/(Fatal error|Precondition failed|ERROR: |==ERROR)/,$p' "$log" \
            | grep -v -E '^(#[0-9]+|INFO:|MS:|base unit:|0x|\\x|Current stack trace:)|<unavailable>|NEW_FUNC' | head -n 80
        echo "----"
        if [[ -n $artifact ]]; then
            echo "fuzz: $name: the input is kept in $artifact ($(stat -c %s "$artifact") bytes)"
            echo "fuzz: $name: reproduce with: scripts/fuzz.sh --reproduce $name $artifact"
        fi
    }
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${executions:-0}" "${rate:-0}" "${coverage:-}" "${corpus_size:-}" \
        "failed:${artifact:-}" >"$BUILD/summary.d/$name"
    return 1
}

if ((${#REPRODUCE[@]})); then reproduce "${REPRODUCE[@]}"; fi

ALL=()
for file in fuzz/targets/*.swift; do ALL+=("$(basename "$file" .swift)"); done
((${#TARGETS[@]})) || TARGETS=("${ALL[@]}")
for name in "${TARGETS[@]}"; do
    if [[ ! -f fuzz/targets/$name.swift ]]; then
        echo "fuzz.sh: no target $name (fuzz/targets/$name.swift); targets: ${ALL[*]}" >&2
        exit 2
    fi
done

# Modules first, one at a time (each is one whole-module compile); then the targets, JOBS at a time.
for name in "${TARGETS[@]}"; do
    for module in $(target_modules "fuzz/targets/$name.swift"); do
        build_module "$module" || { echo "fuzz.sh: building module $module failed" >&2; exit 2; }
    done
done
building=0
build_failed=0
for name in "${TARGETS[@]}"; do
    build_target "$name" &
    building=$((building + 1))
    if ((building >= JOBS)); then wait -n || build_failed=1; building=$((building - 1)); fi
done
while ((building > 0)); do wait -n || build_failed=1; building=$((building - 1)); done
((build_failed == 0)) || { echo "fuzz.sh: building a target failed" >&2; exit 2; }
[[ $BUILD_ONLY == 1 ]] && exit 0

rm -rf "$BUILD/summary.d"
mkdir -p "$BUILD/summary.d"
failed=0
running=0
for name in "${TARGETS[@]}"; do
    if ((JOBS > 1)); then
        run_target "$name" &
        running=$((running + 1))
        if ((running >= JOBS)); then wait -n || failed=1; running=$((running - 1)); fi
    else
        run_target "$name" || failed=1
    fi
done
while ((running > 0)); do wait -n || failed=1; running=$((running - 1)); done
for name in "${TARGETS[@]}"; do cat "$BUILD/summary.d/$name"; done >"$BUILD/summary.tsv"
exit $failed
