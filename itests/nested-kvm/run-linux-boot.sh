#!/usr/bin/env bash
# Boots a real Linux guest under Janus inside the nested real-KVM environment (see docs/testing.md), and the same
# kernel and initramfs under QEMU with -accel kvm beside it.
#
# The kernel is the one the nested environment itself runs (Debian's, cached by setup.sh). The initramfs is built
# here from busybox-static: its init mounts proc, sys and dev, writes a marker line to the console, checks that a
# pattern is found in a file packed beside it, and powers off by writing the exit code to port 0xf4 through
# /dev/port (Janus's power-off port; QEMU's isa-debug-exit, whose exit status is (code << 1) | 1).
#
# In the nested guest (one boot of it):
#   1. Janus boots Linux with the in-place backend on a plain VM (guest-memfd, MMAP|INIT_SHARED) and with the legacy
#      backend on a software-protected VM (shared memfd + guest_memfd). The guest holds before powering off
#      (janus.hold on its command line: it waits for a line on the serial console) while the host report, the QMP
#      memory map and the Janus process's mappings are taken and checked; then a line sent to Janus's stdin (the
#      UART's input) lets it power off. Each run must show the marker and the check, and exit with status 0.
#   2. Side by side: N boots each of QEMU (-accel kvm) and Janus (in place), without holding, timing the wall
#      time from the VMM's start to the marker and the VMM process's peak RSS (VmHWM through GNU time's maximum
#      resident set size); medians printed as a table (target/nested-linux/figures.txt).
#
# usage: run-linux-boot.sh              (as root; a built distribution in runtime/target/janus is needed)
# environment: as run-in-guest.sh, and
#   JANUS_LINUX_BOOTS      boots of each VMM for the comparison (default 5; 0 skips it)
#   JANUS_LINUX_TIMEOUT    limit for one guest boot, s (default 300)
#   JANUS_DIST             the Janus distribution to run (default runtime/target/janus of this tree)
#   JANUS_LINUX_JAVA_OPTS  JVM options for Janus (default: small heap, serial GC; see docs/user-guide.md)
#   JANUS_LINUX_QUICK      names of specs (linux-timed, linux-inplace, linux-legacy) to boot once each, printing
#                          everything, instead of the checks: for a first look at a boot that fails
#   JANUS_LINUX_APPEND     more kernel command line arguments
# exit status: 0 when every check passed; 1 when one failed; 124/125 as run-in-guest.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$ROOT/target/nested-linux
CACHE=${JANUS_NESTED_CACHE:-/var/cache/janus-nested}
DIST=${JANUS_DIST:-$ROOT/runtime/target/janus}
BOOTS=${JANUS_LINUX_BOOTS:-5}
BOOT_TIMEOUT=${JANUS_LINUX_TIMEOUT:-300}
JOPTS=${JANUS_LINUX_JAVA_OPTS:--Xms16m -Xmx96m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -XX:CICompilerCount=1}
MARKER=JANUS-LINUX-BOOT-MARKER
say() { printf '[linux-boot] %s\n' "$*" >&2; }
die() {
  printf '[linux-boot] ERROR: %s\n' "$*" >&2
  exit 1
}
start=$EPOCHSECONDS

[[ -x $DIST/bin/janus ]] || die "no Janus distribution at $DIST: build it first (mvn -B -ntp install -DskipTests)"
"$HERE/setup.sh" >&2
ABI=${JANUS_NESTED_ABI:-$(cat "$CACHE/latest-abi")}
KERNEL=$CACHE/$ABI/vmlinuz
[[ -f $KERNEL ]] || die "no kernel at $KERNEL after setup.sh"
[[ -x /bin/busybox ]] || die "/bin/busybox missing (busybox-static)"
say "kernel $KERNEL ($ABI), distribution $DIST"

rm -rf "$OUT"
mkdir -p "$OUT/initramfs"/{bin,dev,proc,sys,etc}
# --- the initramfs -------------------------------------------------------------------------------------------
cp /bin/busybox "$OUT/initramfs/bin/busybox"
printf 'janus nested linux boot\npattern: guest-memfd boots linux\n' >"$OUT/initramfs/etc/janus-check.txt"
echo 'guest-memfd boots linux' >"$OUT/initramfs/etc/janus-pattern"
cat >"$OUT/initramfs/init" <<'INIT'
#!/bin/busybox sh
# PID 1 of the Linux guest of itests/nested-kvm/run-linux-boot.sh.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "JANUS-LINUX-BOOT-MARKER uptime $(cut -d' ' -f1 /proc/uptime) kernel $(uname -r)"
code=0
if grep -qF "$(cat /etc/janus-pattern)" /etc/janus-check.txt; then
  echo "JANUS-LINUX-CHECK ok: pattern found"
