#!/bin/bash
# keytab_merge.sh - 'mailsso-keytab merge' of three per-service keytabs (the
# ktpass flow) gives exactly what ktutil rkt/rkt/rkt/wkt gives (same entries
# and keys in klist -kKe); duplicates are dropped; a conflict (same principal,
# kvno and enctype, other key) is refused and leaves OUT byte-for-byte
# unchanged unless --prefer first|last; --dry-run writes nothing; --mode and
# --owner are applied; an existing OUT is merged in (like ktutil wkt).
. "$top_srcdir/tests/integration/keytab_lib.sh"
kt_init keytab_merge

kdc_start
for s in smtp imap pop; do
    kdc_addprinc "$s/mail.example.test"
    kdc_ktadd "$T/$s.keytab" "$s/mail.example.test"
done

printf 'rkt %s\nrkt %s\nrkt %s\nwkt %s\nq\n' "$T/smtp.keytab" "$T/imap.keytab" "$T/pop.keytab" \
    "$T/ktutil.keytab" | ktutil >/dev/null
check "merge -o OUT smtp imap pop" "$KT" merge -o "$T/merged.keytab" "$T/smtp.keytab" "$T/imap.keytab" "$T/pop.keytab"
check_eq "merged keytab == ktutil rkt/wkt result (klist -kKe: entries and keys)" \
    "$(kt_keys "$T/ktutil.keytab")" "$(kt_keys "$T/merged.keytab")"
check_eq "merged keytab has 6 entries" 6 "$(kt_keys "$T/merged.keytab" | wc -l)"
check_eq "a new OUT gets mode 0600" 600 "$(stat -c %a "$T/merged.keytab")"

# duplicates: merging an input twice, and merging into an existing OUT
check "merging the same inputs again into the existing OUT" \
    "$KT" merge -o "$T/merged.keytab" "$T/imap.keytab" "$T/imap.keytab"
check_grep "... reports the duplicates skipped" "0 entries added, 2 duplicates skipped" "$CHECK_OUT"
check_eq "... and OUT still equals the ktutil result" "$(kt_keys "$T/ktutil.keytab")" "$(kt_keys "$T/merged.keytab")"

# a second ktpass run (new kvno) merges without conflict, old kvno kept
kdc_ktadd "$T/imap2.keytab" imap/mail.example.test
check "merge of a newer kvno of imap" "$KT" merge -o "$T/merged.keytab" "$T/imap2.keytab"
check_eq "... OUT now holds imap kvno 2 and 3" "2 3" \
    "$(kt_entries "$T/merged.keytab" | awk '$2 ~ /^imap/ {print $1}' | sort -u | xargs)"

# conflict: same principal, kvno 7, enctype, another key
printf 'first-Pw-1\n' >"$T/pw1"; printf 'second-Pw-2\n' >"$T/pw2"
"$KT" add -p svc/x.example.test@EXAMPLE.TEST -V 7 -e aes256-cts --password-file "$T/pw1" "$T/c1.keytab" >/dev/null
"$KT" add -p svc/x.example.test@EXAMPLE.TEST -V 7 -e aes256-cts --password-file "$T/pw2" "$T/c2.keytab" >/dev/null
cp "$T/merged.keytab" "$T/out.keytab"
before=$(kt_sum "$T/out.keytab")
check_fails "merge of two keytabs with different keys for one principal/kvno/enctype is refused" \
    "$KT" merge -o "$T/out.keytab" "$T/c1.keytab" "$T/c2.keytab"
check_grep "... naming principal, kvno and enctype" 'svc/x\.example\.test@EXAMPLE\.TEST kvno 7 enctype (18|aes256)' "$CHECK_OUT"
check_grep "... with the --prefer fix" '\-\-prefer' "$CHECK_OUT"
check_eq "... and OUT is byte-for-byte unchanged" "$before" "$(kt_sum "$T/out.keytab")"
check_eq "... and no stray temp file is left" "" "$(ls -A "$T" | grep -E '^out\.keytab.+' | grep -v '\.lock$' || true)"

check "--prefer first keeps the first key" "$KT" merge --prefer first -o "$T/first.keytab" "$T/c1.keytab" "$T/c2.keytab"
check_eq "... the key equals c1's" "$(kt_keys "$T/c1.keytab")" "$(kt_keys "$T/first.keytab")"
check "--prefer last keeps the last key" "$KT" merge --prefer last -o "$T/last.keytab" "$T/c1.keytab" "$T/c2.keytab"
check_eq "... the key equals c2's" "$(kt_keys "$T/c2.keytab")" "$(kt_keys "$T/last.keytab")"

# dry run, mode, owner
check "--dry-run" "$KT" merge --dry-run -o "$T/dry.keytab" "$T/smtp.keytab"
check_grep "... says it wrote nothing" "dry run" "$CHECK_OUT"
check_eq "... and no file appears" missing "$(kt_sum "$T/dry.keytab")"
grp=$(id -gn)
check "--mode 0640 --owner $(id -un):$grp" "$KT" merge --mode 0640 --owner "$(id -un):$grp" -o "$T/m.keytab" "$T/smtp.keytab"
check_eq "... mode is 0640" 640 "$(stat -c %a "$T/m.keytab")"
check_eq "... group is $grp" "$grp" "$(stat -c %G "$T/m.keytab")"
check "a later merge without --mode keeps 0640" "$KT" merge -o "$T/m.keytab" "$T/imap.keytab"
check_eq "... mode still 0640" 640 "$(stat -c %a "$T/m.keytab")"
check_fails "--mode 0666 (world-writable) is refused" "$KT" merge --mode 0666 -o "$T/w.keytab" "$T/smtp.keytab"
check_eq "... and nothing is written" missing "$(kt_sum "$T/w.keytab")"
check "--replace ignores OUT's old contents" "$KT" merge --replace -o "$T/m.keytab" "$T/pop.keytab"
check_eq "... OUT holds only pop now" "$(kt_keys "$T/pop.keytab")" "$(kt_keys "$T/m.keytab")"
harness_finish
