#!/bin/bash
# harness_ca.sh - the harness test CA: user certificates carry the UPN
# (otherName UTF8String), clientAuth + smart-card logon EKU and the CRL URL,
# and verify against the chain; a revoked certificate fails openssl verify
# -crl_check after ca_revoke + ca_gen_crl; an expired one is expired; an
# --untrusted one does not chain to the root; the CRLs are downloadable with
# curl from ca_serve_crl and the server is gone after ca_stop_crl.
set -u
. "$top_srcdir/tests/harness/lib.sh"
harness_init harness_ca
require_cmd openssl curl python3

ca_init
verify() { openssl verify -CAfile "$CA_ROOT" -untrusted "$CA_INTER" "$@"; }
ca_issue_user alice alice@EXAMPLE.TEST --email alice@example.test
ca_issue_user bob bob@EXAMPLE.TEST
ca_issue_user carol carol@EXAMPLE.TEST --upn2 c.second@EXAMPLE.TEST
ca_issue_user noupn "" --no-upn --email noupn@example.test
ca_issue_user noeku noeku@EXAMPLE.TEST --no-eku
ca_issue_user old old@EXAMPLE.TEST --expired
ca_issue_user evil alice@EXAMPLE.TEST --untrusted
ca_issue_server mail mail.example.test

# --- chain
check_eq "the chain file holds intermediate + root" 2 "$(grep -c 'BEGIN CERTIFICATE' "$CA_CHAIN")"
check "the intermediate verifies against the root" openssl verify -CAfile "$CA_ROOT" "$CA_INTER"
check "alice's certificate verifies against root + intermediate" verify "$CA_DIR/alice.crt"
check "alice's certificate is good for TLS client auth" verify -purpose sslclient "$CA_DIR/alice.crt"
check "alice's key matches her certificate" \
    sh -c '[ "$(openssl x509 -in "$1.crt" -noout -pubkey)" = "$(openssl pkey -in "$1.key" -pubout)" ]' sh "$CA_DIR/alice"
check "the server certificate is good for TLS server auth" verify -purpose sslserver "$CA_DIR/mail.crt"

# --- contents
openssl x509 -in "$CA_DIR/alice.crt" -noout -text >"$T/alice.txt"
# the SAN extension's DER, parsed: offset of the OCTET STRING after its OID
san_off=$(openssl asn1parse -in "$CA_DIR/alice.crt" |
    awk '/Subject Alternative Name/ { getline; sub(/:.*/, "", $1); print $1; exit }')
openssl asn1parse -in "$CA_DIR/alice.crt" -strparse "${san_off:-0}" >"$T/alice.asn1" 2>&1
check_grep "alice's SAN has the UPN otherName" "othername: UPN::alice@EXAMPLE.TEST" "$T/alice.txt"
check_grep "... encoded with OID 1.3.6.1.4.1.311.20.2.3 (msUPN)" "Microsoft User Principal Name|1\.3\.6\.1\.4\.1\.311\.20\.2\.3" "$T/alice.asn1"
check_grep "... as a UTF8String" "UTF8STRING +:alice@EXAMPLE.TEST$" "$T/alice.asn1"
check_grep "alice's SAN has her email address" "email:alice@example.test" "$T/alice.txt"
check_grep "EKU: clientAuth and smart-card logon" "TLS Web Client Authentication, Microsoft Smartcard Login" "$T/alice.txt"
check_grep "the CRL distribution point is the CRL server" "URI:http://127.0.0.1:$CRL_PORT/inter.crl" "$T/alice.txt"
openssl x509 -in "$CA_INTER" -noout -text >"$T/inter.txt"
check_grep "the intermediate points to the root CRL" "URI:http://127.0.0.1:$CRL_PORT/root.crl" "$T/inter.txt"
openssl x509 -in "$CA_DIR/carol.crt" -noout -ext subjectAltName >"$T/carol.txt" 2>&1
check_grep "--upn2 gives two UPNs" "UPN::carol@EXAMPLE.TEST, othername: UPN::c.second@EXAMPLE.TEST" "$T/carol.txt"
openssl x509 -in "$CA_DIR/noupn.crt" -noout -text >"$T/noupn.txt"
check_no_grep "--no-upn leaves out the UPN" "UPN::" "$T/noupn.txt"
check_grep "... but keeps the email" "email:noupn@example.test" "$T/noupn.txt"
openssl x509 -in "$CA_DIR/noeku.crt" -noout -text >"$T/noeku.txt"
check_no_grep "--no-eku leaves out the extended key usage" "Extended Key Usage" "$T/noeku.txt"

