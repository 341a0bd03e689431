#!/usr/bin/env bash
# plugin_gssapi_login.sh - the stock Cyrus SASL GSSAPI client logs in through
# libsasl2 to OUR server plugin for smtp, imap and pop; security layers none,
# integrity and confidentiality carry data both ways; GSS-SPNEGO works; every
# success writes the audit line; a replayed token is refused; concurrent logins
# in one multi-threaded server process all succeed; valgrind finds
# no definite leak or invalid access in a login.
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
plugin_setup plugin_login

check_eq "the plugin exports only sasl_server_plug_init" "sasl_server_plug_init" \
    "$(nm -D --defined-only "$PLUGIN_SO" | awk '{print $3}' | tr '\n' ' ' | sed 's/ $//')"

for s in smtp imap pop; do
    check_login "GSSAPI login to $s (no layer, as Postfix/Thunderbird)" "$s" --max-ssf 0
    check_grep "audit line for $s names principal, mailbox, service, enctypes, kvno and SSF" \
        "mailsso: login ok: mech=GSSAPI service=$s principal=alice@EXAMPLE.TEST mailbox=alice ticket=$s/mail.example.test@EXAMPLE.TEST kvno=2 ticket_enctype=aes256-cts-hmac-sha1-96\(18\) session_enctype=aes256-cts-hmac-sha1-96\(18\) ssf=0" \
        "$T/last.log"
done
check_grep "user is the mailbox alice" '^RESULT ok mech=GSSAPI user=alice authid=alice ssf=0$' "$OUT"

check_login "confidentiality layer negotiated and data wrapped both ways" imap --data
check_grep "confidentiality: SSF from the context is 256 (AES256)" '^DATA ok ssf=256$' "$OUT"

check_login "integrity layer (client max SSF 1) and data both ways" imap --data --client-max-ssf 1
check_grep "integrity: SSF 1, data verified" '^DATA ok ssf=1$' "$OUT"

check_login "server requiring SSF 56 gets confidentiality" imap --min-ssf 56 --data
check_grep "min_ssf honoured" '^DATA ok ssf=256$' "$OUT"

login imap --min-ssf 56 --client-max-ssf 1
check_grep "a server requiring SSF 56 offers only confidentiality: a client capped at SSF 1 gives up" \
    '^RESULT fail code=client' "$OUT"

check_login "GSS-SPNEGO login with confidentiality and data" pop --mech GSS-SPNEGO --data
check_grep "GSS-SPNEGO data verified" '^DATA ok ssf=256$' "$OUT"
check_grep "GSS-SPNEGO audit line" 'mailsso: login ok: mech=GSS-SPNEGO service=pop principal=alice@EXAMPLE.TEST' "$T/last.log"

check_grep "the server process's environment is unchanged after logins, layers and sasl_server_done" \
    '^ENV unchanged$' "$OUT"

check_login "a token used once logs in" imap --replay
check_grep "the same token presented again is refused" '^REPLAY refused' "$OUT"
check_grep "replay diagnosed as such" 'login failed: service=imap stage=accept .*Request is a replay.*cause: replay' "$T/last.log"

check_login "three logins in one process reuse the cached credential" imap --count 3
check_eq "three audit lines" 3 "$(grep -c 'mailsso: login ok' "$T/last.log")"

# (the stock client plugins leak in their init; in a sanitizer build the
# threaded run, whose client is in-process, does not check leaks)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    check_login "8 threads x 25 logins with data in one server process" imap --threads 8 --count 25 --data
check_grep "... all 200 succeeded" '^THREADS ok=200 fail=0$' "$OUT"

if ldd "$DRIVER" | grep -q libasan; then
    printf 'NOTE: sanitizer build: AddressSanitizer checks memory, valgrind step skipped\n'
elif command -v valgrind >/dev/null 2>&1; then
    VG="valgrind --quiet --error-exitcode=42 --leak-check=full --errors-for-leak-kinds=definite --child-silent-after-fork=yes --track-fds=no"
    if $VG "$DRIVER" --plugin-dir "$PLUGDIR" --service imap --host mail.example.test \
        --opt "mailsso_config=$CONF" --log "$T/vg.log" --data --count 2 >"$T/vg.out" 2>&1; then
        harness_pass "valgrind: two logins with a confidentiality layer, no invalid access, no definite leak"
    else
        harness_failmsg "valgrind reported errors (expected exit 0, got $?)"
        sed 's/^/    /' "$T/vg.out" | head -40
    fi
else
    printf 'NOTE: valgrind not installed, memory check skipped\n'
fi
harness_finish
