#!/bin/bash
# fault_clock_skew.sh - clocks beyond the Kerberos limit (300 s) give a clear
# diagnosis and no crash. Plugin: the client's clock 15 minutes behind,
# 5 hours ahead and ten years behind -> each login refused with "Clock skew
# too great" and by how much (the client side gets a krb5.conf with a huge
# clockskew, so that the skewed AP-REQ reaches us), and the same server
# process keeps going. mailsso-kcd under libfaketime: an hour ahead, requests
# still work (krb5 adjusts to the KDC's time) and `doctor` names the skew;
# ten years ahead, certificates are refused as expired, the helper stays up.
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
plugin_setup fault_clock_skew
FTLIB=
for l in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
    [ -e "$l" ] && FTLIB=$l && break
done
[ -n "$FTLIB" ] || harness_missing "libfaketime" "faketime"
# In the sanitizer build the ASan runtime must come first in the preload list.
PRELOAD=${MAILSSO_SANITIZER_PRELOAD:+$MAILSSO_SANITIZER_PRELOAD:}$FTLIB

kvno imap/mail.example.test >/dev/null || harness_fatal "no imap ticket"
# The stock client refuses its own ticket when its clock is behind the ticket's
# start time ("Ticket not yet valid"): the client side gets a krb5.conf with a
# huge clockskew so that the skewed AP-REQ reaches our server, which keeps
# the real krb5.conf (--server-krb5-config).
sed 's/^\[libdefaults\]/[libdefaults]\n    clockskew = 400000000/' "$KRB5_CONFIG" >"$T/client-krb5.conf"
# shellcheck disable=SC2097,SC2098 # the server side keeps the real krb5.conf on purpose
skewed() { KRB5_CONFIG=$T/client-krb5.conf "$@" --server-krb5-config "$KRB5_CONFIG"; }
skewed check_refused "client clock 900 s behind: refused, skew named with its size" \
    "Clock skew too great; cause: .*the client's clock is (89[5-9]|90[0-5]) s behind this server's" \
    imap --client-time-offset -900
check_grep "the server process ended normally (no crash)" '^ENV unchanged' "$OUT"
# (ahead by more than the ticket's life the client itself finds its tickets expired)
skewed check_refused "client clock 5 hours ahead: refused, skew named" \
    "Clock skew too great; cause: .*the client's clock is 1[78][0-9][0-9][0-9] s ahead of this server's" \
    imap --client-time-offset 18000
skewed check_refused "client clock ten years behind: refused, skew named" \
    "Clock skew too great; cause: .*the client's clock is 3153[0-9]+ s behind this server's" \
    imap --client-time-offset -315360000
check_grep "... and the server process ended normally" '^ENV unchanged' "$OUT"
check_login "a client with a correct clock still logs in" imap
# one server process, 3 skewed logins in a row: refused each time (exit 2, not a crash)
# shellcheck disable=SC2097,SC2098 # the server side keeps the real krb5.conf on purpose
KRB5_CONFIG=$T/client-krb5.conf "$DRIVER" --plugin-dir "$PLUGDIR" --service imap \
    --host mail.example.test --opt "mailsso_config=$CONF" --log "$T/mixed.log" --count 3 \
    --client-time-offset -900 --server-krb5-config "$KRB5_CONFIG" >"$T/mixed.out" 2>&1
check_eq "3 skewed logins in one server process: exit 2 (refused, not a crash)" 2 $?
check_eq "... 3 refusals" 3 "$(grep -c '^RESULT fail' "$T/mixed.out")"
check_eq "... each with one skew diagnosis" 3 "$(grep -c 'login failed.*Clock skew too great' "$T/mixed.log")"

# ---- mailsso-kcd with a skewed clock (libfaketime on the helper only)
. "$top_srcdir/tests/integration/kcd_common.sh"
kdc_stop
rm -f "$KRB5_CONFIG"
kcd_env_init_skew() { # kcd_env_init without a second harness_init
    kdc_ldap_start
    ca_init
    ca_issue_user alice alice@example.test
    ca_gen_crl
    ca_serve_crl
    mkdir -p "$T/kcd"
    KCD_SOCK=$T/kcd/kcd.sock KCD_CONF=$T/kcd/mailsso.conf KCD_LOG=$T/logs/kcd.log
    export KCD_SOCK KCD_CONF KCD_LOG
}
kcd_env_init_skew
kcd_write_conf "allowed_peers = [\"$(id -un)\"];"
kcd_start_skewed() {
    rm -f "$KCD_SOCK"
    : >"$KCD_LOG"
    # env, not VAR=... before the shell function: the preload must reach the
    # helper only, never the harness's own commands (its cleanup included).
    harness_spawn kcd env LD_PRELOAD="$PRELOAD" FAKETIME="$1" DONT_FAKE_MONOTONIC=1 \
        "$KCD_BIN" serve -c "$KCD_CONF" --foreground
    for _ in $(seq 200); do
        [ -S "$KCD_SOCK" ] && grep -q "listening on" "$KCD_LOG" 2>/dev/null && return 0
        harness_alive kcd || break
        sleep 0.05
    done
    harness_failmsg "mailsso-kcd started with FAKETIME=$1 (log: $(tail -3 "$KCD_LOG"))"
}
kcd_start_skewed +1h
check_eq "kcd clock 1 h ahead: alice still 200 (krb5 follows the KDC's time)" 200 "$(kcd_ask alice)"
LD_PRELOAD=$PRELOAD FAKETIME=+1h DONT_FAKE_MONOTONIC=1 "$KCD_BIN" doctor -c "$KCD_CONF" >"$T/doctor.out" 2>&1
check_eq "doctor with the clock 1 h ahead: problems found (exit 1)" 1 $?
check_grep "... naming the skew and the fix" '^FAIL +clock skew: KDC clock -36[0-9][0-9]s from ours' "$T/doctor.out"
check_grep "... fix: NTP" 'synchronise clocks \(NTP\)' "$T/doctor.out"
check "the helper is alive" harness_alive kcd
harness_stop kcd

kcd_start_skewed +3650d
got=$(kcd_ask alice)
check_eq "kcd clock ten years ahead: alice's certificate refused (403)" 403 "$got"
check_grep "... as expired (the clock is named in the fix)" 'refused \[403 expired\].*; fix: ' "$KCD_LOG"
check "the helper is alive" harness_alive kcd
check_eq "... and answers health" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$KCD_SOCK" http://kcd/health)"
harness_finish
