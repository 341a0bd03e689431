#!/bin/bash
# tests/soak/run.sh - the 10-minute soak (make soak, not part of make check):
# runs tests/integration/fault_fd_mem.sh for SOAK_SECONDS (default 600): one
# plugin server process serving logins and one mailsso-kcd serving helper
# requests the whole time; their fd counts must not change and their RSS
# must grow by at most RSS_SLACK_KB (default 3072 KB). Per-second fd/RSS
# samples are printed ("# ... fd/rss per second: ...").
#
# Usage: tests/soak/run.sh [--builddir DIR] [--seconds N]
set -u
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../.." && pwd)
top_builddir=$PWD
SOAK_SECONDS=${SOAK_SECONDS:-600}
while [ $# -gt 0 ]; do
    case $1 in
    --builddir) top_builddir=$(cd "$2" && pwd); shift 2 ;;
    --seconds) SOAK_SECONDS=$2; shift 2 ;;
    *) echo "usage: $0 [--builddir DIR] [--seconds N]" >&2; exit 2 ;;
    esac
done
for f in tests/integration/plugin_sasl_driver kcd/mailsso-kcd plugin/.libs/libmailsso_gssapi.so; do
    [ -e "$top_builddir/$f" ] || {
        echo "soak: $top_builddir/$f missing: run make and make -C tests/integration plugin_sasl_driver" >&2
        exit 2
    }
done
export top_srcdir top_builddir SOAK_SECONDS
echo "soak: ${SOAK_SECONDS}s of logins and helper requests (builddir $top_builddir)"
exec bash "$top_srcdir/tests/integration/fault_fd_mem.sh"
