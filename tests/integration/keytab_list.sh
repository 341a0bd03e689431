#!/bin/bash
# keytab_list.sh - 'mailsso-keytab list' shows the same principals, kvnos and
# enctypes as MIT 'klist -kte', in text and JSON, and flags weak enctypes
# (RC4) and stale kvnos (older than the newest one held).
. "$top_srcdir/tests/integration/keytab_lib.sh"
kt_init keytab_list

kdc_start
kdc_addprinc imap/mail.example.test
kdc_addprinc smtp/mail.example.test
kdc_ktadd "$T/a.keytab" imap/mail.example.test smtp/mail.example.test   # kvno 2
kdc_ktadd "$T/a.keytab" imap/mail.example.test                          # imap kvno 3 appended
printf 'legacy-Pw-1\n' >"$T/pw"
"$KT" add -p pop/mail.example.test@EXAMPLE.TEST -V 5 -e arcfour-hmac --password-file "$T/pw" "$T/a.keytab" >/dev/null

check_eq "list --json has the same kvno/principal/enctype triples as klist -kte" \
    "$(kt_entries "$T/a.keytab")" "$(kt_json_entries "$T/a.keytab")"
check_eq "7 entries in total (imap 2+2, smtp 2, pop 1)" 7 "$(kt_json "$T/a.keytab" 'len(d["entries"])')"
check "text list runs" "$KT" list "$T/a.keytab"
for p in imap/mail.example.test@EXAMPLE.TEST smtp/mail.example.test@EXAMPLE.TEST pop/mail.example.test@EXAMPLE.TEST; do
    check_grep "text list names $p" "^${p//./\\.}\$" "$CHECK_OUT"
done
check_grep "text list shows the enctype name and number" 'aes256-cts-hmac-sha1-96\(18\)' "$CHECK_OUT"
check_grep "text list flags the imap kvno 2 keys as stale" '^ +2 +aes256-cts-hmac-sha1-96\(18\) +strong .* stale$' "$CHECK_OUT"
check_grep "text list flags the RC4 key as weak (legacy class)" '^ +5 +arcfour-hmac\(23\) +legacy .* weak$' "$CHECK_OUT"
check_grep "text list warns that pop holds only weak keys" 'warning: kvno 5 holds only weak keys' "$CHECK_OUT"
check_eq "JSON: the imap kvno 2 entries are stale, kvno 3 not" "[True, True, False, False]" \
    "$(kt_json "$T/a.keytab" '[e["stale"] for e in d["entries"] if e["principal"].startswith("imap/")]')"
check_eq "JSON: the smtp entries (only kvno 2) are not stale" "[False, False]" \
    "$(kt_json "$T/a.keytab" '[e["stale"] for e in d["entries"] if e["principal"].startswith("smtp/")]')"
check_eq "JSON: only the RC4 entry is weak" "[23]" \
    "$(kt_json "$T/a.keytab" '[e["enctype"] for e in d["entries"] if e["weak"]]')"
check_eq "JSON: pop is reported as holding only weak keys" "['pop/mail.example.test@EXAMPLE.TEST']" \
    "$(kt_json "$T/a.keytab" '[p["principal"] for p in d["principals"] if p["only_weak"]]')"
check_eq "JSON: newest kvno per principal" "[3, 2, 5]" \
    "$(kt_json "$T/a.keytab" '[p["newest_kvno"] for p in d["principals"]]')"
check "list -p filters by principal" "$KT" list -p smtp/mail.example.test@EXAMPLE.TEST "$T/a.keytab"
check_no_grep "... and shows no imap key" '^imap/' "$CHECK_OUT"
check "KRB5_KTNAME is the default keytab" env KRB5_KTNAME="FILE:$T/a.keytab" "$KT" list
check_grep "... (it names the file)" "Keytab: $T/a.keytab" "$CHECK_OUT"
check_fails "a missing keytab is an error" "$KT" list "$T/nope.keytab"
check_grep "... naming the file" "nope.keytab" "$CHECK_OUT"
harness_finish
