#!/usr/bin/env bash
# Run one command inside a QEMU/TCG guest that has a real /dev/kvm (emulated AMD SVM + nested
# paging, Debian trixie-backports kernel prepared by setup.sh), and exit with its exit code.
#
# usage: run-in-guest.sh COMMAND [ARG...]
#   The arguments are passed as an argument vector, exactly (like env, timeout or sudo): nothing is
#   re-split or expanded. For a shell snippet say so: run-in-guest.sh bash -c 'cd x && make'.
#
# Inside the guest the command runs as root in a chroot whose root is the host's root filesystem
# (shared read-only over 9p, with a tmpfs overlay on top: everything of the host is visible, the
# JDK, ~/.m2, /usr ..., and writes are thrown away at the end), except the current directory,
# which is shared read-write at the same path, so results written there stay. /tmp and /run are
# fresh tmpfs. Standard input is empty. The command's output goes to the guest's console, which is
# streamed to stdout here; this script's own messages go to stderr.
#
# Before the command runs the guest checks that /dev/kvm exists and, when the rebuilt kvm modules
# were loaded, that KVM_X86_SW_PROTECTED_VM (type 1) is offered and a VM of that type can be made.
#
# exit status: the command's; 124 when JANUS_NESTED_TIMEOUT ran out; 125 when the guest itself
# failed (no boot in time, kernel panic, missing /dev/kvm, module load error ...). On any failure
# the console log is kept under <cache>/logs/ and its last lines are printed.
#
# environment:
#   JANUS_NESTED_CACHE         cache root written by setup.sh   (default /var/cache/janus-nested)
#   JANUS_NESTED_ABI           kernel ABI to boot               (default: the one setup.sh prepared last)
#   JANUS_NESTED_KVM           swprot | stock: which kvm modules (default swprot when built, else stock)
#   JANUS_NESTED_MEM           guest memory in MiB              (default 4096)
#   JANUS_NESTED_TIMEOUT       hard limit for the whole run, s  (default 2400 = 40 min)
#   JANUS_NESTED_BOOT_TIMEOUT  limit until the command starts, s (default 300)
#   JANUS_NESTED_ENV           names of more host variables to pass in (PATH, HOME, LANG, LC_ALL, TZ,
#                              JAVA_HOME, MAVEN_OPTS, JAVA_TOOL_OPTIONS and CI always are)
#   JANUS_NESTED_KEEP_LOG=1    keep the console log after a successful run too
#   JANUS_NESTED_APPEND        extra guest kernel command line arguments
set -euo pipefail

CACHE=${JANUS_NESTED_CACHE:-/var/cache/janus-nested}
MEM=${JANUS_NESTED_MEM:-4096}
TOTAL_TIMEOUT=${JANUS_NESTED_TIMEOUT:-2400}
BOOT_TIMEOUT=${JANUS_NESTED_BOOT_TIMEOUT:-300}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PASS_ENV=(PATH HOME LANG LC_ALL TZ JAVA_HOME MAVEN_OPTS JAVA_TOOL_OPTIONS CI)
# shellcheck disable=SC2206  # a list of names, split on blanks on purpose
PASS_ENV+=(${JANUS_NESTED_ENV:-})

say() { printf '[nested-kvm] %s\n' "$*" >&2; }
die() {
  printf '[nested-kvm] ERROR: %s\n' "$*" >&2
  exit 125
}
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

