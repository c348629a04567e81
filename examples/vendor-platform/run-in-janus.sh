#!/usr/bin/env bash
# The whole vendor story, as a vendor would live it: build the platform against Janus's published API, pass
# Janus's platform TCK (mvn verify runs it), copy the bundle into deploy/ of a Janus distribution, and run a VM on
# it there: `janus measure` computes the launch measurement from the spec alone and `janus run` must print the same
# measurement from the launch and end with exit code 0.
# Needs Janus installed in the local Maven repository first (mvn install at the repository root).
# usage: run-in-janus.sh [JANUS_HOME]   (default: runtime/target/janus of this repository, used as a copy)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
log() { echo "vendor-platform: $*"; }

mvn -B -ntp -Dstyle.color=never -f "$here/pom.xml" verify
jar="$(ls "$here"/target/com.example.acme.sealed-*.jar)"

home="${1:-}"
if [ -z "$home" ]; then
    [ -x "$root/runtime/target/janus/bin/janus" ] || { log "no distribution at $root/runtime/target/janus: build Janus first"; exit 1; }
    home="$(mktemp -d)/janus"
    cp -r "$root/runtime/target/janus" "$home"
    rm -rf "$home/cache"
    trap 'rm -rf "$(dirname "$home")"' EXIT
fi
cp "$jar" "$home/deploy/"
log "deployed $(basename "$jar") into $home/deploy"

measured="$("$home/bin/janus" measure "$here/acme-sealed.json" | awk '/^  expected / { print $2 }')"
[ -n "$measured" ] || { log "janus measure printed no measurement"; exit 1; }
out="$("$home/bin/janus" run "$here/acme-sealed.json")" || { echo "$out"; log "the VM did not end normally"; exit 1; }
echo "$out"
grep -q "platform  acme-sealed" <<<"$out" || { log "the VM did not run on acme-sealed"; exit 1; }
grep -q "$measured" <<<"$out" || { log "janus run does not show the measurement janus measure computed ($measured)"; exit 1; }
log "a VM ran on the deployed acme-sealed platform; launch measurement $measured equal to janus measure"