else
  echo "JANUS-LINUX-CHECK failed: pattern not found"
  code=3
fi
if grep -q janus.hold /proc/cmdline; then
  # The host looks at the running VM now; a line on the console lets the guest go on.
  echo "JANUS-LINUX-HOLD waiting for a line on the console"
  read -r -t 240 line </dev/console && echo "JANUS-LINUX-HOLD got '$line'"
fi
echo "JANUS-LINUX-POWEROFF code $code"
# Port 0xf4 = 244: Janus's power-off port, QEMU's isa-debug-exit.
printf "\\$(printf '%03o' "$code")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
echo "JANUS-LINUX-POWEROFF did not stop the machine"
poweroff -f
INIT
chmod +x "$OUT/initramfs/init"
(cd "$OUT/initramfs" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT/initramfs.cpio.gz"
cp "$KERNEL" "$OUT/vmlinuz"
say "initramfs: $(stat -c %s "$OUT/initramfs.cpio.gz") bytes"

# noxsave: the nested guest's CPU is QEMU TCG's "max" model, and a kernel run on KVM there (under QEMU -cpu host as
# under Janus, with the CPUID KVM_GET_SUPPORTED_CPUID gives) fails its XSAVE consistency check ("XSAVE consistency
# problem: size 2696 != kernel_size 576") and then panics in fpstate_reset; with FXSAVE it boots.
CMDLINE="console=ttyS0 reboot=k panic=-1 acpi=off pci=off nomodules noxsave quiet rdinit=/init${JANUS_LINUX_APPEND:+ $JANUS_LINUX_APPEND}"
spec() { # spec NAME PLATFORM BACKEND CMDLINE
  cat <<EOF
{
  "name": "$1",
  "kvm": { "provider": "linux" },
  "platform": $2,
  "memory": { "backend": "$3", "ram": [ { "name": "ram", "gpa": 0, "size": "512M" } ],
              "mmio": [ { "name": "ioapic", "gpa": "0xfec00000", "size": "4K" } ] },
  "vcpus": { "count": 1 },
  "boot": { "kernel": "vmlinuz", "initrd": "initramfs.cpio.gz", "cmdline": "$4", "console": "stdio" }
}
EOF
}
spec linux-inplace '{ "id": "none" }' guest-memfd "$CMDLINE janus.hold" >"$OUT/linux-inplace.json"
spec linux-legacy '{ "id": "sw-protected", "initialState": "shared" }' legacy "$CMDLINE janus.hold" >"$OUT/linux-legacy.json"
spec linux-timed '{ "id": "none" }' guest-memfd "$CMDLINE" >"$OUT/linux-timed.json"

# --- what runs in the nested guest ---------------------------------------------------------------------------
cat >"$OUT/in-guest.sh" <<GUEST
QUICK="${JANUS_LINUX_QUICK:-}" QUICK_QEMU="${JANUS_LINUX_QUICK_QEMU:-}" OUT=$OUT DIST=$DIST BOOTS=$BOOTS BOOT_TIMEOUT=$BOOT_TIMEOUT MARKER=$MARKER CMDLINE="$CMDLINE"
export JAVA_OPTS="$JOPTS"
GUEST
cat >>"$OUT/in-guest.sh" <<'GUEST'
set -u
rc=0
RUNDIR=$(mktemp -d /tmp/linux-boot.XXXXXX)
note() { echo "[linux-boot guest] $*"; }
fail() { note "FAILED: $*"; rc=1; }

# QMP client: one command per line on stdin, each answer printed as one line of JSON.
cat >"$OUT/qmp.py" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sys.argv[1]); f = s.makefile("rw")
def rd():
    while True:
        m = json.loads(f.readline())
        if "event" not in m: return m
rd()
f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n"); f.flush(); rd()
for line in sys.stdin:
    line = line.strip()
    if not line: continue
    cmd = json.loads(line) if line.startswith("{") else {"execute": line}
    f.write(json.dumps(cmd) + "\n"); f.flush()
    print(json.dumps(rd()), flush=True)
PY

wait_for() { # wait_for FILE PATTERN SECONDS
  local i=0
  while ! grep -q "$2" "$1" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt $(($3 * 10)) ] && return 1; sleep 0.1
  done
}

