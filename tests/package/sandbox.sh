#!/bin/bash
# tests/package/sandbox.sh - run a command (default: tests/package/run.sh) in a
# throwaway copy of this machine: a private mount namespace whose / is an
# overlay (upper layer in tmpfs) over the real /, with /proc, /sys, /dev, /tmp
# and /work shared. Every dpkg/apt change vanishes when the command ends, so
# the package test can run while others use the stock GSSAPI plugin.
# A development aid (root, Linux with overlayfs); check.sh does not use it.
#   tests/package/sandbox.sh                      # the package test, isolated
#   MAILSSO_PKG_DEBS=DIR tests/package/sandbox.sh # ... with prebuilt packages
set -eu
[ "$(id -u)" = 0 ] || { echo "sandbox.sh: needs root" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- bash "$here/run.sh"
base=$(mktemp -d /tmp/mailsso-sandbox.XXXXXX)
trap 'rmdir "$base" 2>/dev/null || true' EXIT
# shellcheck disable=SC2016 # expanded by the inner shell
unshare -m --propagation private bash -c '
set -e
b=$1; shift
mount -t tmpfs tmpfs "$b"
mkdir -p "$b/u" "$b/w" "$b/m"
mount -t overlay overlay -o "lowerdir=/,upperdir=$b/u,workdir=$b/w" "$b/m"
for d in proc sys dev dev/pts tmp work; do
    [ -d "/$d" ] && mount --rbind "/$d" "$b/m/$d"
done
cd /
exec chroot "$b/m" "$@"
' sandbox "$base" "$@"
