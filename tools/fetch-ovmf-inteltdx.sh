#!/usr/bin/env bash
# Fetches Debian's ovmf-inteltdx package (TDVF, the OVMF build for Intel TDX guests that the TDX examples and the tdx
# platform's tests load and measure) and extracts it, never installing it, into .cache/ovmf-inteltdx/<version>/ at
# the repository root; .cache/ovmf-inteltdx/current points at the version in use.
#
#   tools/fetch-ovmf-inteltdx.sh [--unless-installed] [DIR]
#
# DIR: copy OVMF.inteltdx.ms.fd there (the runtime build passes the distribution's firmware/ directory).
# --unless-installed: fetch nothing when the package is installed (/usr/share/ovmf/OVMF.inteltdx.ms.fd), which Janus
# finds by itself, and leave no copy in DIR.
#
# The suite is sid (JANUS_TDVF_SUITE to change it), the only one that has the package; it is Architecture: all, so
# it is listed in binary-all whatever this machine's architecture. Idempotent: a version already extracted is not
# fetched again; without network, the newest version already extracted is used. The package's SHA256 is checked
# against the suite's Packages index. Prints the extracted directory on stdout.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/ovmf-inteltdx"
mirror="${JANUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="${JANUS_TDVF_SUITE:-sid}"
package=ovmf-inteltdx
image=usr/share/ovmf/OVMF.inteltdx.ms.fd
index="$mirror/dists/$suite/main/binary-all/Packages.xz"
installed="/$image"
curl_opts=(--fail --silent --show-error --location --connect-timeout 20 --max-time 300 --retry 2)

log() { echo "fetch-ovmf-inteltdx: $*" >&2; }

unless_installed=false
into=""
for arg in "$@"; do
    case "$arg" in
        --unless-installed) unless_installed=true ;;
        -*) log "unknown option $arg (usage: tools/fetch-ovmf-inteltdx.sh [--unless-installed] [DIR])"; exit 2 ;;
        *)
            [ -z "$into" ] || { log "one directory at a time (got $into and $arg)"; exit 2; }
            into="$arg" ;;
    esac
done

if $unless_installed && [ -f "$installed" ]; then
    # A copy left by an earlier build would shadow the installed image, which Janus should find instead.
    if [ -n "$into" ] && [ -f "$into/$(basename "$image")" ]; then
        rm -f "$into/$(basename "$image")"
        log "removed $into/$(basename "$image") of an earlier build"
    fi
    log "$installed is installed; Janus uses it, nothing to fetch"
    exit 0
fi

for tool in curl xz dpkg-deb dpkg sha256sum; do
    command -v "$tool" >/dev/null || {
        log "needs $tool (Debian: apt-get install curl xz-utils dpkg); or build with -Djanus.tdvf.skip=true"
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
        cp "$dir/$image" "$into/"
        log "$package $1: $(basename "$image") copied to $into"
    else
        log "$package $1 in $dir"
    fi
    echo "$dir"
}

newest_cached() {
    local best="" v
    for d in "$cache"/*/; do
        [ -d "$d" ] || continue
        v="$(basename "$d")"
        [ "$v" = current ] && continue
        [ -f "$cache/$v/$image" ] || continue
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
    log "cannot read $index and nothing is cached in $cache: build without it (-Djanus.tdvf.skip=true)," \
        "or install Debian's $package"
    exit 1
fi

# One "version filename sha256" line per stanza of the package, then the newest by Debian version order.
xz -dc "$work/Packages.xz" | awk -v want="$package" '
    /^Package: /  { pkg = $2 }
    /^Version: /  { ver = $2 }
    /^Filename: / { file = $2 }
    /^SHA256: /   { sha = $2 }
    /^$/ { if (pkg == want) print ver, file, sha; pkg = ver = file = sha = "" }
    END  { if (pkg == want) print ver, file, sha }' > "$work/candidates"
[ -s "$work/candidates" ] || { log "no $package in $index"; exit 1; }

best=""; best_file=""; best_sha=""
while read -r ver file sha; do
    if [ -z "$best" ] || dpkg --compare-versions "$ver" gt "$best"; then
        best="$ver"; best_file="$file"; best_sha="$sha"
    fi
done < "$work/candidates"

if [ -f "$cache/$best/$image" ]; then
    use_version "$best"
    exit 0
fi

log "downloading $mirror/$best_file"
curl "${curl_opts[@]}" -o "$work/pkg.deb" "$mirror/$best_file"
echo "$best_sha  $work/pkg.deb" | sha256sum --check --status || { log "SHA256 mismatch for $best_file"; exit 1; }
dpkg-deb -x "$work/pkg.deb" "$work/extract"
[ -f "$work/extract/$image" ] || { log "$best_file has no $image"; exit 1; }
rm -rf "${cache:?}/$best"
mv "$work/extract" "$cache/$best"
use_version "$best"
