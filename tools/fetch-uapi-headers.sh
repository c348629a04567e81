#!/usr/bin/env bash
# Fetches the newest linux-libc-dev from Debian trixie-backports and extracts it (never installs it) into
# .cache/uapi/<version>/ at the repository root, for the struct/ioctl cross-check of org.janus.kvm.linux.
# .cache/uapi/current points at the version in use. Idempotent: a version already extracted is not fetched
# again; without network, the newest version already extracted is used. Prints the version on stdout.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/uapi"
mirror="${JANUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="trixie-backports"
index="$mirror/dists/$suite/main/binary-amd64/Packages.xz"
curl_opts=(--fail --silent --show-error --location --connect-timeout 20 --max-time 300 --retry 2)

log() { echo "fetch-uapi-headers: $*" >&2; }

for tool in curl xz dpkg-deb dpkg sha256sum; do
    command -v "$tool" >/dev/null || { log "needs $tool"; exit 1; }
done
mkdir -p "$cache"

use_version() {
    ln -sfn "$1" "$cache/current"
    log "linux-libc-dev $1 in $cache/$1"
    echo "$1"
}

newest_cached() {
    local best="" v
    for d in "$cache"/*/; do
        v="$(basename "$d")"
        [ "$v" = current ] && continue
        [ -f "$cache/$v/usr/include/linux/kvm.h" ] || continue
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
    log "cannot read $index and nothing is cached"
    exit 1
fi

# One "version filename sha256" line per linux-libc-dev stanza, then the newest by Debian version order.
xz -dc "$work/Packages.xz" | awk '
    /^Package: /  { pkg = $2 }
    /^Version: /  { ver = $2 }
    /^Filename: / { file = $2 }
    /^SHA256: /   { sha = $2 }
    /^$/ { if (pkg == "linux-libc-dev") print ver, file, sha; pkg = ver = file = sha = "" }
    END  { if (pkg == "linux-libc-dev") print ver, file, sha }' > "$work/candidates"
[ -s "$work/candidates" ] || { log "no linux-libc-dev in $index"; exit 1; }

best=""; best_file=""; best_sha=""
while read -r ver file sha; do
    if [ -z "$best" ] || dpkg --compare-versions "$ver" gt "$best"; then
        best="$ver"; best_file="$file"; best_sha="$sha"
    fi
done < "$work/candidates"

if [ -f "$cache/$best/usr/include/linux/kvm.h" ]; then
    use_version "$best"
    exit 0
fi

log "downloading $mirror/$best_file"
curl "${curl_opts[@]}" -o "$work/pkg.deb" "$mirror/$best_file"
echo "$best_sha  $work/pkg.deb" | sha256sum --check --status || { log "SHA256 mismatch for $best_file"; exit 1; }
dpkg-deb -x "$work/pkg.deb" "$work/extract"
[ -f "$work/extract/usr/include/linux/kvm.h" ] || { log "$best_file has no usr/include/linux/kvm.h"; exit 1; }
rm -rf "${cache:?}/$best"
mv "$work/extract" "$cache/$best"
use_version "$best"