# One held boot: the checks while the guest runs, then its power-off through a console line.
held_boot() { # held_boot NAME BACKEND-WORD MAPPING-PATTERN REPORT-PATTERN
  # The socket and the FIFO live in the guest's own /tmp: the 9p share of the work tree holds neither.
  local name=$1 backend=$2 mapping=$3 report=$4 log=$OUT/$1.log sock=$RUNDIR/$1.qmp fifo=$RUNDIR/$1.fifo
  note "== $name: booting Linux under Janus ($backend)"
  mkfifo "$fifo"
  timeout -k 10 "$BOOT_TIMEOUT" "$DIST/bin/janus" run "$OUT/$name.json" --qmp "$sock" --timeout "$BOOT_TIMEOUT" \
      <"$fifo" >"$log" 2>&1 &
  local pid=$!
  exec 7>"$fifo"
  if ! wait_for "$log" "JANUS-LINUX-HOLD waiting" "$BOOT_TIMEOUT"; then
    fail "$name: the guest did not reach its hold point"; exec 7>&-; wait $pid; tail -n 60 "$log"; return
  fi
  note "$name: guest holding; looking at it"
  local jpid; jpid=$(pgrep -f "org.janus.runtime.Cli run $OUT/$name.json" | head -n1)
  printf '%s\n' query-status '{"execute":"__org.janus_query-memory-map","arguments":{"max-runs":4}}' stop query-status cont query-status \
      | python3 "$OUT/qmp.py" "$sock" >"$OUT/$name.qmp.txt" 2>&1 || fail "$name: QMP session failed: $(tail -n1 "$OUT/$name.qmp.txt")"
  cat "$OUT/$name.qmp.txt"
  grep -q '"status": "paused"' "$OUT/$name.qmp.txt" || fail "$name: QMP stop did not pause the VM"
  [ "$(grep -c '"status": "running"' "$OUT/$name.qmp.txt")" -ge 2 ] || fail "$name: QMP query-status/cont did not show it running"
  grep -q "\"backend\": \"$backend" "$OUT/$name.qmp.txt" || fail "$name: the memory map does not name the $backend backend"
  grep -q '"shared-bytes": 536870912' "$OUT/$name.qmp.txt" || fail "$name: the memory map does not show all 512 MiB shared"
  # Where the pages live, as the kernel sees the VMM process: the guest_memfd mapping, or the shared memfd.
  if [ -n "$jpid" ]; then
    grep -E "$mapping" "/proc/$jpid/maps" | tee "$OUT/$name.maps.txt"
    [ -s "$OUT/$name.maps.txt" ] || fail "$name: no mapping matching '$mapping' in the Janus process"
  else
    fail "$name: the Janus process was not found"
  fi
  # The running Janus holds its home's lock: the report comes from a copy of the distribution.
  [ -d "$RUNDIR/report-home" ] || cp -r "$DIST" "$RUNDIR/report-home"
  "$RUNDIR/report-home/bin/janus" host-report --provider linux >"$OUT/$name.host-report.txt" 2>&1 ||
    fail "$name: host-report failed: $(tail -n1 "$OUT/$name.host-report.txt")"
  cat "$OUT/$name.host-report.txt"
  grep -q "$report" "$OUT/$name.host-report.txt" || fail "$name: the host report does not say '$report'"
  echo go >&7
  exec 7>&-
  wait $pid; local status=$?
  cat "$log"
  grep -q "$MARKER" "$log" || fail "$name: no marker on the console"
  grep -q "JANUS-LINUX-CHECK ok" "$log" || fail "$name: the pattern check did not pass"
  grep -q "JANUS-LINUX-HOLD got 'go'" "$log" || fail "$name: the console line did not reach the guest"
  [ "$status" = 0 ] || fail "$name: janus exited with $status, not 0 (power-off with code 0)"
  note "$name: exit status $status"
}

if [ -n "${QUICK:-}" ]; then
  # A first look (JANUS_LINUX_QUICK=1): one boot, its whole output.
  grep -m1 '^flags' /proc/cpuinfo
  if [ -n "${QUICK_QEMU:-}" ]; then
    note "== quick: qemu"
    timeout -k 10 "$BOOT_TIMEOUT" qemu-system-x86_64 -accel kvm -cpu host -m 512 -smp 1 -nodefaults -no-user-config -nographic \
        -serial stdio -monitor none -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=1 \
        -kernel "$OUT/vmlinuz" -initrd "$OUT/initramfs.cpio.gz" -append "$CMDLINE" </dev/null; note "exit status $?"
  fi
  for spec in $QUICK; do
    note "== quick: $spec"
    timeout -k 10 "$BOOT_TIMEOUT" "$DIST/bin/janus" run "$OUT/$spec.json" --timeout "$BOOT_TIMEOUT" </dev/null; note "exit status $?"
  done
  exit 0
