#!/bin/bash
# e2e_postfix_dovecot.sh - Postfix with Dovecot SASL (smtpd_sasl_type = dovecot), the
# other common setup: Postfix hands SMTP AUTH GSSAPI to Dovecot's auth service, which
# accepts alice's smtp ticket with the keytab mailsso-keytab merged and verified.
# Configured from the samples conf/dovecot/10-auth.conf, 10-master.conf and
# postfix-main.cf (templated), with curl, smtptest and msmtp on smtp and submission;
# the Thunderbird authzid forms get Dovecot's outcome; no ticket, no relay.
# Postfix starts with the sample lines through the harness hook PF_MAIN_EXTRA.
set -u
. "$top_srcdir/tests/integration/e2e_common.sh"
. "$top_srcdir/tests/harness/dovecot.sh"
. "$top_srcdir/tests/harness/postfix.sh"
harness_init e2e_postfix_dovecot
require_cmd curl msmtp
KT=$(e2e_keytab_tool) || exit 99

kdc_start
e2e_krb5_conf mit
for s in smtp imap; do
    kdc_addprinc "$s/mail.example.test"
    kdc_ktadd "$T/$s.keytab" "$s/mail.example.test"
done
DKT=$T/dovecot.keytab
check "mailsso-keytab merge: smtp + imap keys for Dovecot, root:dovecot 0640" \
    "$KT" merge -o "$DKT" --owner root:dovecot --mode 0640 "$T/smtp.keytab" "$T/imap.keytab"
check "mailsso-keytab verify --service smtp accepts the KDC's smtp tickets" \
    "$KT" verify --service smtp "$DKT"
check "mailsso-keytab doctor --user dovecot --service smtp finds nothing wrong" \
    with_hosts "$KT" doctor --user dovecot --service smtp --hostname mail.example.test "$DKT"

# ---- Dovecot first, with the samples: its auth socket for Postfix lives in
# Postfix's queue directory (private/, owner postfix, mode 0700 as Postfix makes
# it), and must be there before Postfix's first smtpd asks it for mechanisms.
e2e_sample conf/dovecot/10-auth.conf "$T/10-auth.conf" \
    -e "s#/etc/dovecot/mail.keytab#$DKT#" -e "s/mail\.example\.com/mail.example.test/g"
e2e_sample conf/dovecot/10-master.conf "$T/10-master.conf" -e "s#/var/spool/postfix#$T/postfix-queue#"
check_grep "the templated 10-master.conf puts the auth socket into Postfix's queue dir" \
    "unix_listener $T/postfix-queue/private/auth " "$T/10-master.conf"
install -d -o root -m 755 "$T/postfix-queue"
install -d -o postfix -m 700 "$T/postfix-queue/private"
dovecot_start --include "$T/10-auth.conf" --include "$T/10-master.conf"
for ((i = 0; i < 250; i++)); do [ -S "$T/postfix-queue/private/auth" ] && break; sleep 0.02; done
check_eq "Dovecot's auth socket for Postfix: owner postfix, mode 660" "postfix 660" \
    "$(stat -c '%U %a' "$T/postfix-queue/private/auth" 2>&1)"

# ---- Postfix with Dovecot SASL: the sample postfix-main.cf, as is, on top of
# postfix.sh's main.cf (each of its settings replaces the Cyrus one)
PF_MAIN_EXTRA=$(cat "$SRC/conf/dovecot/postfix-main.cf") postfix_start
while IFS= read -r line; do
    name=${line%%[ =]*}
    check_eq "Postfix runs with the sample's '$line'" "$line" "$(postconf -c "$PF_DIR" "$name" 2>&1)"
done < <(grep -Ev '^[[:space:]]*(#|$)' "$SRC/conf/dovecot/postfix-main.cf")
MASTER=$(harness_pid postfix-master)
check_eq "the PID harness_spawn recorded is Postfix master's (pid/master.pid)" "$MASTER" \
    "$(tr -d ' \n' <"$T/postfix-queue/pid/master.pid")"
check_eq "... and master leads its own session (setsid): its group signals hit only Postfix" \
    "$MASTER $MASTER" "$(ps -o pgid=,sid= -p "$MASTER" | awk '{print $1, $2}')"

