#!/bin/bash
# fault_hostile_kcd.sh - hostile certificates and requests against the
# running mailsso-kcd (its Unix socket, as nginx's auth_request would ask):
# UPNs with NUL bytes (properly signed by the trusted CA), '@' and '/' tricks,
# realm/case tricks, a UPN naming the backend service or krbtgt, two
# certificates in one header, the header given twice, garbage and truncated
# PEM, a client-supplied Authorization header, oversized and many headers,
# an X-Kcd-Target for a service that is not configured. Nobody gets a token
# for another user; the helper never crashes.
set -u
. "$top_srcdir/tests/integration/kcd_common.sh"
kcd_env_init fault_hostile_kcd

# A certificate with a NUL byte in its UPN, signed by the test CA: issued with
# a placeholder byte '!', which is then patched to NUL in the TBS and the
# certificate re-signed with the intermediate's key (openssl cannot write a
# NUL into a UTF8String itself).
nul_cert() { # nul_cert NAME UPN_WITH_!
    ca_issue_user "$1" "$2"
    python3 - "$CA_DIR/$1.crt" "$CA_DIR/inter/key.pem" "$2" <<'PY' || harness_fatal "patching $1 failed"
import base64, re, subprocess, sys, tempfile
crt, key, upn = sys.argv[1], sys.argv[2], sys.argv[3].encode()
der = base64.b64decode("".join(l for l in open(crt).read().splitlines() if "-----" not in l))
def tlv(b, i):                       # -> (tag, header length, content length)
    t, l = b[i], b[i + 1]
    if l < 0x80:
        return t, 2, l
    n = l & 0x7f
    return t, 2 + n, int.from_bytes(b[i + 2:i + 2 + n], "big")
def enc(tag, content):
    n = len(content)
    if n < 0x80:
        h = bytes([n])
    else:
        nb = n.to_bytes((n.bit_length() + 7) // 8, "big")
        h = bytes([0x80 | len(nb)]) + nb
    return bytes([tag]) + h + content
_, oh, ol = tlv(der, 0)
i = oh
_, th, tl = tlv(der, i)
tbs = der[i:i + th + tl]
i += th + tl
_, ah, al = tlv(der, i)
alg = der[i:i + ah + al]
assert tbs.count(upn) == 1, "the UPN must occur once"
tbs = tbs.replace(upn, upn.replace(b"!", b"\x00"))
with tempfile.NamedTemporaryFile() as f:
    f.write(tbs); f.flush()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, f.name],
                         check=True, capture_output=True).stdout
cert = enc(0x30, tbs + alg + enc(0x03, b"\x00" + sig))
b64 = base64.b64encode(cert).decode()
open(crt, "w").write("-----BEGIN CERTIFICATE-----\n" +
                     "\n".join(b64[j:j + 64] for j in range(0, len(b64), 64)) +
                     "\n-----END CERTIFICATE-----\n")
PY
    openssl verify -CAfile "$CA_ROOT" -untrusted "$CA_INTER" "$CA_DIR/$1.crt" >/dev/null ||
        harness_fatal "the patched certificate $1 does not verify"
}
nul_cert nul_bob 'bob@example.test!alice'
nul_cert nul_alice 'alice!@example.test'
check "the NUL certificate is valid for openssl (signed by the test CA)" \
    openssl verify -CAfile "$CA_ROOT" -untrusted "$CA_INTER" "$CA_DIR/nul_bob.crt"
check "... and really holds a NUL in its UPN" python3 -c '
import base64, sys
d = base64.b64decode("".join(l for l in open(sys.argv[1]).read().splitlines() if "-----" not in l))
sys.exit(b"bob@example.test\x00alice" not in d)' "$CA_DIR/nul_bob.crt"
ca_issue_user atat 'alice@example.test@evil.test'
ca_issue_user slash 'alice/admin@example.test'
ca_issue_user upcase 'ALICE@EXAMPLE.TEST'
ca_issue_user realmupn 'alice@EXAMPLE.TEST'
ca_issue_user dot 'alice@example.test.'
ca_issue_user backend 'HTTP/mail.example.test@example.test'
ca_issue_user tgs 'krbtgt/EXAMPLE.TEST@example.test'
ca_issue_user escat 'al\@ice@example.test'
ca_issue_user space ' alice@example.test'
ca_issue_user newline 'alice@example.test\nbob'
kcd_write_conf "allowed_peers = [\"$(id -un)\"];"
kcd_start

no_token_for_other() { # the answer carries no Negotiate token / X-Kcd-User of another user
    check_no_grep "$1: no token handed out" '^Authorization:' "$T/last.headers"
}
refused() { # refused CERT STATUS CAUSE WHAT
    local got
    got=$(kcd_ask "$1")
    check_eq "$4: $2" "$2" "$got"
    check_grep "... X-Kcd-Reason: $3" "^X-Kcd-Reason: $3" "$T/last.headers"
    no_token_for_other "$1"
}
refused nul_bob 403 bad_upn "UPN bob@example.test<NUL>alice"
refused nul_alice 403 bad_upn "UPN alice<NUL>@example.test"
check_grep "the log shows the NUL escaped, not cut" 'refused \[403 bad_upn\].*(\\0|\\x00|NUL)' "$KCD_LOG"
refused atat 403 'bad_upn|unmapped_domain' "UPN alice@example.test@evil.test"
refused slash 403 bad_upn "UPN alice/admin@example.test (a two-component principal)"
refused backend 403 bad_upn "UPN HTTP/mail.example.test (the backend service)"
refused tgs 403 bad_upn "UPN krbtgt/EXAMPLE.TEST (the TGS)"
refused escat 403 bad_upn "UPN al\\@ice@example.test"
refused space 403 'bad_upn|principal_unknown' "UPN ' alice@example.test'"
refused newline 403 'bad_upn|principal_unknown' "UPN alice@example.test\\nbob"
# the case of the UPN suffix is DNS case (caseless); the user part is kept
got=$(kcd_ask upcase)
check "UPN ALICE@EXAMPLE.TEST: never alice's token (got $got)" \
    test "$got" != 200 -o "$(sed -n 's/^X-Kcd-User: //p' "$T/last.headers" | tr -d '\r')" = "ALICE@EXAMPLE.TEST"
