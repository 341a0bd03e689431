# shellcheck shell=bash
# NAME
#   tests/harness/postfix.sh - a private Postfix on loopback with Cyrus SASL
#
# SYNOPSIS
#   . "$top_srcdir/tests/harness/lib.sh"; . "$top_srcdir/tests/harness/postfix.sh"
#   harness_init NAME; kdc_start; ...
#   PF_SASL_PATH=$T/sasl-plugins PF_SMTPD_CONF=$T/smtpd.conf postfix_start
#   PF_MAIN_EXTRA='smtpd_sasl_type = dovecot
#   smtpd_sasl_path = private/auth' postfix_start     # (Dovecot SASL: no PF_SASL_PATH)
#   curl ... smtp://mail.example.test:$PF_PORT/ ...
#   postfix_log_since MARK            # maillog lines after a postfix_mark
#   postfix_stop
#
# DESCRIPTION
#   postfix_start builds a Postfix instance in $PF_DIR ($T/postfix: config,
#   $T/postfix-queue, $T/postfix-data) from the project's samples
#   conf/postfix/main.cf and master.cf (templated: the smtp and submission
#   services listen on 127.0.0.1:$PF_PORT and 127.0.0.1:$PF_SUBMISSION_PORT,
#   both picked with pick_port; cyrus_sasl_config_path is $PF_DIR/sasl;
#   SASL_PATH in import_environment is $PF_SASL_PATH), adds what a throwaway
#   instance needs (queue/data dirs, maillog_file $PF_LOG via postlogd,
#   myhostname $PF_HOSTNAME (default mail.example.test), discard transports,
#   relay only for SASL-authenticated clients) and imports KRB5_CONFIG and
#   KRB5RCACHEDIR of the test. The SASL application config smtpd.conf is
#   copied from $PF_SMTPD_CONF (default: conf/postfix/smtpd.conf with
#   /etc/mailsso/mailsso.conf replaced by $PF_MAILSSO_CONF).
#
#   PF_MAIN_EXTRA: extra main.cf lines (main.cf syntax: "name = value", "#"
#   comments, indented continuation lines), each logical line applied with
#   postconf -e before Postfix starts, so it replaces the parameter wherever
#   it is set (e.g. smtpd_sasl_type = dovecot instead of the sample's cyrus).
#   PF_SASL_PATH and the Cyrus smtpd.conf are needed only while the resulting
#   smtpd_sasl_type is cyrus.
#
#   The master runs in the foreground (master -d) through harness_spawn
#   ("postfix-master"), in its own session (setsid): on SIGTERM it signals its
#   whole process group, which must hold only this instance's processes, never
#   the test, make, or the tests running beside it. The recorded PID is the
#   master's own (checked against $queue_directory/pid/master.pid), so the
#   cleanup trap stops it by PID; postfix_stop does the same on demand.
#   Postfix children run as user postfix: keytabs and configs they read must
#   be readable by it (the test's business).
#
#   PF_VERBOSE=1 adds -v to smtpd (Postfix then logs SASL notices too).
#   PF_EXTRA_ENV="NAME=VALUE ..." is added to import_environment (e.g.
#   LD_PRELOAD of the sanitizer runtime when the plugin is built with ASan).
#
#   postfix_mark / postfix_log_since MARK: remember the maillog length, print
#   the lines written after it (waits briefly for postlogd).
#
# FILES
#   $PF_LOG ($T/logs/maillog), $T/logs/postfix-master.log (master's stderr)

postfix_start() {
    [ -n "$T" ] || harness_fatal "postfix_start before harness_init"
    require_cmd postfix
    local master=/usr/lib/postfix/sbin/master
    [ -x "$master" ] || harness_missing "$master" "Debian package: postfix"
    id postfix >/dev/null 2>&1 || harness_missing "user postfix" "Debian package: postfix"
    require_cmd setsid postconf
    PF_DIR=$T/postfix
    PF_LOG=$T/logs/maillog
    PF_HOSTNAME=${PF_HOSTNAME:-mail.example.test}
    local q=$T/postfix-queue d=$T/postfix-data samples=$SRC/conf/postfix v="" sasl_type
    [ "${PF_VERBOSE:-0}" = 1 ] && v=" -v"
    mkdir -p "$PF_DIR/sasl" "$q" "$d"
    chown postfix:postfix "$d"
    harness_pick_ports PF_PORT PF_SUBMISSION_PORT

    {
        cat <<EOF
compatibility_level = 3.6
queue_directory = $q
data_directory = $d
maillog_file = $PF_LOG
maillog_file_prefixes = /tmp, /var
myhostname = $PF_HOSTNAME
mydomain = example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
alias_maps =
alias_database =
default_transport = discard:
relay_transport = discard:
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_tls_security_level = none
# ---- from conf/postfix/main.cf (templated)
EOF
        sed -e "s|^cyrus_sasl_config_path = .*|cyrus_sasl_config_path = $PF_DIR/sasl|" \
            -e "s|SASL_PATH=[^ ]*|SASL_PATH=${PF_SASL_PATH:-} KRB5_CONFIG=$KRB5_CONFIG KRB5RCACHEDIR=$KRB5RCACHEDIR${PF_EXTRA_ENV:+ $PF_EXTRA_ENV}|" \
            "$samples/main.cf"
    } >"$PF_DIR/main.cf"

    {
        sed -e "s|^smtp \( *\)inet\(.*\)smtpd\$|127.0.0.1:$PF_PORT inet\\2smtpd$v|" \
            -e "s|^submission inet\(.*\)smtpd\$|127.0.0.1:$PF_SUBMISSION_PORT inet\\1smtpd$v|" \
            "$samples/master.cf"
        cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    } >"$PF_DIR/master.cf"
    grep -q "^127.0.0.1:$PF_PORT inet" "$PF_DIR/master.cf" ||
        harness_fatal "postfix_start: conf/postfix/master.cf has no 'smtp inet ... smtpd' line"

    postfix_apply_main_extra
    sasl_type=$(postconf -c "$PF_DIR" -h smtpd_sasl_type 2>/dev/null)
    if [ "$sasl_type" = cyrus ]; then
        [ -n "${PF_SASL_PATH:-}" ] ||
            harness_fatal "postfix_start: set PF_SASL_PATH (smtpd_sasl_type is cyrus)"
        if [ -n "${PF_SMTPD_CONF:-}" ]; then
            cp "$PF_SMTPD_CONF" "$PF_DIR/sasl/smtpd.conf"
        else
            sed "s|/etc/mailsso/mailsso.conf|${PF_MAILSSO_CONF:?set PF_MAILSSO_CONF or PF_SMTPD_CONF}|" \
                "$samples/smtpd.conf" >"$PF_DIR/sasl/smtpd.conf"
        fi
    fi
    chmod -R a+rX "$PF_DIR"
    : >"$PF_LOG"

    # "postfix check" creates the queue directories with the right owners.
    postfix -c "$PF_DIR" check >"$T/logs/postfix-check.log" 2>&1 ||
        { cat "$T/logs/postfix-check.log"; harness_fatal "postfix check failed"; }
    # setsid: on SIGTERM master kills its process group (kill(-pid)); it must
    # lead a group of its own. setsid execs in place here (the background
    # child of a script without job control is no group leader), so the PID
    # harness_spawn saves is master's; postfix_check_master_pid proves it.
    harness_spawn postfix-master setsid "$master" -d -c "$PF_DIR"
    wait_port "$PF_PORT" 20 || {
        cat "$T/logs/postfix-master.log" "$PF_LOG" 2>/dev/null | tail -20
        harness_fatal "postfix did not listen on 127.0.0.1:$PF_PORT"
    }
    postfix_check_master_pid "$q/pid/master.pid"
    harness_log "postfix master pid $(harness_pid postfix-master) on 127.0.0.1:$PF_PORT (submission $PF_SUBMISSION_PORT)"
}

