# shellcheck shell=bash
# NAME
#   tests/harness/kdc.sh - a throwaway MIT KDC (DB2 backend) for one test
#
# SYNOPSIS
#   (sourced by lib.sh; call harness_init first)
#   kdc_start                       # realm $REALM (default EXAMPLE.TEST) on 127.0.0.1:$KDC_PORT
#   kdc_addprinc HTTP/mail.example.test
#   kdc_ktadd "$T/http.keytab" HTTP/mail.example.test
#   kdc_kinit alice "$ALICE_PW"
#   kdc_start_kadmind               # for kpasswd / kadmin (remote) tests
#   kdc_stop
#
# DESCRIPTION
#   kdc_start writes $KRB5_CONFIG (client profile: rdns = false,
#   dns_canonicalize_hostname = false, no DNS lookups, udp_preference_limit = 1,
#   forwardable = true; kdc, admin_server and kpasswd_server of $REALM on
#   127.0.0.1 ports picked by pick_port) and $KRB5_KDC_PROFILE, creates the
#   database in $KDC_DIR, starts krb5kdc -n through harness_spawn (name
#   "krb5kdc"), waits until it serves and checks that no other process shares
#   its port (krb5kdc binds with SO_REUSEPORT). Principals: alice ($ALICE_PW),
#   bob ($BOB_PW), admin/admin ($ADMIN_PW), all +requires_preauth (a wrong
#   password shows up as PREAUTH_FAILED in $KDC_LOG). Set REALM before kdc_start for
#   another realm; .example.test maps to $REALM. Extra [libdefaults] lines:
#   KRB5_EXTRA_LIBDEFAULTS (newline-separated "key = value").
#   Supported enctypes for new keys: aes256-cts-hmac-sha1-96, aes128-cts-hmac-sha1-96
#   (override with KDC_SUPPORTED_ENCTYPES).
#
#   kdc_start_kadmind starts kadmind -nofork (name "kadmind") on $KADMIN_PORT
#   and $KPASSWD_PORT; kadm5.acl grants */admin@$REALM everything.
#
#   kdc_addprinc PRINC [OPTIONS...]  kadmin addprinc; -randkey unless -pw,
#                                    -nokey or -randkey is given. Dies on error.
#   kdc_ktadd KEYTAB [OPTIONS...] PRINC...
#                                    kadmin ktadd -k KEYTAB (OPTIONS: -e LIST,
#                                    -norandkey, ...). New keys, kvno + 1 unless
#                                    -norandkey. Dies on error. The keytab is
#                                    mode 600: chmod it for daemons that drop
#                                    privileges (postfix, cyrus).
#   kdc_kinit PRINC PASSWORD [CCACHE] kinit with the password on stdin; CCACHE
#                                    default $KRB5CCNAME ("FILE:" added if no type).
#                                    Returns kinit's status.
#   kdc_admin 'QUERY'                kadmin.local -q QUERY; prints its output,
#                                    returns non-zero if kadmin.local reports an error.
#   kdc_stop                         stops kadmind, krb5kdc (and slapd of
#                                    kdc_ldap_start) by saved PID.
#
# FILES
#   $KDC_DIR ($T/kdc): principal database, stash, kadm5.acl
#   $KDC_LOG ($T/logs/kdc.log), $T/logs/kadmind.log, $T/logs/krb5.log (library messages)

: "${REALM:=EXAMPLE.TEST}"
: "${ALICE_PW:=alice-Secret-1}"
: "${BOB_PW:=bob-Secret-2}"
: "${ADMIN_PW:=admin-Secret-3}"
export REALM ALICE_PW BOB_PW ADMIN_PW

# kdc_write_krb5_conf: the client profile for $REALM, $KDC_PORT, $KADMIN_PORT, $KPASSWD_PORT
kdc_write_krb5_conf() {
    local lower
    lower=$(printf '%s' "$REALM" | tr '[:upper:]' '[:lower:]')
    cat >"$KRB5_CONFIG" <<EOF
[libdefaults]
    default_realm = $REALM
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    ignore_acceptor_hostname = false
    udp_preference_limit = 1
    forwardable = true
    ticket_lifetime = 10h
${KRB5_EXTRA_LIBDEFAULTS:-}
[realms]
    $REALM = {
        kdc = 127.0.0.1:$KDC_PORT
        admin_server = 127.0.0.1:$KADMIN_PORT
        kpasswd_server = 127.0.0.1:$KPASSWD_PORT
    }
[domain_realm]
    .example.test = $REALM
    example.test = $REALM
    .$lower = $REALM
    $lower = $REALM
EOF
}

