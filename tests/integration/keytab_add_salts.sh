#!/bin/bash
# keytab_add_salts.sh - 'mailsso-keytab add' derives keys from a password with
# the salt the KDC uses: the MIT default, an explicit --salt, the salt the KDC
# announces (--salt-type kdc, proven on a principal with a random "special"
# salt), and the Active Directory rules (ad-user: REALM + sAMAccountName,
# case-sensitive, or REALM + UPN components; ad-computer: REALM + "host" +
# lower(name) + "." + lower(realm)), proven by comparing with the keys the
# KDC holds for a principal whose MIT salt is that string. Keys made with the
# right salt decrypt real tickets (verify passes), with a wrong salt they do
# not (verify fails with "wrong key").
. "$top_srcdir/tests/integration/keytab_lib.sh"
kt_init keytab_add_salts

kdc_start
PW=Service-Pw-42
printf '%s\n' "$PW" >"$T/pw"
printf '%s\n' "$ALICE_PW" >"$T/alice.pw"
I=imap/mail.example.test@EXAMPLE.TEST
kdc_addprinc imap/mail.example.test -pw "$PW"            # kvno 1, MIT default salt
alice=(--client alice --password-file "$T/alice.pw")

# --- MIT default salt, kvno asked from the KDC
check "add -V kdc with the MIT default salt" "$KT" add -p "$I" -V kdc --password-file "$T/pw" "$T/mit.keytab"
check_grep "... learns kvno 1 from the KDC" "current kvno for $I is 1" "$CHECK_OUT"
check_grep "... salt is realm + components" 'salt mit "EXAMPLE.TESTimapmail.example.test"' "$CHECK_OUT"
check "verify (the keytab's own key) passes" "$KT" verify "$T/mit.keytab"
check_grep "... reporting kvno and enctype" "OK .*kvno 1, aes256-cts-hmac-sha1-96\(18\)" "$CHECK_OUT"
check "verify with alice's ticket passes" "$KT" verify "${alice[@]}" "$T/mit.keytab"
check_grep "... the client was alice" "client alice@EXAMPLE.TEST" "$CHECK_OUT"

# --- explicit salt (right and wrong)
check "add --salt with the realm+components string" \
    "$KT" add -p "$I" -V 1 --salt EXAMPLE.TESTimapmail.example.test --password-file "$T/pw" "$T/explicit.keytab"
check_eq "... gives the same keys as the MIT default" "$(kt_keys "$T/mit.keytab")" "$(kt_keys "$T/explicit.keytab")"
check "verify of the explicit-salt keytab passes" "$KT" verify "${alice[@]}" "$T/explicit.keytab"
check "add with a wrong salt (ad-user, account mail_imap)" \
    "$KT" add -p "$I" -V 1 --salt-type ad-user --account mail_imap --password-file "$T/pw" "$T/wrong.keytab"
check_fails "verify of the wrong-salt keytab fails" "$KT" verify "${alice[@]}" "$T/wrong.keytab"
check_grep "... with the reason 'wrong key' and the salt hint" "FAIL .*wrong key: .*salt" "$CHECK_OUT"
check_fails "verify with the keytab's own (wrong) key fails too" "$KT" verify "$T/wrong.keytab"
check_grep "... the KDC refused the key" "FAIL .*refused the keytab's newest key" "$CHECK_OUT"

# --- salt from the KDC: a principal with a random ("special") salt
kdc_addprinc HTTP/mail.example.test -pw "$PW" -e aes256-cts:special
H=HTTP/mail.example.test@EXAMPLE.TEST
check "add --salt-type kdc for a principal with a random salt" \
    "$KT" add -p "$H" -V 1 -e aes256-cts --salt-type kdc --password-file "$T/pw" "$T/kdcsalt.keytab"
check_no_grep "... the salt is not the MIT default" 'salt kdc "EXAMPLE.TESTHTTPmail.example.test"' "$CHECK_OUT"
check "verify of the KDC-salt keytab passes" "$KT" verify "${alice[@]}" "$T/kdcsalt.keytab"
"$KT" add -p "$H" -V 1 -e aes256-cts --password-file "$T/pw" "$T/defsalt.keytab" >/dev/null
check_fails "the MIT default salt gives a key that fails verify there" "$KT" verify "${alice[@]}" "$T/defsalt.keytab"
check_grep "... reason: wrong key" "wrong key" "$CHECK_OUT"

