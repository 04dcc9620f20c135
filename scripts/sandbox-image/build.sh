#!/usr/bin/env bash
# Builds the Lockstep sandbox image from Debian packages: debootstrap a minimal root file system
# with the toolchains the fleet needs, add the unprivileged sandbox user, then `docker import` it.
# Usage: build.sh <tag> <work-dir>. Called by scripts/bootstrap.sh when the tag is missing.
set -euo pipefail

tag="$1"
work="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite="bookworm"
mirror="${LOCKSTEP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
sandbox_uid=10001

packages="$(grep -v '^#' "$here/packages.txt" | grep -v '^$' | paste -sd, -)"
rootfs="$work/rootfs"
rm -rf "$rootfs"
mkdir -p "$rootfs"

echo "  debootstrap $suite (minbase + $packages) from $mirror"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  echo "debootstrap failed; last lines of $work/debootstrap.log:" >&2
  tail -n 20 "$work/debootstrap.log" >&2
  exit 1
}

# The unprivileged user every sandbox command runs as. HOME lives on the tmpfs at run time.
echo "sandbox:x:${sandbox_uid}:${sandbox_uid}:Lockstep sandbox:/tmp/home:/bin/bash" >>"$rootfs/etc/passwd"
echo "sandbox:x:${sandbox_uid}:" >>"$rootfs/etc/group"
echo "sandbox:!:19000:0:99999:7:::" >>"$rootfs/etc/shadow"
mkdir -p "$rootfs/workspace"
chown "${sandbox_uid}:${sandbox_uid}" "$rootfs/workspace"

# Nothing in the image needs these at run time; dropping them keeps the import small.
rm -rf "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/* \
  "$rootfs/usr/share/doc" "$rootfs/usr/share/man" "$rootfs/usr/share/info" "$rootfs/usr/share/locale"

echo "  docker import -> $tag"
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change "USER ${sandbox_uid}:${sandbox_uid}" \
  --change "WORKDIR /workspace" \
  --change "ENV HOME=/tmp/home PATH=/usr/local/bin:/usr/bin:/bin:/usr/lib/go/bin" \
  --change "LABEL lockstep.image=sandbox" \
  --change 'CMD ["sleep", "infinity"]' \
  - "$tag" >/dev/null
rm -rf "$rootfs"