check_no_grep "... never X-Kcd-User alice" '^X-Kcd-User: alice@' "$T/last.headers"
check_eq "UPN alice@EXAMPLE.TEST (suffix in capitals): alice herself, 200" 200 "$(kcd_ask realmupn)"
check_grep "... as alice@EXAMPLE.TEST" '^X-Kcd-User: alice@EXAMPLE.TEST' "$T/last.headers"
got=$(kcd_ask dot)
check "UPN alice@example.test. (trailing dot): refused (got $got)" test "$got" = 403
no_token_for_other dot

# ---- request tricks
q() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))'; }
ask_raw() { # ask_raw CURL-ARGS...: status; headers in $T/last.headers
    curl -s -o /dev/null -D "$T/last.headers" -w '%{http_code}' --unix-socket "$KCD_SOCK" "$@" http://kcd/auth
}
two=$(cat "$CA_DIR/bob.crt" "$CA_DIR/alice.crt" | q)
got=$(ask_raw -H "X-Client-Cert: $two")
check "two certificates in one header (bob's then alice's): refused or bob only (got $got)" \
    test "$got" != 200 -o "$(sed -n 's/^X-Kcd-User: //p' "$T/last.headers" | tr -d '\r')" = "bob@EXAMPLE.TEST"
check_no_grep "... never alice" '^X-Kcd-User: alice@' "$T/last.headers"
got=$(ask_raw -H "X-Client-Cert: $(q <"$CA_DIR/bob.crt")" -H "X-Client-Cert: $(q <"$CA_DIR/alice.crt")")
check "X-Client-Cert given twice (bob, alice): refused or one of them, never mixed (got $got)" \
    test "$got" != 200 -o -n "$(grep -E '^X-Kcd-User: (alice|bob)@EXAMPLE.TEST' "$T/last.headers")"
check_eq "garbage in X-Client-Cert: 400" 400 "$(ask_raw -H 'X-Client-Cert: %%%garbage%%%')"
check_eq "a truncated PEM: 400" 400 "$(ask_raw -H "X-Client-Cert: $(head -c 300 "$CA_DIR/alice.crt" | q)")"
check_eq "a PEM whose base64 is flipped in the middle: 400" 400 \
    "$(ask_raw -H "X-Client-Cert: $(sed '5s/./A/g' "$CA_DIR/alice.crt" | q)")"
check_eq "an empty X-Client-Cert: 403" 403 "$(ask_raw -H 'X-Client-Cert;')"
got=$(ask_raw -H "X-Client-Cert: $(q <"$CA_DIR/bob.crt")" -H 'Authorization: Negotiate YWxpY2U=')
check_eq "bob with a client-supplied Authorization header: 200 ..." 200 "$got"
check_grep "... as bob" '^X-Kcd-User: bob@EXAMPLE.TEST' "$T/last.headers"
check_no_grep "... and the client's Authorization is not echoed back" 'YWxpY2U=' "$T/last.headers"
got=$(ask_raw -H "X-Client-Cert: $(q <"$CA_DIR/bob.crt")" -H 'X-Kcd-User: alice@EXAMPLE.TEST')
check_grep "a client-supplied X-Kcd-User changes nothing: bob" '^X-Kcd-User: bob@EXAMPLE.TEST' "$T/last.headers"
got=$(ask_raw -H "X-Client-Cert: $(q <"$CA_DIR/bob.crt")" -H 'X-Kcd-Target: krbtgt@EXAMPLE.TEST')
check_eq "X-Kcd-Target naming a service that is not configured: 502" 502 "$got"
check_grep "... target_not_allowed" '^X-Kcd-Reason: target_not_allowed' "$T/last.headers"
no_token_for_other target
got=$(ask_raw -H "X-Client-Cert: $(head -c 70000 /dev/zero | tr '\0' A)")
check "a 70 KB X-Client-Cert is refused (got $got)" test "$got" -ge 400
hdrs=()
for i in $(seq 2000); do hdrs+=(-H "X-Pad-$i: x"); done
got=$(ask_raw "${hdrs[@]}" -H "X-Client-Cert: $(q <"$CA_DIR/alice.crt")")
check "2000 small headers are refused (got $got)" test "$got" -ge 400
check "the helper survived all of it" harness_alive kcd
check_eq "... and still serves alice" 200 "$(kcd_ask alice)"
check_grep "... as alice" '^X-Kcd-User: alice@EXAMPLE.TEST' "$T/last.headers"
harness_finish