# --- AD user account: REALM + sAMAccountName (case-sensitive)
# On MIT, the principal mail_imap@EXAMPLE.TEST is salted "EXAMPLE.TESTmail_imap",
# exactly AD's salt for a user account named mail_imap.
kdc_addprinc mail_imap -pw "$PW"
kdc_ktadd "$T/acct.keytab" -norandkey mail_imap
keycol() { kt_keys "$1" | awk '{print $1, $3, $4}'; }
check "add --salt-type ad-user --account mail_imap" \
    "$KT" add -p "$I" -V 1 --salt-type ad-user --account mail_imap --password-file "$T/pw" "$T/aduser.keytab"
check_grep "... salt is REALM + account" 'salt ad-user "EXAMPLE.TESTmail_imap"' "$CHECK_OUT"
check_eq "... keys equal the KDC's keys of account mail_imap" "$(keycol "$T/acct.keytab")" "$(keycol "$T/aduser.keytab")"
"$KT" add -p "$I" -V 1 --salt-type ad-user --account MAIL_IMAP --password-file "$T/pw" "$T/aducase.keytab" >/dev/null
check "the account name is case-sensitive (MAIL_IMAP gives other keys)" \
    test "$(keycol "$T/acct.keytab")" != "$(keycol "$T/aducase.keytab")"
check "add -p mail_imap@EXAMPLE.TEST --salt-type ad-user (account from the principal)" \
    "$KT" add -p mail_imap@EXAMPLE.TEST -V 1 --salt-type ad-user --password-file "$T/pw" "$T/aduser2.keytab"
check "... decrypts real tickets for mail_imap (verify)" "$KT" verify "${alice[@]}" "$T/aduser2.keytab"
check "ad-user with --upn imap/mail.example.test (what ktpass -mapuser sets)" \
    "$KT" add -p "$I" -V 1 --salt-type ad-user --upn imap/mail.example.test@ad.example.test --password-file "$T/pw" "$T/adupn.keytab"
check_grep "... salt is REALM + UPN components" 'salt ad-user "EXAMPLE.TESTimapmail.example.test"' "$CHECK_OUT"
check "... decrypts real tickets for $I (verify)" "$KT" verify "${alice[@]}" "$T/adupn.keytab"

# --- AD computer account: REALM + host + lower(name) + . + lower(realm)
kdc_addprinc host/mailsrv.example.test -pw "$PW"
kdc_ktadd "$T/host.keytab" -norandkey host/mailsrv.example.test
check "add --salt-type ad-computer --account 'MAILSRV\$'" \
    "$KT" add -p "$I" -V 1 --salt-type ad-computer --account 'MAILSRV$' --password-file "$T/pw" "$T/adcomp.keytab"
check_grep "... salt is EXAMPLE.TESThostmailsrv.example.test" 'salt ad-computer "EXAMPLE.TESThostmailsrv.example.test"' "$CHECK_OUT"
check_eq "... keys equal the KDC's keys of host/mailsrv.example.test" "$(keycol "$T/host.keytab")" "$(keycol "$T/adcomp.keytab")"
check "MS-KILE 4.4 example: realm DOMAIN.COM, computer client" \
    "$KT" add --dry-run -p host/client.domain.com@DOMAIN.COM -V 1 -e aes128-cts --salt-type ad-computer --password-file "$T/pw" "$T/ms.keytab"
check_grep "... salt DOMAIN.COMhostclient.domain.com" 'salt ad-computer "DOMAIN.COMhostclient.domain.com"' "$CHECK_OUT"

# --- conflicts, --force, secrets never on the command line
before=$(kt_sum "$T/mit.keytab")
printf 'other-Pw\n' >"$T/other.pw"
check_fails "add of a different key for an existing principal/kvno/enctype is refused" \
    "$KT" add -p "$I" -V 1 --password-file "$T/other.pw" "$T/mit.keytab"
check_grep "... explaining the conflict and --force" "conflict.*|--force" "$CHECK_OUT"
check_eq "... and the keytab is unchanged" "$before" "$(kt_sum "$T/mit.keytab")"
check "add --force replaces the key" "$KT" add -f -p "$I" -V 1 --password-file "$T/other.pw" "$T/mit.keytab"
check_fails "... which then fails verify (other password)" "$KT" verify "${alice[@]}" "$T/mit.keytab"
check_fails "there is no --password option (secrets never in argv)" \
    "$KT" add -p "$I" -V 1 --password "$PW" "$T/x.keytab"
check_fails "add without a terminal or --password-file fails cleanly" \
    setsid -w sh -c '"$0" add -p "$1" -V 1 "$2" </dev/null' "$KT" "$I" "$T/x.keytab"
check_eq "... and writes nothing" missing "$(kt_sum "$T/x.keytab")"
harness_finish
