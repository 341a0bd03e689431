#!/bin/bash
# e2e_dovecot.sh - Dovecot's own GSSAPI accepts passwordless IMAP logins with a keytab
# that mailsso-keytab prepared (merge of one export per service, as from ktpass),
# proved (verify) and checked for the dovecot user (doctor), configured with the
# sample conf/dovecot/10-auth.conf and the sample conf/krb5/krb5.conf-mit (both
# templated, so a broken sample fails here). Also: the Thunderbird authzid forms
# get Dovecot's documented outcome, and doctor catches the unreadable keytab that
# would break Dovecot.
set -u
. "$top_srcdir/tests/integration/e2e_common.sh"
. "$top_srcdir/tests/harness/dovecot.sh"
harness_init e2e_dovecot
require_cmd curl
KT=$(e2e_keytab_tool) || exit 99

kdc_start
e2e_krb5_conf mit
for s in imap pop smtp; do
    kdc_addprinc "$s/mail.example.test"
    # one keytab per service, like one ktpass run per service account
    kdc_ktadd "$T/$s.keytab" "$s/mail.example.test"
done

# ---- the keytab, prepared and checked with mailsso-keytab
DKT=$T/dovecot.keytab
check "mailsso-keytab merge joins the per-service keytabs, owned root:dovecot 0640" \
    "$KT" merge -o "$DKT" --owner root:dovecot --mode 0640 "$T/imap.keytab" "$T/pop.keytab" "$T/smtp.keytab"
check_eq "the merged keytab is mode 640, owner root:dovecot" "640 root:dovecot" "$(stat -c '%a %U:%G' "$DKT")"
check_eq "the merged keytab holds the keys of all three services" \
    "imap/mail.example.test@$REALM pop/mail.example.test@$REALM smtp/mail.example.test@$REALM" \
    "$(klist -k "$DKT" | awk 'NR > 3 { print $2 }' | sort -u | tr '\n' ' ' | sed 's/ $//')"
check "mailsso-keytab verify --service imap: the KDC's imap tickets are accepted" \
    "$KT" verify --service imap "$DKT"
check "mailsso-keytab verify: every principal in the keytab accepts its tickets" "$KT" verify "$DKT"
check "mailsso-keytab doctor --user dovecot finds nothing wrong" \
    with_hosts "$KT" doctor --user dovecot --service imap --service pop --service smtp \
    --hostname mail.example.test "$DKT"

# the classic mistake: a root-only keytab. doctor must say so, naming the user.
cp "$DKT" "$T/root-only.keytab"
chown root:root "$T/root-only.keytab"
chmod 600 "$T/root-only.keytab"
check_fails "doctor --user dovecot refuses a 0600 root-only keytab" \
    with_hosts "$KT" doctor --user dovecot --service imap --hostname mail.example.test "$T/root-only.keytab"
check_grep "doctor's finding names the dovecot user" 'dovecot' "$CHECK_OUT"

# ---- Dovecot with the sample 10-auth.conf
e2e_sample conf/dovecot/10-auth.conf "$T/10-auth.conf" \
    -e "s#/etc/dovecot/mail.keytab#$DKT#" -e "s/mail\.example\.com/mail.example.test/g"
check_grep "the templated 10-auth.conf points Dovecot at the merged keytab" \
    "^auth_krb5_keytab = $DKT\$" "$T/10-auth.conf"
dovecot_start --include "$T/10-auth.conf"
kdc_kinit alice "$ALICE_PW" || harness_fatal "kinit alice failed"

e2e_curl_args "$DOVECOT_IMAP_PORT"
URL=imap://mail.example.test:$DOVECOT_IMAP_PORT/

m=$(dovecot_log_mark)
check "curl IMAP AUTH=GSSAPI logs alice in to Dovecot" "${CURL[@]}" --interface 127.0.0.1 -X NAMESPACE "$URL"
check_grep "Dovecot answered NAMESPACE after the login" '^< \* NAMESPACE ' "$CHECK_OUT"
dovecot_log_since "$m" >"$T/login.log"
check_grep "Dovecot logged the GSSAPI login as mailbox alice (realm stripped by %Ln)" \
    'Login: user=<alice>, method=GSSAPI' "$T/login.log"

# imtest: Dovecot's GSSAPI offers no security layer (TLS protects the session
# instead), so a client that would take one (-l 256) still logs in at SSF 0.
printf 'A01 NAMESPACE\r\nA02 LOGOUT\r\n' >"$T/imap-session.txt"
for layer in 0 256; do
    check "imtest -m GSSAPI -l $layer logs alice in to Dovecot" \
        with_hosts /usr/lib/cyrus/bin/imtest -m GSSAPI -l "$layer" -p "$DOVECOT_IMAP_PORT" \
        -f "$T/imap-session.txt" mail.example.test
    check_grep "imtest -l $layer: authenticated and NAMESPACE answered" '^\* NAMESPACE ' "$CHECK_OUT"
    check_grep "imtest -l $layer: no security layer (Dovecot offers none)" \
        '^Security strength factor: 0$' "$CHECK_OUT"
done

# ---- Thunderbird's authzid forms (each expected failure from its own source
# address: Dovecot's auth penalty would slow later logins from the same one)
src=20
for z in alice "alice@$REALM" alice@example.test bob; do
    src=$((src + 1))
    m=$(dovecot_log_mark)
    case $z in
        alice|alice@"$REALM")
            check "authzid '$z' (Thunderbird user name) is accepted by Dovecot" \
                "${CURL[@]}" --interface "127.0.0.$src" --sasl-authzid "$z" -X NAMESPACE "$URL"
            dovecot_log_since "$m" >"$T/z.log"
            check_grep "authzid '$z': mailbox alice" 'Login: user=<alice>, method=GSSAPI' "$T/z.log" ;;
        *)
            check_fails "authzid '$z' is refused by Dovecot (krb5_kuserok says no)" \
                "${CURL[@]}" --interface "127.0.0.$src" --sasl-authzid "$z" -X NAMESPACE "$URL"
            dovecot_log_since "$m" >"$T/z.log"
            # Dovecot names the authzid after auth_username_format (%Ln: "alice")
            check_grep "authzid '$z': Dovecot logs why" \
                "User not authorized to log in as ${z%%@*}\$" "$T/z.log" ;;
    esac
done

# ---- the admin guide's "Permission denied" row, for real: a keytab the
# dovecot user cannot read breaks every login; fixing the mode fixes it (no restart)
chmod 0600 "$DKT"
m=$(dovecot_log_mark)
check_fails "keytab mode 0600 (unreadable for user dovecot): the login fails" \
    "${CURL[@]}" --interface 127.0.0.41 -X NAMESPACE "$URL"
dovecot_log_since "$m" >"$T/perm.log"
check_grep "... and Dovecot logs 'Permission denied'" 'gssapi.*Permission denied' "$T/perm.log"
chmod 0640 "$DKT"
check "keytab back to 0640: logins work again without a restart" \
    "${CURL[@]}" --interface 127.0.0.42 -X NAMESPACE "$URL"

m=$(dovecot_log_mark)
check_fails "no Kerberos ticket: Dovecot refuses the login" \
    env KRB5CCNAME="FILE:$T/empty.ccache" "${CURL[@]}" --interface 127.0.0.40 -X NAMESPACE "$URL"
dovecot_log_since "$m" >"$T/noticket.log"
check_no_grep "no login was logged without a ticket" 'Login: user=' "$T/noticket.log"

harness_finish
