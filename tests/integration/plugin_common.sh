# shellcheck shell=bash
# NAME
#   plugin_common.sh - shared set-up of the plugin integration tests
#
# SYNOPSIS
#   . "$top_srcdir/tests/integration/plugin_common.sh"
#   plugin_setup NAME            # harness_init, KDC, service keys, keytab, plugin dir
#   plugin_conf 'enctypes = "aes"'   # writes $T/mailsso.conf (keytab line added)
#   login imap [driver options]  # one login; output in $OUT, server log in $SLOG
#
# DESCRIPTION
#   plugin_setup starts a throwaway KDC (tests/harness/kdc.sh), creates
#   smtp/imap/pop/mail.example.test, exports them into $T/mail.keytab, gets
#   alice a TGT, and puts ONLY our plugin into $PLUGDIR, the SASL plugin path
#   of the server side of the driver (the client side uses the system plugin
#   directory, i.e. the stock Cyrus GSSAPI client plugin).
#
#   login SERVICE [OPTS...] runs plugin_sasl_driver for SERVICE against host
#   mail.example.test with --opt mailsso_config=$CONF (none if CONF is empty), appends the server's
#   SASL log to $SLOG (and a copy of this login's lines to $T/last.log), and
#   leaves the driver's stdout in $OUT. Its exit status is the driver's.
#   RUNAS="setpriv ..." runs the driver as another user.

. "$top_srcdir/tests/harness/lib.sh"

plugin_setup() {
    harness_init "$1"
    DRIVER=$BUILD/tests/integration/plugin_sasl_driver
    PLUGIN_SO=$BUILD/plugin/.libs/libmailsso_gssapi.so
    [ -x "$DRIVER" ] || harness_fatal "missing $DRIVER (make check builds it)"
    [ -f "$PLUGIN_SO" ] || harness_fatal "missing $PLUGIN_SO (build the plugin first)"
    [ -f /usr/lib/x86_64-linux-gnu/sasl2/libgssapiv2.so ] ||
        [ -n "$(find /usr/lib -name libgssapiv2.so 2>/dev/null | head -1)" ] ||
        harness_missing "the stock Cyrus GSSAPI client plugin" "libsasl2-modules-gssapi-mit"
    PLUGDIR=$T/sasl-plugins
    mkdir -p "$PLUGDIR"
    cp "$PLUGIN_SO" "$PLUGDIR/"
    chmod -R a+rX "$PLUGDIR"
    kdc_start
    for s in smtp imap pop; do kdc_addprinc "$s/mail.example.test"; done
    KEYTAB=$T/mail.keytab
    kdc_ktadd "$KEYTAB" smtp/mail.example.test imap/mail.example.test pop/mail.example.test
    chmod 644 "$KEYTAB"
    kdc_kinit alice "$ALICE_PW" || harness_fatal "kinit alice failed"
    CONF=$T/mailsso.conf
    SLOG=$T/logs/sasl-server.log
    : >"$SLOG"
    plugin_conf ""
}

# plugin_conf TEXT: mailsso.conf = keytab line + TEXT (top level and groups)
plugin_conf() {
    printf 'keytab = "%s"\n%s\n' "${PLUGIN_KEYTAB:-$KEYTAB}" "$1" >"$CONF"
}

login() {
    local svc=$1 rc
    shift
    OUT=$T/out.$RANDOM
    : >"$T/last.log"
    chmod 666 "$T/last.log"
    # shellcheck disable=SC2086
    ${RUNAS:-} "$DRIVER" --plugin-dir "$PLUGDIR" --service "$svc" --host "${HOST:-mail.example.test}" \
        ${CONF:+--opt "mailsso_config=$CONF"} --log "$T/last.log" "$@" >"$OUT" 2>"$OUT.err"
    rc=$?
    cat "$T/last.log" >>"$SLOG"
    cat "$OUT.err" >>"$OUT"
    return $rc
}

# check_login "what it proves" SERVICE [OPTS]: PASS if the login succeeds
check_login() {
    local what=$1
    shift
    if login "$@" && grep -Eq '^(RESULT ok|THREADS ok=[1-9][0-9]* fail=0$)' "$OUT"; then
        harness_pass "$what ($(grep '^RESULT' "$OUT" | head -1))"
    else
        harness_failmsg "$what (expected RESULT ok, got: $(grep -E '^(RESULT|DATA)' "$OUT" | tr '\n' ' '))"
        sed 's/^/    /' "$OUT" "$T/last.log" | head -20
    fi
}

# check_refused "what it proves" REGEX SERVICE [OPTS]: the login fails, the client
# sees only the generic failure, and the server log has one diagnosis line
# matching REGEX.
check_refused() {
    local what=$1 re=$2 n
    shift 2
    if login "$@"; then
        harness_failmsg "$what (expected the login to fail, got: $(grep '^RESULT' "$OUT"))"
        return
    fi
    if ! grep -q '^RESULT fail' "$OUT"; then
        harness_failmsg "$what (expected RESULT fail, got: $(tr '\n' ' ' <"$OUT"))"
        return
    fi
    if ! grep -q 'GSSAPI authentication failed$' "$OUT"; then
        harness_failmsg "$what (expected the generic client error, got: $(grep '^RESULT' "$OUT"))"
        return
    fi
    n=$(grep -c 'mailsso: .* login failed' "$T/last.log")
    if [ "$n" != 1 ]; then
        harness_failmsg "$what (expected exactly 1 diagnosis line, got $n)"
        sed 's/^/    /' "$T/last.log" | head -10
        return
    fi
    if grep 'login failed' "$T/last.log" | grep -Eq -- "$re"; then
        harness_pass "$what"
        grep 'login failed' "$T/last.log" | sed 's/^/    /' | cut -c1-400
    else
        harness_failmsg "$what (expected the diagnosis to match /$re/, got:)"
        grep 'login failed' "$T/last.log" | sed 's/^/    /'
    fi
}
