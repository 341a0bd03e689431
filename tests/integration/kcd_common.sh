# shellcheck shell=bash
# NAME
#   kcd_common.sh - shared set-up for the mailsso-kcd integration tests
#   (sourced, not a test itself)
#
# SYNOPSIS
#   . "$top_srcdir/tests/integration/kcd_common.sh"
#   kcd_env_init kcd_token          # harness_init + LDAP KDC + CA + users + CRL server
#   kcd_write_conf [EXTRA_LINES]    # $KCD_CONF, the kcd group with test paths
#   kcd_start                       # mailsso-kcd serve (harness name "kcd"), waits for the socket
#   kcd_token CERTNAME [ARGS...]    # mailsso-kcd token --cert $CA_DIR/CERTNAME.crt
#   kdc_s4u_counts                  # "SELF PROXY": S4U lines in the KDC log so far
#
# DESCRIPTION
#   Certificates issued by kcd_env_init (UPN suffix example.test, mapped to
#   EXAMPLE.TEST by the default config):
#     alice     good                       bob       good (revoked by some tests)
#     revoked   revoked before the CRL     expired   --expired
#     stranger  --untrusted (foreign CA)   noupn     --no-upn
#     foreign   UPN carol@elsewhere.test   twoupn    two UPNs
#     gwcert    UPN HTTP/gw... (a service) ghost     UPN ghost@example.test (no principal)
#   KCD_LOG is the helper's log file, KCD_SOCK its socket.

. "$top_srcdir/tests/harness/lib.sh"

KCD_BIN=$top_builddir/kcd/mailsso-kcd

kcd_env_init() {
    harness_init "$1"
    require_cmd openssl python3 slapd krb5kdc
    [ -x "$KCD_BIN" ] || harness_fatal "$KCD_BIN not built (run make first)"
    kdc_ldap_start
    ca_init
    ca_issue_user alice alice@example.test
    ca_issue_user bob bob@example.test
    ca_issue_user revoked alice@example.test
    ca_issue_user expired alice@example.test --expired
    ca_issue_user stranger alice@example.test --untrusted
    ca_issue_user noupn "" --no-upn --email alice@example.test
    ca_issue_user foreign carol@elsewhere.test
    ca_issue_user twoupn alice@example.test --upn2 bob@example.test
    ca_issue_user ghost ghost@example.test
    ca_revoke revoked
    ca_gen_crl
    ca_serve_crl
    mkdir -p "$T/kcd"
    KCD_SOCK=$T/kcd/kcd.sock
    KCD_CONF=$T/kcd/mailsso.conf
    KCD_LOG=$T/logs/kcd.log
    export KCD_SOCK KCD_CONF KCD_LOG
}

# kcd_write_conf [EXTRA kcd-group LINES...]: later keys override nothing
# (libconfig refuses duplicates), so tests pass keys that are not below.
kcd_conf_has() { case "$KCD_EXTRA" in *"$1 ="*) return 0 ;; esac; return 1; }
kcd_write_conf() {
    local l
    KCD_EXTRA=""
    for l in "$@"; do KCD_EXTRA="$KCD_EXTRA    $l
"; done
    {
        echo 'log_level = "debug";'
        echo 'kcd = {'
        echo "    listen = \"$KCD_SOCK\";"
        kcd_conf_has socket_mode || echo '    socket_mode = 0666;'
        kcd_conf_has allowed_peers || echo "    allowed_peers = [\"$(id -un)\"];"
        # started as root, the helper refuses to serve unless told which user to be
        kcd_conf_has user || echo "    user = \"$(id -un)\";"
        kcd_conf_has keytab || echo "    keytab = \"$GW_KEYTAB\";"
        kcd_conf_has principal || echo "    principal = \"HTTP/gw.example.test@$REALM\";"
        echo "    trust_anchors = \"$CA_ROOT\";"
        kcd_conf_has intermediates || echo "    intermediates = \"$CA_INTER\";"
        kcd_conf_has upn_realms || echo "    upn_realms = [\"example.test = $REALM\"];"
        kcd_conf_has default_target || echo '    default_target = "HTTP@mail.example.test";'
        kcd_conf_has crl_fail_mode || echo '    crl_fail_mode = "closed";'
        kcd_conf_has crl_required_at_start || echo '    crl_required_at_start = false;'
        kcd_conf_has crl_timeout || echo '    crl_timeout = 2;'
        kcd_conf_has crl_retry || echo '    crl_retry = 0;'
        kcd_conf_has negative_cache_ttl || echo '    negative_cache_ttl = 0;'
        kcd_conf_has require_eku || echo '    require_eku = ["clientAuth"];'
        printf '%s' "$KCD_EXTRA"
        echo '};'
    } >"$KCD_CONF"
}

