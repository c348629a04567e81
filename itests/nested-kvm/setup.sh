#!/usr/bin/env bash
# Janus nested real-KVM environment, host side.
#
# The project's machines show no svm/vmx (some have a /dev/kvm of their own, without SW_PROTECTED
# VMs). QEMU's TCG can emulate an AMD CPU with SVM + nested paging, and a recent Debian kernel booted
# on it gets a working /dev/kvm with the real KVM code.
# This script prepares everything run-in-guest.sh needs, and caches it per kernel ABI:
#
#   $JANUS_NESTED_CACHE/<abi>/vmlinuz            kernel of linux-binary-<abi>-amd64 (trixie-backports)
#   $JANUS_NESTED_CACHE/<abi>/modules/*.ko       kvm, kvm-amd, 9p, overlay ... + their dependencies,
#                                                uncompressed; modules/load-order lists them in order
#   $JANUS_NESTED_CACHE/<abi>/swprot/*.ko        kvm.ko + kvm-amd.ko of the same kernel, rebuilt with
#                                                CONFIG_KVM_SW_PROTECTED_VM (VM type 1, private memory)
#   $JANUS_NESTED_CACHE/<abi>/uapi/usr/include   uapi headers (linux-libc-dev of the same release)
#   $JANUS_NESTED_CACHE/<abi>/kernel.env         versions and vermagic of what was cached
#
# Nothing of trixie is installed on the host: its apt source is pinned to priority 1 and the kernel
# packages are only downloaded and unpacked (dpkg -x). The module rebuild happens in a debootstrapped
# trixie chroot (the kernel's own compiler and kbuild).
#
# usage: setup.sh          (as root, on Debian 12; idempotent, cached work is skipped)
#
# environment:
#   JANUS_NESTED_CACHE          cache root                        (default /var/cache/janus-nested)
#   JANUS_NESTED_ABI            kernel ABI to use, e.g. 7.3.4+deb13  (default: newest in trixie-backports;
#                               when set and already cached, no network is used at all)
#   JANUS_NESTED_SWPROT         1: rebuild kvm modules with SW_PROTECTED_VM, 0: skip   (default 1)
#   JANUS_NESTED_CHROOT         trixie build chroot               (default <cache>/build-chroot)
#   JANUS_NESTED_KEEP_CHROOT    1: keep the chroot (1.2 GB) for the next ABI, 0: delete it after the
#                               build (default 1)
#   JANUS_NESTED_MIRROR         Debian archive URI                (default: the one the host's apt uses)
#   JANUS_NESTED_NET_TIMEOUT    limit for one download step, s    (default 900)
#   JANUS_NESTED_BUILD_TIMEOUT  limit for one build step, s       (default 1800)
set -euo pipefail

CACHE=${JANUS_NESTED_CACHE:-/var/cache/janus-nested}
SWPROT=${JANUS_NESTED_SWPROT:-1}
CHROOT=${JANUS_NESTED_CHROOT:-$CACHE/build-chroot}
NET_TIMEOUT=${JANUS_NESTED_NET_TIMEOUT:-900}
BUILD_TIMEOUT=${JANUS_NESTED_BUILD_TIMEOUT:-1800}
FLAVOR=amd64                 # the generic flavor: it has ccp (needed by kvm-amd) and the 9p modules
SUITE=trixie-backports
APT_SOURCE=/etc/apt/sources.list.d/janus-nested-trixie-backports.sources
APT_PIN=/etc/apt/preferences.d/janus-nested-trixie-backports
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Modules the guest loads; their dependencies are found from the modules' own .modinfo.
GUEST_MODULES=(kvm-amd 9pnet_virtio 9p overlay)

export DEBIAN_FRONTEND=noninteractive LC_ALL=C

T_START=$EPOCHREALTIME
TIMINGS=()
CLEANUP=()
LOGDIR=$CACHE/logs
STEPLOG=$LOGDIR/setup-last.log

say() { printf '[nested-kvm setup] %s\n' "$*"; }
die() {
  printf '[nested-kvm setup] ERROR: %s\n' "$*" >&2
  exit 1
}
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

on_exit() {
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[i]}" || true; done
}
trap on_exit EXIT