(($# > 0)) || die "usage: $(basename "$0") COMMAND [ARG...]"
[[ $(id -u) == 0 ]] || die "run as root (QEMU shares the host root with the guest as root)"
for tool in qemu-system-x86_64 cpio gzip; do
  command -v "$tool" >/dev/null || die "$tool missing: run $HERE/setup.sh first"
done
[[ -x /bin/busybox ]] || die "/bin/busybox missing (busybox-static): run $HERE/setup.sh first"

ABI=${JANUS_NESTED_ABI:-$(cat "$CACHE/latest-abi" 2>/dev/null || true)}
KDIR=$CACHE/$ABI
[[ -n $ABI && -f $KDIR/.kernel.done ]] ||
  die "no prepared guest kernel${ABI:+ for $ABI} in $CACHE: run $HERE/setup.sh first"
KVM_KIND=${JANUS_NESTED_KVM:-}
if [[ -z $KVM_KIND ]]; then
  if [[ -f $KDIR/.swprot.done ]]; then KVM_KIND=swprot; else KVM_KIND=stock; fi
fi
case $KVM_KIND in
swprot) [[ -f $KDIR/.swprot.done ]] || die "no rebuilt kvm modules for $ABI: run setup.sh with JANUS_NESTED_SWPROT=1" ;;
stock) ;;
*) die "JANUS_NESTED_KVM must be swprot or stock, not '$KVM_KIND'" ;;
esac

T0=$EPOCHREALTIME
WORK=$(pwd -P)
RUN=$(mktemp -d "${TMPDIR:-/tmp}/janus-nested.XXXXXX")
mkdir -p "$CACHE/logs"
LOG=$CACHE/logs/console-$(date +%Y%m%d-%H%M%S)-$$.log
QEMU_PID='' TAIL_PID=''

stop_qemu() {
  [[ -n $QEMU_PID ]] || return 0
  kill "$QEMU_PID" 2>/dev/null || return 0
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    kill -0 "$QEMU_PID" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -9 "$QEMU_PID" 2>/dev/null || true
}
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  stop_qemu
  [[ -n $TAIL_PID ]] && kill "$TAIL_PID" 2>/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# --- initramfs: busybox, the modules in load order, init ----------------------------------------
mkdir -p "$RUN"/initrd/{bin,dev,proc,sys,mods} "$RUN/ctl"
cp /bin/busybox "$RUN/initrd/bin/busybox"
while read -r m; do
  if [[ $KVM_KIND == swprot && -f $KDIR/swprot/$m.ko ]]; then
    cp "$KDIR/swprot/$m.ko" "$RUN/initrd/mods/$m.ko"
    echo "$m rebuilt"
  else
    cp "$KDIR/modules/$m.ko" "$RUN/initrd/mods/$m.ko"
    echo "$m stock"
  fi
done <"$KDIR/modules/load-order" >"$RUN/initrd/mods/load-order"
echo "$KVM_KIND" >"$RUN/initrd/kvm-kind"

cat >"$RUN/initrd/init" <<'INIT'
#!/bin/busybox sh
# PID 1 of the nested-KVM guest (written by itests/nested-kvm/run-in-guest.sh).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
note() { echo "[nested-kvm guest] $*"; }
halt_guest() {
  sync
  poweroff -f
  sleep 5
  reboot -f # -no-reboot makes QEMU exit on a reset too
}
fail() {
  note "ERROR: $*"
  [ -d /ctl/.janus ] && echo "$*" >/ctl/error
  halt_guest
}

loaded=''
while read -r m origin; do
  insmod "/mods/$m.ko" || fail "insmod $m ($origin) failed"
  if [ "$origin" = rebuilt ]; then loaded="$loaded $m(rebuilt,SW_PROTECTED_VM)"; else loaded="$loaded $m"; fi
done </mods/load-order
note "modules loaded:$loaded"

mkdir -p /ctl /lower /upper /host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 ctl /ctl || fail "cannot mount the control share"
[ -c /dev/kvm ] || fail "/dev/kvm is missing after loading kvm + kvm-amd (no SVM in the guest CPU?)"
note "/dev/kvm present; kvm_amd nested=$(cat /sys/module/kvm_amd/parameters/nested) npt=$(cat /sys/module/kvm_amd/parameters/npt)"

mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /lower ||
  fail "cannot mount the host root over 9p"
