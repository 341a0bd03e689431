#!/bin/bash
# harness_kdc_ldap.sh - the LDAP-backed harness KDC does constrained
# delegation: the gateway HTTP/gw.example.test gets an S4U2Self ticket for
# alice and an S4U2Proxy ticket to HTTP/mail.example.test; HTTP/other is
# refused until kdc_ldap_allow_delegation allows it, and refused again after
# kdc_ldap_deny_delegation. kdc_stop stops krb5kdc and slapd.
set -u
. "$top_srcdir/tests/harness/lib.sh"
harness_init harness_kdc_ldap
require_cmd slapd slapadd ldapsearch ldapmodify kdb5_ldap_util kadmin.local krb5kdc kinit klist kvno

kdc_ldap_start
check "slapd runs under its saved PID" harness_alive slapd
check "krb5kdc (LDAP backend) runs under its saved PID" harness_alive krb5kdc
check "kinit alice with \$ALICE_PW works against the LDAP KDC" kdc_kinit alice "$ALICE_PW" "$T/alice.cc"
check_fails "kinit alice with a wrong password fails" kdc_kinit alice "x$ALICE_PW" "$T/alice-bad.cc"
for kt in "$GW_KEYTAB" "$HTTP_KEYTAB" "$OTHER_KEYTAB"; do
    check "keytab ${kt##*/} exists and lists keys" klist -k "$kt"
done

gw() { # gw CCACHE CMD...: run CMD with a fresh gateway TGT in CCACHE
    local cc=FILE:$1
    shift
    KRB5CCNAME=$cc kinit -k -t "$GW_KEYTAB" HTTP/gw.example.test && KRB5CCNAME=$cc "$@"
}

# 1. the gateway's TGT is forwardable (S4U2Proxy needs it)
check "kinit -k as HTTP/gw.example.test from \$GW_KEYTAB" gw "$T/gw1.cc" true
KRB5CCNAME=FILE:$T/gw1.cc klist -f >"$T/gw1.klist" 2>&1
check_grep "the gateway's TGT is forwardable (flags F)" "Flags: F" "$T/gw1.klist"

# 2. S4U2Self + S4U2Proxy to the allowed target
check "S4U2Self+S4U2Proxy: gw gets alice's ticket for HTTP/mail.example.test" \
    gw "$T/gw2.cc" kvno -U alice -P HTTP/mail.example.test
KRB5CCNAME=FILE:$T/gw2.cc klist >"$T/gw2.klist" 2>&1
check_grep "the delegated ticket is alice -> HTTP/mail.example.test" \
    "HTTP/mail.example.test@$REALM" "$T/gw2.klist"
check_grep "... issued for client alice" "for client alice@$REALM" "$T/gw2.klist"
check_grep "the KDC logged S4U2Self (PROTOCOL-TRANSITION)" "PROTOCOL-TRANSITION s4u-client=alice@$REALM" "$KDC_LOG"
check_grep "the KDC logged S4U2Proxy (CONSTRAINED-DELEGATION)" "CONSTRAINED-DELEGATION s4u-client=alice@$REALM" "$KDC_LOG"

# 3. a target outside krbAllowedToDelegateTo is refused
check_fails "S4U2Proxy to HTTP/other.example.test is refused" \
    gw "$T/gw3.cc" kvno -U alice -P HTTP/other.example.test
check_grep "the KDC logged the refusal" "UNSUPPORTED_S4U2PROXY_REQUEST.*HTTP/other.example.test@$REALM" "$KDC_LOG"

# 4. the ACL helpers take effect at once
kdc_ldap_allow_delegation HTTP/gw.example.test HTTP/other.example.test
check "after kdc_ldap_allow_delegation, HTTP/other.example.test is allowed" \
    gw "$T/gw4.cc" kvno -U alice -P HTTP/other.example.test
kdc_ldap_deny_delegation HTTP/gw.example.test HTTP/other.example.test
check_fails "after kdc_ldap_deny_delegation, HTTP/other.example.test is refused again" \
    gw "$T/gw5.cc" kvno -U alice -P HTTP/other.example.test
check "HTTP/mail.example.test is still allowed" \
    gw "$T/gw6.cc" kvno -U alice -P HTTP/mail.example.test

# 5. without ok_to_auth_as_delegate the evidence ticket is not forwardable
kdc_admin "modprinc -ok_to_auth_as_delegate HTTP/gw.example.test" >/dev/null
check_fails "without ok_to_auth_as_delegate S4U2Proxy is refused" \
    gw "$T/gw7.cc" kvno -U alice -P HTTP/mail.example.test
check_grep "... because the evidence ticket is not forwardable" "EVIDENCE_TKT_NOT_FORWARDABLE" "$KDC_LOG"
kdc_admin "modprinc +ok_to_auth_as_delegate HTTP/gw.example.test" >/dev/null

# 6. stop
slapd_pid=$(harness_pid slapd)
kdc_pid=$(harness_pid krb5kdc)
kdc_stop
check_fails "krb5kdc is gone after kdc_stop" pid_alive "$kdc_pid"
check_fails "slapd is gone after kdc_stop" pid_alive "$slapd_pid"
check_eq "nothing listens on the LDAP port any more" "" "$(port_inodes "$LDAP_PORT")"
harness_finish
