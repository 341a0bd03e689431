# shellcheck shell=bash
# keytab_lib.sh - helpers shared by the keytab_*.sh tests (sourced, not run)
#
#   kt_init NAME          harness_init NAME, $KT = the mailsso-keytab binary
#   kt_entries FILE       "kvno principal (enctype)" of every entry, sorted (klist -kte)
#   kt_keys FILE          same plus the key (klist -kKe), sorted; for comparing keytabs
#   kt_json_entries FILE  the same triples from 'mailsso-keytab list --json'
#   kt_sum FILE           sha256 of the file (or "missing")
set -u
. "$top_srcdir/tests/harness/lib.sh"

kt_init() {
    harness_init "$1"
    require_cmd krb5kdc kdb5_util kadmin.local kinit klist ktutil python3 setsid
    KT=$BUILD/keytab-tools/mailsso-keytab
    [ -x "$KT" ] || harness_fatal "$KT not built (run make first)"
    export KT
}

kt_entries() { klist -kte "$1" | sed "s/(DEPRECATED:/(/" | awk '$1 ~ /^[0-9]+$/ { print $1, $4, $5 }' | sort; }
kt_keys() { klist -kKe "$1" | sed "s/(DEPRECATED:/(/" | awk '$1 ~ /^[0-9]+$/ { print $1, $2, $3, $4 }' | sort; }
kt_json_entries() {
    "$KT" list --json "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for e in d["entries"]:
    print(e["kvno"], e["principal"], "(%s)" % e["enctype_name"])' | sort
}
kt_sum() { if [ -e "$1" ]; then sha256sum <"$1" | cut -c1-32; else echo missing; fi; }
# kt_json FILE EXPR: evaluate a python expression over list --json (d = the object)
kt_json() { "$KT" list --json "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"; }
# kt_preload LIB... CMD...: run CMD with LIBs preloaded (after ASan's runtime
# when the binary was built with --enable-sanitizers: ASan must come first).
# Usage: kt_preload "lib1.so lib2.so" CMD ARGS...
kt_preload() {
    local libs=$1 asan
    shift
    asan=$(ldd "$KT" 2>/dev/null | awk '/libasan/ {print $3; exit}')
    LD_PRELOAD="${asan:+$asan:}$libs" "$@"
}
# kt_faketime OFFSET: sets the array FT to a command prefix that runs a
# program with its clock OFFSET seconds off ("+100", "-600") through
# libfaketime, keeping an LD_PRELOAD already set (with_hosts' nss_wrapper) and
# ASan's runtime first; only that program gets it, never helpers such as id
# or mount. Usage: kt_faketime +100; with_hosts "${FT[@]}" "$KT" doctor ...
kt_faketime() {
    local lib asan
    for lib in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 \
               /usr/local/lib/faketime/libfaketime.so.1; do
        [ -e "$lib" ] && break
    done
    [ -e "$lib" ] || harness_fatal "libfaketime.so.1 not found (Debian package faketime)"
    asan=$(ldd "$KT" 2>/dev/null | awk '/libasan/ {print $3; exit}')
    # shellcheck disable=SC2016 # expanded by the inner sh
    FT=(sh -c 'l=$1 f=$2; shift 2; LD_PRELOAD="$l${LD_PRELOAD:+:$LD_PRELOAD}" FAKETIME="$f" DONT_FAKE_MONOTONIC=1 exec "$@"'
        sh "${asan:+$asan:}$lib" "$1")
}
