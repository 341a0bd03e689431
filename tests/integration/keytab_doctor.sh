#!/bin/bash
# keytab_doctor.sh - 'mailsso-keytab doctor' catches, each with a fix and
# exit status 1: a keytab the mail daemon's user cannot read (and passes once
# it can), a world-readable keytab (warning), a configured service without a
# key, keys the enctype policy or krb5.conf permitted_enctypes refuse, a kvno
# behind the KDC's, clock skew against the KDC (the tool run under faketime),
# a service host name without DNS, and reverse DNS that does not match.
. "$top_srcdir/tests/integration/keytab_lib.sh"
kt_init keytab_doctor
require_cmd faketime getent

kdc_start
for s in smtp imap; do kdc_addprinc "$s/mail.example.test"; done
kdc_ktadd "$T/k.keytab" smtp/mail.example.test imap/mail.example.test   # kvno 2, mode 0600 root
chmod 600 "$T/k.keytab"
printf '%s\n' "$ALICE_PW" >"$T/alice.pw"
alice=(--client alice --password-file "$T/alice.pw")
daemon=$(getent passwd postfix >/dev/null && echo postfix || echo nobody)
dgroup=$(id -gn "$daemon")

# --- access for the daemon user
if [ "$(id -u)" = 0 ]; then
    check_fails "doctor --user $daemon on a 0600 root keytab fails" "$KT" doctor --offline --user "$daemon" "$T/k.keytab"
    check_grep "... saying $daemon cannot read it" "\[FAIL\] access +$daemon \(uid [0-9]+\) cannot read" "$CHECK_OUT"
    check_grep "... with the fix (group $dgroup, mode 0640)" "fix: .*--owner root:$dgroup --mode 0640" "$CHECK_OUT"
    check "the suggested merge --replace --owner root:$dgroup --mode 0640" \
        "$KT" merge -q --replace -o "$T/k.keytab" "$T/k.keytab" --owner "root:$dgroup" --mode 0640
    check "... then doctor --user $daemon passes" "$KT" doctor --offline --user "$daemon" "$T/k.keytab"
    check_grep "... access OK" "\[ OK \] access +$daemon can read" "$CHECK_OUT"
else
    harness_log "not root: the --user access check against another account is not exercised"
    check_fails "doctor --user nosuchuser-xyz fails" "$KT" doctor --offline --user nosuchuser-xyz "$T/k.keytab"
fi
# regression: the owner and group printed are the file's (stat -c %U:%G), not the
# daemon's group left over from the lookup made for the fix text (a root:root
# keytab was reported as "group dovecot")
cp "$T/k.keytab" "$T/private.keytab"
chmod 600 "$T/private.keytab"
check_fails "doctor --user $daemon on a 0600 keytab of $(stat -c %U:%G "$T/private.keytab") fails" \
    "$KT" doctor --offline --user "$daemon" "$T/private.keytab"
check_eq "... printing the file's owner:group (stat -c %U:%G), not $daemon's group" \
    "$(stat -c %U:%G "$T/private.keytab")" \
    "$(sed -n "s/^\[FAIL\] access .*cannot read .*: owned by \([^ ,]*\), mode 0600.*/\1/p" "$CHECK_OUT")"
chmod 640 "$T/private.keytab"
check "doctor --user $(id -un) on the 0640 keytab passes" \
    "$KT" doctor --offline --user "$(id -un)" "$T/private.keytab"
check_eq "... and the OK line prints the file's owner:group too" \
    "$(stat -c %U:%G "$T/private.keytab")" \
    "$(sed -n "s/^\[ OK \] access .*can read .* (owned by \([^ ,]*\), mode 0640)$/\1/p" "$CHECK_OUT")"
check_fails "doctor --user of an unknown account fails" "$KT" doctor --offline --user nosuchuser-xyz "$T/k.keytab"
check_grep "... naming the account" "user 'nosuchuser-xyz' does not exist" "$CHECK_OUT"
chmod 644 "$T/k.keytab"
check "a world-readable keytab is a warning (exit 0 with --offline)" "$KT" doctor --offline "$T/k.keytab"
check_grep "... readable by every local user" "\[WARN\] access .*readable by every local user" "$CHECK_OUT"
chmod 640 "$T/k.keytab"

# --- services from the command line and from mailsso.conf
check_fails "doctor --service pop (no pop key) fails" "$KT" doctor --offline --service pop --service imap -H mail.example.test "$T/k.keytab"
check_grep "... naming the missing principal" "\[FAIL\] service +pop: no key for pop/mail.example.test@EXAMPLE.TEST" "$CHECK_OUT"
check_grep "... with the ktpass/merge fix" "fix: .*ktpass -princ pop/mail.example.test@EXAMPLE.TEST.*mailsso-keytab merge" "$CHECK_OUT"
check_grep "... imap is present" "\[ OK \] service +imap: key for imap/mail.example.test@EXAMPLE.TEST present" "$CHECK_OUT"
cat >"$T/mailsso.conf" <<EOC
keytab = "$T/k.keytab";
hostname = "mail.example.test";
smtp = { };
sieve = { };
EOC
check_fails "doctor with mailsso.conf (smtp, sieve groups) finds sieve's key missing" "$KT" --config "$T/mailsso.conf" doctor --offline
check_grep "... sieve missing" "\[FAIL\] service +sieve: no key for sieve/mail.example.test@EXAMPLE.TEST" "$CHECK_OUT"
check_grep "... smtp present (keytab and hostname from the file)" "\[ OK \] service +smtp" "$CHECK_OUT"

