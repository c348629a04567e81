#!/usr/bin/env bash
# Fetches Debian's ovmf package (the OVMF firmware that the SEV-SNP examples boot) and extracts it, never installing
# it, into .cache/ovmf/<version>/ at the repository root; .cache/ovmf/current points at the version in use.
#
#   tools/fetch-ovmf.sh [--unless-installed] [DIR]
#
# DIR: copy OVMF.fd there (the runtime build passes the distribution's firmware/ directory).
# --unless-installed: fetch nothing when Debian's ovmf is installed (/usr/share/ovmf/OVMF.fd), which Janus finds by
# itself, and leave no OVMF.fd in DIR; this is how the build calls it, so that a machine with the package builds
# exactly as before.
#
# The suite is bookworm (JANUS_OVMF_SUITE to change it): its images are the ones whose SEV-SNP launch digests the
# tests recorded (bundles/org.janus.platform.snp/src/test/resources/measurements.json). Idempotent: a version
# already extracted is not fetched again; without network, the newest version already extracted is used. The
# package's SHA256 is checked against the suite's Packages index. Prints the extracted directory on stdout.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/ovmf"
mirror="${JANUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="${JANUS_OVMF_SUITE:-bookworm}"
# ovmf is Architecture: all, so it is listed in binary-all whatever this machine's architecture.
index="$mirror/dists/$suite/main/binary-all/Packages.xz"
installed=/usr/share/ovmf/OVMF.fd
curl_opts=(--fail --silent --show-error --location --connect-timeout 20 --max-time 300 --retry 2)

log() { echo "fetch-ovmf: $*" >&2; }

unless_installed=false
into=""
for arg in "$@"; do
    case "$arg" in
        --unless-installed) unless_installed=true ;;
        -*) log "unknown option $arg (usage: tools/fetch-ovmf.sh [--unless-installed] [DIR])"; exit 2 ;;
        *)
            [ -z "$into" ] || { log "one directory at a time (got $into and $arg)"; exit 2; }
            into="$arg" ;;
    esac
done

if $unless_installed && [ -f "$installed" ]; then
    # A copy left by an earlier build would shadow the installed image, which Janus should find instead.
    if [ -n "$into" ] && [ -f "$into/OVMF.fd" ]; then
        rm -f "$into/OVMF.fd"
        log "removed $into/OVMF.fd of an earlier build"
    fi
    log "$installed is installed; Janus uses it, nothing to fetch"
    exit 0
fi

for tool in curl xz dpkg-deb dpkg sha256sum; do
    command -v "$tool" >/dev/null || {
        log "needs $tool (Debian: apt-get install curl xz-utils dpkg); or install ovmf, or build with -Djanus.ovmf.skip=true"
        exit 1
    }
done
mkdir -p "$cache"

# The directory of an extracted version, copied to $into when asked; the result on stdout.
use_version() {
    local dir="$cache/$1"
    ln -sfn "$1" "$cache/current"
    if [ -n "$into" ]; then
        mkdir -p "$into"
        cp "$dir/usr/share/ovmf/OVMF.fd" "$into/OVMF.fd"
        log "ovmf $1: OVMF.fd copied to $into"
    else
        log "ovmf $1 in $dir"
    fi
    echo "$dir"
}

newest_cached() {
    local best="" v
    for d in "$cache"/*/; do
        [ -d "$d" ] || continue
        v="$(basename "$d")"
        [ "$v" = current ] && continue
        [ -f "$cache/$v/usr/share/ovmf/OVMF.fd" ] || continue
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best="$v"; fi
    done
    echo "$best"
}

work="$(mktemp -d "$cache/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if ! curl "${curl_opts[@]}" -o "$work/Packages.xz" "$index"; then
    cached="$(newest_cached)"
    if [ -n "$cached" ]; then
        log "cannot read $index; using the newest version already extracted"
        use_version "$cached"
        exit 0
    fi
    log "cannot read $index and nothing is cached in $cache: install Debian's ovmf (apt-get install ovmf)," \
        "or build without firmware (-Djanus.ovmf.skip=true)"
    exit 1
fi

# One "version filename sha256" line per ovmf stanza, then the newest by Debian version order.
xz -dc "$work/Packages.xz" | awk '
    /^Package: /  { pkg = $2 }
    /^Version: /  { ver = $2 }
    /^Filename: / { file = $2 }
    /^SHA256: /   { sha = $2 }
    /^$/ { if (pkg == "ovmf") print ver, file, sha; pkg = ver = file = sha = "" }
    END  { if (pkg == "ovmf") print ver, file, sha }' > "$work/candidates"
[ -s "$work/candidates" ] || { log "no ovmf in $index"; exit 1; }

best=""; best_file=""; best_sha=""
while read -r ver file sha; do
    if [ -z "$best" ] || dpkg --compare-versions "$ver" gt "$best"; then
        best="$ver"; best_file="$file"; best_sha="$sha"
    fi
done < "$work/candidates"

if [ -f "$cache/$best/usr/share/ovmf/OVMF.fd" ]; then
    use_version "$best"
    exit 0
fi

log "downloading $mirror/$best_file"
curl "${curl_opts[@]}" -o "$work/pkg.deb" "$mirror/$best_file"
echo "$best_sha  $work/pkg.deb" | sha256sum --check --status || { log "SHA256 mismatch for $best_file"; exit 1; }
dpkg-deb -x "$work/pkg.deb" "$work/extract"
[ -f "$work/extract/usr/share/ovmf/OVMF.fd" ] || { log "$best_file has no usr/share/ovmf/OVMF.fd"; exit 1; }
rm -rf "${cache:?}/$best"
mv "$work/extract" "$cache/$best"
use_version "$best"
