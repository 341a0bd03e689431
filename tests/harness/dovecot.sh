# shellcheck shell=bash
# NAME
#   tests/harness/dovecot.sh - a private Dovecot (its own GSSAPI code) for one test
#
# SYNOPSIS
#   . "$top_srcdir/tests/harness/lib.sh"
#   . "$top_srcdir/tests/harness/dovecot.sh"
#   harness_init my_test
#   kdc_start; kdc_addprinc imap/mail.example.test
#   kdc_ktadd "$T/mail.keytab" imap/mail.example.test
#   chown root:dovecot "$T/mail.keytab"; chmod 640 "$T/mail.keytab"
#   dovecot_start --keytab "$T/mail.keytab"            # or --include 10-auth.conf
#   kdc_kinit alice "$ALICE_PW"
#   curl -u : --login-options AUTH=GSSAPI \
#       --resolve "mail.example.test:$DOVECOT_IMAP_PORT:127.0.0.1" \
#       -X NAMESPACE "imap://mail.example.test:$DOVECOT_IMAP_PORT/"
#
# DESCRIPTION
#   dovecot_start [OPTIONS]
#       Writes a self-contained $DOVECOT_DIR/dovecot.conf (no !include of
#       /etc/dovecot; base_dir, state_dir, mail and log under $DOVECOT_DIR =
#       $T/dovecot), picks $DOVECOT_IMAP_PORT and starts "dovecot -F" through
#       harness_spawn (name "dovecot-master"). Users come from a static passdb (no
#       password: GSSAPI is the only mechanism) and a static userdb (uid
#       dovecot, home $DOVECOT_DIR/home/%u). Options:
#         --include FILE     "!include FILE" (repeatable): e.g. the
#                            authentication settings (auth_mechanisms,
#                            auth_krb5_keytab, auth_gssapi_hostname,
#                            auth_username_format) of conf/dovecot/10-auth.conf,
#                            templated by the test.
#         --keytab FILE      instead of such an include: auth_mechanisms = gssapi,
#                            auth_krb5_keytab = FILE, auth_gssapi_hostname =
#                            mail.example.test (--hostname NAME, or '$ALL'),
#                            auth_username_format = %Ln.
#         --hostname NAME    see --keytab
#         --opt LINE         extra top-level dovecot.conf line (repeatable)
#         --auth-socket      also a unix socket $DOVECOT_AUTH_SOCKET (mode 0666)
#                            for SASL clients such as Postfix
#                            (smtpd_sasl_type = dovecot, smtpd_sasl_path = it)
#       Dovecot's auth process runs as user dovecot: the keytab must be
#       readable by it. The master clears the environment: KRB5_CONFIG and
#       KRB5RCACHEDIR are passed with import_environment. The failure delay is
#       off, but Dovecot 2.3's anvil "auth penalty" (up to 15 s for every later
#       AUTH from an IP that failed recently) cannot be: tests send expected
#       failures from other 127.0.0.x source addresses (curl --interface).
#
#   dovecot_stop                   stops the master (SIGTERM, saved PID)
#   dovecot_log_mark               line count of $DOVECOT_LOG
#   dovecot_log_since MARK         the lines logged after MARK (waits a moment)
#
#   The IMAP binaries: Debian's dovecot-imapd Conflicts with cyrus-imapd (both
#   Provide imap-server), so next to Cyrus it cannot be installed. If
#   /usr/lib/dovecot/imap is missing, dovecot_imap_bindir fetches the
#   dovecot-imapd .deb of exactly the installed dovecot-core version with
#   "apt-get download" and unpacks it (dpkg-deb -x) into
#   $DOVECOT_IMAPD_CACHE (default /var/tmp/mailsso-dovecot-imapd/VERSION),
#   once per machine; the config points every imap service at it.
#
# FILES
#   $DOVECOT_DIR/dovecot.conf, $DOVECOT_LOG ($T/logs/dovecot.log),
#   $T/logs/dovecot-master.log (stdout/stderr of dovecot -F)

dovecot_imap_bindir() {
    local ver cache dl
    if [ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/imap-login ]; then
        printf '%s' /usr/lib/dovecot
        return 0
    fi
    ver=$(dpkg-query -W -f '${Version}' dovecot-core 2>/dev/null) ||
        harness_missing dovecot-core "Debian package dovecot-core (+ dovecot-gssapi)"
    cache=${DOVECOT_IMAPD_CACHE:-/var/tmp/mailsso-dovecot-imapd/$(printf '%s' "$ver" | tr -c 'A-Za-z0-9.+-' _)}
    if [ ! -x "$cache/usr/lib/dovecot/imap" ]; then
        command -v apt-get >/dev/null 2>&1 ||
            harness_missing dovecot-imapd "no /usr/lib/dovecot/imap and no apt-get to fetch dovecot-imapd=$ver"
        mkdir -p "${cache%/*}" || harness_fatal "cannot create ${cache%/*}"
        dl=$(mktemp -d "${cache%/*}/dl.XXXXXX") || harness_fatal "cannot create a download dir in ${cache%/*}"
        chmod 777 "$dl"     # apt-get download writes as user _apt
        if ! (cd "$dl" && apt-get download -q "dovecot-imapd=$ver") >"$T/logs/dovecot-imapd-download.log" 2>&1; then
            rm -rf "$dl"
            harness_missing dovecot-imapd "apt-get download dovecot-imapd=$ver failed: $(tail -n 2 "$T/logs/dovecot-imapd-download.log")"
        fi
        mkdir -p "$cache.tmp.$$"
        dpkg-deb -x "$dl"/dovecot-imapd_*.deb "$cache.tmp.$$" ||
            { rm -rf "$dl" "$cache.tmp.$$"; harness_fatal "dpkg-deb -x of dovecot-imapd failed"; }
        rm -rf "$dl"
        # another test may have unpacked it meanwhile: keep the first one
        mv -T "$cache.tmp.$$" "$cache" 2>/dev/null || rm -rf "$cache.tmp.$$"
        [ -x "$cache/usr/lib/dovecot/imap" ] || harness_fatal "no imap binary in the unpacked dovecot-imapd ($cache)"
    fi
    printf '%s' "$cache/usr/lib/dovecot"
}

