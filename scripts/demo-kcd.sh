#!/bin/bash
# demo-kcd.sh - part 3 of ./demo.sh: a client certificate becomes a Kerberos login to an HTTP
# mail backend. An LDAP-backed KDC allows the gateway HTTP/gw.example.test to delegate to
# HTTP/mail.example.test only; nginx asks mailsso-kcd about each request; Apache with
# mod_auth_gssapi stands in for the Exchange-style backend and echoes who it authenticated.
set -u
. "$top_srcdir/tests/integration/kcd_common.sh"
say() { printf '\n=== %s\n' "$*"; }

say "3. Certificate -> S4U2Self + S4U2Proxy -> Negotiate (mailsso-kcd)"
kcd_env_init demo_kcd
. "$top_srcdir/tests/harness/nginx.sh"
echo "LDAP-backed KDC for $REALM on 127.0.0.1:$KDC_PORT; test CA in $CA_DIR"
echo "alice's certificate carries the UPN alice@example.test in its SAN:"
openssl x509 -in "$CA_DIR/alice.crt" -noout -subject -ext subjectAltName 2>/dev/null | sed 's/^/    /'
peer=$( [ "$(id -u)" = 0 ] && echo "${NGINX_USER:-nobody}" || id -un )
kcd_write_conf "allowed_peers = [\"$peer\", \"$(id -un)\"];"
echo "helper configuration ($KCD_CONF):"
sed -n '/kcd = {/,/};/p' "$KCD_CONF" | sed 's/^/    /'

say "mailsso-kcd token: the header a script or nginx would send to the backend"
kcd_token alice --target HTTP@mail.example.test >"$T/token.out" 2>&1
cut -c1-100 "$T/token.out" | sed 's/^/    /'
check_grep "the helper minted a Negotiate header for alice" '^Authorization: Negotiate ' "$T/token.out"

say "nginx (TLS + client certificate) -> mailsso-kcd -> Apache/mod_auth_gssapi"
kcd_start
kcd_gateway_up
code=$(kcd_curl alice)
echo "curl --cert alice.crt https://mail.example.test/whoami -> HTTP $code"
sed 's/^/    backend says: /' "$T/last.body"
check_eq "alice's certificate reaches the backend" 200 "$code"
check_grep "the backend authenticated alice@$REALM with Kerberos" "^user=alice@$REALM$" "$T/last.body"
read -r self proxy <<<"$(kdc_s4u_counts)"
echo "KDC log: $self S4U2Self and $proxy S4U2Proxy request(s) so far"
for _ in 1 2 3 4 5; do kcd_curl alice >/dev/null; done
read -r self2 proxy2 <<<"$(kdc_s4u_counts)"
check_eq "5 more requests by alice cost no KDC request (cached credentials, fresh tokens)" \
    "$self $proxy" "$self2 $proxy2"

say "A revoked certificate is refused, and the helper says why"
code=$(kcd_curl revoked)
echo "curl --cert revoked.crt ... -> HTTP $code"
check_eq "the revoked certificate gets 403" 403 "$code"
grep -i 'revoked' "$KCD_LOG" | tail -n 1 | sed 's/^/    /'
check_grep "the helper's log names the revocation" "revoked" "$KCD_LOG"
harness_finish
