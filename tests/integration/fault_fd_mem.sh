#!/bin/bash
# fault_fd_mem.sh - file descriptors and memory stay flat: one plugin server
# process serving GSSAPI logins in a loop (stock client) and one mailsso-kcd
# serving helper requests from 4 parallel clients (cached users, refused
# certificates, renewed users, health), both at the same time, keep the same
# /proc/PID/fd count and an RSS growth within RSS_SLACK_KB (3 MB) between a
# warmed-up sample and the end. Short by default (SOAK_SECONDS=8: >= 500
# logins and >= 500 helper requests); SOAK_SECONDS=600 is the 10-minute soak
# (make soak, tests/soak/run.sh).
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
plugin_setup fault_fd_mem
SECS=${SOAK_SECONDS:-8}
RSS_SLACK_KB=${RSS_SLACK_KB:-3072}
# The loops run for a fixed time: an ASan build does several times fewer.
MIN_N=500
[ "${MAILSSO_SANITIZERS:-0}" = 1 ] && MIN_N=100
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# the fewest fds over 10 looks 20 ms apart: a login in flight briefly holds
# one more (replay cache, keytab); a leak raises the minimum
fds_min() {
    local i n min=999999
    for ((i = 0; i < 10; i++)); do
        n=$(fds "$1")
        [ "$n" -lt "$min" ] && min=$n
        sleep 0.02
    done
    echo "$min"
}
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
flat() { # flat WHAT FD0 FD1 RSS0 RSS1 N
    check_eq "$1: fd count unchanged after $6 more ($2 -> $3)" "$2" "$3"
    if [ "${MAILSSO_SANITIZERS:-0}" = 1 ]; then
        # ASan keeps freed memory in quarantine (up to 256 MB), so RSS says
        # nothing there; leaks are LeakSanitizer's job in that build.
        echo "# $1: RSS not compared in the sanitizer build (ASan quarantine): ${4:-?} -> ${5:-?} KB"
    elif [ -n "$4" ] && [ -n "$5" ] && [ $(($5 - $4)) -le "$RSS_SLACK_KB" ]; then
        harness_pass "$1: RSS within ${RSS_SLACK_KB} KB ($4 -> $5 KB)"
    else
        harness_failmsg "$1: RSS within ${RSS_SLACK_KB} KB (expected growth <= $RSS_SLACK_KB KB, got ${4:-?} -> ${5:-?} KB)"
    fi
}

# ---- plugin side: alice's imap ticket is cached, so the logins need no KDC
kvno imap/mail.example.test >/dev/null || harness_fatal "no imap ticket"
kdc_stop

# ---- helper side: LDAP KDC, CA, mailsso-kcd
. "$top_srcdir/tests/integration/kcd_common.sh"
kdc_ldap_start
ca_init
for u in alice bob carol; do ca_issue_user "$u" "$u@example.test"; done
ca_issue_user expired alice@example.test --expired
ca_issue_user stranger alice@example.test --untrusted
ca_issue_user ghost ghost@example.test
ca_gen_crl
ca_serve_crl
kdc_addprinc carol >/dev/null
mkdir -p "$T/kcd"
KCD_SOCK=$T/kcd/kcd.sock KCD_CONF=$T/kcd/mailsso.conf KCD_LOG=$T/logs/kcd.log
kcd_write_conf "allowed_peers = [\"$(id -un)\"];" 'cache_max_lifetime = 2;'
kcd_start
kpid=$(harness_pid kcd)
for c in alice bob carol expired stranger ghost; do
    python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe=""))' \
        "$CA_DIR/$c.crt" >"$T/$c.q"
done
# one client: a mix of cached, refused and (after cache_max_lifetime)
# renewed users, plus health; a new connection per request, as nginx does
client() { # client SECONDS OUTFILE
    python3 - "$KCD_SOCK" "$1" "$T" >>"$2" <<'PY'
import socket, sys, time
sock, secs, t = sys.argv[1], float(sys.argv[2]), sys.argv[3]
certs = {c: open("%s/%s.q" % (t, c)).read().strip()
         for c in ("alice", "bob", "carol", "expired", "stranger", "ghost")}
reqs = ["GET /auth HTTP/1.1\r\nHost: kcd\r\nX-Client-Cert: %s\r\nConnection: close\r\n\r\n" % v
        for v in certs.values()] + ["GET /health HTTP/1.1\r\nHost: kcd\r\nConnection: close\r\n\r\n"]
end = time.time() + secs
while time.time() < end:
    for r in reqs:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall(r.encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        print(data.split(b" ", 2)[1].decode() if data else "none")
PY
}

# ---- both loads at once; warm-up, first sample, SECS seconds, last sample
harness_spawn logins "$DRIVER" --plugin-dir "$PLUGDIR" --service imap --host mail.example.test \
    --opt "mailsso_config=$CONF" --log "$T/logins.log" --seconds $((SECS + 8)) --pause-ms 1
pid=$(harness_pid logins)
client 2 "$T/warm.codes"        # warm-up of both (the plugin's credential, caches)
f0=$(fds_min "$pid"); r0=$(rss "$pid"); n0=$(grep -c 'login ok' "$T/logins.log")
kf0=$(fds_min "$kpid"); kr0=$(rss "$kpid")
end=$(( $(date +%s) + SECS ))
cpids=()
for i in 1 2 3 4; do client "$SECS" "$T/codes.$i" & cpids+=($!); done
samples=() ksamples=()
while [ "$(date +%s)" -lt "$end" ]; do
    sleep 1
    samples+=("$(fds "$pid")/$(rss "$pid")")
    ksamples+=("$(fds "$kpid")/$(rss "$kpid")")
done
wait "${cpids[@]}"
f1=$(fds_min "$pid"); r1=$(rss "$pid"); n1=$(grep -c 'login ok' "$T/logins.log")
sleep 0.3
kf1=$(fds_min "$kpid"); kr1=$(rss "$kpid")
echo "# plugin server pid $pid: fd/rss per second: ${samples[*]}"
echo "# kcd pid $kpid: fd/rss per second: ${ksamples[*]}"
while harness_alive logins; do sleep 0.2; done

check_grep "the login process ended normally" '^ENV unchanged' "$T/logs/logins.log"
check_eq "... no login failed" 0 "$(grep -c '^RESULT fail' "$T/logs/logins.log")"
n=$((n1 - n0))
if [ "$n" -ge "$MIN_N" ]; then harness_pass "at least $MIN_N logins between the samples ($n)"
else harness_failmsg "at least $MIN_N logins between the samples (expected >= $MIN_N, got $n)"; fi
flat "plugin server process" "$f0" "$f1" "$r0" "$r1" "$n logins"

cat "$T"/codes.* >"$T/codes"
total=$(wc -l <"$T/codes")
if [ "$total" -ge "$MIN_N" ]; then harness_pass "at least $MIN_N helper requests between the samples ($total)"
else harness_failmsg "at least $MIN_N helper requests between the samples (expected >= $MIN_N, got $total)"; fi
check_eq "every answer was the expected one (200 good users and health, 403 refused)" 0 \
    "$(grep -cv '^\(200\|403\)$' "$T/codes")"
check "the helper is alive" harness_alive kcd
flat "mailsso-kcd" "$kf0" "$kf1" "$kr0" "$kr1" "$total requests"
harness_finish