fi
held_boot linux-inplace guest-memfd 'kvm-gmem' '^  none  *0x0  *guest-memfd'
held_boot linux-legacy legacy 'memfd:' '^  sw-protected  *0x1  *legacy'

# --- side by side: wall time to the marker and peak RSS, QEMU and Janus -------------------------------------
timed() { # timed KIND I: one boot; prints "seconds-to-marker max-rss-kib exit-status"
  local kind=$1 log=$OUT/timed-$1-$2.log t0
  rm -f "$log.time"
  t0=$(date +%s.%N)
  if [ "$kind" = qemu ]; then
    timeout -k 10 "$BOOT_TIMEOUT" /usr/bin/time -f '%M' -o "$log.time" qemu-system-x86_64 -accel kvm -cpu host -m 512 -smp 1 \
        -nodefaults -no-user-config -nographic -serial stdio -monitor none -no-reboot \
        -device isa-debug-exit,iobase=0xf4,iosize=1 \
        -kernel "$OUT/vmlinuz" -initrd "$OUT/initramfs.cpio.gz" -append "$CMDLINE" </dev/null 2>&1 |
      while IFS= read -r l; do
        case $l in *"$MARKER"*) date +%s.%N >"$log.marker" ;; esac
        printf '%s\n' "$l"
      done >"$log"
  else
    timeout -k 10 "$BOOT_TIMEOUT" /usr/bin/time -f '%M' -o "$log.time" "$DIST/bin/janus" run "$OUT/linux-timed.json" \
        --timeout "$BOOT_TIMEOUT" </dev/null 2>&1 |
      while IFS= read -r l; do
        case $l in *"$MARKER"*) date +%s.%N >"$log.marker" ;; esac
        printf '%s\n' "$l"
      done >"$log"
  fi
  local status=${PIPESTATUS[0]}
  [ -f "$log.marker" ] || { echo "none - $status -"; return; }
  # The guest's own uptime when init printed the marker: the part of the wall time the VMM's start-up is not.
  echo "$(awk -v a="$t0" -v b="$(cat "$log.marker")" 'BEGIN { printf "%.3f", b - a }') $(tail -n1 "$log.time") $status" \
    "$(grep -o "$MARKER uptime [0-9.]*" "$log" | awk '{ print $3 }')"
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
if [ "$BOOTS" -gt 0 ]; then
  : >"$OUT/timed.txt"
  for i in $(seq 1 "$BOOTS"); do
    for kind in qemu janus; do
      r=$(timed $kind "$i"); note "$kind boot $i: $r"; echo "$kind $r" >>"$OUT/timed.txt"
      set -- $r
      [ "$1" != none ] || { fail "$kind boot $i: no marker (see $OUT/timed-$kind-$i.log)"; tail -n 30 "$OUT/timed-$kind-$i.log"; }
      # isa-debug-exit: the guest wrote 0, QEMU exits with (0 << 1) | 1 = 1; Janus's power-off with code 0 is 0.
      want=0; [ $kind = qemu ] && want=1
      [ "$3" = "$want" ] || fail "$kind boot $i: exit status $3, expected $want"
    done
  done
  {
    echo "Linux boot to the init marker, $BOOTS boots each, medians (nested: L1 is QEMU TCG, emulated and slow)"
    printf '%-8s %18s %16s %26s\n' VMM "time to marker s" "peak RSS MiB" "guest uptime at marker s"
    for kind in qemu janus; do
      t=$(awk -v k=$kind '$1 == k && $2 != "none" { print $2 }' "$OUT/timed.txt" | median)
      m=$(awk -v k=$kind '$1 == k && $2 != "none" { print $3 }' "$OUT/timed.txt" | median)
      u=$(awk -v k=$kind '$1 == k && $2 != "none" { print $5 }' "$OUT/timed.txt" | median)
      printf '%-8s %18s %16s %26s\n' $kind "$t" "$(awk -v m="$m" 'BEGIN { if (m == "-") print "-"; else printf "%.1f", m / 1024 }')" "$u"
    done
    echo "janus JVM options: $JAVA_OPTS"
    echo "qemu: $(qemu-system-x86_64 --version | head -n1), -accel kvm -cpu host -m 512 -smp 1"
  } | tee "$OUT/figures.txt"
fi
note "done with $rc"
exit $rc
GUEST

rc=0
JANUS_NESTED_TIMEOUT=${JANUS_NESTED_TIMEOUT:-2400} "$HERE/run-in-guest.sh" bash "$OUT/in-guest.sh" || rc=$?
say "finished with $rc ($((EPOCHSECONDS - start)) s in all)"
[[ -f $OUT/figures.txt ]] && cat "$OUT/figures.txt" >&2
exit $rc
