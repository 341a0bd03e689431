#!/bin/bash
# keytab_rotate_plugin.sh - logins through the mailsso SASL plugin (real
# libsasl2 client and server, plugin_sasl_driver) keep working across
# 'mailsso-keytab rotate' against kadmind: a ticket issued before the rotation
# (kvno 2) still logs in, a fresh ticket (kvno 3) logs in, the other services
# in the same keytab are untouched, and a verify of the keytab is green.
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
plugin_setup keytab_rotate_plugin
require_cmd kadmind kvno
KT=$BUILD/keytab-tools/mailsso-keytab
[ -x "$KT" ] || harness_fatal "$KT not built"
I=imap/mail.example.test@EXAMPLE.TEST
kdc_start_kadmind
chmod 600 "$KEYTAB"

check_login "before the rotation alice logs in to imap" imap
check_grep "... with a kvno 2 ticket" "ticket=$I kvno=2 " "$T/last.log"
check "rotate the imap key in the shared keytab" "$KT" rotate -p "$I" "$KEYTAB"
check_grep "... kvno 3 added, kvno 2 kept" "kvno 3 added, kvno 2 kept" "$CHECK_OUT"
check_eq "... the keytab's mode is kept" 600 "$(stat -c %a "$KEYTAB")"
chmod 644 "$KEYTAB"     # test only: the driver runs as this user anyway
check_login "after the rotation the cached kvno 2 ticket still logs in" imap
check_grep "... it was the kvno 2 ticket" "ticket=$I kvno=2 " "$T/last.log"
kdc_kinit alice "$ALICE_PW" "FILE:$T/fresh.cc" || harness_fatal "kinit alice"
KRB5CCNAME=FILE:$T/fresh.cc check_login "a fresh ticket (kvno 3) logs in" imap
check_grep "... it was a kvno 3 ticket" "ticket=$I kvno=3 " "$T/last.log"
KRB5CCNAME=FILE:$T/fresh.cc check_login "smtp (not rotated) still logs in" smtp
check "verify of the rotated keytab is green" "$KT" verify "$KEYTAB"
harness_finish