dovecot_start() {
    local includes=() keytab="" hostname=mail.example.test opts=() auth_socket=0 bin D uid f
    [ -n "$T" ] || harness_fatal "dovecot_start before harness_init"
    while [ $# -gt 0 ]; do
        case $1 in
            --include) includes+=("${2:?--include FILE}"); shift 2 ;;
            --keytab) keytab=${2:?--keytab FILE}; shift 2 ;;
            --hostname) hostname=${2:?--hostname NAME}; shift 2 ;;
            --opt) opts+=("${2:?--opt LINE}"); shift 2 ;;
            --auth-socket) auth_socket=1; shift ;;
            *) harness_fatal "dovecot_start: unknown option $1" ;;
        esac
    done
    require_cmd dovecot
    require_file /usr/lib/dovecot/modules/auth/libmech_gssapi.so dovecot-gssapi
    id dovecot >/dev/null 2>&1 || harness_missing "user dovecot" "created by the Debian package dovecot-core"
    [ "$(id -u)" = 0 ] || harness_missing "root" "the Dovecot master must start as root"
    [ ${#includes[@]} -gt 0 ] || [ -n "$keytab" ] || harness_fatal "dovecot_start: --include FILE or --keytab FILE"
    for f in "${includes[@]}"; do
        [ -f "$f" ] || harness_fatal "dovecot_start: no such file $f"
    done
    harness_alive dovecot-master && harness_fatal "dovecot_start: Dovecot already runs in this test"
    bin=$(dovecot_imap_bindir) || exit 99

    DOVECOT_DIR=$T/dovecot
    DOVECOT_LOG=$T/logs/dovecot.log
    DOVECOT_AUTH_SOCKET=$DOVECOT_DIR/run/auth-client-sasl
    D=$DOVECOT_DIR
    harness_pick_ports DOVECOT_IMAP_PORT
    export DOVECOT_DIR DOVECOT_LOG DOVECOT_AUTH_SOCKET
    mkdir -p "$D/run" "$D/state" "$D/home"
    chown dovecot:dovecot "$D/home"
    uid=$(id -u dovecot)

    {
        cat <<EOF
# private Dovecot of test $HARNESS_NAME (tests/harness/dovecot.sh)
instance_name = mailsso-$HARNESS_NAME-$$
base_dir = $D/run
state_dir = $D/state
protocols = imap
listen = 127.0.0.1
ssl = no
log_path = $DOVECOT_LOG
auth_verbose = yes
auth_debug = yes
auth_failure_delay = 0
first_valid_uid = $uid
import_environment = TZ KRB5_CONFIG=$KRB5_CONFIG KRB5RCACHEDIR=$KRB5RCACHEDIR
mail_location = maildir:$D/home/%u/Maildir
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$D/home/%u
}
service imap-login {
  executable = $bin/imap-login
  inet_listener imap {
    address = 127.0.0.1
    port = $DOVECOT_IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
# the master checks every imap* executable at start-up
service imap {
  executable = $bin/imap
}
service imap-hibernate {
  executable = $bin/imap-hibernate
}
service imap-urlauth {
  executable = $bin/imap-urlauth
}
service imap-urlauth-login {
  executable = $bin/imap-urlauth-login
}
service imap-urlauth-worker {
  executable = $bin/imap-urlauth-worker
}
EOF
        if [ "$auth_socket" = 1 ]; then
            cat <<EOF
service auth {
  unix_listener $DOVECOT_AUTH_SOCKET {
    mode = 0666
  }
}
EOF
        fi
        for f in "${includes[@]}"; do
            printf '!include %s\n' "$f"
        done
        if [ -n "$keytab" ]; then
            printf '%s\n' "auth_mechanisms = gssapi" "auth_krb5_keytab = $keytab" \
                "auth_gssapi_hostname = $hostname" "auth_username_format = %Ln"
        fi
        [ ${#opts[@]} = 0 ] || printf '%s\n' "${opts[@]}"
    } >"$D/dovecot.conf"

    : >"$DOVECOT_LOG"
    harness_spawn dovecot-master dovecot -c "$D/dovecot.conf" -F
    if ! wait_port "$DOVECOT_IMAP_PORT" 20; then
        harness_fatal "Dovecot did not listen on $DOVECOT_IMAP_PORT: $(tail -n 5 "$T/logs/dovecot-master.log" "$DOVECOT_LOG" 2>/dev/null)"
    fi
    if [ "$auth_socket" = 1 ]; then
        local i
        for ((i = 0; i < 250; i++)); do
            [ -S "$DOVECOT_AUTH_SOCKET" ] && break
            sleep 0.02
        done
        [ -S "$DOVECOT_AUTH_SOCKET" ] || harness_fatal "Dovecot made no auth socket $DOVECOT_AUTH_SOCKET"
    fi
}

dovecot_stop() {
    harness_stop dovecot-master
}

dovecot_log_mark() {
    wc -l <"$DOVECOT_LOG" | tr -d ' '
}

dovecot_log_since() {
    sleep "${DOVECOT_LOG_SETTLE:-0.3}"
    tail -n +"$((${1:?usage: dovecot_log_since MARK} + 1))" "$DOVECOT_LOG"
}
