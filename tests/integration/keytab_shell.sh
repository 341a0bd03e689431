#!/bin/bash
# keytab_shell.sh - 'mailsso-keytab shell' replays ktutil transcripts: the
# ktpass merge flow (rkt x3, wkt, q), list/l [-e], addent -password / -key
# (secret on the next input line, as ktutil reads it in batch mode), delent,
# clear, wkt appending to an existing keytab -- each giving the same keytab
# (entries and keys, klist -kKe) and the same list as MIT ktutil; addent -f
# takes the salt from the KDC; errors are
# reported and make the exit status 1.
. "$top_srcdir/tests/integration/keytab_lib.sh"
kt_init keytab_shell

kdc_start
for s in smtp imap pop; do
    kdc_addprinc "$s/mail.example.test"
    kdc_ktadd "$T/$s.keytab" "$s/mail.example.test"
done
both() { # both NAME TRANSCRIPT: run the transcript (with %K for the output keytab) through both
    local name=$1 script=$2
    printf '%s' "${script//%K/$T/$name-ktutil.keytab}" | ktutil >"$T/$name-ktutil.out" 2>&1
    printf '%s' "${script//%K/$T/$name-ours.keytab}" | "$KT" shell >"$T/$name-ours.out" 2>&1
}
table() { grep -E '^(slot|----| *[0-9]+ +[0-9]+ )' "$1"; }

# 1. the vendor transcript
script="rkt $T/smtp.keytab
rkt $T/imap.keytab
rkt $T/pop.keytab
wkt %K
q
"
check "the ktpass merge transcript runs" sh -c 'printf "%s" "$1" | "$2" shell' sh "${script//%K/$T/t1.keytab}" "$KT"
printf '%s' "${script//%K/$T/t1-ktutil.keytab}" | ktutil >/dev/null 2>&1
check_eq "... and writes what ktutil writes (klist -kKe)" "$(kt_keys "$T/t1-ktutil.keytab")" "$(kt_keys "$T/t1.keytab")"
check_eq "... 6 entries" 6 "$(kt_keys "$T/t1.keytab" | wc -l)"

# 2. list / l -e output
both list "rkt $T/smtp.keytab
rkt $T/imap.keytab
l
list -e
q
"
check_eq "'l' and 'list -e' print ktutil's table" "$(table "$T/list-ktutil.out")" "$(table "$T/list-ours.out")"

# 3. addent -password and -key, delent, clear, wkt appending
both add "addent -password -p svc/x.example.test@EXAMPLE.TEST -k 3 -e aes256-cts-hmac-sha1-96
Pass-Word-1
addent -password -p svc/x.example.test@EXAMPLE.TEST -k 3 -e aes128-cts
Pass-Word-1
wkt %K
q
"
check_eq "addent -password gives ktutil's keys (MIT default salt)" "$(kt_keys "$T/add-ktutil.keytab")" "$(kt_keys "$T/add-ours.keytab")"
check_eq "... 2 entries" 2 "$(kt_keys "$T/add-ours.keytab" | wc -l)"
check_no_grep "... the password is not echoed into the output" "Pass-Word-1" "$T/add-ours.out"
# (ktutil itself swallows the rest of a batch after -key, so compare with the key given)
printf 'addent -key -p svc/y.example.test@EXAMPLE.TEST -k 9 -e aes128-cts-hmac-sha1-96\n00112233445566778899aabbccddeeff\nwkt %s\nq\n' \
    "$T/key.keytab" >"$T/key.in"
check "addent -key" sh -c '"$1" shell <"$2"' sh "$KT" "$T/key.in"
check_eq "... stores exactly the key given" "9 svc/y.example.test@EXAMPLE.TEST (aes128-cts-hmac-sha1-96) (0x00112233445566778899aabbccddeeff)" \
    "$(kt_keys "$T/key.keytab")"
both del "rkt $T/smtp.keytab
rkt $T/imap.keytab
delent 2
delent 1
wkt %K
clear
rkt $T/pop.keytab
wkt %K
q
"
check_eq "delent / clear / a second wkt (appends) match ktutil" "$(kt_keys "$T/del-ktutil.keytab")" "$(kt_keys "$T/del-ours.keytab")"
check_eq "... imap (2 entries) + pop (2 entries)" 4 "$(kt_keys "$T/del-ours.keytab" | wc -l)"

# 3b. addent -f: enctype and salt from the KDC (a principal with a random salt)
kdc_addprinc HTTP/mail.example.test -pw Http-Pw-1 -e aes256-cts:special
printf '%s\n' "$ALICE_PW" >"$T/alice.pw"
printf 'addent -password -p HTTP/mail.example.test@EXAMPLE.TEST -k 1 -f\nHttp-Pw-1\nwkt %s\nq\n' \
    "$T/f.keytab" >"$T/f.in"
check "addent -password -f (salt and enctype from the KDC)" sh -c '"$1" shell <"$2"' sh "$KT" "$T/f.in"
check "... the key decrypts real tickets (verify)" "$KT" verify --client alice --password-file "$T/alice.pw" "$T/f.keytab"

# 4. errors
printf 'rkt %s\nfrobnicate\nrkt %s\nwkt %s\nq\n' "$T/missing.keytab" "$T/smtp.keytab" "$T/e.keytab" >"$T/err.in"
check_fails "a transcript with errors exits 1" sh -c '"$1" shell <"$2"' sh "$KT" "$T/err.in"
check_grep "... naming the missing keytab" "missing.keytab" "$CHECK_OUT"
check_grep "... and the unknown request" 'Unknown request "frobnicate"' "$CHECK_OUT"
check_eq "... the good commands still ran (smtp written)" "$(kt_keys "$T/smtp.keytab")" "$(kt_keys "$T/e.keytab")"
printf 'addent -key -p k@EXAMPLE.TEST -k 1 -e aes256-cts\n0011\nwkt %s\nq\n' "$T/short.keytab" >"$T/short.in"
check_fails "a key of the wrong length is refused" sh -c '"$1" shell <"$2"' sh "$KT" "$T/short.in"
check_grep "... expected 64 hex digits" "expected 64 hex digits, got 4" "$CHECK_OUT"
printf 'lr\nq\n' >"$T/lr.in"
check "lr lists the requests" sh -c '"$1" shell <"$2"' sh "$KT" "$T/lr.in"
check_grep "... including addent" "add_entry, addent" "$CHECK_OUT"
harness_finish
