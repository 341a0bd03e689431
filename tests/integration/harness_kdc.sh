#!/bin/bash
# harness_kdc.sh - the harness KDC works: kinit alice with her password, a
# wrong password is refused, service keys land in a keytab and work, kadmind
# serves kpasswd and remote kadmin, and kdc_stop leaves no process behind.
set -u
. "$top_srcdir/tests/harness/lib.sh"
harness_init harness_kdc
require_cmd krb5kdc kadmind kadmin.local kdb5_util kinit klist kvno kdestroy kpasswd kadmin

kdc_start
check "krb5kdc runs under its saved PID" harness_alive krb5kdc
check "the KDC port is served by our krb5kdc alone (no SO_REUSEPORT sharing)" \
    port_owned_by "$KDC_PORT" "$(harness_pid krb5kdc)"
check_grep "krb5.conf has rdns = false" '^ *rdns = false' "$KRB5_CONFIG"
check_grep "krb5.conf reserves the kpasswd port" "kpasswd_server = 127.0.0.1:$KPASSWD_PORT" "$KRB5_CONFIG"
check_eq "replay cache dir is mode 1777" 1777 "$(stat -c %a "$KRB5RCACHEDIR")"
check_eq "\$T is mode 755" 755 "$(stat -c %a "$T")"

# --- alice
check "kinit alice with \$ALICE_PW works" kdc_kinit alice "$ALICE_PW"
klist >"$T/klist.out" 2>&1
check_grep "alice's ccache holds a TGT for alice@$REALM" "Default principal: alice@$REALM" "$T/klist.out"
check_grep "the TGT is krbtgt/$REALM" "krbtgt/$REALM@$REALM" "$T/klist.out"
check_grep "the KDC logged alice's AS-REQ" "AS_REQ .* ISSUE: .* alice@$REALM for krbtgt/$REALM@$REALM" "$KDC_LOG"
check_fails "kinit alice with a wrong password fails" kdc_kinit alice "not-$ALICE_PW" "$T/wrong.cc"
check_grep "the KDC logged the failed pre-authentication" "PREAUTH_FAILED|Preauthentication failed" "$KDC_LOG"
check "kinit bob with \$BOB_PW works (own ccache)" kdc_kinit bob "$BOB_PW" "$T/bob.cc"
check_fails "kinit of an unknown user fails" kdc_kinit nosuchuser x "$T/nosuch.cc"

# --- service principal + keytab
kdc_addprinc HTTP/mail.example.test
kdc_ktadd "$T/http.keytab" -e aes256-cts-hmac-sha1-96:normal HTTP/mail.example.test
klist -ke "$T/http.keytab" >"$T/kt.out" 2>&1
check_grep "kdc_ktadd -e writes only the asked enctype" "HTTP/mail.example.test@$REALM \(aes256-cts-hmac-sha1-96\)" "$T/kt.out"
check_no_grep "... and no other" "aes128" "$T/kt.out"
check "kvno HTTP/mail.example.test gets a service ticket for alice" kvno HTTP/mail.example.test
check "kinit -k with the new keytab works" kinit -k -t "$T/http.keytab" -c "$T/svc.cc" HTTP/mail.example.test
check "kdc_admin getprinc of an existing principal succeeds" kdc_admin "getprinc HTTP/mail.example.test"
check_fails "kdc_admin reports a failed query (unknown principal)" kdc_admin "getprinc nosuch/principal"

# --- kadmind: kpasswd and remote kadmin
kdc_start_kadmind
check "kadmind runs under its saved PID" harness_alive kadmind
check "kpasswd changes alice's password through kadmind" \
    sh -c 'printf "%s\n%s\n%s\n" "$ALICE_PW" "$1" "$1" | KRB5CCNAME=FILE:$T/kpw.cc kpasswd alice' sh "new-$ALICE_PW"
check "kinit alice with the new password works" kdc_kinit alice "new-$ALICE_PW" "$T/new.cc"
check_fails "kinit alice with the old password fails" kdc_kinit alice "$ALICE_PW" "$T/old.cc"
check "remote kadmin as admin/admin works" \
    sh -c 'printf "%s\n" "$ADMIN_PW" | KRB5CCNAME=FILE:$T/adm.cc kadmin -p admin/admin -q "getprinc bob" | grep -q "^Principal: bob@"'

# --- stop
kdc_pid=$(harness_pid krb5kdc)
kadmind_pid=$(harness_pid kadmind)
kdc_stop
check_fails "krb5kdc (pid $kdc_pid) is gone after kdc_stop" pid_alive "$kdc_pid"
check_fails "kadmind (pid $kadmind_pid) is gone after kdc_stop" pid_alive "$kadmind_pid"
check_eq "no socket listens on the KDC port after kdc_stop" "" "$(port_inodes "$KDC_PORT")"
check_eq "no socket listens on the kadmin port after kdc_stop" "" "$(port_inodes "$KADMIN_PORT")"
check_fails "kinit fails once the KDC is stopped" kdc_kinit alice "new-$ALICE_PW" "$T/after.cc"
harness_finish