mount -t tmpfs -o size=50% upper /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /host ||
  fail "cannot mount the overlay of the host root"
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts
mount -t tmpfs shm /host/dev/shm
mount -t tmpfs -o size=50%,mode=1777 tmp /host/tmp
mount -t tmpfs -o mode=755 run /host/run
if [ -s /ctl/workdir ]; then
  W=$(cat /ctl/workdir)
  mkdir -p "/host$W"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 work "/host$W" ||
    fail "cannot mount the work directory $W"
fi
hostname "$(cat /ctl/hostname)"
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up

# KVM facts through the host's perl (always there on Debian): API version, VM types, VM type 1.
kvm_check() {
  chroot /host /usr/bin/perl -e '
    open(my $k, "+<", "/dev/kvm") or die "open /dev/kvm: $!\n";
    my $api = ioctl($k, 0xAE00, 0);              # KVM_GET_API_VERSION
    my $types = ioctl($k, 0xAE03, 235);          # KVM_CHECK_EXTENSION(KVM_CAP_VM_TYPES)
    $types = 0 unless defined $types;
    my $vm1 = ioctl($k, 0xAE01, 1);              # KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM)
    printf "api=%d vm_types=0x%x vm_type1=%s\n", $api, $types, defined $vm1 ? "ok" : "error($!)";
    exit(($api == 12 ? 0 : 1) | (($types & 2) && defined $vm1 ? 0 : 2));'
}
facts=$(kvm_check)
kvm_rc=$?
note "KVM: $facts"
[ $((kvm_rc & 1)) = 0 ] || fail "/dev/kvm does not answer KVM_GET_API_VERSION=12: $facts"
if [ "$(cat /kvm-kind)" = swprot ] && [ $((kvm_rc & 2)) != 0 ]; then
  fail "rebuilt kvm modules loaded but VM type 1 (SW_PROTECTED) is not available: $facts"
fi

cp /ctl/command.sh /host/run/janus-nested-command.sh
read -r up _ </proc/uptime
echo "$up" >/ctl/started
note "ready after ${up}s of guest uptime; running the command"
env -i chroot /host /bin/bash --noprofile --norc /run/janus-nested-command.sh </dev/null
rc=$?
read -r up _ </proc/uptime
echo "$up" >/ctl/finished
echo "$rc" >/ctl/rc
note "command exited with $rc"
halt_guest
INIT
chmod +x "$RUN/initrd/init"
(cd "$RUN/initrd" && find . | cpio -o -H newc --quiet | gzip -1) >"$RUN/initrd.gz"

# --- control share: command, work dir, host name ------------------------------------------------
mkdir -p "$RUN/ctl/.janus"
{
  echo "# written by run-in-guest.sh"
  for v in "${PASS_ENV[@]}"; do
    [[ -n ${!v+x} ]] && printf 'export %s=%q\n' "$v" "${!v}"
  done
  echo "export JANUS_NESTED_GUEST=1 TERM=dumb"
  printf 'cd -- %q || exit 125\n' "$WORK"
  printf '%q ' "$@"
  echo
} >"$RUN/ctl/command.sh"
if [[ $WORK != / ]]; then echo "$WORK" >"$RUN/ctl/workdir"; fi
hostname >"$RUN/ctl/hostname"

# --- boot -----------------------------------------------------------------------------------------
# shellcheck disable=SC2054  # commas belong to QEMU option values
QEMU=(qemu-system-x86_64 -nodefaults -no-user-config -no-reboot
  -accel tcg -cpu max -smp 1 -m "$MEM"
  -display none -serial stdio
  -kernel "$KDIR/vmlinuz" -initrd "$RUN/initrd.gz"
  -append "console=ttyS0 panic=-1 oops=panic loglevel=3 ${JANUS_NESTED_APPEND:-}"
  -virtfs "local,path=$RUN/ctl,mount_tag=ctl,security_model=none"
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap)
[[ $WORK != / ]] && QEMU+=(-virtfs "local,path=$WORK,mount_tag=work,security_model=none")

