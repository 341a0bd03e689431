#!/bin/bash
# kcd_token_s4u.sh - `mailsso-kcd token` turns alice's certificate into a fresh
# Negotiate token that the backend's own keytab accepts as alice@EXAMPLE.TEST
# (S4U2Self + S4U2Proxy against a real LDAP-backed MIT KDC), and every S4U
# failure (target outside the delegation list, gateway without protocol
# transition, unknown user, KDC down) is refused with its own diagnosis.
set -u
. "$top_srcdir/tests/integration/kcd_common.sh"
kcd_env_init kcd_token_s4u
ACCEPT=$top_builddir/tests/integration/kcd_accept
[ -x "$ACCEPT" ] || harness_fatal "$ACCEPT not built"
kcd_write_conf 'targets = ["other.example.test = HTTP@other.example.test"];'

# ---- the core: a token for alice, accepted by HTTP/mail.example.test's keytab
kcd_token alice >"$T/tok1" 2>"$T/tok1.err"
check_eq "token for alice exits 0" 0 $?
check_grep "it prints an Authorization: Negotiate header" '^Authorization: Negotiate [A-Za-z0-9+/=]{100,}$' "$T/tok1"
check_fails "another service's keytab does not accept it (it is for HTTP/mail only)" \
    "$ACCEPT" "$OTHER_KEYTAB" "$(cat "$T/tok1")"
check_eq "the backend's keytab accepts it: alice@EXAMPLE.TEST over SPNEGO" "alice@EXAMPLE.TEST spnego" \
    "$("$ACCEPT" "$HTTP_KEYTAB" "$(cat "$T/tok1")" | tr '\n' ' ' | sed 's/ $//')"
check_fails "the same token presented again is a replay (the backend's replay cache works)" \
    "$ACCEPT" "$HTTP_KEYTAB" "$(cat "$T/tok1")"
check_grep "the KDC logged the S4U2Self for alice" "PROTOCOL-TRANSITION s4u-client=alice@$REALM" "$KDC_LOG"
check_grep "the KDC logged the S4U2Proxy" "CONSTRAINED-DELEGATION s4u-client=alice@$REALM" "$KDC_LOG"

# a second run gives a different token (fresh authenticator), also accepted
kcd_token alice --value >"$T/tok2" 2>/dev/null
check "--value prints the bare header value" grep -qE '^Negotiate [A-Za-z0-9+/=]+$' "$T/tok2"
check "the second token differs from the first" test "$(cat "$T/tok2")" != "$(sed 's/^Authorization: //' "$T/tok1")"
check "and is accepted too" "$ACCEPT" "$HTTP_KEYTAB" "$(cat "$T/tok2")"

# mechanism = krb5: a raw RFC 4121 token
cp "$KCD_CONF" "$T/kcd/spnego.conf"
kcd_write_conf 'mechanism = "krb5";'
kcd_token alice >"$T/tok3" 2>/dev/null
check_eq "mechanism = krb5 gives a raw krb5 token for alice" "alice@EXAMPLE.TEST krb5" \
    "$("$ACCEPT" "$HTTP_KEYTAB" "$(cat "$T/tok3")" | tr '\n' ' ' | sed 's/ $//')"
cp "$T/kcd/spnego.conf" "$KCD_CONF"

# ---- target outside the delegation list
kcd_token alice --target HTTP@other.example.test >"$T/out" 2>"$T/err"
check_eq "a target outside the delegation list: exit 5 (gateway misconfiguration)" 5 $?
check_grep "... diagnosed as delegation_denied, naming the target and the fix" \
    '\[502 delegation_denied\].*HTTP@other.example.test is not in the delegation list.*krbAllowedToDelegateTo' "$T/err"
check_grep "the KDC refused it (UNSUPPORTED_S4U2PROXY_REQUEST)" "UNSUPPORTED_S4U2PROXY_REQUEST.*for $OTHER_PRINC@$REALM" "$KDC_LOG"
kcd_token alice --target HTTP@evil.example.test >/dev/null 2>"$T/err"
check_eq "a target not configured at all: exit 5" 5 $?
check_grep "... refused before any KDC request (target_not_allowed)" '\[502 target_not_allowed\]' "$T/err"

# ---- unknown user
kcd_token ghost >/dev/null 2>"$T/err"
check_eq "a UPN the KDC does not know: exit 3 (user's fault)" 3 $?
check_grep "... diagnosed as principal_unknown" '\[403 principal_unknown\] ghost@EXAMPLE.TEST.*KDC does not know' "$T/err"

# ---- gateway without protocol transition (ok_to_auth_as_delegate)
kdc_admin "modprinc -ok_to_auth_as_delegate $GW_PRINC" >/dev/null
kcd_token bob >/dev/null 2>"$T/err"
check_eq "gateway without ok_to_auth_as_delegate: exit 5" 5 $?
check_grep "... diagnosed as protocol_transition_denied with the AD and MIT fix" \
    '\[502 protocol_transition_denied\].*non-forwardable evidence ticket.*Use any authentication protocol.*ok_to_auth_as_delegate' "$T/err"
kdc_admin "modprinc +ok_to_auth_as_delegate $GW_PRINC" >/dev/null
check "with protocol transition restored bob gets a token" kcd_token bob

# ---- KDC down
kdc_stop
kcd_token alice >/dev/null 2>"$T/err"
check_eq "KDC down: exit 4 (unavailable, retry later)" 4 $?
check_grep "... diagnosed as kdc_unreachable" '503 kdc_unreachable' "$T/err"

harness_finish