kdc_kinit alice "$ALICE_PW" || harness_fatal "kinit alice failed"
printf 'From: alice@example.test\r\nTo: bob@example.org\r\nSubject: e2e\r\n\r\nhello\r\n' >"$T/msg.txt"
e2e_curl_args "$PF_PORT" "$PF_SUBMISSION_PORT"
# shellcheck disable=SC2317 # called through check
send() { # send PORT [curl options]: relay a message as the authenticated user
    local port=$1
    shift
    "${CURL[@]}" "$@" --mail-from alice@example.test --mail-rcpt bob@example.org \
        -T "$T/msg.txt" "smtp://mail.example.test:$port/client.example.test"
}

for port in "$PF_PORT" "$PF_SUBMISSION_PORT"; do
    [ "$port" = "$PF_PORT" ] && name=smtp || name=submission
    m=$(postfix_mark)
    check "curl $name AUTH=GSSAPI through Dovecot SASL relays alice's message" send "$port" --interface 127.0.0.1
    postfix_log_since "$m" >"$T/$name.log"
    check_grep "$name: Postfix logged sasl_method=GSSAPI, sasl_username=alice" \
        'sasl_method=GSSAPI, sasl_username=alice$' "$T/$name.log"
done
check_grep "Dovecot's auth service got Postfix's AUTH GSSAPI for service smtp" \
    'client in: AUTH.*GSSAPI.*service=smtp' "$DOVECOT_LOG"
check_grep "... and accepted it with the smtp key (acceptor smtp@mail.example.test)" \
    'Obtaining credentials for smtp@mail\.example\.test' "$DOVECOT_LOG"

printf 'MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.org>\r\nQUIT\r\n' >"$T/smtp-session.txt"
check "smtptest -m GSSAPI through Dovecot SASL: authenticated, RCPT accepted" \
    with_hosts /usr/lib/cyrus/bin/smtptest -m GSSAPI -p "$PF_PORT" -f "$T/smtp-session.txt" mail.example.test
check_grep "smtptest: RCPT accepted after AUTH" '^250 2\.1\.5' "$CHECK_OUT"

cat >"$T/msmtprc" <<EOF
account test
host mail.example.test
port $PF_PORT
auth gssapi
user alice
tls off
from alice@example.test
logfile $T/msmtp.log
account default : test
EOF
chmod 600 "$T/msmtprc"
check "msmtp auth gssapi through Dovecot SASL sends the message" \
    with_hosts msmtp -C "$T/msmtprc" bob@example.org <"$T/msg.txt"

# ---- Thunderbird's authzid forms: Dovecot's rules (krb5_kuserok). Expected
# failures come from other source addresses (Dovecot's auth penalty).
src=20
for z in alice "alice@$REALM" alice@example.test; do
    src=$((src + 1))
    m=$(postfix_mark)
    if [ "$z" = alice@example.test ]; then
        check_fails "Thunderbird user name '$z' via Dovecot SASL: refused" \
            send "$PF_PORT" --interface "127.0.0.$src" --sasl-authzid "$z"
        postfix_log_since "$m" >"$T/z.log"
        check_grep "... Postfix logs the SASL failure" 'SASL GSSAPI authentication failed' "$T/z.log"
    else
        check "Thunderbird user name '$z' via Dovecot SASL: accepted" \
            send "$PF_PORT" --interface "127.0.0.$src" --sasl-authzid "$z"
        postfix_log_since "$m" >"$T/z.log"
        check_grep "... as sasl_username=alice" 'sasl_username=alice$' "$T/z.log"
    fi
done

m=$(postfix_mark)
KRB5CCNAME=FILE:$T/empty.ccache check_fails "no Kerberos ticket: AUTH through Dovecot SASL fails, nothing relayed" \
    send "$PF_PORT" --interface 127.0.0.40
postfix_log_since "$m" >"$T/noticket.log"
check_no_grep "no sasl_username logged without a ticket" 'sasl_username=' "$T/noticket.log"

# (exited children stay zombies until init reaps them: count the living only)
session_left() { ps -o pid=,stat=,args= -s "$MASTER" | awk '$2 !~ /^Z/'; }
postfix_stop
for ((i = 0; i < 100; i++)); do [ -z "$(session_left)" ] && break; sleep 0.05; done
check_eq "postfix_stop (SIGTERM to master's PID) ends every process of its session" "" \
    "$(session_left)"

harness_finish