# kdc_wait_up: wait until our krb5kdc serves on $KDC_PORT and owns it alone
kdc_wait_up() {
    local i pid
    pid=$(harness_pid krb5kdc)
    for ((i = 0; i < 500; i++)); do
        harness_alive krb5kdc || harness_fatal "krb5kdc exited at start-up (see $KDC_LOG, $T/logs/krb5kdc.log)"
        grep -q 'commencing operation' "$KDC_LOG" 2>/dev/null && port_owned_by "$KDC_PORT" "$pid" && break
        sleep 0.01
    done
    [ "$i" -lt 500 ] || harness_fatal "krb5kdc did not start serving on 127.0.0.1:$KDC_PORT within 5 s"
    [ "$(port_inodes "$KDC_PORT" | wc -l)" = 2 ] ||
        harness_fatal "KDC port $KDC_PORT: expected our UDP+TCP sockets only, found: $(port_inodes "$KDC_PORT" | tr '\n' ' ')"
    port_owned_by "$KDC_PORT" "$pid" ||
        harness_fatal "KDC port $KDC_PORT is shared with another process (SO_REUSEPORT)"
}

kdc_start() {
    [ -n "$T" ] || harness_fatal "kdc_start before harness_init"
    harness_alive krb5kdc && harness_fatal "kdc_start: a KDC already runs in this test (pid $(harness_pid krb5kdc))"
    require_cmd krb5kdc kdb5_util kadmin.local kinit
    KDC_DIR=$T/kdc
    KDC_LOG=$T/logs/kdc.log
    harness_pick_ports KDC_PORT KADMIN_PORT KPASSWD_PORT
    export REALM KDC_DIR KDC_LOG KDC_PORT KADMIN_PORT KPASSWD_PORT
    mkdir -p "$KDC_DIR"
    kdc_write_krb5_conf
    cat >"$KRB5_KDC_PROFILE" <<EOF
[kdcdefaults]
    kdc_listen = 127.0.0.1:$KDC_PORT
    kdc_tcp_listen = 127.0.0.1:$KDC_PORT
[realms]
    $REALM = {
        database_name = $KDC_DIR/principal
        key_stash_file = $KDC_DIR/stash
        acl_file = $KDC_DIR/kadm5.acl
        kdc_listen = 127.0.0.1:$KDC_PORT
        kdc_tcp_listen = 127.0.0.1:$KDC_PORT
        kadmind_listen = 127.0.0.1:$KADMIN_PORT
        kpasswd_listen = 127.0.0.1:$KPASSWD_PORT
        max_life = 10h 0m 0s
        max_renewable_life = 7d 0h 0m 0s
        supported_enctypes = ${KDC_SUPPORTED_ENCTYPES:-aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal}
    }
[logging]
    kdc = FILE:$KDC_LOG
    admin_server = FILE:$T/logs/kadmind.log
    default = FILE:$T/logs/krb5.log
EOF
    printf '*/admin@%s *\n' "$REALM" >"$KDC_DIR/kadm5.acl"
    kdb5_util -r "$REALM" create -s -P "master-$RANDOM$RANDOM" >"$T/logs/kdb5_util.log" 2>&1 ||
        harness_fatal "kdb5_util create failed: $(cat "$T/logs/kdb5_util.log")"
    # principals first (kadmin.local works on the database, no KDC needed)
    kdc_admin_batch <<EOF || harness_fatal "creating alice/bob/admin failed"
addprinc +requires_preauth -pw $ALICE_PW alice
addprinc +requires_preauth -pw $BOB_PW bob
addprinc +requires_preauth -pw $ADMIN_PW admin/admin
EOF
    harness_spawn krb5kdc krb5kdc -n -r "$REALM"
    kdc_wait_up
}

