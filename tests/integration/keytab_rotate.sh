#!/bin/bash
# keytab_rotate.sh - 'mailsso-keytab rotate' changes the service password
# through kpasswd (MIT kadmind), adds the new kvno's keys and keeps the
# previous kvno: a ticket issued before the rotation is still accepted, new
# tickets (new kvno) are accepted too; --dry-run changes nothing at the KDC or
# in the file; --export writes the new keys alone (for the other members of a
# load-balanced array); a stale keytab is refused before anything changes.
# Also "add --random": new random keys from kadmind (like kadmin ktadd).
. "$top_srcdir/tests/integration/keytab_lib.sh"
kt_init keytab_rotate
require_cmd kadmind kvno

kdc_start
kdc_start_kadmind
I=imap/mail.example.test@EXAMPLE.TEST
kdc_addprinc imap/mail.example.test
kdc_ktadd "$T/k.keytab" imap/mail.example.test           # kvno 2
printf '%s\n' "$ALICE_PW" >"$T/alice.pw"
kdc_kinit alice "$ALICE_PW" "$T/old.cc" || harness_fatal "kinit alice"
KRB5CCNAME=FILE:$T/old.cc kvno "$I" >/dev/null || harness_fatal "kvno $I"   # ticket with kvno 2
kdc_kvno() { kdc_admin "getprinc $1" | sed -n 's/^Key: vno \([0-9]*\),.*/\1/p' | sort -u | xargs; }

before=$(kt_sum "$T/k.keytab")
check "rotate --dry-run" "$KT" rotate --dry-run "$T/k.keytab"
check_grep "... proves it can reach kadmin/changepw with kvno 2" "can authenticate to kadmin/changepw with kvno 2" "$CHECK_OUT"
check_grep "... and plans kvno 3" "add kvno 3 keys" "$CHECK_OUT"
check_eq "... the keytab is unchanged" "$before" "$(kt_sum "$T/k.keytab")"
check_eq "... the KDC is still at kvno 2" 2 "$(kdc_kvno "$I")"

check "rotate" "$KT" rotate "$T/k.keytab"
check_grep "... changed the password via kpasswd" "password of $I changed via kpasswd" "$CHECK_OUT"
check_grep "... added kvno 3 and kept 2" "kvno 3 added, kvno 2 kept" "$CHECK_OUT"
check_eq "the KDC is at kvno 3" 3 "$(kdc_kvno "$I")"
check_eq "the keytab holds kvnos 2 and 3" "2 3" "$(kt_entries "$T/k.keytab" | awk '{print $1}' | sort -u | xargs)"
check_eq "... with both enctypes each" 4 "$(kt_entries "$T/k.keytab" | wc -l)"
check_eq "... mode still 0600" 600 "$(stat -c %a "$T/k.keytab")"
check "the ticket issued before the rotation (kvno 2) is still accepted" \
    "$KT" verify --ccache "FILE:$T/old.cc" "$T/k.keytab"
check_grep "... it was the kvno 2 ticket" "OK +$I: accepted a ticket with kvno 2" "$CHECK_OUT"
check "a new ticket (kvno 3) is accepted" "$KT" verify --client alice --password-file "$T/alice.pw" "$T/k.keytab"
check_grep "... kvno 3" "OK +$I: accepted a ticket with kvno 3" "$CHECK_OUT"
check "the keytab's own new key works at the KDC (verify)" "$KT" verify "$T/k.keytab"
check_grep "kadmind logged the kpasswd change for $I" "chpw request from 127.0.0.1 for $I: success" "$T/logs/kadmind.log"

# second rotation with --export: kvno 4 added, kvno 3 kept, kvno 2 purged
check "rotate --export (array member keys)" "$KT" rotate --export "$T/export.keytab" "$T/k.keytab"
check_eq "the keytab holds kvnos 3 and 4" "3 4" "$(kt_entries "$T/k.keytab" | awk '{print $1}' | sort -u | xargs)"
check_eq "the export holds only kvno 4, the same keys" \
    "$(kt_keys "$T/k.keytab" | awk '$1 == 4')" "$(kt_keys "$T/export.keytab")"
check_eq "... mode 0600" 600 "$(stat -c %a "$T/export.keytab")"
"$KT" merge -q -o "$T/member.keytab" "$T/export.keytab"
check "another array member's keytab merged from the export verifies" "$KT" verify --client alice --password-file "$T/alice.pw" "$T/member.keytab"

# refused before anything changes: a stale keytab (KDC moved on)
kdc_ktadd "$T/elsewhere.keytab" imap/mail.example.test    # KDC at kvno 5
before=$(kt_sum "$T/k.keytab")
check_fails "rotate with a stale keytab fails" "$KT" rotate "$T/k.keytab"
check_grep "... before changing the password" "cannot authenticate as $I with the keytab's current key" "$CHECK_OUT"
check_eq "... keytab unchanged" "$before" "$(kt_sum "$T/k.keytab")"
check_eq "... KDC kvno unchanged (5)" 5 "$(kdc_kvno "$I")"
kdc_addprinc smtp/mail.example.test
kdc_ktadd "$T/two.keytab" imap/mail.example.test smtp/mail.example.test
check_fails "rotate of a keytab with two principals needs -p" "$KT" rotate "$T/two.keytab"
check_grep "... and says so" "holds 2 principals: name the one to rotate with -p" "$CHECK_OUT"

# add --random: kadmind gives the principal new random keys (kadmin ktadd)
kdc_addprinc pop/mail.example.test
P=pop/mail.example.test@EXAMPLE.TEST
printf '%s\n' "$ADMIN_PW" >"$T/admin.pw"
check "add --random --dry-run" "$KT" add --random --dry-run -p "$P" --admin admin/admin --admin-password-file "$T/admin.pw" "$T/pop.keytab"
check_grep "... reports the kvno change it would make" "would give $P new random keys at the KDC \(kvno 1 -> 2\)" "$CHECK_OUT"
check_eq "... the KDC is unchanged" 1 "$(kdc_kvno "$P")"
check_eq "... no keytab written" missing "$(kt_sum "$T/pop.keytab")"
check "add --random -e aes256-cts" "$KT" add --random -p "$P" -e aes256-cts --admin admin/admin --admin-password-file "$T/admin.pw" "$T/pop.keytab"
check_eq "the KDC moved to kvno 2" 2 "$(kdc_kvno "$P")"
check_eq "the keytab holds kvno 2, aes256 only" "2 $P (aes256-cts-hmac-sha1-96)" "$(kt_entries "$T/pop.keytab")"
check "... and verifies against the KDC" "$KT" verify --client alice --password-file "$T/alice.pw" "$T/pop.keytab"
printf 'wrong\n' >"$T/bad-admin.pw"
check_fails "add --random with a wrong admin password fails" "$KT" add --random -p "$P" --admin admin/admin --admin-password-file "$T/bad-admin.pw" "$T/pop.keytab"
check_grep "... saying it cannot connect to kadmind" "cannot connect to kadmind of EXAMPLE.TEST as admin/admin" "$CHECK_OUT"
check_eq "... the KDC is unchanged" 2 "$(kdc_kvno "$P")"
harness_finish
