#!/bin/bash
# keytab_remove_purge.sh - 'remove' by principal, kvno and enctype and
# 'purge --keep N / --older-than AGE' give the keytab klist expects (the
# same as ktutil delent would), never drop the newest kvno, report a
# non-matching filter as an error and leave the file unchanged then and on
# --dry-run.
. "$top_srcdir/tests/integration/keytab_lib.sh"
kt_init keytab_remove_purge

kdc_start
kdc_addprinc imap/mail.example.test
kdc_addprinc smtp/mail.example.test
kdc_ktadd "$T/k.keytab" imap/mail.example.test smtp/mail.example.test   # kvno 2
kdc_ktadd "$T/k.keytab" imap/mail.example.test                          # imap kvno 3
kdc_ktadd "$T/k.keytab" imap/mail.example.test                          # imap kvno 4
cp "$T/k.keytab" "$T/orig.keytab"
I=imap/mail.example.test@EXAMPLE.TEST
S=smtp/mail.example.test@EXAMPLE.TEST

# remove by enctype: compare with ktutil deleting the same slots
before=$(kt_sum "$T/k.keytab")
check "remove --dry-run -e aes128-cts-hmac-sha1-96" "$KT" remove --dry-run -e aes128-cts-hmac-sha1-96 "$T/k.keytab"
check_grep "... lists what it would remove" "would remove $I kvno 3 aes128" "$CHECK_OUT"
check_eq "... and changes nothing" "$before" "$(kt_sum "$T/k.keytab")"
check "remove -p $S -e aes128-cts" "$KT" remove -p "$S" -e aes128-cts "$T/k.keytab"
expected=$(kt_entries "$T/orig.keytab" | grep -v "^2 $S (aes128")
check_eq "... exactly that entry is gone (klist -kte)" "$expected" "$(kt_entries "$T/k.keytab")"
# ktutil: slot numbers of the smtp aes128 key in the original
slot=$(klist -ke "$T/orig.keytab" | awk '$1 ~ /^[0-9]+$/ {n++; if ($2 == "'"$S"'" && $3 ~ /aes128/) print n}')
printf 'rkt %s\ndelent %s\nwkt %s\nq\n' "$T/orig.keytab" "$slot" "$T/ktutil.keytab" | ktutil >/dev/null
check_eq "... same keys as ktutil rkt/delent/wkt" "$(kt_keys "$T/ktutil.keytab")" "$(kt_keys "$T/k.keytab")"

check "remove -p $I -V 2 (a whole kvno)" "$KT" remove -p "$I" -V 2 "$T/k.keytab"
check_eq "... imap kvno 2 is gone, 3 and 4 remain" "3 4" \
    "$(kt_entries "$T/k.keytab" | awk '$2 ~ /^imap/ {print $1}' | sort -u | xargs)"
before=$(kt_sum "$T/k.keytab")
check_fails "remove with a filter nothing matches is an error" "$KT" remove -p "$I" -V 9 "$T/k.keytab"
check_grep "... saying nothing matched and nothing changed" "no key .* matches .*nothing changed" "$CHECK_OUT"
check_eq "... and the file is unchanged" "$before" "$(kt_sum "$T/k.keytab")"
check_fails "remove without a filter is a usage error" "$KT" remove "$T/k.keytab"
check_eq "... and the file is unchanged" "$before" "$(kt_sum "$T/k.keytab")"

# purge --keep
cp "$T/orig.keytab" "$T/p.keytab"
check "purge --keep 2" "$KT" purge --keep 2 "$T/p.keytab"
check_eq "... imap keeps kvnos 3 and 4" "3 4" \
    "$(kt_entries "$T/p.keytab" | awk '$2 ~ /^imap/ {print $1}' | sort -u | xargs)"
check_eq "... smtp keeps its only kvno 2" "2" \
    "$(kt_entries "$T/p.keytab" | awk '$2 ~ /^smtp/ {print $1}' | sort -u | xargs)"
check "purge --keep 1 -p $I" "$KT" purge --keep 1 -p "$I" "$T/p.keytab"
check_eq "... imap keeps only kvno 4" "4" \
    "$(kt_entries "$T/p.keytab" | awk '$2 ~ /^imap/ {print $1}' | sort -u | xargs)"
before=$(kt_sum "$T/p.keytab")
check "purge with nothing to purge" "$KT" purge --keep 1 "$T/p.keytab"
check_grep "... says so" "nothing to purge" "$CHECK_OUT"
check_eq "... and does not rewrite the file" "$before" "$(kt_sum "$T/p.keytab")"

# purge --older-than: keys from the KDC are "now"; add an old kvno by
# ageing nothing but waiting: keys written 2 s ago are older than 1 s.
cp "$T/orig.keytab" "$T/o.keytab"
check "purge --older-than 1d keeps everything (all keys are new)" "$KT" purge --older-than 1d "$T/o.keytab"
check_eq "... all 8 entries remain" 8 "$(kt_entries "$T/o.keytab" | wc -l)"
sleep 2
check "purge --older-than 1s drops every kvno but the newest" "$KT" purge --older-than 1s "$T/o.keytab"
check_eq "... imap keeps only kvno 4" "4" \
    "$(kt_entries "$T/o.keytab" | awk '$2 ~ /^imap/ {print $1}' | sort -u | xargs)"
check_eq "... smtp (one kvno) is untouched" 2 "$(kt_entries "$T/o.keytab" | grep -c smtp)"
check_fails "purge --older-than 3x is a usage error" "$KT" purge --older-than 3x "$T/o.keytab"
check_fails "purge with both --keep and --older-than is a usage error" "$KT" purge --keep 1 --older-than 1d "$T/o.keytab"
harness_finish