# --- enctypes: only RC4 keys; krb5.conf permitted_enctypes without aes256
printf 'rc4-Pw-1\n' >"$T/rc4.pw"
"$KT" add -p pop/mail.example.test@EXAMPLE.TEST -V 2 -e arcfour-hmac --password-file "$T/rc4.pw" "$T/rc4.keytab" >/dev/null
check_fails "a principal with only RC4 keys fails under the default policy (aes)" "$KT" doctor --offline "$T/rc4.keytab"
check_grep "... no key the policy accepts" "\[FAIL\] enctypes pop/mail.example.test@EXAMPLE.TEST kvno 2: no key the policy accepts \(refused: arcfour-hmac" "$CHECK_OUT"
check_grep "... the fix names msDS-SupportedEncryptionTypes" "msDS-SupportedEncryptionTypes" "$CHECK_OUT"
check "with --policy 'aes rc4' the RC4 key is acceptable" "$KT" doctor --offline --policy "aes rc4" "$T/rc4.keytab"
sed 's/^\[libdefaults\]$/[libdefaults]\n    permitted_enctypes = aes128-cts-hmac-sha1-96/' "$KRB5_CONFIG" >"$T/permitted.conf"
check "krb5.conf permitted_enctypes without aes256 gives a warning" env KRB5_CONFIG="$T/permitted.conf" "$KT" doctor --offline "$T/k.keytab"
check_grep "... naming the refused key and why" "\[WARN\] enctypes .*refused aes256-cts-hmac-sha1-96\(18\) \(permitted_enctypes\)" "$CHECK_OUT"

# --- kvno behind the KDC
check "kvno and clock are fine now" with_hosts "$KT" doctor "${alice[@]}" -H mail.example.test "$T/k.keytab"
check_grep "... kvno matches" "\[ OK \] kvno +imap/mail.example.test@EXAMPLE.TEST: kvno 2 matches the KDC" "$CHECK_OUT"
check_grep "... clock within a few seconds" "\[ OK \] clock +clock within [0-9] s of the KDC" "$CHECK_OUT"
kdc_ktadd "$T/new.keytab" imap/mail.example.test      # KDC now at kvno 3
check_fails "after a password change at the KDC doctor fails" "$KT" doctor "${alice[@]}" "$T/k.keytab"
check_grep "... kvno behind, both numbers" "\[FAIL\] kvno +imap/mail.example.test@EXAMPLE.TEST: the KDC is at kvno 3, the keytab's newest is 2" "$CHECK_OUT"
check_fails "with the keytab's own key doctor cannot get tickets and says so" "$KT" doctor "$T/k.keytab"
check_grep "... the KDC refused the key" "\[FAIL\] kvno +imap/.*cannot learn the KDC's kvno: the KDC refused" "$CHECK_OUT"

# --- clock skew: run the tool with a clock 10 minutes slow / 7 minutes fast
kt_faketime -600
check_fails "a clock 600 s slow fails" "${FT[@]}" "$KT" doctor --service smtp -H mail.example.test "$T/new.keytab"
check_grep "... 600 s behind" "\[FAIL\] clock +this host's clock is 6[0-9][0-9] s behind the KDC's" "$CHECK_OUT"
check_grep "... fix: NTP" "fix: synchronise the clock with NTP" "$CHECK_OUT"
kt_faketime +400
check_fails "a clock 400 s fast fails" "${FT[@]}" "$KT" doctor "$T/new.keytab"
check_grep "... 400 s ahead" "\[FAIL\] clock +this host's clock is [34][0-9][0-9] s ahead of the KDC's" "$CHECK_OUT"
kt_faketime +100
check "a clock 100 s fast is a warning only" with_hosts "${FT[@]}" "$KT" doctor "$T/new.keytab"
check_grep "... warning" "\[WARN\] clock +this host's clock is [0-9]+ s ahead" "$CHECK_OUT"

# --- DNS
check_fails "a service host name that does not resolve fails" \
    "$KT" doctor --service imap -H no-such-host.invalid "$T/new.keytab"
check_grep "... forward lookup failed" "\[FAIL\] dns +forward lookup of no-such-host.invalid failed" "$CHECK_OUT"
check "with a private hosts file mail.example.test resolves (reverse is another name: warning)" \
    with_hosts "$KT" doctor --service imap -H mail.example.test "$T/new.keytab"
check_grep "... forward OK, reverse mismatch warned with the rdns fix" \
    "\[WARN\] dns +mail.example.test resolves to 127.0.0.1, whose reverse name is .*rdns" "$CHECK_OUT"
check "doctor --json" with_hosts "$KT" doctor --json --service imap -H mail.example.test "$T/new.keytab"
check_eq "... JSON: ok, and the checks that ran" "True ['clock', 'dns', 'enctypes', 'keytab', 'kvno', 'service']" \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ok"], sorted({c["check"] for c in d["checks"]}))' "$CHECK_OUT")"
harness_finish
