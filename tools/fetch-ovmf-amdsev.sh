#!/usr/bin/env bash
# Fetches Debian's ovmf-amdsev package (OVMF.amdsev.fd: the OvmfPkg/AmdSev build of OVMF, whose SEV metadata has the
# SNP_KERNEL_HASHES page that a measured direct boot of an SEV-SNP guest needs) and extracts it, never installing it,
# into .cache/ovmf-amdsev/<version>/ at the repository root; .cache/ovmf-amdsev/current points at the version in use.
#
#   tools/fetch-ovmf-amdsev.sh [--unless-installed] [DIR]
#
# DIR: copy OVMF.amdsev.fd there (the runtime build passes the distribution's firmware/ directory, where
# examples/snp-direct-boot.json finds it by name).
# --unless-installed: fetch nothing when the package is installed (/usr/share/ovmf/OVMF.amdsev.fd), which Janus finds
# by itself, and leave no copy in DIR.
#
# The suite is sid (JANUS_OVMF_AMDSEV_SUITE to change it): Debian has the package only there. It is Architecture:
# all, so it is listed in binary-all whatever this machine's architecture. The SEV-SNP platform's tests record the
# version and SHA-256 of the image their digests were computed for (bundles/org.janus.platform.snp/src/test/resources/
# measurements.json, "amdSevDirectBoot"); when sid moves on, they say so. Idempotent: a version already extracted is
# not fetched again; without network, the newest version already extracted is used. The package's SHA256 is checked
# against the suite's Packages index. Prints the extracted directory on stdout.
set -euo pipefail
. "$(dirname "$0")/lib/fetch-debian-firmware.sh"
fetch_debian_firmware fetch-ovmf-amdsev ovmf-amdsev usr/share/ovmf/OVMF.amdsev.fd "${JANUS_OVMF_AMDSEV_SUITE:-sid}" \
    "build without it (-Djanus.ovmf.amdsev.skip=true), or install Debian's ovmf-amdsev" "$@"
