#!/usr/bin/env bash
# plugin_gssapi_failures.sh - every failure of issue 9 point 6, triggered for
# real against our plugin: the client gets only the generic failure, the
# server log gets ONE line naming the service, the ticket's principal, kvno
# and enctype, what the keytab holds, the cause and a fix.
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
plugin_setup plugin_failures

# --- keytab missing
PLUGIN_KEYTAB=$T/no-such.keytab plugin_conf ''
check_refused "missing keytab: path and 'does not exist' named" \
    "stage=credential .*$T/no-such.keytab.*(No such file|does not exist|missing)" imap

# --- keytab unreadable for the server's uid (run the driver as nobody)
cp "$KEYTAB" "$T/private.keytab"
chmod 600 "$T/private.keytab"
cp "${KRB5CCNAME#FILE:}" "$T/nobody.cc"
chown nobody "$T/nobody.cc"
PLUGIN_KEYTAB=$T/private.keytab plugin_conf ''
RUNAS="setpriv --reuid=nobody --regid=nogroup --clear-groups" KRB5CCNAME=FILE:$T/nobody.cc \
    check_refused "unreadable keytab: path, mode, owner and our uid named" \
    "private.keytab.*(0600|rw-------).*root.*(65534|nobody)" imap
plugin_conf ''

# --- no key for the ticket's principal (keytab holds only smtp)
kdc_ktadd "$T/smtp-only.keytab" -norandkey smtp/mail.example.test >/dev/null 2>&1 ||
    kdc_admin "ktadd -k $T/smtp-only.keytab -norandkey smtp/mail.example.test" >/dev/null
PLUGIN_KEYTAB=$T/smtp-only.keytab plugin_conf ''
check_refused "no key for the principal: keytab contents listed" \
    "ticket=imap/mail.example.test@EXAMPLE.TEST kvno=2 .*holds nothing for imap/mail.example.test@EXAMPLE.TEST \(it holds: smtp/mail.example.test@EXAMPLE.TEST\).*cause: the keytab has no key for imap/mail.example.test@EXAMPLE.TEST.*fix: " imap
plugin_conf ''

# --- no key for the ticket's enctype (keytab has only aes128, tickets are aes256)
# (kadmin cannot limit enctypes without changing the key: drop the aes256 entry with ktutil)
slot=$(klist -ke "$T/smtp-only.keytab" | awk '/aes256-cts-hmac-sha1-96/ {print NR - 3; exit}')
printf 'rkt %s\ndelent %s\nwkt %s\nq\n' "$T/smtp-only.keytab" "$slot" "$T/aes128.keytab" |
    ktutil >/dev/null 2>&1
check_no_grep "test keytab holds no aes256 key" aes256 <(klist -ke "$T/aes128.keytab" 2>&1)
PLUGIN_KEYTAB=$T/aes128.keytab plugin_conf ''
check_refused "no key for the enctype: ticket aes256, keytab aes128 only" \
    "enctype=aes256-cts-hmac-sha1-96\(18\).*holds \[kvno 2: aes128-cts-hmac-sha1-96\(17\)\].*cause: the keytab holds kvno 2 of smtp/mail.example.test@EXAMPLE.TEST but not for the ticket's enctype aes256" smtp
plugin_conf ''

# --- stale keytab: the service key changed (kvno 3), the keytab still has kvno 2
cp "$KEYTAB" "$T/stale.keytab"
kdc_admin "cpw -randkey pop/mail.example.test" >/dev/null
PLUGIN_KEYTAB=$T/stale.keytab plugin_conf ''
check_refused "stale keytab: ticket kvno 3, keytab kvno 2" \
    "ticket=pop/mail.example.test@EXAMPLE.TEST kvno=3 .*holds \[kvno 2: .*cause: stale keytab: the ticket is encrypted with kvno 3.*fix: export a fresh keytab" pop
plugin_conf ''

# --- enctype refused by our policy
plugin_conf 'enctypes = "aes128-cts-hmac-sha1-96"'
check_refused "enctype refused by our policy, policy named" \
    'cause: enctype refused by our policy: the ticket enctype is aes256-cts-hmac-sha1-96\(18\) but enctypes = "aes128-cts-hmac-sha1-96"' smtp
check_grep "start-up self-check warns that the keytab holds keys the policy refuses" \
    'start-up self-check: .*holds keys our policy refuses \(aes256-cts-hmac-sha1-96\(18\)\)' "$T/last.log"
plugin_conf ''

# --- enctype refused by the host's permitted_enctypes (server side only)
cp "$KRB5_CONFIG" "$T/server-krb5.conf"
sed -i 's/^\[libdefaults\]/[libdefaults]\n    permitted_enctypes = aes128-cts-hmac-sha1-96/' "$T/server-krb5.conf"
check_refused "enctype refused by the host's permitted_enctypes, not blamed on the key" \
    "cause: enctype refused by the host: the ticket's enctype aes256-cts-hmac-sha1-96\(18\) is not in permitted_enctypes" \
    smtp --server-krb5-config "$T/server-krb5.conf"

# --- clock skew (client clock 15 minutes ahead; service ticket fetched first)
kvno imap/mail.example.test >/dev/null
check_refused "clock skew named, with by how much" "Clock skew too great; cause: .*the client's clock is (89[5-9]|90[0-5]) s ahead of this server's" imap --client-time-offset 900

# --- replay
check_login "first use of a token" imap --replay
check_grep "second use of the same token refused" '^REPLAY refused' "$OUT"
check_grep "replay diagnosed" 'stage=accept .*cause: replay' "$T/last.log"

# --- realm not allowed
plugin_conf 'realms = [ "OTHER.TEST" ]'
check_refused "realm not allowed: principal and realm named" \
    "stage=identity client=[^ ]* principal=alice@EXAMPLE.TEST .*cause: .*realm EXAMPLE.TEST.*(not allowed|refused).*fix: " imap
plugin_conf ''

# --- authzid for another user
check_refused "authzid mismatch: both identities and the rule named" \
    'stage=authzid client=[^ ]* principal=alice@EXAMPLE.TEST .*authzid mismatch: alice@EXAMPLE.TEST \(mailbox alice\) asked to act as "bob".*fix: ' \
    imap --authzid bob

# --- service name not accepted
plugin_conf 'imap = { accept_names = [ "imap/mx1.example.test" ]; };'
check_refused "service name not accepted: ticket name and accepted names shown" \
    'stage=service name .*cause: the ticket is for imap/mail.example.test@EXAMPLE.TEST, which this service does not accept \(accept_names: imap/mx1.example.test@\*\)' imap
plugin_conf ''

# --- a broken mailsso.conf: GSSAPI stays listed, every login fails saying why
plugin_conf 'no_such_key = 1'
check_refused "invalid mailsso.conf: the login fails naming the file and key" \
    "$CONF.*no_such_key" imap
check_grep "start-up self-check logged the broken configuration loudly" \
    "start-up self-check: configuration $CONF is invalid" "$T/last.log"
plugin_conf ''
check_login "after fixing the config, logins work again" imap
harness_finish
