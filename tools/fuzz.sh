#!/usr/bin/env bash
# Runs every Jazzer fuzz target of the project in fuzzing mode for a while each, then prints per target the
# executions and the size of its corpus (docs/reliability.md, "Fuzzing").
#
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TEST_CLASS...]    default 15 s, every target
#
# The modules must have been built (mvn -DskipTests install); this runs offline. Each fuzz test class holds one
# @FuzzTest, and Jazzer fuzzes one per JVM, so surefire gets a fresh JVM per class (reuseForks=false). The corpus the
# fuzzer grows stays in <module>/.cifuzz-corpus/ (ignored by git) and is where the next run starts; an input that
# fails is written into the target's committed inputs directory (src/test/resources/<package>/<Class>Inputs/<method>/),
# where it becomes a regression seed once the bug is fixed. Exit status: Maven's (non-zero on a finding).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-15}"
shift || true
targets=(
    "bundles/org.janus.machine SpecFuzzTest specs"
    "bundles/org.janus.machine StrictJsonFuzzTest documents"
    "bundles/org.janus.machine ConversionFuzzTest requests"
    "runtime FeatureFuzzTest features"
    "bundles/org.janus.platform.snp OvmfImageFuzzTest images"
    "bundles/org.janus.platform.tdx TdvfImageFuzzTest images"
    "bundles/org.janus.qmp JsonFramerFuzzTest streams"
    "bundles/org.janus.qmp QmpSessionFuzzTest sessions"
)
modules=() classes=()
for t in "${targets[@]}"; do
    read -r module class method <<<"$t"
    if [ $# -gt 0 ] && [[ " $* " != *" $class "* ]]; then continue; fi
    [[ " ${modules[*]-} " == *" $module "* ]] || modules+=("$module")
    classes+=("$class#$method")
done
log="$(mktemp -t janus-fuzz.XXXXXX)"
trap 'rm -f "$log"' EXIT
status=0
# Sanitizer hooks on (the regression runs in mvn verify leave them off for speed: junit-platform.properties).
JAZZER_FUZZ=1 mvn -B -ntp -o -fae -Dstyle.color=never -pl "$(IFS=,; echo "${modules[*]}")" test-compile surefire:test \
    -Dtest="$(IFS=,; echo "${classes[*]}")" -Dsurefire.failIfNoSpecifiedTests=false -DreuseForks=false -DtrimStackTrace=true \
    "-DargLine=-Djazzer.hooks=true -Djazzer.max_duration=${seconds}s -Djazzer.instrumentation_includes=org.janus.**" \
    >"$log" 2>&1 || status=$?
# "Running <class>" starts each JVM's output; libFuzzer's "Done N runs in S second(s)" ends a fuzzing run.
awk '/^\[INFO\] Running /{cls=$3} /^Done [0-9]+ runs in/{split(cls,p,"."); print p[length(p)] ": " $2 " executions in " $5 " s"}' "$log" >"$log.runs"
for t in "${targets[@]}"; do
    read -r module class method <<<"$t"
    [[ " ${classes[*]} " == *" $class#$method "* ]] || continue
    pkg="$(find "$module/src/test/java" -name "$class.java" | head -1 | sed "s|$module/src/test/java/||; s|/$class.java||; s|/|.|g")"
    corpus="$module/.cifuzz-corpus/$pkg.$class/$method"
    seeds="$(find "$module/src/test/resources/${pkg//.//}/${class}Inputs/$method" -type f 2>/dev/null | wc -l)"
    grown="$(find "$corpus" -type f 2>/dev/null | wc -l)"
    runs="$(grep "^$class: " "$log.runs" | head -1 | sed "s/^$class: //" || true)"
    echo "fuzz: $class.$method: ${runs:-no fuzzing run (see the log below)}; corpus $grown inputs, $seeds committed seeds"
done
rm -f "$log.runs"
if [ "$status" -ne 0 ]; then
    # The surefire reports hold each finding with its cause.
    for t in "${targets[@]}"; do
        read -r module class method <<<"$t"
        grep -h -A3 -E "<<< (ERROR|FAILURE)!$" "$module"/target/surefire-reports/*."$class".txt 2>/dev/null | grep -v "^\s*at " | head -12
    done
    grep -E "BUILD|ERROR\] Failed" "$log" | head -10
    echo "fuzz: Maven failed (exit $status); an input that failed is in the target's Inputs directory (crash-*)"
fi
exit "$status"
