#!/usr/bin/env bash
# File benchmarks (issue 11), side by side in one run:
#   1. ramfs in the guest on Tessera's monitor (benchmarks/apps/files): N create+stat+unlink cycles per
#      second, and sequential write and read of a SIZE-MiB file in 64 KiB calls — next to the same work
#      on the host's tmpfs (/dev/shm: python3 os.open/os.stat/os.unlink, and dd), median of RUNS runs;
#   2. the same work on an ext2 disk (mke2fs, 4 KiB blocks) attached with --disk and mounted read-write
#      by ext2-mount over the monitor's block device and the block cache — the write ends with fsync —
#      next to python3 and `dd conv=fsync` on the host's own file system (where mktemp puts files);
#   3. boot time (entry to main, --boot-stats) with no root file system and with a 10 MiB one (ten 1 MiB
#      files of random bytes, unpacked from the image's cpio archive into the ramfs), median of RUNS.
# Run from the repository root:  bash benchmarks/files.sh        (needs /dev/kvm, python3, dd, mke2fs)
set -euo pipefail

RUNS=${RUNS:-5}
COUNT=${COUNT:-10000}
SIZE=${SIZE:-16}
APP=benchmarks/apps/files
TESSERA=.build/debug/tessera

[[ -f Package.swift && -d $APP ]] || { echo "run from the repository root: bash benchmarks/files.sh" >&2; exit 1; }
[[ -r /dev/kvm && -w /dev/kvm ]] || { echo "/dev/kvm is not usable here" >&2; exit 1; }
[[ -d /dev/shm ]] || { echo "/dev/shm (tmpfs) is missing" >&2; exit 1; }
TMP=$(mktemp -d)
SHM=$(mktemp -d -p /dev/shm)
trap 'rm -rf "$TMP" "$SHM"' EXIT
log() { echo "$*" >&2; }
# COUNT create+stat+unlink cycles per second in FOLDER on the host (python3: three system calls each).
host_create_stat_unlink() {
    python3 - "$1" "$COUNT" <<'PY'
import os, sys, time
folder, count = sys.argv[1], int(sys.argv[2])
start = time.perf_counter_ns()
for index in range(count):
    path = f"{folder}/f{index}"
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    os.stat(path)
    os.unlink(path)
print(int(count * 1e9 / (time.perf_counter_ns() - start)))
PY
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

log "== builds"
swift build --product tessera >&2
"$TESSERA" build "$APP" --platform kvm -q >&2
"$TESSERA" build "$APP-ext2" --platform kvm -q >&2

log "== ramfs in the guest vs tmpfs on the host ($RUNS runs)"
: > "$TMP/guest"
for _ in $(seq "$RUNS"); do "$TESSERA" run "$APP" --platform kvm -m $((SIZE * 3 + 64))M -- "$COUNT" "$SIZE" >> "$TMP/guest"; done
guest_ops=$(grep create+stat+unlink "$TMP/guest" | awk '{ print $(NF-2) }' | median)
guest_write=$(grep ': write' "$TMP/guest" | awk '{ print $(NF-1) }' | median)
guest_read=$(grep ': read' "$TMP/guest" | awk '{ print $(NF-1) }' | median)
host_ops=$(for _ in $(seq "$RUNS"); do host_create_stat_unlink "$SHM"; done | median)
mibps() { awk '/copied/ { for (i = 1; i <= NF; i++) if ($i ~ /s,$/) { s = $(i-1) } } /copied/ { print int($1 / s / 1048576) }'; }
host_write=$(for _ in $(seq "$RUNS"); do dd if=/dev/zero of="$SHM/big" bs=64K count=$((SIZE * 16)) 2>&1 | mibps; done | median)
host_read=$(for _ in $(seq "$RUNS"); do dd if="$SHM/big" of=/dev/null bs=64K 2>&1 | mibps; done | median)

log "== ext2 on the monitor's block device vs the host's file system ($RUNS runs)"
: > "$TMP/ext2"
for _ in $(seq "$RUNS"); do
    rm -f "$TMP/disk.img"
    mke2fs -q -F -t ext2 -b 4096 "$TMP/disk.img" $((SIZE * 2 + 64))M
    "$TESSERA" run "$APP-ext2" --platform kvm --disk "$TMP/disk.img:/disk" -- "$COUNT" "$SIZE" /disk/bench >> "$TMP/ext2"
done
ext2_ops=$(grep create+stat+unlink "$TMP/ext2" | awk '{ print $(NF-2) }' | median)
ext2_write=$(grep ': write' "$TMP/ext2" | awk '{ print $(NF-1) }' | median)
ext2_read=$(grep ': read' "$TMP/ext2" | awk '{ print $(NF-1) }' | median)
mkdir -p "$TMP/hostfs"
disk_ops=$(for _ in $(seq "$RUNS"); do host_create_stat_unlink "$TMP/hostfs"; done | median)
disk_write=$(for _ in $(seq "$RUNS"); do dd if=/dev/zero of="$TMP/hostfs/big" bs=64K count=$((SIZE * 16)) conv=fsync 2>&1 | mibps; done | median)
disk_read=$(for _ in $(seq "$RUNS"); do dd if="$TMP/hostfs/big" of=/dev/null bs=64K 2>&1 | mibps; done | median)
host_fs=$(df -T "$TMP" | awk 'NR == 2 { print $2 }')

log "== boot with and without a 10 MiB root file system ($RUNS runs)"
cp -r "$APP" "$TMP/app"
rm -rf "$TMP/app/.tessera"
mkdir -p "$TMP/app/root/data"
for index in $(seq 10); do head -c 1048576 /dev/urandom > "$TMP/app/root/data/file$index"; done
boot_us() { grep 'entry to main' | sed -E 's/.*cycles, ([0-9]+) us.*/\1/'; }
boot_none=$(for _ in $(seq "$RUNS"); do "$TESSERA" run "$TMP/app" --platform kvm --boot-stats -- 1 1 2>&1 | boot_us; done | median)
printf 'rootfs: root\n' >> "$TMP/app/tessera.yaml"
"$TESSERA" build "$TMP/app" --platform kvm -q >&2
boot_10=$(for _ in $(seq "$RUNS"); do "$TESSERA" run "$TMP/app" --platform kvm --boot-stats -- 1 1 2>&1 | boot_us; done | median)

echo
echo "| figure | Tessera (ramfs, monitor) | host (tmpfs) | ratio |"
echo "|---|---|---|---|"
echo "| create+stat+unlink per s ($COUNT) | $guest_ops | $host_ops | $(awk "BEGIN { printf \"%.2f\", $guest_ops / $host_ops }") |"
echo "| sequential write, MiB/s ($SIZE MiB, 64 KiB calls) | $guest_write | $host_write | $(awk "BEGIN { printf \"%.2f\", $guest_write / $host_write }") |"
echo "| sequential read, MiB/s | $guest_read | $host_read | $(awk "BEGIN { printf \"%.2f\", $guest_read / $host_read }") |"
echo
echo "| figure | Tessera (ext2 disk, monitor) | host ($host_fs, same disk) | ratio |"
echo "|---|---|---|---|"
echo "| create+stat+unlink per s ($COUNT) | $ext2_ops | $disk_ops | $(awk "BEGIN { printf \"%.2f\", $ext2_ops / $disk_ops }") |"
echo "| sequential write + fsync, MiB/s ($SIZE MiB) | $ext2_write | $disk_write | $(awk "BEGIN { printf \"%.2f\", $ext2_write / $disk_write }") |"
echo "| sequential read, MiB/s (page cache on the host) | $ext2_read | $disk_read | $(awk "BEGIN { printf \"%.2f\", $ext2_read / $disk_read }") |"
echo
echo "| boot, entry to main (µs, median of $RUNS) | no root file system | 10 MiB root file system |"
echo "|---|---|---|"
echo "| $APP on the monitor | $boot_none | $boot_10 |"
