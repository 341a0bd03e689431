# shellcheck shell=bash
# NAME
#   tests/harness/kdc-ldap.sh - MIT KDC with the LDAP backend (OpenLDAP slapd)
#   for S4U2Self + S4U2Proxy (constrained delegation)
#
# SYNOPSIS
#   (sourced by lib.sh; call harness_init first)
#   kdc_ldap_start
#   KRB5CCNAME=FILE:$T/gw.cc kinit -k -t "$GW_KEYTAB" HTTP/gw.example.test
#   KRB5CCNAME=FILE:$T/gw.cc kvno -U alice -P HTTP/mail.example.test     # allowed
#   kdc_ldap_allow_delegation HTTP/gw.example.test HTTP/other.example.test
#   kdc_ldap_deny_delegation  HTTP/gw.example.test HTTP/other.example.test
#   kdc_stop
#
# DESCRIPTION
#   MIT krb5kdc with the DB2 backend refuses every S4U2Proxy request
#   (UNSUPPORTED_S4U2PROXY_REQUEST); the LDAP backend reads the allowed targets
#   from the attribute krbAllowedToDelegateTo of the proxy's entry (no kadmin
#   command sets it; changes apply to the next request).
#
#   kdc_ldap_start starts slapd (name "slapd", suffix dc=example,dc=test, on
#   127.0.0.1:$LDAP_PORT) and krb5kdc (name "krb5kdc", realm $REALM on
#   127.0.0.1:$KDC_PORT) with the same client profile as kdc_start
#   (forwardable = true, which S4U2Proxy needs). Principals:
#     alice ($ALICE_PW), bob ($BOB_PW), admin/admin ($ADMIN_PW)
#     HTTP/gw.example.test     +ok_to_auth_as_delegate, keytab $GW_KEYTAB,
#                              krbAllowedToDelegateTo: HTTP/mail.example.test@$REALM
#     HTTP/mail.example.test   keytab $HTTP_KEYTAB
#     HTTP/other.example.test  keytab $OTHER_KEYTAB (not a delegation target)
#   kdc_addprinc, kdc_ktadd, kdc_admin, kdc_kinit, kdc_start_kadmind and
#   kdc_stop work as with kdc_start. $KDC_LOG logs S4U2Self as
#   "PROTOCOL-TRANSITION s4u-client=..." and S4U2Proxy as
#   "CONSTRAINED-DELEGATION s4u-client=..."; a refused target as
#   "UNSUPPORTED_S4U2PROXY_REQUEST ... for TARGET".
#
#   kdc_ldap_allow_delegation PROXY TARGET / kdc_ldap_deny_delegation PROXY TARGET
#       add / delete TARGET (realm added if missing) in PROXY's krbAllowedToDelegateTo.
#   kdc_ldap_dn PRINC   prints the DN of PRINC's entry.
#   LDAP access: $LDAP_URI, $LDAP_ADMIN_DN, $LDAP_ADMIN_PW.

LDAP_BASE=dc=example,dc=test
LDAP_ADMIN_DN=cn=admin,$LDAP_BASE
LDAP_ADMIN_PW=ldap-Secret-4
KRB5_LDAP_SCHEMA_GZ=/usr/share/doc/krb5-kdc-ldap/kerberos.schema.gz
GW_PRINC=HTTP/gw.example.test
HTTP_PRINC=HTTP/mail.example.test
OTHER_PRINC=HTTP/other.example.test

