#!/usr/bin/env bash
# The performance report in one command: builds the benchmarks module (and what it needs), runs every benchmark
# registered in org.janus.benchmarks.report.Registry (JMH and whole-process ones, each in a process of its own that
# holds the shared build lock while it runs, each writing its results under benchmarks/target/results/), then writes
# the report: docs/benchmarks.md with its charts in docs/benchmarks/.
#
#   tools/benchmarks.sh            the full run (about 40 minutes on the project machine); rewrites docs/benchmarks.md
#   tools/benchmarks.sh --smoke    tiny sizes and iterations, for CI: the report goes to benchmarks/target/benchmarks.md
#   tools/benchmarks.sh --only a,b only the named steps (results of earlier runs of the others are kept)
#   tools/benchmarks.sh --report   no build and no runs: the report again from the results there are
#
# JANUS_BENCH_LOCK (default /tmp/janus-build.lock; "none" for none) is the lock every Maven run and benchmark holds.
# Exit status: 0 when every step ran, 1 when one failed (the report is still written, naming it), 2 for bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

smoke=0 only="" report_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=1 ;;
        --only) [ $# -ge 2 ] || { echo "benchmarks.sh: --only needs a list of steps" >&2; exit 2; }; only="$2"; shift ;;
        --report) report_only=1 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "benchmarks.sh: unknown option $1 (--smoke, --only a,b, --report)" >&2; exit 2 ;;
    esac
    shift
done

lock="${JANUS_BENCH_LOCK:-/tmp/janus-build.lock}"
locked() { if [ "$lock" = none ]; then "$@"; else flock "$lock" "$@"; fi; }

results="$repo/benchmarks/target/results"
if [ $smoke = 1 ]; then
    out="$repo/benchmarks/target/benchmarks.md" charts="$repo/benchmarks/target/benchmarks"
else
    out="$repo/docs/benchmarks.md" charts="$repo/docs/benchmarks"
fi
jar="$(ls "$repo"/benchmarks/target/org.janus.benchmarks-*.jar 2>/dev/null | grep -v -- '-tests.jar' | head -1 || true)"

if [ $report_only = 0 ]; then
    echo "benchmarks: building (mvn package -pl benchmarks -am)"
    locked mvn -B -ntp -Dstyle.color=never -pl benchmarks -am package -DskipTests
    # The start-up benchmark launches the distribution itself (runtime/target/janus); the nested one builds its own floor.
    locked mvn -B -ntp -Dstyle.color=never -pl runtime -am package -DskipTests
    jar="$(ls "$repo"/benchmarks/target/org.janus.benchmarks-*.jar | grep -v -- '-tests.jar' | head -1)"
    # The SEV-SNP guest of the memory benchmark boots Debian's OVMF: the installed one, else fetched into .cache/.
    [ -f /usr/share/ovmf/OVMF.fd ] || [ -f .cache/ovmf/current/usr/share/ovmf/OVMF.fd ] || tools/fetch-ovmf.sh >/dev/null
    # A whole run starts from nothing, so that no result of an earlier run is reported as this one's.
    if [ -z "$only" ]; then rm -rf "$results"; fi
    mkdir -p "$results"
    args=(--results "$results" --repo "$repo" --lock "$lock")
    [ $smoke = 1 ] && args+=(--smoke)
    [ -n "$only" ] && args+=(--only "$only")
    set +e
    java -Djna.nosys=true -cp "$jar:$repo/benchmarks/target/lib/*" org.janus.benchmarks.report.RunAll "${args[@]}"
    status=$?
    set -e
else
    [ -n "$jar" ] || { echo "benchmarks.sh: --report needs a built benchmarks module (run without --report first)" >&2; exit 2; }
    status=0
fi

rargs=(--results "$results" --out "$out" --charts "$charts" --repo "$repo")
[ $smoke = 1 ] && rargs+=(--smoke)
if [ $smoke = 0 ] && [ -z "$only" ] && [ $report_only = 0 ]; then rm -rf "$charts"; fi
java -Djava.awt.headless=true -cp "$jar:$repo/benchmarks/target/lib/*" org.janus.benchmarks.report.Report "${rargs[@]}"
exit $status
