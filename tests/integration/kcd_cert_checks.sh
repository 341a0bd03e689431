#!/bin/bash
# kcd_cert_checks.sh - mailsso-kcd refuses every bad certificate with the
# right cause before any KDC request (revoked, expired, foreign CA, no UPN,
# two UPNs, unmapped domain, missing EKU, thumbprint lists, a UPN naming the
# gateway itself), and maps a certificate without UPN through subject_rules.
set -u
. "$top_srcdir/tests/integration/kcd_common.sh"
kcd_env_init kcd_cert_checks
ca_issue_user noeku alice@example.test --no-eku
ca_issue_user gwcert HTTP/gw.example.test@example.test
ca_issue_user svc "" --no-upn
kcd_write_conf

# refused [STATUS CAUSE] ... cause: TEXT -- one line each, exit 3 (403)
refused() { # refused CERT CAUSE REGEX
    local out rc
    out=$(kcd_token "$1" 2>&1 >/dev/null)
    rc=$?
    printf '%s\n' "$out" >"$T/err.$1"
    check_eq "$1: refused as the user's fault (exit 3)" 3 "$rc"
    check_grep "$1: logged as [403 $2] with cause and fix" "refused \[403 $2\].*cause: .*$3.*; fix: .+" "$T/err.$1"
}

refused revoked revoked 'certificate revoked'
refused expired expired 'certificate expired'
refused stranger untrusted 'does not chain to a trust anchor'
refused noupn no_upn 'no UPN'
refused twoupn several_upn '2 UPNs'
refused foreign unmapped_domain "UPN suffix 'elsewhere.test'"
refused noeku bad_eku 'no extended key usage'
refused gwcert bad_upn "characters not allowed"
check_eq "no certificate-check refusal reached the KDC" "0 0" "$(kdc_s4u_counts)"

check "alice is fine" kcd_token alice

# thumbprints
fpr=$(openssl x509 -in "$CA_DIR/alice.crt" -outform DER | openssl dgst -sha256 -r | cut -c1-64)
colon=$(printf '%s' "$fpr" | tr a-f A-F | sed 's/../&:/g; s/:$//')
kcd_write_conf "thumbprints_deny = [\"$colon\"];"
refused alice thumbprint_denied "certificate SHA-256 $fpr is in kcd.thumbprint_deny"
kcd_write_conf "thumbprints_allow = [\"$fpr\"];"
check "thumbprints_allow: the listed certificate passes" kcd_token alice
refused bob thumbprint_not_allowed 'is not in kcd.thumbprint_allow'

# the gateway's own principal, via a subject rule (a UPN cannot name it)
kcd_write_conf "subject_rules = [\"CN=svc,O=mailsso test = HTTP/gw.example.test@$REALM\", \"CN=noupn,O=mailsso test = bob@$REALM\"];"
refused svc own_principal "maps to the gateway's own principal"
kcd_token noupn --value >"$T/noupn.tok" 2>"$T/noupn.err"
check_eq "subject_rules map a certificate without UPN (noupn -> bob)" 0 $?
check_eq "... and the backend sees bob" "bob@$REALM spnego" \
    "$("$top_builddir/tests/integration/kcd_accept" "$HTTP_KEYTAB" "$(cat "$T/noupn.tok")" | tr '\n' ' ' | sed 's/ $//')"

# e-mail SAN rule for certificates without UPN (noupn carries alice@example.test)
kcd_write_conf "subject_rules = [\"email:*@example.test = %u@$REALM\"];"
kcd_token noupn --value >"$T/noupn2.tok" 2>/dev/null
check_eq "an email:*@domain rule maps noupn's e-mail SAN alice@example.test to alice" "alice@$REALM spnego" \
    "$("$top_builddir/tests/integration/kcd_accept" "$HTTP_KEYTAB" "$(cat "$T/noupn2.tok")" | tr '\n' ' ' | sed 's/ $//')"
kcd_write_conf "subject_rules = [\"email:*@elsewhere.test = %u@$REALM\"];"
refused noupn no_upn 'no kcd.subject_rules entry matches'
kcd_write_conf "subject_rules = [\"email:*@example.test = %u@OTHER.REALM\"];" \
    "upn_realms = [\"example.test = $REALM\"];"
refused noupn unmapped_domain 'whose realm is not in kcd.upn_realms'

# EKU: require smart-card logon as well
kcd_write_conf 'require_eku = ["clientAuth", "msSmartcardLogin"];'
check "require_eku clientAuth + msSmartcardLogin: alice's certificate has both" kcd_token alice
kcd_write_conf 'require_eku = ["1.3.6.1.5.5.7.3.4"];'
refused alice bad_eku 'lacks 1.3.6.1.5.5.7.3.4'

# --check-config catches a lower-case realm (the schema's check)
kcd_write_conf 'upn_realms = ["example.test = example.test"];'
check_fails "--check-config refuses a lower-case realm in upn_realms" \
    "$KCD_BIN" --check-config -c "$KCD_CONF"
harness_finish
