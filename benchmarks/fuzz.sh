#!/usr/bin/env bash
# Fuzzing benchmark: every libFuzzer target in fuzz/targets/ for SECONDS each (default 60), one at a
# time, each from its seeds only (`--fresh` empties the working corpus a previous run left), so runs
# compare. Prints a Markdown table of executions, exec/s, coverage and corpus per target, with the date,
# the command and the machine, ready for BENCHMARKS.md. Exits like scripts/fuzz.sh: 1 when a target
# crashed (its report and input are printed by scripts/fuzz.sh above the table).
# Run from the repository root:  bash benchmarks/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail

cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true

status=0
started=$(date +%s)
load=$(cut -d ' ' -f 1-3 /proc/loadavg)
bash scripts/fuzz.sh --fresh --seconds "$SECONDS_EACH" "$@" >&2 || status=$?
(( status <= 1 )) || exit "$status"
elapsed=$(( $(date +%s) - started ))

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "- Date: $(date -u +%Y-%m-%d); $(nproc) cores${cpu:+ ($cpu)}, load average before the run: $load"
echo "- Command: \`bash benchmarks/fuzz.sh $SECONDS_EACH${*:+ $*}\` (scripts/fuzz.sh --fresh --seconds $SECONDS_EACH: one target at a time, seeds only); $elapsed s in all, builds included"
echo "- Toolchain: $(swiftc --version 2>&1 | head -n 1)"
echo
echo "| Target | Executions | Exec/s | Coverage (edges) | Corpus (inputs) | Result |"
echo "|---|---:|---:|---:|---:|---|"
grouped() { sed -E ':a;s/([0-9])([0-9]{3})($| )/\1 \2\3/;ta' <<<"$1"; }    # 1234567 -> 1 234 567
while IFS=$'\t' read -r name executions rate coverage corpus result; do
    printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$(grouped "$executions")" "$(grouped "$rate")" "$coverage" \
        "$corpus" "${result%%:*}"
done <.build-fuzz/summary.tsv
exit "$status"
