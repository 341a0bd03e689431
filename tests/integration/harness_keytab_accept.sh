#!/bin/bash
# harness_keytab_accept.sh - a service ticket from the harness KDC is accepted
# with a keytab that lib/keytab read and wrote (keytab_accept: read, write to
# a new file, gss_acquire_cred_from that file, init + accept), and the
# initiator is alice@EXAMPLE.TEST. Negative cases: corrupted keys, a keytab
# left behind by a key rotation (old kvno), the wrong service, and a client
# other than the expected one all fail.
set -u
. "$top_srcdir/tests/harness/lib.sh"
harness_init harness_keytab_accept
require_cmd krb5kdc kdb5_util kadmin.local kinit klist kdestroy
prog=${KEYTAB_ACCEPT:-$BUILD/tests/integration/keytab_accept}
[ -x "$prog" ] || harness_fatal "$prog not built (run make check, or make -C tests/integration keytab_accept)"

SVC=HTTP/mail.example.test@EXAMPLE.TEST
kdc_start
kdc_addprinc HTTP/mail.example.test
kdc_ktadd "$T/http.keytab" HTTP/mail.example.test
kdc_kinit alice "$ALICE_PW" || harness_fatal "kinit alice failed"

# keys KEYTAB: kvno, principal, enctype and key of every entry, hashed (to
# compare two keytabs without printing keys)
keys() { klist -k -e -K "$1" | sed -n '/^ *[0-9]/p' | sha256sum | cut -c1-16; }

# --- 1. the written keytab works
check "keytab_accept: lib/keytab copy accepts alice's ticket for $SVC" \
    "$prog" "$T/http.keytab" "$T/copy.keytab" "$SVC"
check_grep "... and names the initiator alice@EXAMPLE.TEST" '^initiator: alice@EXAMPLE\.TEST$' "$CHECK_OUT"
check_grep "the KDC issued alice a ticket for the service" "alice@$REALM for $SVC" "$KDC_LOG"
check_eq "the written keytab is a new file of mode 600" 600 "$(stat -c %a "$T/copy.keytab" 2>/dev/null)"
check_eq "the written keytab holds the same entries and keys as the original (hash)" "$(keys "$T/http.keytab")" "$(keys "$T/copy.keytab")"
check "the acceptor's replay cache is in the test's own \$KRB5RCACHEDIR" \
    sh -c 'ls "$KRB5RCACHEDIR" | grep -q rcache'
check "a second run over the written keytab (write replaces it) works too" \
    "$prog" "$T/copy.keytab" "$T/copy.keytab" "$SVC"

# --- 2. the acceptor really uses the written keytab: corrupt its keys
check_fails "with corrupted keys (--flip-keys) the acceptor refuses the ticket" \
    "$prog" --flip-keys "$T/http.keytab" "$T/flipped.keytab" "$SVC"
check_grep "... in gss_accept_sec_context" "gss_accept_sec_context .*failed" "$CHECK_OUT"
check_no_grep "... and names no initiator" '^initiator:' "$CHECK_OUT"

# --- 3. key rotation: a keytab with the old key no longer accepts
cp "$T/http.keytab" "$T/old.keytab"
kdc_ktadd "$T/new.keytab" HTTP/mail.example.test          # new random key, kvno 3
kdestroy -q; kdc_kinit alice "$ALICE_PW" || harness_fatal "kinit alice failed"   # no cached old ticket
check_fails "a keytab with the service's old key (kvno 2) refuses the new ticket" \
    "$prog" "$T/old.keytab" "$T/old-copy.keytab" "$SVC"
check_grep "... in gss_accept_sec_context" "gss_accept_sec_context .*failed" "$CHECK_OUT"
check "a keytab with the new key (kvno 3) accepts it" \
    "$prog" "$T/new.keytab" "$T/new-copy.keytab" "$SVC"

# --- 4. wrong service, wrong client
check_fails "no acceptor credential for a service the keytab lacks" \
    "$prog" "$T/new.keytab" "$T/other.keytab" HTTP/other.example.test@EXAMPLE.TEST
kdc_kinit bob "$BOB_PW" "$T/bob.cc" || harness_fatal "kinit bob failed"
check_fails "bob's ticket is accepted but is not alice: keytab_accept fails" \
    env "KRB5CCNAME=FILE:$T/bob.cc" "$prog" "$T/new.keytab" "$T/bob-copy.keytab" "$SVC"
check_grep "... saying expected alice, got bob" "expected initiator alice@EXAMPLE.TEST, got bob@EXAMPLE.TEST" "$CHECK_OUT"
check "with bob as the expected client the same run passes" \
    env "KRB5CCNAME=FILE:$T/bob.cc" "$prog" "$T/new.keytab" "$T/bob-copy2.keytab" "$SVC" bob@EXAMPLE.TEST
check_fails "a missing input keytab is a clean failure" "$prog" "$T/nonexistent.keytab" "$T/x.keytab" "$SVC"
harness_finish
