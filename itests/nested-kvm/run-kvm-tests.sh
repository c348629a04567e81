#!/usr/bin/env bash
# Runs Janus's KVM tests against the real kernel inside the nested guest (see docs/testing.md): the KVM
# conformance suite against org.janus.kvm.linux, the linux provider's own real-KVM tests (real x86 guests) and
# the memory backends converting for a real software-protected guest. The tests are compiled on the host
# (a built tree is needed: mvn install), only run in the guest, through the JUnit console launcher.
#
# usage: run-kvm-tests.sh            (as root, from anywhere; reports in target/nested-kvm/ of the repo)
# environment: as run-in-guest.sh; JANUS_NESTED_TIMEOUT defaults to 1800 s here.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$ROOT/target/nested-kvm
CONSOLE_VERSION=1.14.4
say() { printf '[nested-kvm-tests] %s\n' "$*" >&2; }
start=$EPOCHSECONDS

"$HERE/setup.sh"
say "setup done ($((EPOCHSECONDS - start)) s)"

mkdir -p "$OUT"
rm -rf "$OUT"/reports-*
cd "$ROOT"
# The console launcher, and the test class path of each module whose tests touch the real kernel.
mvn -B -ntp -q dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$CONSOLE_VERSION" \
    -DoutputDirectory="$OUT" -Dmdep.stripVersion=true
modules=(conformance bundles/org.janus.kvm.linux bundles/org.janus.machine)
for m in "${modules[@]}"; do
    [ -d "$m/target/test-classes" ] || { say "$m is not built: run mvn -B -ntp install first"; exit 2; }
    mvn -B -ntp -q -o dependency:build-classpath -pl "$m" -Dmdep.includeScope=test \
        -Dmdep.outputFile="$OUT/$(basename "$m").classpath" >/dev/null
done
say "class paths ready ($((EPOCHSECONDS - start)) s)"

# One guest boot runs all three; each part reports on its own, and the exit code says whether all passed.
script=$OUT/in-guest.sh
cat > "$script" <<GUEST
set -u
rc=0
run() {
  local name=\$1 cp=\$2; shift 2
  echo "== \$name"
  java -Djanus.conformance.targets=linux -Djanus.kvm.required=true -cp "$OUT/junit-platform-console-standalone.jar:\$cp" \\
      org.junit.platform.console.ConsoleLauncher execute --disable-banner --details=summary --details-theme=ascii \\
      --fail-if-no-tests --reports-dir "$OUT/reports-\$name" "\$@" || rc=1
}
run conformance "$ROOT/conformance/target/test-classes:\$(cat $OUT/conformance.classpath)" \\
    --scan-classpath "$ROOT/conformance/target/test-classes"
run kvm-linux "$ROOT/bundles/org.janus.kvm.linux/target/test-classes:$ROOT/bundles/org.janus.kvm.linux/target/classes:\$(cat $OUT/org.janus.kvm.linux.classpath)" \\
    --select-class org.janus.kvm.linux.internal.RealKvmTest
run machine "$ROOT/bundles/org.janus.machine/target/test-classes:$ROOT/bundles/org.janus.machine/target/classes:\$(cat $OUT/org.janus.machine.classpath)" \\
    --scan-classpath "$ROOT/bundles/org.janus.machine/target/test-classes" --include-tag real-kvm
exit \$rc
GUEST
rc=0
JANUS_NESTED_TIMEOUT=${JANUS_NESTED_TIMEOUT:-1800} "$HERE/run-in-guest.sh" bash "$script" || rc=$?
say "nested KVM tests finished with $rc ($((EPOCHSECONDS - start)) s in all)"
exit $rc
