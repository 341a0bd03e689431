# shellcheck shell=bash
# NAME
#   tests/harness/ca.sh - a small test CA (openssl CLI): root + intermediate,
#   user certificates with a UPN, revocation, CRLs, an HTTP server for them
#
# SYNOPSIS
#   (sourced by lib.sh; call harness_init first)
#   ca_init
#   ca_issue_user alice alice@EXAMPLE.TEST --email alice@example.test
#   ca_issue_user old   old@EXAMPLE.TEST --expired
#   ca_issue_server mail mail.example.test          # TLS server cert (nginx)
#   ca_revoke alice; ca_gen_crl
#   ca_serve_crl; curl -sf "http://127.0.0.1:$CRL_PORT/inter.crl"; ca_stop_crl
#
# DESCRIPTION
#   ca_init creates $CA_DIR ($T/ca) with
#     $CA_ROOT      root.crt   "mailsso Test Root CA" (self-signed)
#     $CA_INTER     inter.crt  "mailsso Test Issuing CA", signed by the root,
#                              CRL distribution point http://127.0.0.1:$CRL_PORT/root.crl
#     $CA_CHAIN     chain.pem  intermediate then root (PEM)
#     $CA_CRL_DIR   crl/       root.crl, inter.crl (DER): what ca_serve_crl serves
#     $CA_ROOT_CRL_PEM, $CA_INTER_CRL_PEM  root.crl.pem, inter.crl.pem
#     $CA_ROOT_CRL, $CA_INTER_CRL          crl/root.crl, crl/inter.crl (DER)
#     $CA_CRLS      crls.pem   both CRLs (PEM), e.g. for nginx ssl_crl
#   $CRL_PORT is picked (and reserved) at ca_init because it is written into
#   the certificates; the CA certificates are valid from one year ago for ten
#   years. Keys are EC P-256 (CA_KEY_TYPE=rsa: RSA 2048).
#
#   ca_issue_user NAME UPN [OPTIONS]  -> $CA_DIR/NAME.crt, $CA_DIR/NAME.key (PEM,
#       unencrypted), $CA_DIR/NAME.pem (key + cert). Subject CN=NAME. Issued by
#       the intermediate, with
#         subjectAltName otherName 1.3.6.1.4.1.311.20.2.3 (UPN, UTF8String) = UPN
#         extendedKeyUsage clientAuth + 1.3.6.1.4.1.311.20.2.2 (smart-card logon)
#         crlDistributionPoints http://127.0.0.1:$CRL_PORT/inter.crl
#       OPTIONS:
#         --expired        valid from 30 days ago until yesterday
#         --not-yet-valid  valid from tomorrow
#         --no-upn         no UPN otherName (UPN argument ignored, may be "")
#         --upn2 UPN       a second UPN otherName
#         --email ADDR     an rfc822Name (email) in the SAN
#         --no-eku         no extendedKeyUsage at all
#         --eku LIST       this extendedKeyUsage instead (e.g. serverAuth)
#         --untrusted      issued by a separate "Untrusted Test CA" ($CA_UNTRUSTED_ROOT),
#                          which is not in $CA_CHAIN
#         --days N         validity (default 365)
#   ca_issue_server NAME DNSNAME... -> NAME.crt/.key/.pem with serverAuth, SAN
#       DNS names + IP 127.0.0.1, issued by the intermediate.
#   ca_revoke NAME   revokes NAME (reason keyCompromise) at its issuer; NAME
#       "inter" revokes the intermediate at the root. The CRLs change only
#       with the next ca_gen_crl.
#   ca_gen_crl [--expired]  writes fresh root and intermediate CRLs (DER and
#       PEM, valid 7 days; --expired: nextUpdate yesterday).
#   ca_serve_crl / ca_stop_crl  start / stop (harness_spawn name "crl_http")
#       python3 -m http.server bound to 127.0.0.1:$CRL_PORT serving $CA_CRL_DIR.
#   ca_serial NAME   prints NAME's serial number (hex, as in openssl's index).
#
# DIAGNOSTICS
#   Failures of openssl are fatal (harness_fatal), its output is in $T/logs/ca.log.

CA_UPN_OID=1.3.6.1.4.1.311.20.2.3
CA_SMARTCARD_LOGON_OID=1.3.6.1.4.1.311.20.2.2

ca_date() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