# kdc_admin_check FILE: 0 unless kadmin.local's stderr (FILE) reports an error.
# kadmin.local exits 0 even when a query failed; its errors are lines
# "function_name: message" or "usage: ..." on stderr, while the harmless
# notices ("No policy specified for ...") carry no such prefix.
kdc_admin_check() {
    ! grep -Eq '^[A-Za-z_.]+: ' "$1"
}

# kdc_admin_batch: kadmin.local reading queries from stdin; non-zero if any failed
kdc_admin_batch() {
    local rc
    kadmin.local -r "$REALM" >>"$T/logs/kadmin.log" 2>"$T/logs/kadmin.err"
    rc=$?
    cat "$T/logs/kadmin.err" >>"$T/logs/kadmin.log"
    if [ $rc != 0 ] || ! kdc_admin_check "$T/logs/kadmin.err"; then
        cat "$T/logs/kadmin.err" >&2
        return 1
    fi
}

kdc_admin() {
    local q=${1:?usage: kdc_admin QUERY} rc
    shift
    [ $# = 0 ] || q="$q $*"
    kadmin.local -r "$REALM" -q "$q" >"$T/logs/kadmin.out" 2>"$T/logs/kadmin.err"
    rc=$?
    { printf '> %s\n' "$q"; cat "$T/logs/kadmin.out" "$T/logs/kadmin.err"; } >>"$T/logs/kadmin.log"
    sed '/^Authenticating as principal /d' "$T/logs/kadmin.out"
    cat "$T/logs/kadmin.err"
    [ $rc = 0 ] || return $rc
    kdc_admin_check "$T/logs/kadmin.err"
}

kdc_addprinc() {
    local princ=${1:?usage: kdc_addprinc PRINC [OPTIONS...]} opt keyopt=-randkey out
    shift
    for opt in "$@"; do
        case $opt in -pw|-randkey|-nokey) keyopt= ;; esac
    done
    out=$(kdc_admin "addprinc $keyopt $* $princ") ||
        harness_fatal "kdc_addprinc $princ failed: $out"
    printf '%s\n' "$out" | grep -q 'created' ||
        harness_fatal "kdc_addprinc $princ: no 'created' in kadmin output: $out"
}

kdc_ktadd() {
    local kt=${1:?usage: kdc_ktadd KEYTAB [-e ENCTYPES] PRINC...} out
    shift
    [ $# -gt 0 ] || harness_fatal "usage: kdc_ktadd KEYTAB [-e ENCTYPES] PRINC..."
    case $kt in *:*) ;; *) kt=FILE:$kt ;; esac
    out=$(kdc_admin "ktadd -k $kt $*") || harness_fatal "kdc_ktadd $kt $* failed: $out"
    printf '%s\n' "$out" | grep -q 'added to keytab' ||
        harness_fatal "kdc_ktadd $kt $*: no entry added: $out"
}

kdc_kinit() {
    local princ=${1:?usage: kdc_kinit PRINC PASSWORD [CCACHE]} pw=${2?usage: kdc_kinit PRINC PASSWORD [CCACHE]}
    local cc=${3:-$KRB5CCNAME}
    case $cc in *:*) ;; *) cc=FILE:$cc ;; esac
    printf '%s\n' "$pw" | KRB5CCNAME=$cc kinit "$princ" >/dev/null
}

kdc_start_kadmind() {
    local i
    [ -n "${KDC_PORT:-}" ] || harness_fatal "kdc_start_kadmind before kdc_start"
    require_cmd kadmind
    harness_alive kadmind && return 0
    harness_spawn kadmind kadmind -nofork -r "$REALM"
    for ((i = 0; i < 500; i++)); do
        harness_alive kadmind || harness_fatal "kadmind exited at start-up (see $T/logs/kadmind.log)"
        port_owned_by "$KADMIN_PORT" "$(harness_pid kadmind)" &&
            port_owned_by "$KPASSWD_PORT" "$(harness_pid kadmind)" && break
        sleep 0.01
    done
    [ "$i" -lt 500 ] || harness_fatal "kadmind did not listen on $KADMIN_PORT/$KPASSWD_PORT within 5 s"
}

kdc_stop() {
    harness_stop kadmind
    harness_stop krb5kdc
    harness_stop slapd
}
