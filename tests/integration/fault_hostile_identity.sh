#!/bin/bash
# fault_hostile_identity.sh - hostile identities through the real KDC, the
# stock client and our plugin: principals whose components hide '@' or '/'
# (al\@ice, al\/ice), a principal differing from alice only by case, and
# authzids with '@', '/', realm-case, whitespace and newline tricks. None
# logs in as alice or bob; each refusal has one diagnosis line naming what
# was asked for. (Authzid for another user: plugin_gssapi_failures.sh and
# plugin_gssapi_identity.sh; NUL bytes cannot cross the stock client, they are
# covered by tests/unit/test_identity.c and the fuzzers.)
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
plugin_setup fault_hostile_identity

# ---- principals with escaped '@' and '/' in the name, and a case twin
kdc_addprinc 'al\@ice' -pw "Odd-Secret-1"
kdc_addprinc 'al\/ice' -pw "Odd-Secret-2"
kdc_addprinc 'Alice' -pw "Case-Secret-3"
kdc_kinit 'al\@ice' "Odd-Secret-1" "FILE:$T/at.cc" || harness_fatal "kinit al\\@ice"
kdc_kinit 'al\/ice' "Odd-Secret-2" "FILE:$T/slash.cc" || harness_fatal "kinit al\\/ice"
kdc_kinit 'Alice' "Case-Secret-3" "FILE:$T/case.cc" || harness_fatal "kinit Alice"
KRB5CCNAME=FILE:$T/at.cc check_refused "principal al\\@ice@EXAMPLE.TEST (escaped @) is refused, not mailbox al@ice" \
    'stage=identity .*principal=al(\\|\\x5c)@ice@EXAMPLE.TEST' imap
check_no_grep "... no login line for it" 'login ok' "$T/last.log"
# (al\/ice@EXAMPLE.TEST: kinit works but the MIT KDC refuses its service
# tickets, "KDC can't fulfill requested option"; the plugin's refusal of the
# name is proved in tests/unit/test_identity.c)
KRB5CCNAME=FILE:$T/slash.cc login imap
check_no_grep "principal al\\/ice@EXAMPLE.TEST never logs in" '^RESULT ok' "$OUT"
KRB5CCNAME=FILE:$T/at.cc check_refused "al\\@ice asking for authzid alice: refused" \
    'stage=identity|asked to act as "alice"' imap --authzid alice
KRB5CCNAME=FILE:$T/case.cc check_login "principal Alice (another principal) logs in ..." imap
check_grep "... as mailbox Alice, never alice (lowercase is off)" '^RESULT ok .* user=Alice authid=Alice ' "$OUT"
KRB5CCNAME=FILE:$T/case.cc check_refused "Alice asking for authzid alice: refused (caseless form off)" \
    'principal=Alice@EXAMPLE.TEST .*asked to act as "alice"' imap --authzid alice

# ---- authzid tricks by alice (default forms: principal only)
hostile_authzid() { # hostile_authzid AUTHZID WHAT
    check_refused "authzid $2: refused" 'stage=authzid .*asked to act as' imap --authzid "$1"
    check_no_grep "... nobody logged in" '^RESULT ok' "$OUT"
}
hostile_authzid 'bob@EXAMPLE.TEST' "bob@EXAMPLE.TEST (another user, full name)"
hostile_authzid 'alice@EXAMPLE.TEST@EVIL.TEST' "alice@EXAMPLE.TEST@EVIL.TEST (second @)"
hostile_authzid 'alice@EVIL.TEST' "alice@EVIL.TEST (another realm)"
hostile_authzid 'alice/admin' "alice/admin (a slash)"
hostile_authzid 'alice/admin@EXAMPLE.TEST' "alice/admin@EXAMPLE.TEST (another principal)"
hostile_authzid 'alice\@EXAMPLE.TEST' "alice\\@EXAMPLE.TEST (escaped @)"
hostile_authzid 'alice@example.TEST' "alice@example.TEST (realm case)"
hostile_authzid 'alice@Example.Test' "alice@Example.Test (realm case)"
hostile_authzid 'ALICE@EXAMPLE.TEST' "ALICE@EXAMPLE.TEST (user case)"
# libsasl's canon_user strips surrounding white space: these are alice herself
check_login "authzid 'alice ' (trailing space): libsasl strips it, alice herself" imap --authzid 'alice '
check_grep "... user alice, not a proxy login" '^RESULT ok .* user=alice authid=alice ' "$OUT"
check_login "authzid ' alice' (leading space): alice herself" imap --authzid ' alice'
check_grep "... user alice" '^RESULT ok .* user=alice authid=alice ' "$OUT"
hostile_authzid 'al ice' "'al ice' (inner space)"
hostile_authzid $'alice\nbob' "alice<newline>bob"
hostile_authzid $'alice\r\nbob' "alice<CR><LF>bob"
hostile_authzid 'alice%00bob' "alice%00bob (URL-encoded NUL)"
hostile_authzid 'alice@' "alice@ (empty realm)"
hostile_authzid '@EXAMPLE.TEST' "@EXAMPLE.TEST (empty user)"
hostile_authzid "$(head -c 1000 /dev/zero | tr '\0' a)" "1000 x 'a' (oversized)"
# 4000 bytes: the stock client itself gives up before sending it
login imap --authzid "$(head -c 4000 /dev/zero | tr '\0' a)"
check_no_grep "authzid of 4000 bytes: nobody logged in" '^RESULT ok' "$OUT"
check_no_grep "no log line was broken by a newline in an authzid" '^bob' "$SLOG"

# ---- the same with the caseless and maildomain forms on: only alice's own forms pass
plugin_conf 'authzid_forms = [ "principal", "maildomain", "caseless" ];
mail_domains = [ "example.test = EXAMPLE.TEST" ];'
hostile_authzid 'bob@example.test' "bob@example.test with maildomain on"
hostile_authzid 'alice@example.test@evil.test' "alice@example.test@evil.test with maildomain on"
hostile_authzid 'alice@evil.test' "alice@evil.test (unmapped domain) with maildomain on"
hostile_authzid 'BOB' "BOB with caseless on"
check_login "alice@Example.Test with maildomain + caseless on is alice herself" imap --authzid 'alice@Example.Test'
check_grep "... as alice" '^RESULT ok .* user=alice authid=alice ' "$OUT"
harness_finish
