# shellcheck shell=bash
# NAME
#   tests/harness/cyrus.sh - a private Cyrus imapd (IMAP + POP3) for one test
#
# SYNOPSIS
#   . "$top_srcdir/tests/harness/lib.sh"
#   . "$top_srcdir/tests/harness/cyrus.sh"
#   harness_init my_test
#   kdc_start
#   kdc_addprinc imap/mail.example.test; kdc_addprinc pop/mail.example.test
#   kdc_ktadd "$T/mail.keytab" imap/mail.example.test pop/mail.example.test
#   chmod 644 "$T/mail.keytab"                 # imapd runs as user cyrus
#   cyrus_start --plugin-dir "$(cyrus_plugin_dir stock)" --keytab "$T/mail.keytab"
#   kdc_kinit alice "$ALICE_PW"
#   m=$(cyrus_log_mark)
#   cyrus_imtest 256 >"$T/out"                 # imtest -m GSSAPI -l 256, GETACL INBOX
#   cyrus_log_since "$m" >"$T/new.log"
#
# DESCRIPTION
#   cyrus_start [OPTIONS]
#       Writes $CYRUS_DIR/imapd.conf and cyrus.conf (config, spool and all
#       state under $CYRUS_DIR = $T/cyrus, nothing in /var/lib/cyrus or
#       /etc), picks $CYRUS_IMAP_PORT and $CYRUS_POP3_PORT, and starts Cyrus
#       master in the foreground through harness_spawn (name "cyrus"); master
#       runs as root, in its own session (setsid: it signals its process group
#       on shutdown), and forks imapd/pop3d as user cyrus. Waits until both
#       ports accept connections. Options:
#         --plugin-dir DIR   SASL_PATH for master and its children: libsasl2
#                            loads its plugins only from DIR. Use a directory
#                            holding just the wanted GSSAPI plugin
#                            (cyrus_plugin_dir makes one), so that exactly that
#                            plugin serves GSSAPI. Default: libsasl2's own path
#                            (the system plugins).
#         --keytab FILE      "sasl_keytab: FILE" in imapd.conf (the stock
#                            plugin's keytab option; ours reads it too). The
#                            file must be readable by user cyrus.
#         --servername NAME  Cyrus servername, passed to libsasl2 as the
#                            server FQDN: the acceptor name is imap/NAME and
#                            pop/NAME (default mail.example.test).
#         --mech-list LIST   sasl_mech_list (default "GSSAPI"; "" = no line).
#         --opt 'KEY: VALUE' extra imapd.conf line (repeatable). Options for
#                            libsasl2 and its plugins are "sasl_<option>",
#                            e.g. --opt "sasl_mailsso_config: $T/mailsso.conf".
#         --name N           a second (third...) instance in the same test:
#                            harness name cyrus-N, dir $T/cyrus-N, log
#                            $T/logs/cyrus-N-syslog.log. The CYRUS_* variables
#                            describe the instance started last; save them
#                            (CYRUS_IMAP_PORT, CYRUS_LOG, ...) and set them
#                            back before using the helpers below on another.
#       The syslog(3) lines of master, imapd, pop3d, libsasl2 and the plugin
#       go to $CYRUS_LOG ($T/logs/cyrus-syslog.log) through the LD_PRELOAD
#       shim tests/harness/syslog2file.c (built by tests/integration/e2e.am
#       as libsyslog2file.la; make check builds it). Cyrus's own lines look
#       like "... imap[PID] <5> login: localhost [127.0.0.1] alice GSSAPI
#       User logged in SESSIONID=<...>"; failures are "badlogin: ...".
#
#   cyrus_stop
#       Stops master of $CYRUS_NAME (SIGTERM by its saved PID; master stops
#       its children), then kills by PID any imapd/pop3d of that instance that
#       outlived it. The cleanup trap does the same for every instance.
#
#   cyrus_plugin_dir stock|ours|/path/to/plugin.so
#       Creates $T/sasl-NAME holding a copy of only that SASL plugin
#       (stock = Debian's libgssapiv2.so from libsasl2-modules-gssapi-mit,
#       ours = $BUILD/plugin/.libs/libmailsso_gssapi.so), readable by user
#       cyrus, and prints its path.
#
#   cyrus_log_mark                 prints the current line count of $CYRUS_LOG
#   cyrus_log_since MARK           prints the lines logged after MARK (waits a
#                                  moment first: imapd logs after replying)
#
#   cyrus_imtest LAYER [IMTEST OPTIONS...]
#       Runs Cyrus imtest -m GSSAPI -l LAYER against mail.example.test (the
#       name is resolved through with_hosts, so the client asks for a ticket
#       for imap/mail.example.test) on $CYRUS_IMAP_PORT, sends
#       "GETACL INBOX" + LOGOUT, prints imtest's output. LAYER is the highest
#       SASL security layer the client accepts: 0 = none, 1 = integrity,
#       256 = confidentiality. Exit status 0 iff imtest said "Authenticated."
#       and the server answered "* ACL INBOX <user>" (i.e. the IMAP session
#       ran through the negotiated layer).
#   cyrus_pop3test LAYER [POP3TEST OPTIONS...]
#       Same with pop3test on $CYRUS_POP3_PORT, sending STAT + QUIT. Exit
#       status 0 iff "Authenticated." and "+OK" to STAT.
#
# FILES
#   $CYRUS_DIR/imapd.conf, cyrus.conf; $CYRUS_LOG; $T/logs/$CYRUS_NAME.log (master's
#   stdout/stderr)

