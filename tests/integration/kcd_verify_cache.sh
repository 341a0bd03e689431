#!/bin/bash
# kcd_verify_cache.sh - the verification cache (verify_cache_ttl) answers a
# repeated certificate without verifying it again, yet never outlives what
# the helper knows: a revocation applies on the next request after SIGHUP
# or after the CRL is refreshed (crl_refresh), a certificate is refused once
# its notAfter passes, a different certificate with the same UPN is
# verified on its own, the TTL bounds an entry and verify_cache_ttl = 0
# turns the cache off. Hits are counted in /health (verify_cache_hits).
set -u
. "$top_srcdir/tests/integration/kcd_common.sh"
kcd_env_init kcd_verify_cache
ca_issue_user alice2 alice@example.test          # a second certificate for alice

counter() { # counter NAME: a number from /health
    curl -s --unix-socket "$KCD_SOCK" http://kcd/health |
        sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
reloads=0
reload() { # SIGHUP and wait for the reload line
    reloads=$((reloads + 1))
    kill -HUP "$(harness_pid kcd)"
    for i in $(seq 200); do
        [ "$(grep -c 'configuration reloaded' "$KCD_LOG")" -ge "$reloads" ] && return 0
        sleep 0.05
    done
    harness_fatal "mailsso-kcd did not reload (see $KCD_LOG)"
}

kcd_write_conf
kcd_start

# ---- the hit path
check_eq "alice: 200 (verified in full, loading the CRL of its CA)" 200 "$(kcd_ask alice)"
h=$(counter verify_cache_hits)
f=$(counter crl_fetches)
check_eq "alice again: 200" 200 "$(kcd_ask alice)"
check_eq "... answered from the verification cache (verify_cache_hits +1)" $((h + 1)) "$(counter verify_cache_hits)"
check_eq "... without touching the CRLs" "$f" "$(counter crl_fetches)"
check_grep "... and the request is still logged as allowed for alice" \
    'allowed alice@EXAMPLE.TEST -> HTTP@mail.example.test \(cache hit; cert /O=mailsso test/CN=alice serial' "$KCD_LOG"

# ---- another certificate with the same UPN is verified on its own
h=$(counter verify_cache_hits)
check_eq "revoked certificate with alice's UPN: 403" 403 "$(kcd_ask revoked)"
check_grep "... as revoked" 'refused \[403 revoked\] .*CN=revoked' "$KCD_LOG"
check_eq "foreign-CA certificate with alice's UPN: 403" 403 "$(kcd_ask stranger)"
check_eq "alice's second certificate: 200" 200 "$(kcd_ask alice2)"
check_eq "... none of the three answered from alice's cached verdict" "$h" "$(counter verify_cache_hits)"

# ---- a certificate that expires while its verdict is cached
cp "$CA_DIR/alice.ext" "$T/short.ext"
ca_newkey_csr "$CA_DIR/short.key" "$CA_DIR/short.csr" "/O=mailsso test/CN=short"
ca_sign inter short "$T/short.ext" -startdate "$(ca_date '-1 hour')" -enddate "$(ca_date '+8 seconds')"
end=$(date -d "$(openssl x509 -in "$CA_DIR/short.crt" -noout -enddate | cut -d= -f2)" +%s)
check_eq "short-lived certificate: 200" 200 "$(kcd_ask short)"
h=$(counter verify_cache_hits)
check_eq "... again: 200" 200 "$(kcd_ask short)"
check_eq "... from the verification cache" $((h + 1)) "$(counter verify_cache_hits)"
while [ "$(date +%s)" -le "$end" ]; do sleep 0.2; done
check_eq "past its notAfter: 403 although verify_cache_ttl (300 s) has not run out" 403 "$(kcd_ask short)"
check_grep "... as expired" 'refused \[403 expired\] .*CN=short' "$KCD_LOG"

# ---- revocation + SIGHUP
check_eq "bob: 200" 200 "$(kcd_ask bob)"
check_eq "bob again: 200 (cached verdict)" 200 "$(kcd_ask bob)"
ca_revoke bob
ca_gen_crl
reload
check_eq "bob revoked, SIGHUP: the very next request is refused" 403 "$(kcd_ask bob)"
check_grep "... as revoked" 'refused \[403 revoked\] .*CN=bob' "$KCD_LOG"

# ---- revocation + CRL refresh (no SIGHUP after the revocation)
kcd_write_conf 'crl_refresh = 6;'
reload
check_eq "alice2 (crl_refresh = 6): 200" 200 "$(kcd_ask alice2)"
h=$(counter verify_cache_hits)
check_eq "alice2 again: 200" 200 "$(kcd_ask alice2)"
check_eq "... from the verification cache" $((h + 1)) "$(counter verify_cache_hits)"
loads=$(grep -c 'inter.crl loaded' "$KCD_LOG")
ca_revoke alice2
ca_gen_crl
sleep 6.2
check_eq "alice2 revoked, CRL due for refresh: the next request is refused" 403 "$(kcd_ask alice2)"
check_grep "... as revoked" 'refused \[403 revoked\] .*CN=alice2' "$KCD_LOG"
check "... after loading the new CRL" test "$(grep -c 'inter.crl loaded' "$KCD_LOG")" -gt "$loads"

# ---- verify_cache_ttl bounds an entry
kcd_write_conf 'verify_cache_ttl = 4;'
reload
kcd_ask alice >/dev/null
h=$(counter verify_cache_hits)
check_eq "verify_cache_ttl = 4: alice 200" 200 "$(kcd_ask alice)"
check_eq "... from the verification cache" $((h + 1)) "$(counter verify_cache_hits)"
sleep 4.2
check_eq "after 4 s: alice 200" 200 "$(kcd_ask alice)"
check_eq "... verified in full again" $((h + 1)) "$(counter verify_cache_hits)"

# ---- verify_cache_ttl = 0: off
kcd_write_conf 'verify_cache_ttl = 0;'
reload
h=$(counter verify_cache_hits)
for i in 1 2 3; do kcd_ask alice >/dev/null; done
check_eq "verify_cache_ttl = 0: alice 200" 200 "$(kcd_ask alice)"
check_eq "... and no request answered from the verification cache" "$h" "$(counter verify_cache_hits)"
harness_finish
