#!/bin/bash
# keytab_verify.sh - 'mailsso-keytab verify' is green on a good keytab (with
# the keytab's own key, with a client password, with a ccache) and red, with
# the precise reason and exit status 1, on a stale kvno, a missing enctype, a
# wrong key and an enctype the policy refuses; --service selects principals;
# --json reports the same.
. "$top_srcdir/tests/integration/keytab_lib.sh"
kt_init keytab_verify

kdc_start
for s in smtp imap; do kdc_addprinc "$s/mail.example.test"; done
kdc_ktadd "$T/good.keytab" smtp/mail.example.test imap/mail.example.test   # kvno 2
printf '%s\n' "$ALICE_PW" >"$T/alice.pw"
alice=(--client alice --password-file "$T/alice.pw")
I=imap/mail.example.test@EXAMPLE.TEST

check "verify of a good keytab (own keys) passes" "$KT" verify "$T/good.keytab"
check_grep "... both principals OK with kvno 2, aes256" "^OK +$I: accepted a ticket with kvno 2, aes256-cts-hmac-sha1-96" "$CHECK_OUT"
check_grep "... summary 2 of 2" "2 of 2 principals verified" "$CHECK_OUT"
check "verify with alice's password passes" "$KT" verify "${alice[@]}" "$T/good.keytab"
check_grep "... and alice was the client" "client alice@EXAMPLE.TEST" "$CHECK_OUT"
kdc_kinit alice "$ALICE_PW" "$T/alice.cc" || harness_fatal "kinit alice"
check "verify with alice's ccache passes" "$KT" verify --ccache "FILE:$T/alice.cc" "$T/good.keytab"
check "verify --service imap tests only imap" "$KT" verify --service imap "$T/good.keytab"
check_grep "... 1 of 1" "1 of 1 principal verified" "$CHECK_OUT"
check_no_grep "... and not smtp" "smtp/" "$CHECK_OUT"
check "verify --json" "$KT" verify --json "$T/good.keytab"
check_eq "... JSON says ok, with kvno and enctype per principal" "True [2, 2] [18, 18]" \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ok"], [r["kvno"] for r in d["results"]], [r["enctype"] for r in d["results"]])' "$CHECK_OUT")"

# stale kvno: the KDC moves imap to kvno 3, the keytab keeps kvno 2
kdc_ktadd "$T/new.keytab" imap/mail.example.test
check_fails "verify after the KDC's kvno moved on fails (exit 1)" "$KT" verify "${alice[@]}" "$T/good.keytab"
check_grep "... reason: stale kvno, naming both kvnos" "FAIL $I: stale kvno: the KDC issued a ticket with kvno 3, the keytab holds kvno/enctype 2/" "$CHECK_OUT"
check_grep "... smtp is still fine" "^OK +smtp/" "$CHECK_OUT"
check_fails "verify --json on the stale keytab" "$KT" verify --json "${alice[@]}" "$T/good.keytab"
check_eq "... JSON ok=false and imap's reason starts with stale kvno" "False True" \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=[x for x in d["results"] if x["principal"].startswith("imap")][0]; print(d["ok"], r["reason"].startswith("stale kvno"))' "$CHECK_OUT")"
check_fails "verify with the keytab's own (stale) key fails too" "$KT" verify --service imap "$T/good.keytab"
check_grep "... the KDC refused the key" "refused the keytab's newest key" "$CHECK_OUT"
check "the new keytab verifies" "$KT" verify "${alice[@]}" "$T/new.keytab"

# missing enctype: the KDC issues aes256 tickets, the keytab keeps only aes128
cp "$T/new.keytab" "$T/aes128.keytab"
"$KT" remove -e aes256-cts-hmac-sha1-96 "$T/aes128.keytab" >/dev/null
check_fails "verify of a keytab without the ticket's enctype fails" "$KT" verify "${alice[@]}" "$T/aes128.keytab"
check_grep "... reason: missing enctype aes256 for kvno 3" "FAIL $I: missing enctype: the ticket is encrypted with aes256-cts-hmac-sha1-96\(18\) \(kvno 3\)" "$CHECK_OUT"

# wrong key: same kvno and enctypes, keys from another password
printf 'not-the-password\n' >"$T/bad.pw"
"$KT" add -p "$I" -V 3 --password-file "$T/bad.pw" "$T/wrong.keytab" >/dev/null
check_fails "verify of a keytab with a wrong key fails" "$KT" verify "${alice[@]}" "$T/wrong.keytab"
check_grep "... reason: wrong key" "FAIL $I: wrong key: the keytab's aes256-cts-hmac-sha1-96\(18\) key for kvno 3 does not decrypt" "$CHECK_OUT"

# policy: a policy without aes256 refuses the aes256 ticket
check_fails "verify --policy 'aes -aes256-cts-hmac-sha1-96' refuses the aes256 ticket" \
    "$KT" verify --policy "aes -aes256-cts-hmac-sha1-96" "${alice[@]}" "$T/new.keytab"
check_grep "... reason: refused enctype" "FAIL $I: refused enctype: .*aes256-cts-hmac-sha1-96" "$CHECK_OUT"
cat >"$T/mailsso.conf" <<EOC
imap = { enctypes = "aes128-cts-hmac-sha1-96"; };
EOC
check_fails "the policy of the service's mailsso.conf section applies (--config, --service imap)" \
    "$KT" --config "$T/mailsso.conf" verify --service imap "${alice[@]}" "$T/new.keytab"
check_grep "... refused enctype" "refused enctype" "$CHECK_OUT"

# regression: the fix names the principal that failed (smtp here) and this
# keytab, not a placeholder "kadmin ktadd -k FILE imap/HOST"
S=smtp/mail.example.test@EXAMPLE.TEST
kdc_ktadd "$T/smtp3.keytab" smtp/mail.example.test      # KDC moves smtp to kvno 3
check_fails "verify --service smtp with smtp's stale own key fails" "$KT" verify --service smtp "$T/good.keytab"
check_grep "... the fix names smtp's principal and the keytab: kadmin ktadd -k $T/good.keytab $S" \
    "^FAIL $S: .*fix: .*kadmin ktadd -k $T/good\.keytab ${S}[;)]" "$CHECK_OUT"
check_no_grep "... and no SERVICE/HOST placeholder" "imap/|SERVICE/HOST|ktadd -k FILE" "$CHECK_OUT"

check_fails "verify -p of a principal not in the keytab is an error" "$KT" verify -p nobody@EXAMPLE.TEST "$T/new.keytab"
check_grep "... naming it" "no principal .* matches nobody@EXAMPLE.TEST" "$CHECK_OUT"
harness_finish