CYRUS_BIN=${CYRUS_BIN:-/usr/lib/cyrus/bin}
CYRUS_STOCK_GSSAPI=${CYRUS_STOCK_GSSAPI:-}

cyrus_shim() {
    local f=$BUILD/tests/integration/.libs/libsyslog2file.so
    [ -f "$f" ] && { printf '%s' "$f"; return 0; }
    harness_fatal "missing $BUILD/tests/integration/.libs/libsyslog2file.so (the syslog shim; built by 'make check', or 'make -C tests/integration libsyslog2file.la')"
}

cyrus_stock_plugin() {
    local f
    if [ -n "$CYRUS_STOCK_GSSAPI" ]; then printf '%s' "$CYRUS_STOCK_GSSAPI"; return 0; fi
    for f in /usr/lib/x86_64-linux-gnu/sasl2/libgssapiv2.so /usr/lib/*/sasl2/libgssapiv2.so \
        /usr/lib/sasl2/libgssapiv2.so /usr/lib64/sasl2/libgssapiv2.so; do
        [ -f "$f" ] && { printf '%s' "$f"; return 0; }
    done
    return 1
}

cyrus_plugin_dir() {
    local what=${1:?usage: cyrus_plugin_dir stock|ours|PLUGIN.so} so name dir
    case $what in
        stock)
            so=$(cyrus_stock_plugin) ||
                harness_missing libgssapiv2.so "the stock Cyrus SASL GSSAPI plugin; Debian package: libsasl2-modules-gssapi-mit"
            name=stock ;;
        ours)
            so=$BUILD/plugin/.libs/libmailsso_gssapi.so
            [ -f "$so" ] || harness_fatal "missing $so (build the plugin first: make -C plugin)"
            name=ours ;;
        *)
            so=$what
            [ -f "$so" ] || harness_fatal "cyrus_plugin_dir: no such plugin $so"
            name=$(basename "$so" .so) ;;
    esac
    dir=$T/sasl-$name
    mkdir -p "$dir"
    # libsasl2 scans only names ending in .so (or .la) in its plugin directory
    cp "$so" "$dir/$(basename "$so")"
    chmod 755 "$dir"
    chmod 644 "$dir/$(basename "$so")"
    printf '%s' "$dir"
}

cyrus_start() {
    local plugin_dir="" keytab="" servername=mail.example.test mechs=GSSAPI opts=() shim C
    local name=cyrus
    [ -n "$T" ] || harness_fatal "cyrus_start before harness_init"
    while [ $# -gt 0 ]; do
        case $1 in
            --plugin-dir) plugin_dir=${2:?--plugin-dir DIR}; shift 2 ;;
            --keytab) keytab=${2:?--keytab FILE}; shift 2 ;;
            --servername) servername=${2:?--servername NAME}; shift 2 ;;
            --mech-list) mechs=$2; shift 2 ;;
            --opt) opts+=("${2:?--opt 'KEY: VALUE'}"); shift 2 ;;
            --name) name=cyrus-${2:?--name NAME}; shift 2 ;;
            *) harness_fatal "cyrus_start: unknown option $1" ;;
        esac
    done
    require_file "$CYRUS_BIN/master" cyrus-imapd
    require_file "$CYRUS_BIN/imapd" cyrus-imapd
    require_file "$CYRUS_BIN/pop3d" cyrus-pop3d
    id cyrus >/dev/null 2>&1 || harness_missing "user cyrus" "created by the Debian package cyrus-common"
    [ "$(id -u)" = 0 ] || harness_missing "root" "Cyrus master must start as root to run imapd as user cyrus"
    harness_alive "$name" && harness_fatal "cyrus_start: Cyrus '$name' already runs in this test"
    shim=$(cyrus_shim) || exit 99
    [ -z "$plugin_dir" ] || [ -d "$plugin_dir" ] || harness_fatal "cyrus_start: no plugin dir $plugin_dir"
    [ -z "$keytab" ] || [ -f "$keytab" ] || harness_fatal "cyrus_start: no keytab $keytab"

    CYRUS_NAME=$name
    CYRUS_DIR=$T/$name
    CYRUS_CONF=$CYRUS_DIR/imapd.conf
    CYRUS_LOG=$T/logs/$name-syslog.log
    C=$CYRUS_DIR
    harness_pick_ports CYRUS_IMAP_PORT CYRUS_POP3_PORT
    export CYRUS_NAME CYRUS_DIR CYRUS_CONF CYRUS_LOG
    mkdir -p "$C/lib/db" "$C/spool"
    : >"$CYRUS_LOG"
    chmod 666 "$CYRUS_LOG"

    {
        printf '%s\n' \
            "# private Cyrus imapd of test $HARNESS_NAME (tests/harness/cyrus.sh)" \
            "configdirectory: $C/lib" \
            "partition-default: $C/spool" \
            "defaultpartition: default" \
            "servername: $servername" \
            "admins: cyrusadmin" \
            "allowplaintext: no" \
            "# create INBOX at the first login: GETACL INBOX then shows the login's user id" \
            "autocreate_quota: 0" \
            "popminpoll: 0" \
            "sasl_log_level: 7" \
            "syslog_prefix: $name-$HARNESS_NAME"
        [ -z "$mechs" ] || printf 'sasl_mech_list: %s\n' "$mechs"
        [ -z "$keytab" ] || printf 'sasl_keytab: %s\n' "$keytab"
        [ ${#opts[@]} = 0 ] || printf '%s\n' "${opts[@]}"
    } >"$CYRUS_CONF"

    # Every command needs its own -C: master's -C is not passed on, and without
    # it imapd would read /etc/imapd.conf and use /var/lib/cyrus.
    cat >"$C/cyrus.conf" <<EOF
START {
  recover cmd="ctl_cyrusdb -C $CYRUS_CONF -r"
}
SERVICES {
  imap cmd="imapd -C $CYRUS_CONF" listen="127.0.0.1:$CYRUS_IMAP_PORT" prefork=0
  pop3 cmd="pop3d -C $CYRUS_CONF" listen="127.0.0.1:$CYRUS_POP3_PORT" prefork=0
}
EVENTS {
}
DAEMON {
}
EOF
    chown -R cyrus:mail "$C/lib" "$C/spool"

    # Cyrus master passes its environment on to imapd/pop3d (Postfix does not).
    # KRB5_KTNAME stays the harness's non-existent file: the keytab comes from
    # imapd.conf only.
    # A plugin built with --enable-sanitizers needs ASan's runtime loaded first
    # (and Cyrus's own leaks are not ours to report).
    # The syslog shim itself is instrumented in a --enable-sanitizers tree.
    local asan="" so
    for so in "$shim" ${plugin_dir:+"$plugin_dir"/*.so}; do
        asan=$(ldd "$so" 2>/dev/null | awk '/libasan/ { print $3; exit }')
        [ -z "$asan" ] || break
    done
    local envs=(LD_PRELOAD="${asan:+$asan:}$shim" SYSLOG2FILE="$CYRUS_LOG" KRB5_CONFIG="$KRB5_CONFIG"
        KRB5RCACHEDIR="$KRB5RCACHEDIR" KRB5_KTNAME="$KRB5_KTNAME")
    [ -z "$asan" ] || envs+=(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
    [ -z "$plugin_dir" ] || envs+=(SASL_PATH="$plugin_dir")
    # setsid: on SIGTERM Cyrus master signals its whole process group
    # (kill(0, SIGTERM)); in the test's group that would hit the test, make and
    # every other test running in parallel. (setsid execs in place here: the
    # background child is no group leader, so the saved PID stays master's.)
    harness_atexit "cyrus_stop_instance '$name' '$C'"
    harness_spawn "$name" setsid env "${envs[@]}" "$CYRUS_BIN/master" -C "$CYRUS_CONF" \
        -M "$C/cyrus.conf" -p "$C/master.pid"
    if ! wait_port "$CYRUS_IMAP_PORT" 20 || ! wait_port "$CYRUS_POP3_PORT" 5; then
        harness_fatal "Cyrus master did not listen on $CYRUS_IMAP_PORT/$CYRUS_POP3_PORT (see $T/logs/$name.log, $CYRUS_LOG): $(tail -n 5 "$T/logs/$name.log" "$CYRUS_LOG" 2>/dev/null)"
    fi
    harness_alive "$name" || harness_fatal "Cyrus master exited at start-up: $(tail -n 5 "$T/logs/$name.log" "$CYRUS_LOG")"
}

cyrus_stop() {
    cyrus_stop_instance "${CYRUS_NAME:-cyrus}" "${CYRUS_DIR:-$T/cyrus}"
}

# cyrus_stop_instance NAME DIR: stop master NAME; then, by PID, any imapd/pop3d
# of this instance that outlived it (master runs in its own process group, and
# every child's command line names DIR/imapd.conf), so no orphan survives.
cyrus_stop_instance() {
    local name=$1 dir=$2 pgid p
    pgid=$(harness_pid "$name") || return 0
    [ -n "$pgid" ] || return 0
    harness_stop "$name"
    command -v pgrep >/dev/null 2>&1 || return 0
    for p in $(pgrep -g "$pgid" 2>/dev/null); do
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$dir/imapd.conf" &&
            kill -KILL "$p" 2>/dev/null
    done
    return 0
}

cyrus_log_mark() {
    wc -l <"$CYRUS_LOG" | tr -d ' '
}

cyrus_log_since() {
    sleep "${CYRUS_LOG_SETTLE:-0.3}"
    tail -n +"$((${1:?usage: cyrus_log_since MARK} + 1))" "$CYRUS_LOG"
}

# cyrus_client PROGRAM PORT SESSION LAYER [ARGS...]: one client run, output on stdout
cyrus_client() {
    local prog=$1 port=$2 session=$3 layer=$4
    shift 4
    printf '%b' "$session" >"$T/cyrus-session.$prog"
    with_hosts "$CYRUS_BIN/$prog" -m GSSAPI -l "$layer" -p "$port" "$@" \
        -f "$T/cyrus-session.$prog" mail.example.test </dev/null 2>&1
}

cyrus_imtest() {
    local layer=${1:?usage: cyrus_imtest LAYER [OPTIONS...]} out
    shift
    out=$(cyrus_client imtest "$CYRUS_IMAP_PORT" 'A01 GETACL INBOX\r\nA02 LOGOUT\r\n' "$layer" "$@")
    printf '%s\n' "$out"
    grep -q '^Authenticated' <<<"$out" && grep -q '^\* ACL INBOX ' <<<"$out"
}

cyrus_pop3test() {
    local layer=${1:?usage: cyrus_pop3test LAYER [OPTIONS...]} out
    shift
    out=$(cyrus_client pop3test "$CYRUS_POP3_PORT" 'STAT\r\nQUIT\r\n' "$layer" "$@")
    printf '%s\n' "$out"
    grep -q '^Authenticated' <<<"$out" && grep -q '^+OK [0-9]' <<<"$out"
}