# --- expired, untrusted
check_fails "the --expired certificate is expired (x509 -checkend 0)" \
    openssl x509 -in "$CA_DIR/old.crt" -noout -checkend 0
check_fails "the --expired certificate fails verification" verify "$CA_DIR/old.crt"
check_grep "... because it has expired" "certificate has expired" "$CHECK_OUT"
check_fails "the --untrusted certificate does not chain to the test root" verify "$CA_DIR/evil.crt"
check "... it chains to \$CA_UNTRUSTED_ROOT instead" openssl verify -CAfile "$CA_UNTRUSTED_ROOT" "$CA_DIR/evil.crt"

# --- revocation
check "before revocation alice passes -crl_check_all" \
    verify -crl_check_all -CRLfile "$CA_CRLS" "$CA_DIR/alice.crt"
ca_revoke alice
check "ca_revoke alone does not change the published CRL" \
    verify -crl_check -CRLfile "$CA_INTER_CRL_PEM" "$CA_DIR/alice.crt"
ca_gen_crl
check_fails "after ca_revoke + ca_gen_crl alice fails -crl_check" \
    verify -crl_check -CRLfile "$CA_INTER_CRL_PEM" "$CA_DIR/alice.crt"
check_grep "... because her certificate is revoked" "certificate revoked" "$CHECK_OUT"
check "bob (not revoked) still passes -crl_check_all" \
    verify -crl_check_all -CRLfile "$CA_CRLS" "$CA_DIR/bob.crt"
check "the DER CRL parses and lists alice's serial" \
    sh -c 'openssl crl -inform DER -in "$1" -noout -text | grep -q "Serial Number: $2"' sh "$CA_INTER_CRL" "$(ca_serial alice)"

# --- CRL server
ca_serve_crl
check "the CRL server runs under its saved PID" harness_alive crl_http
check "curl downloads inter.crl from the CRL server" \
    curl -sf -o "$T/dl-inter.crl" "http://127.0.0.1:$CRL_PORT/inter.crl"
check "... byte for byte the DER CRL" cmp "$T/dl-inter.crl" "$CA_INTER_CRL"
check "curl downloads root.crl from the CRL server" \
    curl -sf -o "$T/dl-root.crl" "http://127.0.0.1:$CRL_PORT/root.crl"
check "... and it is a DER CRL signed by the root" \
    openssl crl -inform DER -in "$T/dl-root.crl" -noout -CAfile "$CA_ROOT"
crl_pid=$(harness_pid crl_http)
ca_stop_crl
check_fails "the CRL server process is gone after ca_stop_crl" pid_alive "$crl_pid"
check_fails "curl fails once the CRL server is stopped" curl -sf -o /dev/null "http://127.0.0.1:$CRL_PORT/inter.crl"

# --- intermediate revoked, expired CRL
ca_revoke inter
ca_gen_crl
check_fails "with the intermediate revoked, bob fails -crl_check_all" \
    verify -crl_check_all -CRLfile "$CA_CRLS" "$CA_DIR/bob.crt"
ca_gen_crl --expired
check_fails "an expired CRL (ca_gen_crl --expired) fails -crl_check" \
    verify -crl_check -CRLfile "$CA_INTER_CRL_PEM" "$CA_DIR/bob.crt"
check_grep "... because the CRL has expired" "CRL has expired" "$CHECK_OUT"
harness_finish
