#!/usr/bin/env bash
# plugin_gssapi_identity.sh - who gets in as whom: the Thunderbird cases
# (authzid alice, alice@EXAMPLE.TEST, alice@example.test, ALICE) with the
# outcome the config promises, an authzid for another user (refused unless
# the server's proxy policy allows it), a principal with odd characters,
# a two-component principal, realm rules and lowercase mapping.
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
plugin_setup plugin_identity

# Defaults: authzid_forms = ["principal"]: alice and alice@EXAMPLE.TEST are alice.
check_login "Thunderbird user name 'alice' -> alice" smtp --max-ssf 0 --authzid alice
check_grep "logged in as alice" '^RESULT ok .* user=alice authid=alice ' "$OUT"
check_login "Thunderbird user name 'alice@EXAMPLE.TEST' -> alice (stock plugin refuses this)" \
    smtp --max-ssf 0 --authzid alice@EXAMPLE.TEST
check_grep "logged in as alice, not as a proxy" '^RESULT ok .* user=alice authid=alice ' "$OUT"
check_refused "alice@example.test refused by default (maildomain form not enabled)" \
    'asked to act as "alice@example.test"' smtp --max-ssf 0 --authzid alice@example.test
check_refused "ALICE refused by default (caseless form not enabled)" \
    'asked to act as "ALICE"' smtp --max-ssf 0 --authzid ALICE

plugin_conf 'authzid_forms = [ "principal", "maildomain", "caseless" ];
mail_domains = [ "example.test = EXAMPLE.TEST" ];'
check_login "alice@example.test accepted when maildomain is enabled" smtp --max-ssf 0 --authzid alice@example.test
check_grep "... as alice" '^RESULT ok .* user=alice authid=alice ' "$OUT"
check_login "ALICE accepted when caseless is enabled" smtp --max-ssf 0 --authzid ALICE
check_grep "... as alice" '^RESULT ok .* user=alice authid=alice ' "$OUT"
check_refused "a mail domain of another realm is not alice" \
    'asked to act as "alice@other.test"' smtp --max-ssf 0 --authzid alice@other.test

# An authzid naming another user: refused, unless the proxy policy allows it.
check_refused "authzid bob refused, naming alice and bob" \
    'alice@EXAMPLE.TEST \(mailbox alice\) asked to act as "bob".*SASL proxy policy refused' \
    imap --authzid bob
check_login "a real proxy login allowed by the server's proxy policy still works" \
    imap --authzid bob --allow-proxy alice=bob
check_grep "... user bob, authenticated as alice" '^RESULT ok .* user=bob authid=alice ' "$OUT"

# Odd characters and case.
kdc_addprinc "Jo.O-Neil_2" -pw "Jo-Secret-1"
kdc_kinit "Jo.O-Neil_2" "Jo-Secret-1" "FILE:$T/jo.cc" || harness_fatal "kinit Jo.O-Neil_2"
plugin_conf 'lowercase = true;'
KRB5CCNAME=FILE:$T/jo.cc check_login "principal with dots, dash, underscore and capitals logs in" imap
check_grep "mapped to the lower-cased mailbox" '^RESULT ok .* user=jo.o-neil_2 ' "$OUT"

kdc_addprinc "alice/admin" -pw "Admin-Secret-1"
kdc_kinit "alice/admin" "Admin-Secret-1" "FILE:$T/admin.cc" || harness_fatal "kinit alice/admin"
plugin_conf ''
KRB5CCNAME=FILE:$T/admin.cc check_refused "alice/admin is not alice (two components refused)" \
    "stage=identity .*principal=alice/admin@EXAMPLE.TEST" imap
plugin_conf 'map = [ "alice/admin@EXAMPLE.TEST = postmaster" ];'
KRB5CCNAME=FILE:$T/admin.cc check_login "an explicit map rule lets alice/admin in as postmaster" imap
check_grep "... as postmaster" '^RESULT ok .* user=postmaster ' "$OUT"

# A foreign realm is never let in, whatever the authzid.
plugin_conf 'realms = [ "FOREIGN.TEST" ];'
check_refused "a principal of a realm that is not allowed never gets in" \
    "stage=identity .*realm EXAMPLE.TEST" imap --authzid alice
plugin_conf 'realms = [ "FOREIGN.TEST", "EXAMPLE.TEST" ];
map = [ "*@FOREIGN.TEST = %u@foreign.test" ];'
check_login "allowing the realm explicitly lets alice in" imap
harness_finish
