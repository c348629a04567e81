#!/usr/bin/env bash
# The conversion benchmark on real KVM, in the nested environment (see docs/testing.md): a Debian kernel under
# QEMU TCG with emulated SVM. One guest boot runs, one after the other:
#   1. org.janus.benchmarks.nested.NestedConversion: a real-mode guest of a software-protected VM converts a 4 KiB
#      page back and forth with KVM_HC_MAP_GPA_RANGE, touching it after each conversion, and Janus's conversion engine
#      answers with the legacy backend (discard, keep) and, where the kernel offers it, in place; per conversion
#      Janus's part and the whole cycle, plus a bare port-I/O exit;
#   2. the conversion benchmark's C floor (benchmarks/src/main/c/conversion_floor.c, built here on the host with gcc)
#      for the same 4 KiB conversions, legacy with and without discard: the kernel-side work alone, in the same guest.
# Every figure is that of an emulated machine: comparable with the floor beside it, never with the software KVM's
# figures (docs/benchmarks.md says so too).
#
# usage: run-benchmarks.sh [--smoke] [--out DIR]   (as root; the benchmarks module built: mvn -B -ntp -pl benchmarks
#        -am package -DskipTests)
#   --out DIR  where the results go, under the checkout (the guest writes only below the current directory);
#              default benchmarks/target/results. Files: nested-conversion.json, nested-floor-legacy-discard.json,
#              nested-floor-legacy-keep.json.
#   --smoke    50 round trips instead of 400 (CI: under three minutes with the boot)
# environment: as run-in-guest.sh; JANUS_NESTED_TIMEOUT defaults to 900 s here.
# exit status: 0 all ran; 1 a benchmark failed; 2 bad usage or nothing built; otherwise run-in-guest.sh's.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
say() { printf '[nested-benchmarks] %s\n' "$*" >&2; }

rounds=400
out=$ROOT/benchmarks/target/results
while (($# > 0)); do
  case $1 in
  --smoke) rounds=50 ;;
  --out)
    (($# >= 2)) || { say "--out needs a directory"; exit 2; }
    out=$2
    shift
    ;;
  *) say "unknown argument $1 (usage: run-benchmarks.sh [--smoke] [--out DIR])"; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
case $out/ in
"$(cd "$ROOT" && pwd -P)"/*) ;;
*) say "--out $out is outside the checkout $ROOT: the guest could not write there"; exit 2 ;;
esac

jar=$(ls "$ROOT"/benchmarks/target/org.janus.benchmarks-*.jar 2>/dev/null | grep -v -- '-tests.jar' | head -1 || true)
[[ -n $jar && -d $ROOT/benchmarks/target/lib ]] ||
  { say "the benchmarks module is not built: mvn -B -ntp -pl benchmarks -am package -DskipTests"; exit 2; }
command -v gcc >/dev/null || { say "gcc is missing (apt-get install gcc): it builds the floor"; exit 2; }

start=$EPOCHSECONDS
"$HERE/setup.sh" >&2
bin=$ROOT/benchmarks/target/nested-bin
mkdir -p "$bin"
gcc -O2 -Wall -pthread -o "$bin/conversion_floor" "$ROOT/benchmarks/src/main/c/conversion_floor.c"
rm -f "$out"/nested-conversion.json "$out"/nested-floor-legacy-*.json

script=$bin/in-guest.sh
cat >"$script" <<GUEST
set -u
rc=0
java -Xmx512m -Djna.nosys=true -cp "$jar:$ROOT/benchmarks/target/lib/*" org.janus.benchmarks.nested.NestedConversion \\
    --out "$out/nested-conversion.json" --rounds $rounds || rc=1
for mode in legacy-discard legacy-keep; do
  "$bin/conversion_floor" \$mode 4096 64 $((2 * rounds)) 1 >"$out/nested-floor-\$mode.json.tmp" &&
    mv "$out/nested-floor-\$mode.json.tmp" "$out/nested-floor-\$mode.json" || rc=1
done
exit \$rc
GUEST
rc=0
cd "$ROOT"
JANUS_NESTED_TIMEOUT=${JANUS_NESTED_TIMEOUT:-900} "$HERE/run-in-guest.sh" bash "$script" || rc=$?
say "finished with $rc ($((EPOCHSECONDS - start)) s); results in $out"
exit $rc
