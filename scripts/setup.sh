#!/usr/bin/env bash
# Installs what Tessera needs that a fresh Debian machine lacks (QEMU), builds the `tessera` CLI and
# boots examples/hello as a smoke test. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# QEMU boots images; curl and wrk are what the network tests talk to them with.
missing=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing="$missing qemu-system-x86"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v redis-benchmark >/dev/null 2>&1 || missing="$missing redis-tools"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"   # loads the kv example's append-only file (interop test)
command -v cpio >/dev/null 2>&1 || missing="$missing cpio"       # the root file system's archive, both ways
command -v mke2fs >/dev/null 2>&1 || missing="$missing e2fsprogs"   # ext2 disks the tests read (mke2fs, e2fsck, debugfs)
[ -x /usr/sbin/diod ] || missing="$missing diod"                  # a 9P2000.L server: the 9p client's tests talk to it
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq $missing >/dev/null
fi
command -v swift >/dev/null 2>&1 || { echo "setup: swift not found: install a Swift 6.x toolchain and put it on PATH" >&2; exit 1; }

echo "setup: building the tessera CLI and the KVM monitor (tessera-kvm)"
swift build --product tessera
swift build --product tessera-kvm
echo "setup: booting examples/hello with argument 7 (it exits with 7)"
set +e
.build/debug/tessera run examples/hello -- 7 "from the setup script"
status=$?
set -e
if [ "$status" -ne 7 ]; then
    echo "setup: hello exited with $status instead of 7" >&2
    exit 1
fi
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    echo "setup: booting examples/hello on Tessera's own KVM monitor (it exits with 3)"
    set +e
    .build/debug/tessera run examples/hello --platform kvm -- 3 "on the monitor"
    status=$?
    set -e
    if [ "$status" -ne 3 ]; then
        echo "setup: hello on the monitor exited with $status instead of 3" >&2
        exit 1
    fi
else
    echo "setup: /dev/kvm is not usable here: skipping the KVM monitor's boot (QEMU runs under TCG)"
fi
echo "setup: ok — the CLI is at .build/debug/tessera, the monitor at .build/debug/tessera-kvm"
