#!/bin/bash
# make-tokens.sh - regenerate the AP-REQ fixtures of tests/unit/test_apreq.c
# against a throwaway MIT KDC (realm EXAMPLE.TEST on 127.0.0.1). Run once by
# hand (MIT krb5 1.20.1, Debian 12), the outputs are committed:
#   krb5-mutual.tok    raw RFC 4121 token, mutual auth, for imap/mail.example.test (kvno 2)
#   krb5-nomutual.tok  the same without mutual auth
#   spnego-mutual.tok  SPNEGO NegTokenInit wrapping a krb5 token for imap/mail.example.test
#   krb5-aes128.tok    raw token for smtp/mail.example.test, which holds only an aes128 key
#                      and was re-keyed twice (kvno 3)
# Usage: tests/unit/data/apreq/make-tokens.sh [OUTDIR]  (needs krb5-kdc, krb5-user, gcc)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
W=$(mktemp -d /tmp/apreq-fixtures.XXXXXX)
trap 'kill "${KDC_PID:-0}" 2>/dev/null || true; rm -rf "$W"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export KRB5_CONFIG=$W/krb5.conf KRB5_KDC_PROFILE=$W/kdc.conf KRB5CCNAME=FILE:$W/cc
export KRB5RCACHEDIR=$W
cat >"$KRB5_CONFIG" <<EOC
[libdefaults]
    default_realm = EXAMPLE.TEST
    dns_lookup_kdc = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
[realms]
    EXAMPLE.TEST = {
        kdc = 127.0.0.1:$PORT
    }
EOC
cat >"$KRB5_KDC_PROFILE" <<EOC
[realms]
    EXAMPLE.TEST = {
        database_name = $W/principal
        key_stash_file = $W/stash
        kdc_listen = 127.0.0.1:$PORT
        kdc_tcp_listen = 127.0.0.1:$PORT
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }
EOC
kdb5_util -r EXAMPLE.TEST create -s -P master >/dev/null
krb5kdc -n -r EXAMPLE.TEST & KDC_PID=$!
sleep 1
kadmin.local -q "addprinc -pw alice-pw alice" >/dev/null
kadmin.local -q "addprinc -randkey imap/mail.example.test" >/dev/null
kadmin.local -q "cpw -randkey imap/mail.example.test" >/dev/null          # kvno 2
kadmin.local -q "addprinc -randkey -e aes128-cts-hmac-sha1-96:normal smtp/mail.example.test" >/dev/null
kadmin.local -q "cpw -randkey -e aes128-cts-hmac-sha1-96:normal smtp/mail.example.test" >/dev/null
kadmin.local -q "cpw -randkey -e aes128-cts-hmac-sha1-96:normal smtp/mail.example.test" >/dev/null  # kvno 3
echo alice-pw | kinit alice >/dev/null
gcc -o "$W/make-tokens" "$here/make-tokens.c" $(krb5-config --cflags --libs gssapi)
"$W/make-tokens" krb5 mutual imap@mail.example.test "$out/krb5-mutual.tok"
"$W/make-tokens" krb5 nomutual imap@mail.example.test "$out/krb5-nomutual.tok"
"$W/make-tokens" spnego mutual imap@mail.example.test "$out/spnego-mutual.tok"
"$W/make-tokens" krb5 mutual smtp@mail.example.test "$out/krb5-aes128.tok"
klist -e