say "guest: kernel $ABI, kvm modules: $KVM_KIND, ${MEM} MiB, timeout ${TOTAL_TIMEOUT}s (boot ${BOOT_TIMEOUT}s)"
say "command: $(printf '%q ' "$@")"
: >"$LOG"
"${QEMU[@]}" </dev/null >>"$LOG" 2>&1 &
QEMU_PID=$!
# the console (the command's output among it) goes to stdout as it comes
tail -n +1 -f --pid="$QEMU_PID" "$LOG" | sed -u 's/\r$//' &
TAIL_PID=$!

reason=''
while kill -0 "$QEMU_PID" 2>/dev/null; do
  t=$(secs_since "$T0")
  if [[ ! -f $RUN/ctl/started ]] && awk -v t="$t" -v l="$BOOT_TIMEOUT" 'BEGIN { exit !(t > l) }'; then
    reason="the guest did not get to the command within ${BOOT_TIMEOUT}s (JANUS_NESTED_BOOT_TIMEOUT)"
    break
  fi
  if awk -v t="$t" -v l="$TOTAL_TIMEOUT" 'BEGIN { exit !(t > l) }'; then
    reason="timeout: still running after ${TOTAL_TIMEOUT}s (JANUS_NESTED_TIMEOUT)"
    break
  fi
  # the result is in: give the guest a moment to power off by itself, then end QEMU
  if [[ -f $RUN/ctl/rc && -z ${rc_seen:-} ]]; then rc_seen=$EPOCHREALTIME; fi
  if [[ -n ${rc_seen:-} ]] && awk -v t="$(secs_since "$rc_seen")" 'BEGIN { exit !(t > 20) }'; then
    say "guest did not power off 20s after the command ended; stopping QEMU"
    break
  fi
  sleep 0.5
done
stop_qemu
wait "$QEMU_PID" 2>/dev/null || true
QEMU_PID=''
if [[ -n $TAIL_PID ]]; then
  wait "$TAIL_PID" 2>/dev/null || true
  TAIL_PID=''
fi
total=$(secs_since "$T0")

fail_out() { # fail_out EXIT_CODE MESSAGE
  say "FAILED: $2"
  say "---- last 40 lines of the guest console ($LOG) ----"
  tail -n 40 "$LOG" | sed 's/\r$//' >&2
  say "---- end of console; full log kept in $LOG"
  # keep the 20 newest logs
  find "$CACHE/logs" -name 'console-*.log' -printf '%T@ %p\n' | sort -rn | tail -n +21 | cut -d' ' -f2- |
    xargs -r rm -f
  exit "$1"
}

if [[ -n $reason && ! -f $RUN/ctl/rc ]]; then
  [[ $reason == timeout* ]] && fail_out 124 "$reason"
  fail_out 125 "$reason"
fi
if [[ ! -f $RUN/ctl/rc ]]; then
  if [[ -f $RUN/ctl/error ]]; then fail_out 125 "guest check failed: $(cat "$RUN/ctl/error")"; fi
  if grep -q 'Kernel panic' "$LOG"; then fail_out 125 "the guest kernel panicked"; fi
  fail_out 125 "the guest stopped without a result (QEMU died or the guest crashed)"
fi
rc=$(cat "$RUN/ctl/rc")
cmd_time=$(awk -v a="$(cat "$RUN/ctl/started")" -v b="$(cat "$RUN/ctl/finished")" 'BEGIN { printf "%.1f", b - a }')
say "exit code $rc; guest ready after $(cat "$RUN/ctl/started")s uptime, command ${cmd_time}s, wall total ${total}s"
if [[ ${JANUS_NESTED_KEEP_LOG:-0} == 1 ]]; then say "console log: $LOG"; else rm -f "$LOG"; fi
exit "$rc"
