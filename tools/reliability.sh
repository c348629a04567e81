#!/usr/bin/env bash
# Reproduces the figures of docs/reliability.md in one run: the fault-injection matrix and the conversion fault
# injection (machine), the platform TCK's failure check for every in-tree platform, the Lincheck and stress tests,
# the hostile-input and isolation tests, every fuzz target for a while, and the soak; then prints the counts.
#
#   tools/reliability.sh [FUZZ_SECONDS_PER_TARGET] [SOAK_SECONDS]     defaults 60 and 600
#
# Builds and installs the modules first. Logs go to target/reliability/; exit status non-zero if any part failed.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz="${1:-60}"
soak="${2:-600}"
for n in "$fuzz" "$soak"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "reliability.sh: '$n' is not a positive number of seconds" >&2; exit 2; }
done
out=target/reliability
mkdir -p "$out"
rc=0
part() {
    local name=$1; shift
    echo "== $name"
    "$@" >"$out/$name.log" 2>&1 || { echo "   FAILED (see $out/$name.log)"; rc=1; }
}
part build mvn -B -ntp -Dstyle.color=never install -DskipTests
part machine mvn -B -ntp -o -Dstyle.color=never -pl bundles/org.janus.machine surefire:test \
    -Dtest='FaultMatrixTest,ConversionFaultInjectionTest,LegacyDiscardFailureTest,AssemblyTeardownTest,VmConversionsLincheckTest,ConversionStressTest,LifecycleStressTest,IsolationTest,ConsoleTest,SpecValidatorTest'
part memory mvn -B -ntp -o -Dstyle.color=never -pl bundles/org.janus.memory.gmem surefire:test -Dtest='*LincheckTest'
part tck mvn -B -ntp -o -Dstyle.color=never -pl bundles/org.janus.platform.tck,bundles/org.janus.platform.pkvm verify
part fuzz tools/fuzz.sh "$fuzz"
part soak mvn -B -ntp -o -Dstyle.color=never -pl itests verify -Dit.test=SoakIT -Dfailsafe.failIfNoSpecifiedTests=false \
    -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false -Djanus.soak.seconds="$soak"

echo "== figures"
grep -h "^fault matrix: [0-9]* cases" "$out/machine.log" || true
grep -h "failures-leave-nothing-behind: [0-9]* faults" "$out/tck.log" | sed 's/ (each call.*); / /' || true
grep -hE "Tests run: [0-9]+, Failures" "$out/machine.log" "$out/memory.log" | tail -n 2 || true
grep -h "^fuzz: " "$out/fuzz.log" || true
grep -h "^soak: " "$out/soak.log" | tail -n 3 || true
exit $rc
