#!/bin/bash
# make-seeds.sh - regenerate the apreq seed tokens from a throwaway KDC
#
# Usage (from a build dir): top_srcdir=.. top_builddir=. bash ../tests/fuzz/make-seeds.sh
# Starts the harness KDC (tests/harness), creates imap/mail.example.test with
# several enctypes, gets alice tickets and writes the first token a client
# sends (raw krb5 GSS, SPNEGO, with and without mutual auth; kvno 2 and a
# larger kvno) into tests/fuzz/corpus/apreq/. Also adds a keytab exported by
# kadmin to corpus/keytab. The files are committed; run this only to refresh.
set -u
. "$top_srcdir/tests/harness/lib.sh"
harness_init fuzz_seeds
out=$top_srcdir/tests/fuzz/corpus/apreq
cc -O0 -o "$T/gen_token" "$top_srcdir/tests/fuzz/gen_token.c" $(krb5-config --cflags --libs gssapi) ||
    harness_fatal "cannot build gen_token"
kdc_start
p=imap/mail.example.test
kdc_addprinc "$p"
kdc_admin "cpw -randkey -e aes256-cts-hmac-sha1-96:normal,aes128-cts-hmac-sha256-128:normal,camellia256-cts-cmac:normal $p" >/dev/null
kdc_ktadd "$T/imap.keytab" "$p"
cp "$T/imap.keytab" "$top_srcdir/tests/fuzz/corpus/keytab/kadmin-ktadd.keytab"
kdc_kinit alice "$ALICE_PW" || harness_fatal "kinit alice failed"
for mech in krb5 spnego; do
    for m in mutual nomutual; do
        "$T/gen_token" "$p@$REALM" "$mech" "$m" "$out/$mech-$m-aes256.tok" || harness_fatal "gen_token $mech $m"
    done
done
# A ticket of another enctype (ticket key aes128-sha2, kvno 4; session key aes256).
kdc_admin "cpw -randkey -e aes128-cts-hmac-sha256-128:normal $p" >/dev/null
kdc_kinit alice "$ALICE_PW" || harness_fatal "kinit alice failed"
"$T/gen_token" "$p@$REALM" krb5 mutual "$out/krb5-mutual-aes128sha2-kvno4.tok" || harness_fatal "gen_token aes128"
# A principal with three components and a long name.
q=imap/mail.example.test/extra-component-for-parsing
kdc_addprinc "$q"
"$T/gen_token" "$q@$REALM" spnego mutual "$out/spnego-three-components.tok" || harness_fatal "gen_token q"
# A bare AP-REQ (no GSS framing), as some clients send inside SPNEGO.
python3 - "$out/krb5-mutual-aes256.tok" "$out/bare-apreq-aes256.der" <<'PY'
import sys
t = open(sys.argv[1], "rb").read()
i = 2 if t[1] < 0x80 else 2 + (t[1] & 0x7f)   # skip 0x60 + length
i += 2 + t[i + 1] + 2                           # skip mech OID and TOK_ID 01 00
open(sys.argv[2], "wb").write(t[i:])
PY
check "the bare AP-REQ starts with [APPLICATION 14]" test "$(head -c1 "$out/bare-apreq-aes256.der" | od -An -tx1 | tr -d ' ')" = 6e
check "six GSS seed tokens were written" test "$(ls "$out"/*.tok | wc -l)" = 6
ls -l "$out"
harness_finish
