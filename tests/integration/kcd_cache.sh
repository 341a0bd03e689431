#!/bin/bash
# kcd_cache.sh - the credential cache is keyed by (principal, certificate,
# target), bounded (LRU), expires at cache_max_lifetime, and remembers
# failures for negative_cache_ttl: counted as S4U requests in the KDC log.
set -u
. "$top_srcdir/tests/integration/kcd_common.sh"
kcd_env_init kcd_cache
ca_issue_user alice2 alice@example.test          # a second certificate for alice
self() { grep -c "PROTOCOL-TRANSITION s4u-client=$1@" "$KDC_LOG"; }
proxy() { grep -c "CONSTRAINED-DELEGATION s4u-client=$1@" "$KDC_LOG"; }

kcd_write_conf "allowed_peers = [\"$(id -un)\"];" 'cache_max_entries = 2;' \
    'cache_max_lifetime = 6;' 'negative_cache_ttl = 30;'
kcd_start

# ---- one user, repeated requests: one S4U2Self + one S4U2Proxy
for i in 1 2 3 4 5; do kcd_ask alice >/dev/null; done
check_eq "5 requests by alice: 1 S4U2Self, 1 S4U2Proxy" "1 1" "$(self alice) $(proxy alice)"

# ---- another certificate of the same user is another cache entry
check_eq "alice's second certificate works" 200 "$(kcd_ask alice2)"
check_eq "... with its own S4U2Self (key includes the certificate fingerprint)" 2 "$(self alice)"

# ---- bounded: a third entry evicts the least recently used (alice's first cert)
check_eq "bob: 200" 200 "$(kcd_ask bob)"
check_eq "alice2 is still cached (used recently)" 200 "$(kcd_ask alice2)"
check_eq "... no new S4U2Self for it" 2 "$(self alice)"
check_eq "alice's first certificate was evicted (cache_max_entries = 2)" 200 "$(kcd_ask alice)"
check_eq "... so it needed a new S4U2Self" 3 "$(self alice)"

# ---- cache_max_lifetime (6 s: the requests above must fit in it even on a loaded machine)
sleep 6.2
check_eq "after cache_max_lifetime, alice: 200" 200 "$(kcd_ask alice)"
check_eq "... with a fresh S4U2Self (the entry expired)" 4 "$(self alice)"

# ---- negative cache: an unknown user's failure is remembered
check_eq "ghost (unknown to the KDC): 403" 403 "$(kcd_ask ghost)"
n=$(grep -c 'UNKNOWN_S4U2SELF_PRINCIPAL' "$KDC_LOG")
check_eq "ghost again: still 403" 403 "$(kcd_ask ghost)"
check_grep "... answered from the negative cache" 'refused \[403 principal_unknown\] ghost@EXAMPLE.TEST.*\(cached for [0-9]+s\)' "$KCD_LOG"
check_eq "... without asking the KDC again" "$n" "$(grep -c 'UNKNOWN_S4U2SELF_PRINCIPAL' "$KDC_LOG")"

curl -s --unix-socket "$KCD_SOCK" http://kcd/health >"$T/health"
check_grep "health counts the cache hits" '"cache_hits":[1-9]' "$T/health"

# ---- a broken configuration on SIGHUP is refused; the old one keeps serving
sed -i 's/^};/    no_such_key = 1;\n};/' "$KCD_CONF"
kill -HUP "$(harness_pid kcd)"
for i in $(seq 100); do grep -q 'reload failed' "$KCD_LOG" && break; sleep 0.05; done
check_grep "SIGHUP with a broken file: reload refused, naming the key" \
    'reload failed, keeping the old configuration: .*no_such_key' "$KCD_LOG"
check "the helper still runs" harness_alive kcd
check_eq "and still serves alice" 200 "$(kcd_ask alice)"
harness_finish
