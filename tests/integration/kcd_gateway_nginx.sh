#!/bin/bash
# kcd_gateway_nginx.sh - end to end: curl with a client certificate -> nginx
# (TLS, auth_request over the Unix socket) -> mailsso-kcd -> Apache with
# mod_auth_gssapi. The good user reaches the backend as alice@EXAMPLE.TEST;
# every bad certificate is refused with the right status and log line and
# never reaches the backend; a client-supplied Authorization header never
# reaches the backend; a host mapped to a target outside the delegation list
# gets 502 with its diagnosis; 100 requests by one user cost exactly one
# S4U2Self and one S4U2Proxy.
set -u
. "$top_srcdir/tests/integration/kcd_common.sh"
kcd_env_init kcd_gateway_nginx
. "$top_srcdir/tests/harness/nginx.sh"
peer=$( [ "$(id -u)" = 0 ] && echo "${NGINX_USER:-nobody}" || id -un )
kdc_addprinc carol >/dev/null
ca_issue_user carol carol@example.test
kcd_write_conf "allowed_peers = [\"$peer\", \"$(id -un)\"];" \
    'targets = ["other.example.test = HTTP@other.example.test"];'
kcd_start
kcd_gateway_up

check_eq "the backend itself demands Kerberos (401 without a token)" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APACHE_PORT/whoami")"

# ---- the good user
check_eq "alice's certificate: 200 through nginx" 200 "$(kcd_curl alice)"
check_grep "the backend authenticated alice@EXAMPLE.TEST via Negotiate" "^user=alice@$REALM$" "$T/last.body"
check_grep "auth type is Negotiate" "^auth-type=Negotiate$" "$T/last.body"
check_grep "the helper logged the grant" "allowed alice@$REALM -> HTTP@mail.example.test \(S4U2Self\+S4U2Proxy" "$KCD_LOG"

# ---- a client-supplied Authorization / Proxy-Authorization never reaches the backend
check_eq "alice with her own Authorization header: still 200" 200 \
    "$(kcd_curl alice -H 'Authorization: Basic ZXZpbDpldmls' -H 'Proxy-Authorization: Basic cHJveHk6cHc=')"
check_grep "the backend still saw alice (the helper's token)" "^user=alice@$REALM$" "$T/last.body"
check_no_grep "the client's Authorization never reached the backend" 'ZXZpbDpldmls' "$T/logs/apache-mail.access.log"
check_no_grep "the client's Proxy-Authorization never reached the backend" 'cHJveHk6cHc' "$T/logs/apache-mail.access.log"
check_no_grep "nor did the certificate header" 'BEGIN' "$T/logs/apache-mail.access.log"
n_backend=$(wc -l <"$T/logs/apache-mail.access.log")

# ---- bad certificates: right status, right log line, backend never reached
bad() { # bad CERT STATUS CAUSE
    local got
    got=$(kcd_curl "$1")
    check_eq "$1: nginx answers $2" "$2" "$got"
    check_grep "$1: the helper logged [$2 $3] with a fix" "refused \[$2 $3\].*cause: .*; fix: " "$KCD_LOG"
}
bad revoked 403 revoked
check_eq "expired: nginx itself refuses an expired client certificate (400)" 400 "$(kcd_curl expired)"
check_eq "expired: and so does the helper (403), asked directly" 403 "$(kcd_ask expired)"
check_grep "expired: the helper logged [403 expired] with a fix" 'refused \[403 expired\].*cause: .*; fix: ' "$KCD_LOG"
bad stranger 403 untrusted
bad noupn 403 no_upn
bad foreign 403 unmapped_domain
bad twoupn 403 several_upn
bad ghost 403 principal_unknown
check_eq "no certificate at all: 403" 403 "$(kcd_curl -)"
check_grep "... logged as no_certificate" 'refused \[403 no_certificate\]' "$KCD_LOG"
check_eq "no refused request reached the backend" "$n_backend" "$(wc -l <"$T/logs/apache-mail.access.log")"

# ---- a host whose target is outside the delegation list
got=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA_CHAIN" --cert "$CA_DIR/bob.crt" \
    --key "$CA_DIR/bob.key" --resolve "other.example.test:$HTTPS_PORT:127.0.0.1" \
    "https://other.example.test:$HTTPS_PORT/whoami")
