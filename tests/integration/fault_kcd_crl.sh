#!/bin/bash
# fault_kcd_crl.sh - CRL faults kcd_crl.sh does not cover: an expired CRL
# (past nextUpdate) in fail-open mode is accepted with a warning, while a
# fresh CRL is still enforced in fail-open mode (revoked -> 403); a CRL server
# that hangs (SIGSTOP) costs at most crl_timeout + 1 s, answered 503 +
# Retry-After (closed) or 200 + warning (open, one crl_timeout per CRL of the
# chain); the helper recovers when the
# server answers again, without a restart.
set -u
. "$top_srcdir/tests/integration/kcd_common.sh"
kcd_env_init fault_kcd_crl
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
me=$(id -un)

# ---- fail-open, fresh CRL: revocation still enforced
kcd_write_conf "allowed_peers = [\"$me\"];" 'crl_fail_mode = "open";'
kcd_start
check_eq "fail-open, fresh CRL: alice 200" 200 "$(kcd_ask alice)"
check_eq "fail-open, fresh CRL: the revoked certificate is still 403" 403 "$(kcd_ask revoked)"
check_grep "... logged as revoked" 'refused \[403 revoked\]' "$KCD_LOG"
check_no_grep "... and no 'not checked' warning while the CRL is fresh" 'not checked: CRL unavailable' "$KCD_LOG"
harness_stop kcd

# ---- fail-open, expired CRL (nextUpdate passed): accepted with a warning
ca_stop_crl
ca_gen_crl --expired
ca_serve_crl
kcd_write_conf "allowed_peers = [\"$me\"];" 'crl_fail_mode = "open";'
kcd_start
check_eq "fail-open, CRL past nextUpdate: alice 200" 200 "$(kcd_ask alice)"
check_grep "... with the warning that revocation was not checked" \
    'revocation of alice@EXAMPLE.TEST .* not checked: CRL unavailable and crl_fail_mode = open' "$KCD_LOG"
check_eq "fail-open never lets an expired certificate in" 403 "$(kcd_ask expired)"
check_eq "fail-open never lets a foreign CA's certificate in" 403 "$(kcd_ask stranger)"
harness_stop kcd

# ---- CRL server hung (SIGSTOP), fail-closed: bounded by crl_timeout
ca_stop_crl
ca_gen_crl
ca_serve_crl
kcd_write_conf "allowed_peers = [\"$me\"];" 'crl_timeout = 2;' 'retry_after = 9;'
kcd_start
kcd_cert_escaped bob >/dev/null
kill -STOP "$(harness_pid crl_http)"
t0=$(date +%s%N)
got=$(kcd_ask bob --max-time 20)
ms=$(ms_since "$t0")
check_eq "fail-closed, CRL server hung: 503" 503 "$got"
if [ "$ms" -lt 3000 ]; then harness_pass "... within crl_timeout + 1 s (${ms} ms)"
else harness_failmsg "... within crl_timeout + 1 s (expected < 3000 ms, got ${ms} ms)"; fi
check_grep "... with Retry-After: 9" '^Retry-After: 9' "$T/last.headers"
check_grep "... and X-Kcd-Reason: crl_unavailable" '^X-Kcd-Reason: crl_unavailable' "$T/last.headers"
kill -CONT "$(harness_pid crl_http)"
check_eq "CRL server answers again: bob 200 from the same helper" 200 "$(kcd_ask bob)"
check_eq "... and the revoked certificate 403" 403 "$(kcd_ask revoked)"
harness_stop kcd

# ---- CRL server hung, fail-open: accepted within crl_timeout + 1 s, warned
kcd_write_conf "allowed_peers = [\"$me\"];" 'crl_timeout = 2;' 'crl_fail_mode = "open";' \
    'crl_required_at_start = false;'
kill -STOP "$(harness_pid crl_http)"
kcd_start
kcd_cert_escaped alice >/dev/null
t0=$(date +%s%N)
got=$(kcd_ask alice --max-time 20)
ms=$(ms_since "$t0")
check_eq "fail-open, CRL server hung: alice 200" 200 "$got"
# fail-open checks both CRLs of the chain (root and intermediate): one
# crl_timeout each (crl_timeout is per download)
if [ "$ms" -lt 5000 ]; then harness_pass "... within 2 x crl_timeout + 1 s, one timeout per CRL of the chain (${ms} ms)"
else harness_failmsg "... within 2 x crl_timeout + 1 s (expected < 5000 ms, got ${ms} ms)"; fi
check_grep "... with the warning" 'not checked: CRL unavailable and crl_fail_mode = open' "$KCD_LOG"
kill -CONT "$(harness_pid crl_http)"
check "the helper is alive" harness_alive kcd
harness_finish