ca_openssl() { # run openssl, output to the CA log; fatal on error
    printf '> openssl %s\n' "$*" >>"$T/logs/ca.log"
    openssl "$@" >>"$T/logs/ca.log" 2>&1 ||
        harness_fatal "openssl $1 failed (see $T/logs/ca.log): $(tail -n 5 "$T/logs/ca.log")"
}

# ca_newkey_csr KEYFILE CSRFILE SUBJECT
ca_newkey_csr() {
    local alg
    if [ "${CA_KEY_TYPE:-ec}" = rsa ]; then
        alg=(-newkey rsa:2048)
    else
        alg=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
    fi
    ca_openssl req -new "${alg[@]}" -nodes -keyout "$1" -out "$2" -subj "$3"
    chmod 600 "$1"
}

# ca_setup_dir NAME: an openssl ca database + config in $CA_DIR/NAME
ca_setup_dir() {
    local d=$CA_DIR/$1
    mkdir -p "$d/newcerts"
    : >"$d/index.txt"
    echo 'unique_subject = no' >"$d/index.txt.attr"
    echo 1000 >"$d/serial"
    echo 1000 >"$d/crlnumber"
    cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = this_ca
[this_ca]
dir             = $d
database        = \$dir/index.txt
new_certs_dir   = \$dir/newcerts
serial          = \$dir/serial
crlnumber       = \$dir/crlnumber
certificate     = \$dir/cert.pem
private_key     = \$dir/key.pem
default_md      = sha256
default_days    = 365
default_crl_days = 7
policy          = policy_any
unique_subject  = no
copy_extensions = none
preserve        = yes
[policy_any]
countryName            = optional
organizationName       = optional
organizationalUnitName = optional
commonName             = supplied
emailAddress           = optional
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused
[v3_root]
basicConstraints       = critical,CA:TRUE
keyUsage               = critical,keyCertSign,cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
[v3_inter]
basicConstraints       = critical,CA:TRUE,pathlen:0
keyUsage               = critical,keyCertSign,cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints  = URI:http://127.0.0.1:$CRL_PORT/root.crl
[crl_ext]
authorityKeyIdentifier = keyid:always
EOF
}

# ca_make_root NAME SUBJECT: self-signed CA in $CA_DIR/NAME, valid from a year ago
ca_make_root() {
    local d=$CA_DIR/$1
    ca_setup_dir "$1"
    ca_newkey_csr "$d/key.pem" "$d/req.csr" "$2"
    ca_openssl ca -batch -notext -config "$d/ca.cnf" -selfsign -keyfile "$d/key.pem" \
        -in "$d/req.csr" -out "$d/cert.pem" -extensions v3_root \
        -startdate "$(ca_date '-1 year')" -enddate "$(ca_date '+10 years')"
}

ca_init() {
    [ -n "$T" ] || harness_fatal "ca_init before harness_init"
    require_cmd openssl
    CA_DIR=$T/ca
    [ ! -e "$CA_DIR/root.crt" ] || harness_fatal "ca_init called twice"
    harness_pick_ports CRL_PORT
    CA_CRL_DIR=$CA_DIR/crl
    CA_ROOT=$CA_DIR/root.crt
    CA_INTER=$CA_DIR/inter.crt
    CA_CHAIN=$CA_DIR/chain.pem
    CA_ROOT_CRL=$CA_CRL_DIR/root.crl
    CA_INTER_CRL=$CA_CRL_DIR/inter.crl
    CA_ROOT_CRL_PEM=$CA_DIR/root.crl.pem
    CA_INTER_CRL_PEM=$CA_DIR/inter.crl.pem
    CA_CRLS=$CA_DIR/crls.pem
    CA_UNTRUSTED_ROOT=$CA_DIR/untrusted-root.crt
    export CA_DIR CRL_PORT CA_CRL_DIR CA_ROOT CA_INTER CA_CHAIN CA_ROOT_CRL CA_INTER_CRL
    export CA_ROOT_CRL_PEM CA_INTER_CRL_PEM CA_CRLS CA_UNTRUSTED_ROOT
    mkdir -p "$CA_DIR" "$CA_CRL_DIR"
    chmod 755 "$CA_DIR" "$CA_CRL_DIR"

    ca_make_root root "/O=mailsso test/CN=mailsso Test Root CA"
    ca_setup_dir inter
    ca_newkey_csr "$CA_DIR/inter/key.pem" "$CA_DIR/inter/req.csr" "/O=mailsso test/CN=mailsso Test Issuing CA"
    ca_openssl ca -batch -notext -config "$CA_DIR/root/ca.cnf" -extensions v3_inter \
        -in "$CA_DIR/inter/req.csr" -out "$CA_DIR/inter/cert.pem" \
        -startdate "$(ca_date '-1 year')" -enddate "$(ca_date '+9 years')"
    cp "$CA_DIR/root/cert.pem" "$CA_ROOT"
    cp "$CA_DIR/inter/cert.pem" "$CA_INTER"
    cat "$CA_INTER" "$CA_ROOT" >"$CA_CHAIN"
    echo root >"$CA_DIR/inter.issuer"
    ca_gen_crl
}