# try_bounded LIMIT WHAT CMD... : run CMD with a hard time limit, its output going to the step
# log. On a timeout or a failure, print the log's last lines and a message naming WHAT; return 1.
try_bounded() {
  local limit=$1 what=$2 rc=0
  shift 2
  printf '\n### %s: %s\n' "$what" "$*" >>"$STEPLOG"
  timeout --kill-after=30 "$limit" "$@" >>"$STEPLOG" 2>&1 </dev/null || rc=$?
  ((rc == 0)) && return 0
  tail -n 30 "$STEPLOG" | sed 's/^/    | /' >&2
  if ((rc == 124 || rc == 137)); then
    printf '[nested-kvm setup] %s: no result within %ss, gave up (network or build hang?). Log: %s\n' \
      "$what" "$limit" "$STEPLOG" >&2
  else
    printf '[nested-kvm setup] %s: failed with exit code %s. Log: %s\n' "$what" "$rc" "$STEPLOG" >&2
  fi
  return 1
}
# bounded LIMIT WHAT CMD... : the same, but a failure stops the script
bounded() { try_bounded "$@" || die "giving up: $2"; }

# step NAME FUNCTION : run one step and record its wall time
step() {
  local name=$1 t0=$EPOCHREALTIME dt
  shift
  say "-- $name"
  "$@"
  dt=$(secs_since "$t0")
  say "-- $name: ${dt}s"
  TIMINGS+=("$(printf '%-22s %7ss' "$name" "$dt")")
}

# write_file PATH CONTENT : (re)write PATH only when its content differs; returns 0 if changed
write_file() {
  if [[ -f $1 ]] && [[ "$(cat "$1")" == "$2" ]]; then return 1; fi
  printf '%s\n' "$2" >"$1"
}

pkg_installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]; }

ko_field() { tr '\0' '\n' <"$1" | sed -n "s/^$2=//p" | head -n 1; }

# ---------------------------------------------------------------------------------------------
step_host_packages() {
  local want=(qemu-system-x86 busybox-static cpio) missing=() p
  [[ $SWPROT == 1 ]] && want+=(debootstrap)
  for p in "${want[@]}"; do pkg_installed "$p" || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then
    say "   already installed: ${want[*]}"
    return
  fi
  say "   installing: ${missing[*]}"
  bounded "$NET_TIMEOUT" "apt-get update" apt-get update -q
  bounded "$NET_TIMEOUT" "apt-get install ${missing[*]}" \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

detect_mirror() {
  if [[ -n ${JANUS_NESTED_MIRROR:-} ]]; then
    MIRROR=$JANUS_NESTED_MIRROR
    return
  fi
  local codename
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  # shellcheck disable=SC2016  # apt's own $(FIELD) syntax
  MIRROR=$(apt-get indextargets --format '$(REPO_URI)' "Codename: $codename" 'Target-Of: deb' 2>/dev/null |
    grep -v -e security -e '^$' | head -n 1 || true)
  MIRROR=${MIRROR%/}
  [[ -n $MIRROR ]] || die "cannot tell which Debian archive the host's apt uses; set JANUS_NESTED_MIRROR"
}

step_apt_source() {
  detect_mirror
  local changed=0
  write_file "$APT_SOURCE" "# Added by Janus itests/nested-kvm/setup.sh: kernels for the nested-KVM test guest.
Types: deb
URIs: $MIRROR
Suites: $SUITE
Components: main
Signed-By: $KEYRING" && changed=1
  # Priority 1: apt never picks anything from this suite for the host by itself.
  write_file "$APT_PIN" "# Added by Janus itests/nested-kvm/setup.sh: never upgrade the host from $SUITE.
Package: *
Pin: release n=$SUITE
Pin-Priority: 1" && changed=1
  say "   $SUITE from $MIRROR, pinned to priority 1$( ((changed)) && echo ' (written)')"
}

step_apt_update() {
  # Refresh only our source (fast), keep the host's other lists as they are. Backports keeps only
  # the current kernel in the pool, so stale lists would point at files that are gone.
  if try_bounded "$NET_TIMEOUT" "apt-get update ($SUITE)" apt-get update -q --error-on=any \
    -o Dir::Etc::SourceList="$APT_SOURCE" -o Dir::Etc::SourceParts=- -o APT::Get::List-Cleanup=0; then
    return
  fi
  # Without the archive, a kernel prepared earlier still does.
  local last
  last=$(cat "$CACHE/latest-abi" 2>/dev/null || true)
  if [[ -n $last && -f $CACHE/$last/.kernel.done ]] && { [[ $SWPROT == 0 ]] || [[ -f $CACHE/$last/.swprot.done ]]; }; then
    say "   WARNING: $SUITE unreachable; using the kernel cached earlier, $last"
    JANUS_NESTED_ABI=$last
  else
    die "$SUITE unreachable and nothing cached to fall back on"
  fi
}

step_resolve_abi() {
  if [[ -n ${JANUS_NESTED_ABI:-} ]]; then
    ABI=$JANUS_NESTED_ABI
    say "   ABI $ABI (from JANUS_NESTED_ABI)"
  else
    ABI=$(apt-cache depends "linux-image-$FLAVOR/$SUITE" 2>/dev/null |
      sed -n "s/^ *Depends: linux-image-\(.*\)-$FLAVOR\$/\1/p" | head -n 1)
    [[ $ABI =~ ^[0-9]+\.[0-9]+[-.+~a-z0-9]*$ ]] ||
      die "could not resolve the kernel ABI of linux-image-$FLAVOR in $SUITE (got '$ABI')"
    say "   newest $FLAVOR kernel in $SUITE: ABI $ABI"
  fi
  SRCPKG=linux-source-$(cut -d. -f1,2 <<<"$ABI") # the Debian source package of that kernel series
}

# Copy module NAME (and, first, everything it depends on) from the unpacked tree into DEST.
declare -A MOD_PATH=() MOD_DONE=()
add_module() {
  local name=${1//-/_} dest=$2 src base dep
  [[ -n ${MOD_DONE[$name]:-} ]] && return 0
  src=${MOD_PATH[$name]:-}
  [[ -n $src ]] || die "module $1 is not in linux-modules-$ABI-$FLAVOR"
  base=$(basename "$src")
  base=${base%%.ko*}
  case $src in
  *.ko.xz) xz -dc "$src" >"$dest/$base.ko" ;;
  *.ko.zst) command -v zstd >/dev/null || die "$src is zstd-compressed: apt-get install zstd"
    zstd -qdc "$src" >"$dest/$base.ko" ;;
  *.ko.gz) gzip -dc "$src" >"$dest/$base.ko" ;;
  *) cp "$src" "$dest/$base.ko" ;;
  esac
  MOD_DONE[$name]=1
  for dep in $(ko_field "$dest/$base.ko" depends | tr ',' ' '); do add_module "$dep" "$dest"; done
  echo "$base" >>"$dest/load-order"
}

