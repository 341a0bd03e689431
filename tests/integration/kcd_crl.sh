#!/bin/bash
# kcd_crl.sh - revocation checking behaves as configured: with the CRL server
# down the helper refuses to start (crl_required_at_start), answers 503 +
# Retry-After (crl_fail_mode = closed; through nginx too) or accepts with a
# warning (open); a CRL past its nextUpdate counts as unavailable; when the
# server is back the CRL is fetched again; SIGHUP reloads the configuration
# and the CRLs, so a new revocation takes effect.
set -u
. "$top_srcdir/tests/integration/kcd_common.sh"
kcd_env_init kcd_crl
. "$top_srcdir/tests/harness/nginx.sh"
peer=$( [ "$(id -u)" = 0 ] && echo "${NGINX_USER:-nobody}" || id -un )
ca_stop_crl

# ---- CRL server down at start
kcd_write_conf 'crl_required_at_start = true;'
timeout 20 "$KCD_BIN" serve -c "$KCD_CONF" --foreground >"$T/start.log" 2>&1
check_eq "crl_required_at_start = true and no CRL: serve exits 1" 1 $?
check_grep "... saying which CRLs failed and what to do" 'CRLs could not be fetched at start-up.*crl_required_at_start' "$T/start.log"
check_grep "... after naming the unreachable URL" "CRL http://127.0.0.1:$CRL_PORT/root.crl: " "$T/start.log"

# ---- fail-closed: 503 + Retry-After, from the socket and through nginx
kcd_write_conf "allowed_peers = [\"$peer\", \"$(id -un)\"];" 'retry_after = 42;'
kcd_start
check_eq "fail-closed, CRL server down: 503" 503 "$(kcd_ask alice)"
check_grep "... with Retry-After from retry_after" '^Retry-After: 42' "$T/last.headers"
check_grep "... and X-Kcd-Reason: crl_unavailable" '^X-Kcd-Reason: crl_unavailable' "$T/last.headers"
check_grep "the log names the cause, the URL and the fix" \
    "refused \[503 crl_unavailable\].*revocation status unknown.*127.0.0.1:$CRL_PORT.*; fix: make the CRL URL reachable" "$KCD_LOG"
kcd_gateway_up
check_eq "through nginx the client gets 503 too" 503 "$(kcd_curl alice)"
check_grep "... with Retry-After passed on by nginx" '^Retry-After: 42' "$T/last.headers"
check_eq "the backend was never reached" 0 "$(grep -c . "$T/logs/apache-mail.access.log")"

# ---- the CRL server comes back: fetched again (crl_retry = 0), checks resume
ca_serve_crl
check_eq "CRL server back: alice 200 through nginx" 200 "$(kcd_curl alice)"
check_eq "... and the revoked certificate 403" 403 "$(kcd_curl revoked)"
check_grep "... because the CRL was loaded" "CRL http://127.0.0.1:$CRL_PORT/inter.crl loaded: 1 revoked" "$KCD_LOG"

# ---- SIGHUP: a new revocation takes effect
check_eq "bob is fine before his revocation" 200 "$(kcd_curl bob)"
ca_revoke bob
ca_gen_crl
check_eq "bob still passes while the cached CRL is fresh (no refetch per request)" 200 "$(kcd_curl bob)"
kill -HUP "$(harness_pid kcd)"
for i in $(seq 100); do grep -q 'configuration reloaded' "$KCD_LOG" && break; sleep 0.05; done
check_grep "SIGHUP: configuration reloaded" 'configuration reloaded from' "$KCD_LOG"
check_eq "after SIGHUP bob's revocation is in force: 403" 403 "$(kcd_curl bob)"
check_grep "... logged as revoked" 'refused \[403 revoked\] - -> HTTP@mail.example.test \(cert /O=mailsso test/CN=bob' "$KCD_LOG"
check_eq "alice is unaffected" 200 "$(kcd_curl alice)"
harness_stop kcd
harness_stop nginx-gw

# ---- fail-open: accepted, with a warning
ca_stop_crl
kcd_write_conf "allowed_peers = [\"$(id -un)\"];" 'crl_fail_mode = "open";'
kcd_start
check_eq "fail-open, CRL server down: alice 200" 200 "$(kcd_ask alice)"
check_grep "... with a warning that revocation was not checked" 'revocation of alice@EXAMPLE.TEST .* not checked: CRL unavailable and crl_fail_mode = open' "$KCD_LOG"
check_eq "fail-open still refuses an expired certificate" 403 "$(kcd_ask expired)"
harness_stop kcd

# ---- a CRL past its nextUpdate is unavailable (fail-closed)
ca_gen_crl --expired
ca_serve_crl
kcd_write_conf "allowed_peers = [\"$(id -un)\"];"
kcd_start
check_eq "CRL past nextUpdate, fail-closed: 503" 503 "$(kcd_ask alice)"
check_grep "... logged as crl_unavailable: CRL has expired" 'refused \[503 crl_unavailable\].*CRL has expired' "$KCD_LOG"
harness_finish
