#!/bin/bash
# fault_hostile_tokens.sh - hostile initial tokens fed straight into our
# plugin (plugin_sasl_driver --raw-token, mechanisms GSSAPI and GSS-SPNEGO):
# truncated at every interesting length, a length header claiming more than
# is sent, oversized (64 KB, 1 MB, 16 MB), wrong mechanism OIDs, an AP-REP
# where an AP-REQ belongs, random bytes, DER length overflow, and a replay of
# a real token. Every one is refused with one diagnosis line, no crash, no
# login (MIT answers an AP-REQ whose token id says AP-REP or KRB-ERROR with
# GSS_S_CONTINUE_NEEDED and no output: the driver then plays the same bytes
# again and the login is refused at that step); then a good login works.
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
plugin_setup fault_hostile_tokens
kvno imap/mail.example.test >/dev/null || harness_fatal "no imap ticket"

check_login "a real login, its initial token saved" imap --save-token "$T/good.tok"
check "the saved token is a GSS krb5 initial token (0x60 ... krb5 OID)" \
    python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.exit(not (d[0]==0x60 and b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02" in d[:20]))' "$T/good.tok"

mkdir -p "$T/hostile"
python3 - "$T/good.tok" "$T/hostile" <<'PY'
import os, sys
good = open(sys.argv[1], "rb").read()
out = sys.argv[2]
krb5_oid = b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"
i = good.index(krb5_oid)
def w(name, data):
    open(os.path.join(out, name), "wb").write(data)
n = len(good)
for cut in sorted({1, 2, 3, 4, 8, 13, 16, 32, n // 2, n - 16, n - 1}):
    w("truncated-%d-of-%d" % (cut, n), good[:cut])
# the DER header claims 64 KB, the body is the real one
w("length-claims-more", b"\x60\x83\x01\x00\x00" + good[i:])
w("der-length-overflow", b"\x60\x84\xff\xff\xff\xff" + good[i:])
w("der-length-indefinite", b"\x60\x80" + good[i:] + b"\x00\x00")
w("oversized-64k-junk-after", good + os.urandom(65536))
w("oversized-1m", b"\x60\x83\x10\x00\x00" + krb5_oid + b"\x01\x00" + b"A" * (1 << 20))
w("oversized-16m-zeros", bytes(16 << 20))
w("wrong-oid-krb5-last-arc", good[:i] + krb5_oid[:-1] + b"\x09" + good[i + len(krb5_oid):])
w("wrong-oid-ntlmssp", b"\x60\x0e\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a" + b"NTLMSSP\x00")
w("wrong-oid-spnego-wrapping-krb5", good[:i] + b"\x06\x09\x2b\x06\x01\x05\x05\x02\x00\x00\x00" + good[i + len(krb5_oid):])
w("ap-rep-token-id", good[:i + len(krb5_oid)] + b"\x02\x00" + good[i + len(krb5_oid) + 2:])
w("krb-error-token-id", good[:i + len(krb5_oid)] + b"\x03\x00" + good[i + len(krb5_oid) + 2:])
flip = bytearray(good); flip[n // 2] ^= 0xff
w("one-byte-flipped", bytes(flip))
w("random-4k", os.urandom(4096))
w("bare-ap-req-no-gss-header", good[i + len(krb5_oid) + 2:])
w("replay-of-the-real-token", good)
PY

total=0 refused=0 crashed=0 accepted=0
for mech in GSSAPI GSS-SPNEGO; do
    for f in "$T"/hostile/*; do
        name="$mech $(basename "$f")"
        total=$((total + 1))
        login imap --mech "$mech" --raw-token "$f"
        rc=$?
        if [ "$rc" -ge 128 ] || [ "$rc" = 1 ]; then
            crashed=$((crashed + 1))
            harness_failmsg "$name: no crash (expected exit 0, got $rc: $(tr '\n' ' ' <"$OUT" | cut -c1-200))"
        elif grep -q '^RAW accepted' "$OUT"; then
            accepted=$((accepted + 1))
            harness_failmsg "$name: refused (expected RAW refused, got: $(grep '^RAW' "$OUT"))"
        elif grep -q '^RAW refused' "$OUT" && [ "$(grep -c 'mailsso: .* login failed' "$T/last.log")" = 1 ]; then
            refused=$((refused + 1))
            grep -q '^RAW continue' "$OUT" && echo "# $name: the mechanism asked for another token first (GSS_S_CONTINUE_NEEDED), then refused"
            echo "ok: $name: $(grep -o 'cause: [^;]*' "$T/last.log" | head -1 | cut -c1-120)"
        else
            harness_failmsg "$name: refused with one diagnosis line (got: $(grep '^RAW' "$OUT"); $(grep -c 'login failed' "$T/last.log") diagnosis lines)"
        fi
    done
done
check_eq "every hostile token refused with one diagnosis line ($total cases, 2 mechanisms)" "$total" "$refused"
check_eq "... no crash" 0 "$crashed"
check_eq "... none accepted" 0 "$accepted"
check_grep "the replayed real token is diagnosed as a replay" 'cause: replay' "$SLOG"
check_login "after all that, a fresh good login still works" imap
check_login "... also through GSS-SPNEGO" imap --mech GSS-SPNEGO
harness_finish
