#!/usr/bin/env bash
# Makes Debian's python3-qemu-qmp (the qemu.qmp library and qmp-shell, QEMU's own QMP client) importable by
# /usr/bin/python3, installing it when it is missing. Debian 12 does not have the package; there it comes from
# Debian unstable, pinned so that nothing else is taken from there (an apt source and a preferences file named
# janus-qemu-qmp, on the mirror the system already uses). Needs root to install. Exit 0 when importable.
set -euo pipefail
py=/usr/bin/python3
log() { echo "ensure-qemu-qmp: $*" >&2; }

if "$py" -c 'import qemu.qmp' 2>/dev/null; then exit 0; fi
[ "$(id -u)" = 0 ] || { log "qemu.qmp is missing and installing python3-qemu-qmp needs root"; exit 1; }
command -v apt-get >/dev/null || { log "qemu.qmp is missing and there is no apt-get"; exit 1; }
export DEBIAN_FRONTEND=noninteractive

candidate() { apt-cache policy python3-qemu-qmp 2>/dev/null | awk '/Candidate:/ { print $2 }'; }

timeout 600 apt-get update -q >/dev/null
if [ -z "$(candidate)" ] || [ "$(candidate)" = "(none)" ]; then
    # The mirror of the system's own main suite, e.g. ".../debian bookworm/main": unstable is beside it.
    . /etc/os-release
    mirror="$(apt-cache policy | awk -v s="${VERSION_CODENAME:-x}/main" '$3 == s { print $2; exit }')"
    [ -n "$mirror" ] || { log "cannot tell which Debian mirror this system uses"; exit 1; }
    log "python3-qemu-qmp is not in ${VERSION_CODENAME:-this release}; taking it from unstable on $mirror"
    echo "deb $mirror unstable main" > /etc/apt/sources.list.d/janus-qemu-qmp.list
    cat > /etc/apt/preferences.d/janus-qemu-qmp <<PIN
Package: *
Pin: release a=unstable
Pin-Priority: -10

Package: python3-qemu-qmp
Pin: release a=unstable
Pin-Priority: 500
PIN
    timeout 600 apt-get update -q >/dev/null
fi
timeout 900 apt-get install -y -q --no-install-recommends python3-qemu-qmp >/dev/null
"$py" -c 'import qemu.qmp' || { log "python3-qemu-qmp installed, but $py cannot import qemu.qmp"; exit 1; }
log "installed python3-qemu-qmp $(dpkg-query -W -f '${Version}' python3-qemu-qmp)"