check_eq "Host other.example.test (target not delegable): 502" 502 "$got"
check_grep "... logged as delegation_denied naming the target" \
    'refused \[502 delegation_denied\] bob@EXAMPLE.TEST -> HTTP@other.example.test.*not in the delegation list' "$KCD_LOG"

# ---- 100 requests by one user: one S4U2Self + one S4U2Proxy in the KDC log
before=$(grep -c "PROTOCOL-TRANSITION s4u-client=bob@" "$KDC_LOG")
proxy_before=$(grep -c "CONSTRAINED-DELEGATION s4u-client=bob@$REALM" "$KDC_LOG")
ok=0
for i in $(seq 100); do
    [ "$(kcd_curl bob)" = 200 ] && grep -q "^user=bob@$REALM$" "$T/last.body" && ok=$((ok + 1))
done
check_eq "100 requests by bob all reach the backend as bob" 100 "$ok"
check_eq "... with exactly one S4U2Self (KDC log)" 1 \
    "$(( $(grep -c "PROTOCOL-TRANSITION s4u-client=bob@" "$KDC_LOG") - before ))"
check_eq "... and exactly one S4U2Proxy (KDC log)" 1 \
    "$(( $(grep -c "CONSTRAINED-DELEGATION s4u-client=bob@$REALM" "$KDC_LOG") - proxy_before ))"
check_eq "every backend request carried a different token (no replay)" \
    "$(grep -c 'user=bob@' "$T/logs/apache-mail.access.log")" \
    "$(grep 'user=bob@' "$T/logs/apache-mail.access.log" | sed 's/.* authz="\([^"]*\)".*/\1/' | sort -u | wc -l)"

# ---- concurrent first requests of a new user: single flight
seq 20 | xargs -P 10 -I{} curl -s -o /dev/null --cacert "$CA_CHAIN" --cert "$CA_DIR/carol.crt" \
    --key "$CA_DIR/carol.key" --resolve "mail.example.test:$HTTPS_PORT:127.0.0.1" \
    "https://mail.example.test:$HTTPS_PORT/whoami"
check_eq "20 concurrent first requests by carol reached the backend as carol" 20 \
    "$(grep -c "user=carol@$REALM" "$T/logs/apache-mail.access.log")"
check_eq "... with a single S4U2Self (single flight)" 1 "$(grep -c "PROTOCOL-TRANSITION s4u-client=carol@" "$KDC_LOG")"
check_eq "... and a single S4U2Proxy" 1 "$(grep -c "CONSTRAINED-DELEGATION s4u-client=carol@" "$KDC_LOG")"

# ---- the shipped sample site is valid nginx (paths replaced by the test's)
sed -e "s|/etc/ssl/mail.example.com/fullchain.pem|$CA_DIR/mail.crt|" \
    -e "s|/etc/ssl/mail.example.com/privkey.pem|$CA_DIR/mail.key|" \
    -e "s|/etc/mailsso/user-ca-chain.pem|$CA_CHAIN|" -e "s|/run/mailsso-kcd/kcd.sock|$KCD_SOCK|" \
    -e "s|listen 443 ssl;|listen 127.0.0.1:$HTTPS_PORT ssl;|" -e "/listen \[::\]:443/d" \
    -e "s|server mail.example.com:443;|server 127.0.0.1:$APACHE_PORT;|" \
    "$top_srcdir/conf/nginx/mailsso-kcd.conf" >"$T/sample-site.conf"
mkdir -p "$T/nginx-sample"
printf 'pid %s/nginx.pid;\nevents {}\nhttp {\n access_log %s;\n client_body_temp_path %s/cb;\n proxy_temp_path %s/px;\n include %s;\n}\n' \
    "$T/nginx-sample" "$T/logs/nginx-sample.access.log" "$T/nginx-sample" "$T/nginx-sample" \
    "$T/sample-site.conf" >"$T/nginx-sample/nginx.conf"
check "conf/nginx/mailsso-kcd.conf passes nginx -t" \
    nginx -t -q -p "$T/nginx-sample" -e "$T/logs/nginx-sample.log" -c "$T/nginx-sample/nginx.conf"

# ---- health endpoint and counters
curl -s --unix-socket "$KCD_SOCK" http://kcd/health >"$T/health"
check_grep "health: JSON with request, cache-hit and KDC counters" '"requests":[0-9]+,"allowed":[0-9]+,"cache_hits":[0-9]{3},"kdc_calls":[0-9]+' "$T/health"
check_grep "health: failures counted by cause" '"revoked":1.*' "$T/health"
harness_finish
