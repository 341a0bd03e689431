#!/bin/sh
# demo.sh - install what is needed, build, and walk through mailsso on a throwaway realm:
#   1. a KDC for EXAMPLE.TEST on loopback, per-service keytabs merged and verified with
#      mailsso-keytab (the ktpass flow);
#   2. a passwordless SMTP login through a private Postfix that loads the mailsso plugin,
#      then a failed login and the one log line that explains it;
#   3. a client certificate turned into a Kerberos ticket for an HTTP mail backend
#      (S4U2Self + S4U2Proxy) by mailsso-kcd behind nginx.
# Nothing outside temporary directories is touched; every daemon is stopped at the end.
# Safe to run again. KEEP=1 keeps the temporary directories.
set -eu
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
BUILD_DIR=${BUILD_DIR:-$top/build}

./scripts/install-deps.sh
BUILD_DIR=$BUILD_DIR ./scripts/build.sh >"$top/build-demo.log" 2>&1 ||
    { tail -n 40 "$top/build-demo.log"; echo "demo: build failed (full log: build-demo.log)"; exit 1; }
echo "demo: built in $BUILD_DIR"

export top_srcdir="$top" top_builddir="$BUILD_DIR"
status=0
for part in mail kcd; do
    bash "$top/scripts/demo-$part.sh" || status=1
done
if [ "$status" = 0 ]; then
    echo
    echo "demo: SUCCESS - every step above worked against real daemons on loopback."
else
    echo
    echo "demo: FAILED - see the step marked FAILED above."
fi
exit "$status"