kcd_start() {
    local i
    rm -f "$KCD_SOCK"
    harness_spawn kcd "$KCD_BIN" serve -c "$KCD_CONF" --foreground
    for ((i = 0; i < 200; i++)); do
        [ -S "$KCD_SOCK" ] && grep -q "listening on" "$KCD_LOG" 2>/dev/null && return 0
        harness_alive kcd || break
        sleep 0.05
    done
    cat "$KCD_LOG" >&2
    harness_fatal "mailsso-kcd did not start (log above)"
}

kcd_token() {
    local name=$1
    shift
    "$KCD_BIN" token -c "$KCD_CONF" --cert "$CA_DIR/$name.crt" "$@"
}

# kcd_ask CERTNAME [curl args]: one auth request straight to the socket;
# prints the HTTP status; headers in $T/last.headers
# kcd_cert_escaped CERTNAME: the certificate as nginx's $ssl_client_escaped_cert,
# computed once per certificate (python3's start-up must not land inside a
# timed request).
kcd_cert_escaped() {
    local enc=$T/kcd/escaped.$1
    if [ ! -s "$enc" ] || [ "$enc" -ot "$CA_DIR/$1.crt" ]; then
        python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe=""))' \
            "$CA_DIR/$1.crt" >"$enc"
    fi
    cat "$enc"
}

kcd_ask() {
    local name=$1 cert=""
    shift
    [ "$name" = - ] || cert=$(kcd_cert_escaped "$name")
    curl -s -o /dev/null -D "$T/last.headers" -w '%{http_code}' --unix-socket "$KCD_SOCK" \
        -H "X-Client-Cert: $cert" "$@" http://kcd/auth
}

kdc_s4u_counts() {
    local s p
    s=$(grep -c 'PROTOCOL-TRANSITION' "$KDC_LOG")
    p=$(grep -c 'CONSTRAINED-DELEGATION' "$KDC_LOG")
    echo "$s $p"
}

# kcd_gateway_up: Apache (mod_auth_gssapi, HTTP/mail keytab) + nginx in front
# (TLS with client certificates, auth_request to the helper's socket). Sets
# HTTPS_PORT, APACHE_PORT; nginx is "nginx-gw", Apache "apache-mail".
kcd_gateway_up() {
    . "$top_srcdir/tests/harness/nginx.sh"
    . "$top_srcdir/tests/harness/apache.sh"
    require_cmd nginx apache2 curl
    harness_pick_ports HTTPS_PORT APACHE_PORT
    ca_issue_server mail mail.example.test other.example.test
    apache_start_gssapi mail "$APACHE_PORT" "$HTTP_KEYTAB"
    sed -e "s|@HTTPS_PORT@|$HTTPS_PORT|g" -e "s|@BACKEND@|127.0.0.1:$APACHE_PORT|g" \
        -e "s|@KCD_SOCK@|$KCD_SOCK|g" -e "s|@CA_DIR@|$CA_DIR|g" -e "s|@CA_CHAIN@|$CA_CHAIN|g" \
        "$top_srcdir/tests/integration/kcd_nginx_site.conf.in" >"$T/nginx-site.conf"
    nginx_start gw "$T/nginx-site.conf"
    wait_port "$APACHE_PORT" || harness_fatal "Apache did not listen on $APACHE_PORT"
    wait_port "$HTTPS_PORT" || harness_fatal "nginx did not listen on $HTTPS_PORT"
}

# kcd_curl CERTNAME [curl args]: GET https://mail.example.test/whoami through
# nginx with that client certificate ("-" for none); prints the status, the
# body in $T/last.body
kcd_curl() {
    local name=$1 certargs=()
    shift
    [ "$name" = - ] || certargs=(--cert "$CA_DIR/$name.crt" --key "$CA_DIR/$name.key")
    curl -s -o "$T/last.body" -D "$T/last.headers" -w '%{http_code}' --cacert "$CA_CHAIN" \
        --resolve "mail.example.test:$HTTPS_PORT:127.0.0.1" "${certargs[@]}" "$@" \
        "https://mail.example.test:$HTTPS_PORT/whoami"
}
