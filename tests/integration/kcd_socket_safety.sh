#!/bin/bash
# kcd_socket_safety.sh - the helper's socket accepts only the configured
# peers (SO_PEERCRED) with the configured file mode, refuses oversized
# requests and request bodies, drops root privileges after reading the
# keytab (and still renews from its in-memory copy after SIGHUP), and its
# --check-config and doctor commands report problems precisely.
set -u
. "$top_srcdir/tests/integration/kcd_common.sh"
kcd_env_init kcd_socket_safety
me=$(id -un)

# ---- peer check and socket mode
other=nobody
[ "$me" != nobody ] || other=root
kcd_write_conf "allowed_peers = [\"$other\"];" 'socket_mode = 0660;'
kcd_start
check_eq "socket mode is socket_mode (0660)" 660 "$(stat -c %a "$KCD_SOCK")"
check_eq "a peer not in allowed_peers gets 403" 403 "$(kcd_ask alice)"
check_grep "... with X-Kcd-Reason: peer_denied" '^X-Kcd-Reason: peer_denied' "$T/last.headers"
check_grep "... and a log line naming its uid" "refused \[403 peer_denied\] connection from uid $(id -u) " "$KCD_LOG"
check_no_grep "... before any certificate work" 'allowed alice' "$KCD_LOG"
harness_stop kcd

# ---- request limits
kcd_write_conf "allowed_peers = [\"$me\"];" 'max_request_bytes = 16384;'
kcd_start
check_eq "a normal request works" 200 "$(kcd_ask alice)"
big=$(head -c 40000 /dev/zero | tr '\0' a)
got=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$KCD_SOCK" -H "X-Pad: $big" http://kcd/auth)
check "a 40 KB header is refused (not 200: $got)" test "$got" != 200 -a "$got" -ge 400
got=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$KCD_SOCK" --data-binary 'hello' http://kcd/auth)
check_eq "a request body is refused with 413" 413 "$got"
check "the helper survived both" harness_alive kcd
check_eq "and still answers" 200 "$(kcd_ask alice)"
harness_stop kcd

# ---- privilege drop (root only)
if [ "$(id -u)" = 0 ]; then
    chmod 600 "$GW_KEYTAB"
    kcd_write_conf 'allowed_peers = ["root"];' 'user = "nobody";'
    kcd_start
    pid=$(harness_pid kcd)
    check_eq "started as root with user = nobody: runs as uid 65534" \
        "$(id -u nobody)" "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")"
    check_eq "... all uids dropped (real, effective, saved)" "$(id -u nobody) $(id -u nobody) $(id -u nobody)" \
        "$(awk '/^Uid:/ {print $2, $3, $4}' "/proc/$pid/status")"
    check_eq "... and it serves a token (keytab read before the drop)" 200 "$(kcd_ask alice)"
    kill -HUP "$pid"
    for i in $(seq 100); do grep -q 'configuration reloaded\|reload failed' "$KCD_LOG" && break; sleep 0.05; done
    check_grep "SIGHUP as nobody reloads (keytab unreadable now: start-up copy kept)" 'configuration reloaded' "$KCD_LOG"
    check_eq "a new user works after the reload (new S4U from the kept keytab copy)" 200 "$(kcd_ask bob)"
    harness_stop kcd
    # started as root with no user: refuses to serve rather than keep root by accident
    kcd_write_conf 'allowed_peers = ["root"];' 'user = "";'
    rm -f "$KCD_SOCK"
    timeout 10 "$KCD_BIN" serve -c "$KCD_CONF" --foreground >"$T/rootserve.out" 2>&1
    rc=$?
    check "started as root with user = \"\": exits with an error (rc $rc)" test "$rc" != 0 -a "$rc" != 124
    check_grep "... saying it refuses to serve as root, with the fix" \
        'refusing to serve requests as root.*user = "mailsso-kcd"' "$T/rootserve.out"
    check "... and answers nobody" test ! -S "$KCD_SOCK"
else
    echo "# not root: the privilege drop is not exercised here"
fi

# ---- --check-config
kcd_write_conf "allowed_peers = [\"$me\"];"
check "--check-config accepts the test configuration" "$KCD_BIN" --check-config -c "$KCD_CONF"
sed -i 's/^    workers = .*//; s/^};/    workers = 0;\n    bogus_key = 1;\n};/' "$KCD_CONF"
"$KCD_BIN" --check-config -c "$KCD_CONF" >"$T/cc.out" 2>&1
check_eq "--check-config fails on a bad file" 1 $?
check_grep "... naming the unknown key" "bogus_key" "$T/cc.out"
check_grep "... and the bad value with its line" "mailsso.conf:[0-9]+:.*workers" "$T/cc.out"

# ---- doctor
kcd_write_conf "allowed_peers = [\"$me\"];"
"$KCD_BIN" doctor -c "$KCD_CONF" --user "alice@$REALM" --cert "$CA_DIR/bob.crt" >"$T/doctor.out" 2>&1
check_eq "doctor passes on a healthy setup" 0 $?
check_grep "doctor: gateway TGT is forwardable" '^ok +gateway keytab \+ KDC: forwardable TGT for HTTP/gw.example.test@EXAMPLE.TEST' "$T/doctor.out"
check_grep "doctor: clock skew checked" '^ok +clock skew' "$T/doctor.out"
check_grep "doctor: CRL reachable" "^ok +CRL: http://127.0.0.1:$CRL_PORT/root.crl" "$T/doctor.out"
check_grep "doctor: the S4U path for a test user" '^ok +S4U2Self \+ S4U2Proxy: alice@EXAMPLE.TEST -> HTTP@mail.example.test' "$T/doctor.out"
check_grep "doctor: the whole certificate path" '^ok +certificate \+ S4U path: bob@EXAMPLE.TEST' "$T/doctor.out"
kdc_ldap_deny_delegation "$GW_PRINC" "$HTTP_PRINC"
"$KCD_BIN" doctor -c "$KCD_CONF" --user "alice@$REALM" >"$T/doctor2.out" 2>&1
check_eq "doctor fails when delegation to the target is removed" 1 $?
check_grep "... and says why" '^FAIL +S4U2Self \+ S4U2Proxy: \[502 delegation_denied\]' "$T/doctor2.out"
harness_finish