step_kernel() {
  local dir=$CACHE/$ABI tmp deb kver f
  if [[ -f $dir/.kernel.done ]]; then
    say "   cached: $dir/vmlinuz + $(wc -l <"$dir/modules/load-order") modules"
    return
  fi
  mkdir -p "$dir"
  tmp=$(mktemp -d "$CACHE/.kernel.XXXXXX")
  CLEANUP+=("rm -rf '$tmp'")
  (cd "$tmp" && bounded "$NET_TIMEOUT" "download kernel $ABI" apt-get download -q \
    -o APT::Sandbox::User=root "linux-binary-$ABI-$FLAVOR" "linux-modules-$ABI-$FLAVOR")
  for deb in "$tmp"/*.deb; do
    say "   unpacking $(basename "$deb") ($(du -m "$deb" | cut -f1) MB)"
    dpkg -x "$deb" "$tmp/root"
  done
  kver=$(dpkg-deb -f "$tmp"/linux-binary-*.deb Version)
  local tree=$tmp/root/usr/lib/modules/$ABI-$FLAVOR
  [[ -d $tree ]] || tree=$tmp/root/lib/modules/$ABI-$FLAVOR
  [[ -f $tree/vmlinuz ]] || die "no vmlinuz in linux-binary-$ABI-$FLAVOR (looked in $tree)"
  while IFS= read -r f; do
    local n=${f##*/}
    n=${n%%.ko*}
    MOD_PATH[${n//-/_}]=$f
  done < <(find "$tree" -name '*.ko*')
  mkdir -p "$tmp/stage/modules"
  : >"$tmp/stage/modules/load-order"
  for f in "${GUEST_MODULES[@]}"; do add_module "$f" "$tmp/stage/modules"; done
  cp "$tree/vmlinuz" "$tmp/stage/vmlinuz"
  cat >"$tmp/stage/kernel.env" <<EOF
ABI=$ABI
FLAVOR=$FLAVOR
KERNEL_VERSION=$kver
VERMAGIC='$(ko_field "$tmp/stage/modules/kvm.ko" vermagic)'
EOF
  rm -rf "$dir/modules" "$dir/vmlinuz"
  mv "$tmp/stage/modules" "$tmp/stage/vmlinuz" "$dir/"
  mv "$tmp/stage/kernel.env" "$dir/kernel.env"
  echo "$ABI" >"$CACHE/latest-abi"
  touch "$dir/.kernel.done"
  say "   kernel $kver: vmlinuz + modules ($(tr '\n' ' ' <"$dir/modules/load-order")), $(du -sm "$dir" | cut -f1) MB"
}

step_uapi() {
  local dir=$CACHE/$ABI tmp v
  if [[ -f $dir/.uapi.done ]]; then
    say "   cached: $dir/uapi"
    return
  fi
  tmp=$(mktemp -d "$CACHE/.uapi.XXXXXX")
  CLEANUP+=("rm -rf '$tmp'")
  (cd "$tmp" && bounded "$NET_TIMEOUT" "download linux-libc-dev ($SUITE)" apt-get download -q \
    -o APT::Sandbox::User=root "linux-libc-dev/$SUITE")
  dpkg -x "$tmp"/linux-libc-dev_*.deb "$tmp/root"
  v=$(dpkg-deb -f "$tmp"/linux-libc-dev_*.deb Version)
  rm -rf "$dir/uapi"
  mkdir -p "$dir/uapi/usr"
  mv "$tmp/root/usr/include" "$dir/uapi/usr/include"
  echo "UAPI_VERSION=$v" >>"$dir/kernel.env"
  touch "$dir/.uapi.done"
  say "   linux-libc-dev $v -> $dir/uapi/usr/include"
}

# --- SW_PROTECTED_VM rebuild of kvm.ko + kvm-amd.ko -------------------------------------------
swprot_needed() { [[ $SWPROT == 1 && ! -f $CACHE/$ABI/.swprot.done ]]; }

remove_chroot() {
  if mountpoint -q "$CHROOT/proc"; then umount "$CHROOT/proc" || die "cannot unmount $CHROOT/proc"; fi
  rm -rf --one-file-system "$CHROOT"
}

mount_chroot_proc() {
  if ! mountpoint -q "$CHROOT/proc"; then
    mount -t proc proc "$CHROOT/proc"
    CLEANUP+=("! mountpoint -q '$CHROOT/proc' || umount '$CHROOT/proc'")
  fi
}

step_chroot() {
  swprot_needed || { say "   not needed"; return; }
  if [[ -f $CHROOT/.janus-chroot-ok ]]; then
    say "   reusing $CHROOT"
  else
    remove_chroot
    mkdir -p "$CHROOT"
    bounded "$BUILD_TIMEOUT" "debootstrap trixie into $CHROOT" \
      debootstrap --variant=minbase trixie "$CHROOT" "$MIRROR"
    touch "$CHROOT/.janus-chroot-ok"
  fi
  cp -L /etc/resolv.conf "$CHROOT/etc/resolv.conf"
  # the host's apt proxy settings, if it has any, apply in the chroot too
  apt-config dump | grep -i '^Acquire::[a-z]*::proxy' >"$CHROOT/etc/apt/apt.conf.d/00janus-proxy" || true
  write_file "$CHROOT/etc/apt/sources.list.d/$SUITE.sources" "Types: deb
URIs: $MIRROR
Suites: $SUITE
Components: main
Signed-By: $KEYRING" || true
}

step_chroot_packages() {
  swprot_needed || { say "   not needed"; return; }
  mount_chroot_proc
  bounded "$NET_TIMEOUT" "apt-get update in the chroot" chroot "$CHROOT" apt-get update -q
  bounded "$NET_TIMEOUT" "install kernel headers + $SRCPKG in the chroot" chroot "$CHROOT" \
    apt-get install -y -q --no-install-recommends -t "$SUITE" \
    "linux-headers-$ABI-$FLAVOR" "$SRCPKG" make gcc xz-utils bc
  # The source must be exactly the release of the kernel we unpacked.
  local have want
  # shellcheck disable=SC2016  # dpkg-query's own ${Field} syntax
  have=$(chroot "$CHROOT" dpkg-query -W -f='${Version}' "$SRCPKG")
  want=$(sed -n 's/^KERNEL_VERSION=//p' "$CACHE/$ABI/kernel.env")
  [[ $have == "$want" ]] || die "$SRCPKG is $have but the kernel is $want ($SUITE changed meanwhile?); run again"
  say "   $SRCPKG $have + linux-headers-$ABI-$FLAVOR"
}

step_kvm_source() {
  swprot_needed || { say "   not needed"; return; }
  # Put arch/x86/kvm and virt/kvm where the headers tree expects its own sources to be: then the
  # upstream Makefiles build unchanged as an external module (M=) against the headers.
  local common src tarball
  # linux-headers-<abi>-amd64/Makefile includes the shared tree: "include <common>/Makefile"
  common=$(sed -n 's|^include \(/.*\)/Makefile$|\1|p' "$CHROOT/usr/src/linux-headers-$ABI-$FLAVOR/Makefile")
  common=$CHROOT${common:-/usr/src/linux-headers-$ABI-common}
  [[ -f $common/Makefile ]] || die "cannot find the common headers tree of $ABI in the chroot ($common)"
  tarball=$CHROOT/usr/src/$SRCPKG.tar.xz
  [[ -f $tarball ]] || die "$tarball missing"
  src=$(mktemp -d "$CHROOT/tmp/kvm-src.XXXXXX")
  CLEANUP+=("rm -rf '$src'")
  bounded "$BUILD_TIMEOUT" "extract kvm sources from $SRCPKG" \
    tar -C "$src" -xJf "$tarball" "$SRCPKG/arch/x86/kvm" "$SRCPKG/virt/kvm"
  rm -rf "$common/arch/x86/kvm" "$common/virt/kvm"
  mkdir -p "$common/arch/x86" "$common/virt"
  mv "$src/$SRCPKG/arch/x86/kvm" "$common/arch/x86/kvm"
  mv "$src/$SRCPKG/virt/kvm" "$common/virt/kvm"
  KVM_SRC_IN_CHROOT=${common#"$CHROOT"}/arch/x86/kvm
  say "   sources in $KVM_SRC_IN_CHROOT (and ../../../virt/kvm)"
}

step_kvm_build() {
  swprot_needed || { say "   not needed"; return; }
  mount_chroot_proc
  local out=$CACHE/$ABI/swprot m stock_vm new_vm
  # CONFIG_KVM_SW_PROTECTED_VM is a bool that only affects the kvm modules; Debian leaves it off.
  # Defining it for this build turns KVM_X86_SW_PROTECTED_VM (VM type 1) on. kvm-intel is skipped.
  bounded "$BUILD_TIMEOUT" "build kvm.ko + kvm-amd.ko (SW_PROTECTED_VM)" chroot "$CHROOT" \
    make -s -j"$(nproc)" -C "/usr/src/linux-headers-$ABI-$FLAVOR" M="$KVM_SRC_IN_CHROOT" \
    CONFIG_KVM_SW_PROTECTED_VM=y KCFLAGS=-DCONFIG_KVM_SW_PROTECTED_VM=1 CONFIG_KVM_INTEL= modules
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  for m in kvm kvm-amd; do
    strip --strip-debug -o "$out.tmp/$m.ko" "$CHROOT$KVM_SRC_IN_CHROOT/$m.ko"
  done
  stock_vm=$(ko_field "$CACHE/$ABI/modules/kvm.ko" vermagic)
  new_vm=$(ko_field "$out.tmp/kvm.ko" vermagic)
  [[ $new_vm == "$stock_vm" ]] || die "rebuilt kvm.ko has vermagic '$new_vm', kernel has '$stock_vm'"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  touch "$CACHE/$ABI/.swprot.done"
  if [[ ${JANUS_NESTED_KEEP_CHROOT:-1} == 0 ]]; then
    remove_chroot
    say "   removed the build chroot (JANUS_NESTED_KEEP_CHROOT=0)"
  fi
  say "   $out: $(cd "$out" && du -k ./*.ko | awk '{printf "%s %d KiB  ", $2, $1}')"
}

# ---------------------------------------------------------------------------------------------
[[ $(id -u) == 0 ]] || die "run as root (installs packages, writes apt sources, uses chroot)"
[[ $SWPROT == 0 || $SWPROT == 1 ]] || die "JANUS_NESTED_SWPROT must be 0 or 1"
mkdir -p "$CACHE" "$LOGDIR"
: >"$STEPLOG"
say "cache: $CACHE"

step host-packages step_host_packages
if [[ -n ${JANUS_NESTED_ABI:-} && -f $CACHE/$JANUS_NESTED_ABI/.kernel.done &&
  -f $CACHE/$JANUS_NESTED_ABI/.uapi.done &&
  ($SWPROT == 0 || -f $CACHE/$JANUS_NESTED_ABI/.swprot.done) ]]; then
  ABI=$JANUS_NESTED_ABI
  say "-- $ABI fully cached, no network needed"
else
  step apt-source step_apt_source
  step apt-update step_apt_update
  step resolve-abi step_resolve_abi
  step kernel step_kernel
  step uapi-headers step_uapi
  step build-chroot step_chroot
  step chroot-packages step_chroot_packages
  step kvm-source step_kvm_source
  step kvm-build step_kvm_build
fi
echo "$ABI" >"$CACHE/latest-abi"

say "summary (wall time per step):"
for t in "${TIMINGS[@]}"; do say "   $t"; done
say "   $(printf '%-22s %7ss' total "$(secs_since "$T_START")")"
say "ready: ABI $ABI in $CACHE/$ABI$([[ -f $CACHE/$ABI/.swprot.done ]] && echo ', with SW_PROTECTED_VM kvm modules')"