kdc_ldap_start() {
    local i token
    [ -n "$T" ] || harness_fatal "kdc_ldap_start before harness_init"
    harness_alive krb5kdc && harness_fatal "kdc_ldap_start: a KDC already runs in this test"
    require_cmd slapd slapadd ldapsearch ldapmodify kdb5_ldap_util kadmin.local krb5kdc kinit kvno
    require_file "$KRB5_LDAP_SCHEMA_GZ" krb5-kdc-ldap
    require_file /etc/ldap/schema/core.schema slapd
    KDC_DIR=$T/kdc
    KDC_LOG=$T/logs/kdc.log
    LDAP_DIR=$T/ldap
    harness_pick_ports LDAP_PORT KDC_PORT KADMIN_PORT KPASSWD_PORT
    LDAP_URI=ldap://127.0.0.1:$LDAP_PORT
    GW_KEYTAB=$T/gw.keytab
    HTTP_KEYTAB=$T/http.keytab
    OTHER_KEYTAB=$T/other.keytab
    export REALM KDC_DIR KDC_LOG KDC_PORT KADMIN_PORT KPASSWD_PORT LDAP_PORT LDAP_URI
    export LDAP_BASE LDAP_ADMIN_DN LDAP_ADMIN_PW GW_KEYTAB HTTP_KEYTAB OTHER_KEYTAB
    mkdir -p "$KDC_DIR" "$LDAP_DIR/db"

    # ---- slapd (slapd.conf style), suffix entry created offline
    zcat "$KRB5_LDAP_SCHEMA_GZ" >"$LDAP_DIR/kerberos.schema" ||
        harness_fatal "cannot read $KRB5_LDAP_SCHEMA_GZ"
    cat >"$LDAP_DIR/slapd.conf" <<EOF
include      /etc/ldap/schema/core.schema
include      /etc/ldap/schema/cosine.schema
include      $LDAP_DIR/kerberos.schema
pidfile      $LDAP_DIR/slapd.pid
argsfile     $LDAP_DIR/slapd.args
modulepath   /usr/lib/ldap
moduleload   back_mdb
database     mdb
suffix       "$LDAP_BASE"
rootdn       "$LDAP_ADMIN_DN"
rootpw       $LDAP_ADMIN_PW
directory    $LDAP_DIR/db
maxsize      104857600
index        objectClass eq
index        krbPrincipalName eq,pres,sub
EOF
    # the random description proves that the readiness probe talks to OUR slapd
    token=${T##*/}-$RANDOM$RANDOM
    cat >"$LDAP_DIR/base.ldif" <<EOF
dn: $LDAP_BASE
objectClass: dcObject
objectClass: organization
dc: example
o: example
description: $token
EOF
    slapadd -q -f "$LDAP_DIR/slapd.conf" -l "$LDAP_DIR/base.ldif" >"$T/logs/slapadd.log" 2>&1 ||
        harness_fatal "slapadd failed: $(cat "$T/logs/slapadd.log")"
    # -d none: foreground (the saved PID is slapd's) but fatal errors are printed;
    # -h: loopback TCP only, no ldapi socket (never touches a system slapd)
    harness_spawn slapd slapd -f "$LDAP_DIR/slapd.conf" -h "$LDAP_URI/" -d none
    for ((i = 0; i < 500; i++)); do
        harness_alive slapd || harness_fatal "slapd exited at start-up (see $T/logs/slapd.log)"
        if port_owned_by "$LDAP_PORT" "$(harness_pid slapd)" &&
            ldapsearch -LLL -x -H "$LDAP_URI" -b "$LDAP_BASE" -s base description 2>/dev/null |
            grep -qx "description: $token"; then
            break
        fi
        sleep 0.01
    done
    [ "$i" -lt 500 ] || harness_fatal "slapd did not answer on $LDAP_URI within 5 s"

    # ---- krb5 profiles, realm container in LDAP, stash files
    kdc_write_krb5_conf
    cat >"$KRB5_KDC_PROFILE" <<EOF
[kdcdefaults]
    kdc_listen = 127.0.0.1:$KDC_PORT
    kdc_tcp_listen = 127.0.0.1:$KDC_PORT
[realms]
    $REALM = {
        database_module = ldapdb
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
[dbmodules]
    ldapdb = {
        db_library = kldap
        ldap_servers = $LDAP_URI
        ldap_kerberos_container_dn = cn=krbcontainer,$LDAP_BASE
        ldap_kdc_dn = $LDAP_ADMIN_DN
        ldap_kadmind_dn = $LDAP_ADMIN_DN
        ldap_service_password_file = $KDC_DIR/ldap-service.stash
        ldap_conns_per_server = 2
        disable_last_success = true
        disable_lockout = true
    }
[logging]
    kdc = FILE:$KDC_LOG
    admin_server = FILE:$T/logs/kadmind.log
    default = FILE:$T/logs/krb5.log
EOF
    printf '*/admin@%s *\n' "$REALM" >"$KDC_DIR/kadm5.acl"
    printf '%s\n%s\n' "$LDAP_ADMIN_PW" "$LDAP_ADMIN_PW" |
        kdb5_ldap_util stashsrvpw -f "$KDC_DIR/ldap-service.stash" "$LDAP_ADMIN_DN" >/dev/null 2>&1
    grep -q "^$LDAP_ADMIN_DN#{HEX}" "$KDC_DIR/ldap-service.stash" 2>/dev/null ||
        harness_fatal "kdb5_ldap_util stashsrvpw failed"
    kdb5_ldap_util -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PW" -H "$LDAP_URI" \
        create -r "$REALM" -s -P "master-$RANDOM$RANDOM" >"$T/logs/kdb5_ldap_util.log" 2>&1 ||
        harness_fatal "kdb5_ldap_util create failed: $(cat "$T/logs/kdb5_ldap_util.log")"

    # ---- principals and keytabs (one kadmin.local)
    kdc_admin_batch <<EOF || harness_fatal "creating the LDAP realm's principals failed"
addprinc +requires_preauth -pw $ALICE_PW alice
addprinc +requires_preauth -pw $BOB_PW bob
addprinc +requires_preauth -pw $ADMIN_PW admin/admin
addprinc -randkey +ok_to_auth_as_delegate $GW_PRINC
addprinc -randkey $HTTP_PRINC
addprinc -randkey $OTHER_PRINC
ktadd -k $GW_KEYTAB $GW_PRINC
ktadd -k $HTTP_KEYTAB $HTTP_PRINC
ktadd -k $OTHER_KEYTAB $OTHER_PRINC
EOF
    kdc_ldap_allow_delegation "$GW_PRINC" "$HTTP_PRINC"

    # ---- the KDC
    harness_spawn krb5kdc krb5kdc -n -r "$REALM"
    kdc_wait_up
}

# kdc_ldap_fullname PRINC -> PRINC@REALM unless it has a realm already
kdc_ldap_fullname() {
    case $1 in *@*) printf '%s' "$1" ;; *) printf '%s@%s' "$1" "$REALM" ;; esac
}

