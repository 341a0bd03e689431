# shellcheck shell=bash
# NAME
#   e2e_common.sh - shared helpers of the end-to-end tests (e2e_*.sh)
#
# SYNOPSIS
#   . "$top_srcdir/tests/integration/e2e_common.sh"   # sources the harness
#   harness_init e2e_x; kdc_start
#   e2e_krb5_conf mit        # KRB5_CONFIG = conf/krb5/krb5.conf-mit, templated
#   e2e_sample conf/dovecot/10-auth.conf "$T/10-auth.conf" \
#       -e "s#/etc/dovecot/mail.keytab#$T/dovecot.keytab#"
#   KT=$(e2e_keytab_tool)
#
# DESCRIPTION
#   The tests use the annotated samples in conf/ themselves, templated with
#   sed, so that a sample that stops working fails the test suite.
#
#   e2e_sample SAMPLE OUT [SED ARGS...]
#       Copies $SRC/SAMPLE to OUT through sed with the given expressions.
#       Fails (99) if the sample is missing.
#   e2e_krb5_conf mit|ad
#       Templates conf/krb5/krb5.conf-mit or krb5.conf-ad for the harness KDC
#       (realm -> $REALM, KDCs/DCs -> 127.0.0.1:$KDC_PORT, admin and kpasswd
#       servers -> their harness ports) into $T/krb5-sample.conf and exports
#       KRB5_CONFIG to it: every later client and server uses the sample.
#       Call after kdc_start.
#   e2e_keytab_tool
#       Prints the path of the built mailsso-keytab, or fails (99).
#   e2e_curl_args PORT...
#       Sets the array CURL: curl with GSSAPI (-u :, AUTH=GSSAPI, -v trace) and
#       --resolve mail.example.test:PORT:127.0.0.1 for each PORT.

. "$top_srcdir/tests/harness/lib.sh"

e2e_sample() {
    local sample=${1:?usage: e2e_sample SAMPLE OUT [SED ARGS...]} out=${2:?}
    shift 2
    [ -f "$SRC/$sample" ] || harness_fatal "missing sample $SRC/$sample"
    sed "$@" "$SRC/$sample" >"$out" ||
        harness_fatal "templating $sample failed"
}

e2e_krb5_conf() {
    local kind=${1:?usage: e2e_krb5_conf mit|ad} out=$T/krb5-sample.conf
    [ -n "${KDC_PORT:-}" ] || harness_fatal "e2e_krb5_conf before kdc_start"
    case $kind in
        mit)
            e2e_sample conf/krb5/krb5.conf-mit "$out" \
                -e "/kdc = kdc2\.example\.com/d" \
                -e "s/kdc = kdc1\.example\.com/kdc = 127.0.0.1:$KDC_PORT/" \
                -e "s/admin_server = kdc1\.example\.com/admin_server = 127.0.0.1:$KADMIN_PORT/" \
                -e "s/EXAMPLE\.COM/$REALM/g" -e "s/example\.com/example.test/g" ;;
        ad)
            e2e_sample conf/krb5/krb5.conf-ad "$out" \
                -e "/kdc = dc2\.ad\.example\.com/d" \
                -e "s/kdc = dc1\.ad\.example\.com/kdc = 127.0.0.1:$KDC_PORT/" \
                -e "s/admin_server = dc1\.ad\.example\.com/admin_server = 127.0.0.1:$KADMIN_PORT/" \
                -e "s/kpasswd_server = dc1\.ad\.example\.com/kpasswd_server = 127.0.0.1:$KPASSWD_PORT/" \
                -e "/^ *\.\?ad\.example\.com = /d" \
                -e "s/AD\.EXAMPLE\.COM/$REALM/g" -e "s/example\.com/example.test/g" ;;
        *) harness_fatal "e2e_krb5_conf: mit or ad, not $kind" ;;
    esac
    if grep -v '^[[:space:]]*#' "$out" | grep -Eq 'example\.com|EXAMPLE\.COM|kdc[12]\.|dc[12]\.'; then
        harness_fatal "templating krb5.conf-$kind left a placeholder: $(grep -v '^[[:space:]]*#' "$out" | grep -E 'example\.com|EXAMPLE\.COM|kdc[12]\.|dc[12]\.')"
    fi
    grep -q "kdc = 127.0.0.1:$KDC_PORT" "$out" ||
        harness_fatal "templating krb5.conf-$kind: no 'kdc = host' line to point at the test KDC"
    export KRB5_CONFIG=$out
}

e2e_keytab_tool() {
    local kt=$BUILD/keytab-tools/mailsso-keytab
    [ -x "$kt" ] || harness_fatal "missing $kt (build keytab-tools first)"
    printf '%s' "$kt"
}

e2e_curl_args() {
    local p
    CURL=(curl -sS -v -u : --login-options AUTH=GSSAPI)
    for p in "$@"; do
        CURL+=(--resolve "mail.example.test:$p:127.0.0.1")
    done
}
