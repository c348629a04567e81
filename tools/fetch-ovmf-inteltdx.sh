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
. "$(dirname "$0")/lib/fetch-debian-firmware.sh"
fetch_debian_firmware fetch-ovmf-inteltdx ovmf-inteltdx usr/share/ovmf/OVMF.inteltdx.ms.fd "${JANUS_TDVF_SUITE:-sid}" \
    "build without it (-Djanus.tdvf.skip=true), or install Debian's ovmf-inteltdx" "$@"