kdc_ldap_dn() {
    local p dn
    p=$(kdc_ldap_fullname "${1:?usage: kdc_ldap_dn PRINC}")
    dn=$(ldapsearch -LLL -o ldif-wrap=no -x -H "$LDAP_URI" -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PW" \
        -b "cn=krbcontainer,$LDAP_BASE" "(krbPrincipalName=$p)" dn 2>>"$T/logs/ldap-client.log" |
        sed -n 's/^dn: //p')
    [ -n "$dn" ] || return 1
    printf '%s\n' "$dn"
}

kdc_ldap_modify_delegation() { # kdc_ldap_modify_delegation add|delete PROXY TARGET
    local op=$1 proxy=$2 target dn
    target=$(kdc_ldap_fullname "$3")
    dn=$(kdc_ldap_dn "$proxy") || harness_fatal "kdc_ldap: no LDAP entry for principal $proxy"
    ldapmodify -x -H "$LDAP_URI" -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PW" \
        >>"$T/logs/ldap-client.log" 2>&1 <<EOF
dn: $dn
changetype: modify
$op: krbAllowedToDelegateTo
krbAllowedToDelegateTo: $target
EOF
}

kdc_ldap_allow_delegation() {
    [ $# = 2 ] || harness_fatal "usage: kdc_ldap_allow_delegation PROXY TARGET"
    kdc_ldap_modify_delegation add "$1" "$2" ||
        harness_fatal "kdc_ldap_allow_delegation $1 -> $2 failed (see $T/logs/ldap-client.log)"
}

kdc_ldap_deny_delegation() {
    [ $# = 2 ] || harness_fatal "usage: kdc_ldap_deny_delegation PROXY TARGET"
    kdc_ldap_modify_delegation delete "$1" "$2" ||
        harness_fatal "kdc_ldap_deny_delegation $1 -> $2 failed: not in the list? (see $T/logs/ldap-client.log)"
}
