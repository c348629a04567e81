#!/usr/bin/env bash
# Self-check of the nested real-KVM environment, end to end:
#   1. setup.sh (cached work is skipped)
#   2. build probe/kvm-probe.c on the host (static; against the guest kernel's uapi headers)
#   3. in the guest: kvm-probe (API 12, VM types 0+1, SW_PROTECTED VM, guest_memfd, private memory)
#   4. in the guest: java -version (the host's JDK, seen through the shared host root)
#   5. in the guest: a command whose arguments need exact quoting and that exits 7, writing into the
#      shared work directory: checks argument passing, the exit code and the read-write share
# Prints the wall time of each step and ends with "selftest: N passed, N failed".
#
# usage: selftest.sh        (as root; same environment variables as setup.sh and run-in-guest.sh)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${JANUS_NESTED_CACHE:-/var/cache/janus-nested}
export JANUS_NESTED_CACHE=$CACHE
T_START=$EPOCHREALTIME
TIMINGS=()
passed=0 failed=0

say() { printf '[nested-kvm selftest] %s\n' "$*" >&2; }
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
record() { # record NAME T0 OK
  local dt
  dt=$(secs_since "$2")
  TIMINGS+=("$(printf '%-26s %7ss  %s' "$1" "$dt" "$([[ $3 == 1 ]] && echo ok || echo FAILED)")")
  if [[ $3 == 1 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  say "-- $1: ${dt}s $([[ $3 == 1 ]] && echo ok || echo FAILED)"
}
summary() {
  say "summary (wall time per step):"
  local t
  for t in "${TIMINGS[@]}"; do say "   $t"; done
  say "   $(printf '%-26s %7ss' total "$(secs_since "$T_START")")"
  echo "selftest: $passed passed, $failed failed"
}

WORK=$(mktemp -d /var/tmp/janus-nested-selftest.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# 1. setup ---------------------------------------------------------------------------------------
t0=$EPOCHREALTIME
say "-- setup"
if ! "$HERE/setup.sh"; then
  record setup "$t0" 0
  summary
  exit 1
fi
record setup "$t0" 1
ABI=${JANUS_NESTED_ABI:-$(cat "$CACHE/latest-abi")}

# 2. probe ---------------------------------------------------------------------------------------
t0=$EPOCHREALTIME
say "-- build kvm-probe"
uapi=$CACHE/$ABI/uapi/usr/include
inc=()
if [[ -d $uapi/linux ]]; then
  inc=(-I "$uapi" -I "$uapi/x86_64-linux-gnu")
  say "   with the uapi headers of $ABI"
else
  say "   no uapi headers of $ABI cached: with the system headers"
fi
if command -v gcc >/dev/null && gcc -O2 -Wall -Wextra -static "${inc[@]}" -o "$WORK/kvm-probe" "$HERE/probe/kvm-probe.c"; then
  record build-probe "$t0" 1
else
  say "cannot build the probe (needs gcc and libc6-dev for -static)"
  record build-probe "$t0" 0
  summary
  exit 1
fi

cd "$WORK"
# guest_check NAME EXPECTED_EXIT VERIFY COMMAND... : one guest run; it passes when the exit code is
# as expected and the function VERIFY (run afterwards on the host) succeeds
guest_check() {
  local name=$1 want=$2 verify=$3 rc=0 ok=1 t0=$EPOCHREALTIME
  shift 3
  say "-- $name: run-in-guest.sh $(printf '%q ' "$@")"
  "$HERE/run-in-guest.sh" "$@" || rc=$?
  if [[ $rc != "$want" ]]; then
    say "   $name: exit code $rc, expected $want"
    ok=0
  elif ! "$verify"; then
    ok=0
  fi
  record "$name" "$t0" "$ok"
}

# 3. + 4. ----------------------------------------------------------------------------------------
guest_check guest-kvm-probe 0 true ./kvm-probe
guest_check guest-java-version 0 true java -version

# 5. argument vector, exit code, read-write work directory --------------------------------------
# shellcheck disable=SC2016  # literal $ on purpose
args=('a b' '' "it's" '$HOME' '*' $'tab\there' 'x"y' '--flag=1;2' '$(id)')
argv_intact() {
  if [[ -f argv.txt && "$(cat argv.txt)" == "$(printf '<%s>\n' "${args[@]}")" ]]; then
    say "   arguments arrived intact; argv.txt came back through the shared work directory"
  else
    say "   arguments did not arrive intact: got '$(cat argv.txt 2>/dev/null || echo '<no argv.txt>')'"
    return 1
  fi
}
# shellcheck disable=SC2016  # $@ is for the guest's bash
guest_check guest-argv-exit-code 7 argv_intact \
  bash -c 'printf "<%s>\n" "$@" >argv.txt; exit 7' argv0 "${args[@]}"

summary
((failed == 0))
