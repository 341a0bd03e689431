# shellcheck shell=bash
# NAME
#   tests/harness/apache.sh - a private Apache httpd with mod_auth_gssapi as a
#   Kerberos (Negotiate) backend that echoes the authenticated user
#
# SYNOPSIS
#   . "$top_srcdir/tests/harness/lib.sh"; . "$top_srcdir/tests/harness/apache.sh"
#   harness_pick_ports APACHE_PORT
#   apache_start_gssapi mail "$APACHE_PORT" "$HTTP_KEYTAB"   # harness name "apache-mail"
#   wait_port "$APACHE_PORT"
#   curl -s http://127.0.0.1:$APACHE_PORT/whoami          # 401 without a token
#   apache_stop mail
#
# DESCRIPTION
#   apache_start_gssapi NAME PORT KEYTAB writes $T/apache-NAME/httpd.conf and
#   starts `apache2 -DFOREGROUND` on 127.0.0.1:PORT (mpm_event, its own
#   PidFile, Mutex and runtime dir under $T/apache-NAME, logs in $T/logs:
#   apache-NAME.error.log, apache-NAME.access.log). Every URL requires
#   GSSAPI (mod_auth_gssapi, SPNEGO and raw krb5 tokens, keys from a copy of
#   KEYTAB readable by the server's user); /whoami answers
#     user=<REMOTE_USER>
#     auth-type=<AUTH_TYPE>
#   through an SSI page (mod_include), so a test sees who the backend
#   believes the client is. The access log format is
#     "%r" %>s user=%u authz="%{Authorization}i" proxyauthz="%{Proxy-Authorization}i" x="%{X-Client-Cert}i"
#   As root, the children run as $APACHE_USER (default nobody) /
#   $APACHE_GROUP (default nogroup). The environment (KRB5_CONFIG,
#   KRB5RCACHEDIR=$T/rcache, mode 1777) is inherited. Extra directives can be
#   given in APACHE_EXTRA (text appended to the config).
#   apache_stop NAME stops it by PID.
#
# DIAGNOSTICS
#   A config error is fatal (harness_fatal) with apache2 -t's message.

APACHE_MODDIR=${APACHE_MODDIR:-/usr/lib/apache2/modules}

apache_start_gssapi() {
    local name=${1:?usage: apache_start_gssapi NAME PORT KEYTAB} port=${2:?PORT} keytab=${3:?KEYTAB}
    local dir=$T/apache-$name user_lines="" m
    require_cmd apache2
    require_file "$APACHE_MODDIR/mod_auth_gssapi.so" libapache2-mod-auth-gssapi
    mkdir -p "$dir/htdocs" "$dir/run"
    cp "$keytab" "$dir/http.keytab"
    chmod 644 "$dir/http.keytab"
    if [ "$(id -u)" = 0 ]; then
        user_lines="User ${APACHE_USER:-nobody}
Group ${APACHE_GROUP:-nogroup}"
        chown -R "${APACHE_USER:-nobody}" "$dir/run"
    fi
    printf '%s\n' 'user=<!--#echo var="REMOTE_USER" -->' \
        'auth-type=<!--#echo var="AUTH_TYPE" -->' >"$dir/htdocs/whoami.shtml"
    {
        echo "ServerRoot $dir"
        echo "ServerName mail.example.test"
        echo "Listen 127.0.0.1:$port"
        echo "PidFile $dir/run/httpd.pid"
        echo "DefaultRuntimeDir $dir/run"
        echo "Mutex file:$dir/run default"
        echo "ErrorLog $T/logs/apache-$name.error.log"
        echo "LogLevel info auth_gssapi:debug"
        for m in mpm_event authz_core authz_user authn_core mime include headers \
                 auth_gssapi rewrite alias; do
            echo "LoadModule ${m}_module $APACHE_MODDIR/mod_$m.so"
        done
        echo "$user_lines"
        echo "TypesConfig /etc/mime.types"
        echo "LimitRequestFieldSize 65536"
        echo 'LogFormat "\"%r\" %>s user=%u authz=\"%{Authorization}i\" proxyauthz=\"%{Proxy-Authorization}i\" x=\"%{X-Client-Cert}i\"" kcdtest'
        echo "CustomLog $T/logs/apache-$name.access.log kcdtest"
        echo "DocumentRoot $dir/htdocs"
        echo "AddOutputFilter INCLUDES .shtml"
        echo "AddType text/plain .shtml"
        echo "Alias /whoami $dir/htdocs/whoami.shtml"
        echo "<Directory $dir/htdocs>"
        echo "    Options +Includes"
        echo "    AuthType GSSAPI"
        echo "    AuthName \"mail backend\""
        echo "    GssapiCredStore keytab:$dir/http.keytab"
        echo "    GssapiBasicAuth Off"
        echo "    GssapiLocalName Off"
        echo "    Require valid-user"
        echo "</Directory>"
        printf '%s\n' "${APACHE_EXTRA:-}"
    } >"$dir/httpd.conf"
    apache2 -t -f "$dir/httpd.conf" >"$T/logs/apache-$name.test.log" 2>&1 ||
        harness_fatal "apache2 -t failed for $dir/httpd.conf: $(cat "$T/logs/apache-$name.test.log")"
    harness_spawn "apache-$name" apache2 -DFOREGROUND -f "$dir/httpd.conf"
}

apache_stop() { harness_stop "apache-${1:?usage: apache_stop NAME}"; }
