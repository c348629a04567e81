# Sourced by tools/fetch-ovmf.sh, fetch-ovmf-inteltdx.sh and fetch-ovmf-amdsev.sh: one Architecture: all Debian
# package holding one firmware image, fetched over its suite's Packages index with the SHA256 checked, extracted
# (never installed) into .cache/<package>/<version>/ at the repository root, .cache/<package>/current pointing at the
# version in use. Idempotent; offline, the newest version already extracted is used. Prints the extracted directory.
#
# fetch_debian_firmware NAME PACKAGE IMAGE SUITE HINT [--unless-installed] [DIR]
#   NAME     the script's name, for its log lines and usage
#   PACKAGE  the Debian package (its cache directory has the same name)
#   IMAGE    the image's path inside the package, e.g. usr/share/ovmf/OVMF.fd (installed: /IMAGE)
#   SUITE    the suite whose binary-all index lists it
#   HINT     what to do when it cannot be had (install it, or a -D property that builds without it)
#   DIR      copy the image there; with --unless-installed, fetch nothing where the package is installed (and remove
#            a copy an earlier build left in DIR, which would shadow the installed image)
fetch_debian_firmware() {
    local name="$1" package="$2" image="$3" suite="$4" hint="$5"
    shift 5
    local root cache mirror index installed file
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    cache="$root/.cache/$package"
    mirror="${JANUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
    index="$mirror/dists/$suite/main/binary-all/Packages.xz"
    installed="/$image"
    file="$(basename "$image")"
    local curl_opts=(--fail --silent --show-error --location --connect-timeout 20 --max-time 300 --retry 2)

    log() { echo "$name: $*" >&2; }

    local unless_installed=false into="" arg
    for arg in "$@"; do
        case "$arg" in
            --unless-installed) unless_installed=true ;;
            -*) log "unknown option $arg (usage: tools/$name.sh [--unless-installed] [DIR])"; return 2 ;;
            *)
                [ -z "$into" ] || { log "one directory at a time (got $into and $arg)"; return 2; }
                into="$arg" ;;
        esac
    done

    if $unless_installed && [ -f "$installed" ]; then
        if [ -n "$into" ] && [ -f "$into/$file" ]; then
            rm -f "$into/$file"
            log "removed $into/$file of an earlier build"
        fi
        log "$installed is installed; Janus uses it, nothing to fetch"
        return 0
    fi

    local tool
    for tool in curl xz dpkg-deb dpkg sha256sum; do
        command -v "$tool" >/dev/null || { log "needs $tool (Debian: apt-get install curl xz-utils dpkg); or $hint"; return 1; }
    done
    mkdir -p "$cache"

    # The directory of an extracted version, copied to $into when asked; the result on stdout.
    use_version() {
        local dir="$cache/$1"
        ln -sfn "$1" "$cache/current"
        if [ -n "$into" ]; then
            mkdir -p "$into"
            cp "$dir/$image" "$into/$file"
            log "$package $1: $file copied to $into"
        else
            log "$package $1 in $dir"
        fi
        echo "$dir"
    }

    newest_cached() {
        local best="" v d
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
        local cached
        cached="$(newest_cached)"
        if [ -n "$cached" ]; then
            log "cannot read $index; using the newest version already extracted"
            use_version "$cached"
            return 0
        fi
        log "cannot read $index and nothing is cached in $cache: $hint"
        return 1
    fi

    # One "version filename sha256" line per stanza of the package, then the newest by Debian version order.
    xz -dc "$work/Packages.xz" | awk -v want="$package" '
        /^Package: /  { pkg = $2 }
        /^Version: /  { ver = $2 }
        /^Filename: / { file = $2 }
        /^SHA256: /   { sha = $2 }
        /^$/ { if (pkg == want) print ver, file, sha; pkg = ver = file = sha = "" }
        END  { if (pkg == want) print ver, file, sha }' > "$work/candidates"
    [ -s "$work/candidates" ] || { log "no $package in $index"; return 1; }

    local best="" best_file="" best_sha="" ver deb sha
    while read -r ver deb sha; do
        if [ -z "$best" ] || dpkg --compare-versions "$ver" gt "$best"; then
            best="$ver"; best_file="$deb"; best_sha="$sha"
        fi
    done < "$work/candidates"

    if [ -f "$cache/$best/$image" ]; then
        use_version "$best"
        return 0
    fi

    log "downloading $mirror/$best_file"
    curl "${curl_opts[@]}" -o "$work/pkg.deb" "$mirror/$best_file"
    echo "$best_sha  $work/pkg.deb" | sha256sum --check --status || { log "SHA256 mismatch for $best_file"; return 1; }
    dpkg-deb -x "$work/pkg.deb" "$work/extract"
    [ -f "$work/extract/$image" ] || { log "$best_file has no $image"; return 1; }
    rm -rf "${cache:?}/$best"
    mv "$work/extract" "$cache/$best"
    use_version "$best"
}
