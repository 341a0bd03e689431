#!/bin/bash
# keytab_bad_input.sh - every kind of bad input gets a precise error and
# leaves every existing file exactly as it was (checksums): a truncated
# keytab, a keytab of an unknown version, a principal that does not parse, an
# enctype nobody knows, an unwritable directory, a write lock held by another
# run; and a write killed half-way (SIGKILL at fsync) leaves the old keytab
# intact and the next write works.
. "$top_srcdir/tests/integration/keytab_lib.sh"
kt_init keytab_bad_input
require_cmd cc setpriv

kdc_start
kdc_addprinc imap/mail.example.test
kdc_ktadd "$T/good.keytab" imap/mail.example.test
kdc_ktadd "$T/out.keytab" imap/mail.example.test
printf 'Pw-1\n' >"$T/pw"
I=imap/mail.example.test@EXAMPLE.TEST
sums() { for f in "$T"/*.keytab; do printf '%s %s\n' "${f##*/}" "$(kt_sum "$f")"; done; }

head -c 40 "$T/good.keytab" >"$T/trunc.keytab"
{ printf '\005\003'; tail -c +3 "$T/good.keytab"; } >"$T/v0503.keytab"
state=$(sums)

check_fails "list of a truncated keytab fails" "$KT" list "$T/trunc.keytab"
check_grep "... saying truncated, naming the file" "trunc.keytab.*truncated|truncated.*trunc.keytab" "$CHECK_OUT"
check_fails "merge with a truncated input fails" "$KT" merge -o "$T/out.keytab" "$T/good.keytab" "$T/trunc.keytab"
check_grep "... naming the truncated file" "trunc.keytab" "$CHECK_OUT"
check_fails "remove on a truncated keytab fails" "$KT" remove -e aes128-cts "$T/trunc.keytab"
check_fails "list of a keytab of version 0x0503 fails" "$KT" list "$T/v0503.keytab"
check_grep "... 'unknown keytab version 0x0503'" "version 0x0503" "$CHECK_OUT"
check_fails "merge into an output of an unknown version fails" "$KT" merge -o "$T/v0503.keytab" "$T/good.keytab"
check_grep "... and suggests --replace" "\-\-replace" "$CHECK_OUT"
check_fails "add with a principal that does not parse fails" \
    "$KT" add -p 'imap/mail@EXAMPLE.TEST@OTHER' -V 1 --password-file "$T/pw" "$T/out.keytab"
check_grep "... naming it" "principal 'imap/mail@EXAMPLE.TEST@OTHER' does not parse" "$CHECK_OUT"
check_fails "add with an unknown enctype fails" "$KT" add -p "$I" -V 1 -e aes256-cts,foo-bar-96 --password-file "$T/pw" "$T/out.keytab"
check_grep "... naming the word" "foo-bar-96" "$CHECK_OUT"
check_fails "add with a broken enctype (des) is refused" "$KT" add -p "$I" -V 1 -e des-cbc-crc --password-file "$T/pw" "$T/out.keytab"
check_grep "... as broken" "broken" "$CHECK_OUT"
check_fails "remove -e with an unknown enctype fails" "$KT" remove -e nonsense "$T/out.keytab"
check_grep "... naming it" "nonsense" "$CHECK_OUT"
check_fails "shell addent with a bad principal fails" sh -c 'printf "addent -password -p a@B@C -k 1 -e aes256-cts\nx\nwkt %s\nq\n" "$1" | "$2" shell' sh "$T/out.keytab" "$KT"
check_grep "... naming it" "'a@B@C' does not parse" "$CHECK_OUT"
check_eq "after all that, every keytab is byte-for-byte unchanged" "$state" "$(sums)"

# unwritable directory
mkdir "$T/ro"
cp "$T/good.keytab" "$T/ro/k.keytab"
chmod 644 "$T/ro/k.keytab"; chmod 755 "$T/ro"; chmod 644 "$T/good.keytab"
before=$(kt_sum "$T/ro/k.keytab")
if [ "$(id -u)" = 0 ]; then
    as_other=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
    chmod 555 "$T/ro"; as_other=()
fi
check_fails "merge into a keytab in a directory we cannot write fails" \
    "${as_other[@]}" "$KT" merge -o "$T/ro/k.keytab" "$T/good.keytab"
check_grep "... naming the directory or file and the cause" "$T/ro.*(Permission denied|permission)" "$CHECK_OUT"
check_eq "... the keytab there is unchanged" "$before" "$(kt_sum "$T/ro/k.keytab")"
check_eq "... and no temp file is left" "k.keytab" "$(ls "$T/ro" | grep -v '\.lock$' | xargs)"
check_fails "rotate there refuses before touching the KDC" "${as_other[@]}" "$KT" rotate "$T/ro/k.keytab"
chmod 755 "$T/ro"

# a lock held by another writer
cp "$T/good.keytab" "$T/locked.keytab"
before=$(kt_sum "$T/locked.keytab")
flock "$T/locked.keytab.lock" sleep 8 &
lockpid=$!
sleep 0.5
check_fails "a write while another run holds the lock fails (busy)" \
    "$KT" remove -e aes128-cts "$T/locked.keytab"
check_grep "... saying the lock is held" "lock|busy" "$CHECK_OUT"
check_eq "... and the keytab is unchanged" "$before" "$(kt_sum "$T/locked.keytab")"
kill "$lockpid" 2>/dev/null; wait "$lockpid" 2>/dev/null

# a write killed half-way: SIGKILL in the first fsync (temp file written, not renamed)
cat >"$T/killfsync.c" <<'EOC'
#include <signal.h>
#include <unistd.h>
int fsync(int fd) { (void)fd; raise(SIGKILL); return 0; }
EOC
cc -shared -fPIC -o "$T/killfsync.so" "$T/killfsync.c" || harness_fatal "cannot build the fsync shim"
cp "$T/good.keytab" "$T/crash.keytab"
before=$(kt_sum "$T/crash.keytab")
killed_merge() { kt_preload "$T/killfsync.so" "$KT" merge -o "$T/crash.keytab" "$T/out.keytab"; test $? -eq 137; }
check "a merge killed by SIGKILL half-way through the write dies (status 137)" killed_merge
check_eq "... the old keytab is intact" "$before" "$(kt_sum "$T/crash.keytab")"
check "... and the next write works (stale lock and temp file are no obstacle)" \
    "$KT" merge -o "$T/crash.keytab" "$T/out.keytab"
check_eq "... leaving only the keytab (and its lock file)" "crash.keytab crash.keytab.lock" \
    "$(ls -A "$T" | grep '^crash' | xargs)"
check "... which verifies" "$KT" verify "$T/crash.keytab"
harness_finish