# PF_MAIN_EXTRA -> postconf -e, one logical main.cf line at a time.
postfix_apply_main_extra() {
    local l line="" n=0
    [ -n "${PF_MAIN_EXTRA:-}" ] || return 0
    while IFS= read -r l || [ -n "$l" ]; do
        case $l in
        *[![:space:]]*) ;;
        *) continue ;;                            # blank
        esac
        case ${l#"${l%%[![:space:]]*}"} in
        '#'*) continue ;;                         # comment
        esac
        case $l in
        [[:space:]]*)                             # continuation
            [ -n "$line" ] || harness_fatal "PF_MAIN_EXTRA: continuation line before any setting: '$l'"
            line="$line ${l#"${l%%[![:space:]]*}"}"
            continue ;;
        esac
        [ -z "$line" ] || { postfix_postconf_e "$line"; n=$((n + 1)); }
        line=$l
    done <<<"$PF_MAIN_EXTRA"
    [ -z "$line" ] || { postfix_postconf_e "$line"; n=$((n + 1)); }
    harness_log "postfix: $n PF_MAIN_EXTRA setting(s) applied to $PF_DIR/main.cf"
}

postfix_postconf_e() {
    case $1 in
    *=*) ;;
    *) harness_fatal "PF_MAIN_EXTRA: '$1' is not a 'name = value' line" ;;
    esac
    printf '%s\n' "$1" >>"$T/logs/postfix-main-extra.log"
    postconf -c "$PF_DIR" -e "$1" >>"$T/logs/postfix-main-extra.log" 2>&1 ||
        harness_fatal "PF_MAIN_EXTRA: postconf -e '$1' failed: $(tail -n 3 "$T/logs/postfix-main-extra.log")"
}

# postfix_check_master_pid PIDFILE: the PID recorded for postfix-master must be
# the master's own (the one in its pid file) and lead its own session. Should
# setsid have forked (a job-control shell makes every job a group leader), the
# record is moved to the real master, so harness_stop still stops it.
postfix_check_master_pid() {
    local pidfile=$1 rec mpid i s
    rec=$(harness_pid postfix-master)
    for ((i = 0; i < 100; i++)); do
        mpid=$(tr -d ' \n' <"$pidfile" 2>/dev/null)
        [ -n "$mpid" ] && break
        sleep 0.02
    done
    [ -n "$mpid" ] || harness_fatal "postfix: no master pid in $pidfile"
    if [ "$mpid" != "$rec" ]; then
        harness_log "postfix: setsid forked (pid $rec); recording master's pid $mpid"
        pid_alive "$mpid" || harness_fatal "postfix: master pid $mpid from $pidfile is not running"
        echo "$mpid" >"$T/pids/postfix-master"
        proc_starttime "$mpid" >"$T/pids/postfix-master.start"
    fi
    # /proc/PID/stat after "comm)": state ppid pgrp session ...
    s=$(cat "/proc/$mpid/stat" 2>/dev/null)
    s=${s##*) }
    # shellcheck disable=SC2086 # split the numeric fields on purpose
    set -- $s
    if [ "${3:-}" != "$mpid" ] || [ "${4:-}" != "$mpid" ]; then
        harness_fatal "postfix: master $mpid does not lead its own session (pgrp ${3:-?}, session ${4:-?})"
    fi
}

postfix_stop() {
    harness_stop postfix-master
}

postfix_mark() { wc -l <"$PF_LOG"; }

postfix_log_since() {
    sleep "${PF_LOG_WAIT:-0.4}"
    tail -n +"$(($1 + 1))" "$PF_LOG"
}
