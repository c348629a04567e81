#!/usr/bin/env bash
# The images examples/linux.json boots: a Debian x86-64 kernel (vmlinuz) and a small busybox initramfs
# (initramfs.cpio.gz), put into .cache/linux-guest/ at the repository root and, when a directory is named, copied
# there (a distribution's guest-images/, where `janus run` looks for bare image names after the spec's directory).
#
# The kernel is the one the nested real-KVM environment boots when itests/nested-kvm/setup.sh has cached it (the
# kernel CI boots under Janus), else Debian's linux-image-amd64 of the host's own suites, downloaded with
# `apt-get download` (verified by apt, never installed) and only unpacked. busybox comes from busybox-static: the
# installed /bin/busybox, else the package downloaded and unpacked the same way.
#
# The initramfs's init mounts proc, sys and dev, says what booted, runs a shell on the console (a terminal's input
# reaches it through the UART; at the end of Janus's stdin the shell sees end-of-file) and powers off when the shell
# ends, by writing 0 to port 0xf4 (Janus's power-off port) through /dev/port.
#
# usage: tools/fetch-linux-guest.sh [DIR]      prints the directory holding both images
# exit status: 0 done; 1 what is needed cannot be had (the line says what); 2 bad usage
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/.cache/linux-guest
NESTED=${JANUS_NESTED_CACHE:-/var/cache/janus-nested}
log() { echo "fetch-linux-guest: $*" >&2; }
die() {
  log "$*"
  exit 1
}
[[ $# -le 1 ]] || { log "usage: tools/fetch-linux-guest.sh [DIR]"; exit 2; }
[[ ${1:-} != -* ]] || { log "usage: tools/fetch-linux-guest.sh [DIR]"; exit 2; }
INTO=${1:-}
for tool in cpio gzip dpkg-deb; do command -v "$tool" >/dev/null || die "needs $tool (Debian: apt-get install cpio gzip dpkg)"; done
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fetch-linux-guest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- the kernel ------------------------------------------------------------------------------------------------
abi=$(cat "$NESTED/latest-abi" 2>/dev/null || true)
if [[ -n $abi && -f $NESTED/$abi/vmlinuz ]]; then
  cp "$NESTED/$abi/vmlinuz" "$OUT/vmlinuz.new"
  echo "Debian $abi (the nested environment's kernel, $NESTED/$abi)" >"$OUT/kernel.txt.new"
elif [[ -f $OUT/vmlinuz ]]; then
  log "kernel already fetched: $(cat "$OUT/kernel.txt" 2>/dev/null)"
else
  command -v apt-get >/dev/null || die "no cached kernel and no apt-get to download Debian's"
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
  [[ -n $pkg ]] || die "apt does not know linux-image-amd64 (run apt-get update) and no kernel is cached"
  log "downloading $pkg (about 70 MB; unpacked here, not installed)"
  (cd "$WORK" && timeout 900 apt-get download -q "$pkg" >/dev/null) || die "apt-get download $pkg failed"
  dpkg-deb -x "$WORK"/"$pkg"_*.deb "$WORK/kernel"
  k=$(ls "$WORK"/kernel/boot/vmlinuz-* 2>/dev/null | head -n1)
  [[ -n $k ]] || die "$pkg holds no /boot/vmlinuz-*"
  cp "$k" "$OUT/vmlinuz.new"
  echo "Debian $(basename "$k") ($pkg)" >"$OUT/kernel.txt.new"
fi
if [[ -f $OUT/vmlinuz.new ]]; then
  mv "$OUT/vmlinuz.new" "$OUT/vmlinuz"
  mv "$OUT/kernel.txt.new" "$OUT/kernel.txt"
fi

# --- the initramfs ----------------------------------------------------------------------------------------------
bb=/bin/busybox
if ! [[ -x $bb ]] || ! file -b "$bb" 2>/dev/null | grep -q static; then
  command -v apt-get >/dev/null || die "no static busybox (/bin/busybox of busybox-static) and no apt-get to download it"
  log "downloading busybox-static (unpacked here, not installed)"
  (cd "$WORK" && timeout 600 apt-get download -q busybox-static >/dev/null) || die "apt-get download busybox-static failed"
  dpkg-deb -x "$WORK"/busybox-static_*.deb "$WORK/bb"
  bb=$WORK/bb/bin/busybox
fi
mkdir -p "$WORK/initramfs"/{bin,dev,proc,sys}
cp "$bb" "$WORK/initramfs/bin/busybox"
cat >"$WORK/initramfs/init" <<'INIT'
#!/bin/busybox sh
# PID 1 of examples/linux.json (written by tools/fetch-linux-guest.sh).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "Janus example: Linux $(uname -r) booted on $(grep -c ^processor /proc/cpuinfo) vCPU, $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo) of RAM."
echo "A shell on the serial console; exit (or end of input) powers the VM off."
setsid cttyhack sh
echo "Powering off (port 0xf4, exit code 0)."
printf '\000' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
INIT
chmod +x "$WORK/initramfs/init"
(cd "$WORK/initramfs" && find . | cpio -o -H newc --quiet | gzip -9) >"$OUT/initramfs.cpio.gz"

if [[ -n $INTO ]]; then
  mkdir -p "$INTO"
  cp "$OUT/vmlinuz" "$OUT/initramfs.cpio.gz" "$INTO/"
  log "copied into $INTO"
fi
log "kernel: $(cat "$OUT/kernel.txt"); initramfs: $(stat -c %s "$OUT/initramfs.cpio.gz") bytes"
echo "${INTO:-$OUT}"