# ca_untrusted_init: the separate CA behind --untrusted, made on first use
ca_untrusted_init() {
    [ -e "$CA_UNTRUSTED_ROOT" ] && return 0
    ca_make_root untrusted "/O=mailsso test/CN=Untrusted Test CA"
    cp "$CA_DIR/untrusted/cert.pem" "$CA_UNTRUSTED_ROOT"
}

# ca_sign ISSUER NAME EXTFILE [openssl ca options]: sign $CA_DIR/NAME.csr
ca_sign() {
    local issuer=$1 name=$2 ext=$3
    shift 3
    ca_openssl ca -batch -notext -config "$CA_DIR/$issuer/ca.cnf" -extfile "$ext" -extensions ext \
        -in "$CA_DIR/$name.csr" -out "$CA_DIR/$name.crt" "$@"
    echo "$issuer" >"$CA_DIR/$name.issuer"
    cat "$CA_DIR/$name.key" "$CA_DIR/$name.crt" >"$CA_DIR/$name.pem"
    chmod 600 "$CA_DIR/$name.pem"
}

ca_check_name() {
    case $1 in
        ''|*/*|root|inter|untrusted|crl|crls|chain) harness_fatal "ca: invalid certificate name '$1'" ;;
    esac
}

ca_issue_user() {
    local name=${1:?usage: ca_issue_user NAME UPN [OPTIONS]} upn=${2?usage: ca_issue_user NAME UPN [OPTIONS]}
    local issuer=inter upn_on=1 eku="clientAuth,$CA_SMARTCARD_LOGON_OID" days=365
    local dates=() san=() ext
    [ -n "${CA_DIR:-}" ] || harness_fatal "ca_issue_user before ca_init"
    ca_check_name "$name"
    shift 2
    while [ $# -gt 0 ]; do
        case $1 in
            --expired) dates=(-startdate "$(ca_date '-30 days')" -enddate "$(ca_date '-1 day')") ;;
            --not-yet-valid) dates=(-startdate "$(ca_date '+1 day')" -enddate "$(ca_date '+30 days')") ;;
            --no-upn) upn_on=0 ;;
            --upn2) san+=("otherName:$CA_UPN_OID;UTF8:${2:?--upn2 needs a UPN}"); shift ;;
            --email) san+=("email:${2:?--email needs an address}"); shift ;;
            --no-eku) eku= ;;
            --eku) eku=${2:?--eku needs a list}; shift ;;
            --untrusted) issuer=untrusted ;;
            --days) days=${2:?--days needs a number}; shift ;;
            *) harness_fatal "ca_issue_user: unknown option '$1'" ;;
        esac
        shift
    done
    [ "$upn_on" = 0 ] || san=("otherName:$CA_UPN_OID;UTF8:$upn" "${san[@]}")
    [ "$issuer" = inter ] || ca_untrusted_init
    ext=$CA_DIR/$name.ext
    {
        echo '[ext]'
        echo 'basicConstraints = critical,CA:FALSE'
        echo 'keyUsage = critical,digitalSignature'
        [ -z "$eku" ] || echo "extendedKeyUsage = $eku"
        if [ ${#san[@]} -gt 0 ]; then
            local IFS=,
            printf 'subjectAltName = %s\n' "${san[*]}"
        fi
        echo 'subjectKeyIdentifier = hash'
        echo 'authorityKeyIdentifier = keyid:always'
        [ "$issuer" != inter ] || echo "crlDistributionPoints = URI:http://127.0.0.1:$CRL_PORT/inter.crl"
    } >"$ext"
    ca_newkey_csr "$CA_DIR/$name.key" "$CA_DIR/$name.csr" "/O=mailsso test/CN=$name"
    if [ ${#dates[@]} -gt 0 ]; then
        ca_sign "$issuer" "$name" "$ext" "${dates[@]}"
    else
        ca_sign "$issuer" "$name" "$ext" -days "$days"
    fi
}

ca_issue_server() {
    local name=${1:?usage: ca_issue_server NAME DNSNAME...} ext dns sans=
    [ -n "${CA_DIR:-}" ] || harness_fatal "ca_issue_server before ca_init"
    ca_check_name "$name"
    shift
    [ $# -gt 0 ] || harness_fatal "usage: ca_issue_server NAME DNSNAME..."
    for dns in "$@"; do sans="${sans}DNS:$dns, "; done
    ext=$CA_DIR/$name.ext
    cat >"$ext" <<EOF
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = ${sans}IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:http://127.0.0.1:$CRL_PORT/inter.crl
EOF
    ca_newkey_csr "$CA_DIR/$name.key" "$CA_DIR/$name.csr" "/O=mailsso test/CN=$1"
    ca_sign inter "$name" "$ext" -days 365
    # nginx wants the chain after the leaf
    cat "$CA_DIR/$name.crt" "$CA_INTER" >"$CA_DIR/$name.fullchain.pem"
}

ca_serial() {
    local name=${1:?usage: ca_serial NAME} crt
    [ "$name" = inter ] && crt=$CA_INTER || crt=$CA_DIR/$name.crt
    [ -r "$crt" ] || harness_fatal "ca_serial: no certificate $crt"
    openssl x509 -in "$crt" -noout -serial | sed 's/^serial=//'
}

ca_revoke() {
    local name=${1:?usage: ca_revoke NAME} crt issuer
    [ -n "${CA_DIR:-}" ] || harness_fatal "ca_revoke before ca_init"
    if [ "$name" = inter ]; then crt=$CA_INTER; else crt=$CA_DIR/$name.crt; fi
    [ -r "$crt" ] || harness_fatal "ca_revoke: no certificate $crt (issue it first)"
    issuer=$(cat "$CA_DIR/$name.issuer" 2>/dev/null) || harness_fatal "ca_revoke: issuer of $name unknown"
    ca_openssl ca -config "$CA_DIR/$issuer/ca.cnf" -revoke "$crt" -crl_reason keyCompromise
}

# ca_gen_crl_one ISSUER OUTNAME [dates...]
ca_gen_crl_one() {
    local issuer=$1 out=$2
    shift 2
    ca_openssl ca -batch -config "$CA_DIR/$issuer/ca.cnf" -gencrl -crlexts crl_ext \
        -out "$CA_DIR/$out.crl.pem" "$@"
    ca_openssl crl -in "$CA_DIR/$out.crl.pem" -outform DER -out "$CA_CRL_DIR/$out.crl.tmp"
    mv -f "$CA_CRL_DIR/$out.crl.tmp" "$CA_CRL_DIR/$out.crl"
    chmod 644 "$CA_CRL_DIR/$out.crl" "$CA_DIR/$out.crl.pem"
}

ca_gen_crl() {
    local dates=(-crldays 7)
    [ -n "${CA_DIR:-}" ] || harness_fatal "ca_gen_crl before ca_init"
    case ${1:-} in
        '') ;;
        --expired) dates=(-crl_lastupdate "$(ca_date '-8 days')" -crl_nextupdate "$(ca_date '-1 day')") ;;
        *) harness_fatal "ca_gen_crl: unknown option '$1'" ;;
    esac
    ca_gen_crl_one root root "${dates[@]}"
    ca_gen_crl_one inter inter "${dates[@]}"
    if [ -e "$CA_UNTRUSTED_ROOT" ]; then ca_gen_crl_one untrusted untrusted "${dates[@]}"; fi
    cat "$CA_INTER_CRL_PEM" "$CA_ROOT_CRL_PEM" >"$CA_CRLS"
}

ca_python() {
    if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi
}

ca_serve_crl() {
    local py i
    [ -n "${CA_DIR:-}" ] || harness_fatal "ca_serve_crl before ca_init"
    require_cmd python3
    py=$(ca_python)
    harness_alive crl_http && return 0
    harness_spawn crl_http "$py" -m http.server --bind 127.0.0.1 --directory "$CA_CRL_DIR" "$CRL_PORT"
    for ((i = 0; i < 500; i++)); do
        harness_alive crl_http || harness_fatal "the CRL HTTP server exited (see $T/logs/crl_http.log)"
        port_owned_by "$CRL_PORT" "$(harness_pid crl_http)" && return 0
        sleep 0.02
    done
    harness_fatal "the CRL HTTP server did not listen on 127.0.0.1:$CRL_PORT within 10 s"
}

ca_stop_crl() { harness_stop crl_http; }
