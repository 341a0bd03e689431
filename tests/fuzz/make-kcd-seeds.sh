#!/bin/bash
# make-kcd-seeds.sh - regenerate the seeds of fuzz_cert_map, fuzz_kcd_request
# and fuzz_plugin_step
#
# Usage (from a build dir): top_srcdir=.. top_builddir=. bash ../tests/fuzz/make-kcd-seeds.sh
# Issues user certificates with the harness CA (tests/harness/ca.sh): one
# UPN, upper-case suffix, another realm's suffix, two UPNs, no UPN with an
# e-mail SAN, the gateway's own name, an unmapped suffix, a '/' in the UPN;
# writes their DER into corpus/cert_map/ (with the structured-record seeds,
# see fuzz_cert_map.c), header values (URL-escaped PEM + target + host) into
# corpus/kcd_request/, and the apreq tokens with a mechanism byte in front
# into corpus/plugin_step/. The files are committed; run this only to refresh.
set -u
. "$top_srcdir/tests/harness/lib.sh"
harness_init fuzz_kcd_seeds
fz=$top_srcdir/tests/fuzz/corpus
mkdir -p "$fz/cert_map" "$fz/kcd_request" "$fz/plugin_step"
ca_init
ca_issue_user alice alice@example.test
ca_issue_user upper ALICE@EXAMPLE.TEST
ca_issue_user adbob bob@ad.example.test --email bob@example.test
ca_issue_user twoupn alice@example.test --upn2 mallory@example.test
ca_issue_user noupn "" --no-upn --email carol@mail.example.test
ca_issue_user gwself kcdgw@example.test
ca_issue_user unmapped eve@other.test
ca_issue_user slash 'HTTP/gw.example.test@example.test'
ca_issue_user noeku alice@example.test --no-eku
for n in alice upper adbob twoupn noupn gwself unmapped slash noeku; do
    openssl x509 -in "$CA_DIR/$n.crt" -outform DER -out "$fz/cert_map/ca-$n.der" ||
        harness_fatal "DER of $n"
done
python3 - "$CA_DIR" "$fz" <<'PY'
import os, sys, urllib.parse
ca, fz = sys.argv[1], sys.argv[2]
def rec(t, b=b""):
    return bytes([t, len(b)]) + b
cm = os.path.join(fz, "cert_map")
seeds = {
    "rec-upn": rec(0, b"alice@example.test"),
    "rec-upn-ad-case": rec(0, b"bob@AD.Example.Test"),
    "rec-two-upn": rec(0, b"alice@example.test") + rec(0, b"mallory@example.test"),
    "rec-two-san-ext": rec(0, b"alice@example.test") + rec(10) + rec(0, b"mallory@example.test"),
    "rec-upn-ia5": rec(1, b"alice@example.test"),
    "rec-upn-octets": rec(2, b"alice@example.test"),
    "rec-upn-bmp": rec(14, "alice@example.test".encode("utf-16-be")),
    "rec-upn-nul": rec(0, b"alice@example.test\0x"),
    "rec-upn-gateway": rec(0, b"kcdgw@example.test"),
    "rec-upn-slash": rec(0, b"imap/x@example.test"),
    "rec-upn-two-at": rec(0, b"alice@evil@example.test"),
    "rec-upn-space": rec(0, b"alice @example.test"),
    "rec-email-rule": rec(3, b"carol@mail.example.test"),
    "rec-email-two": rec(3, b"carol@mail.example.test") + rec(3, b"dave@mail.example.test"),
    "rec-email-exact": rec(3, b"boss@example.test"),
    "rec-subject-archive": rec(8, b"Example") + rec(9, b"Services") + rec(7, b"svc-archive"),
    "rec-subject-gateway": rec(8, b"Example") + rec(7, b"gw-service"),
    "rec-subject-other-realm": rec(8, b"Example") + rec(7, b"evil"),
    "rec-subject-and-upn": rec(8, b"Example") + rec(7, b"gw-service") + rec(0, b"alice@example.test"),
    "rec-krb5-principal-name": rec(6, b"alice@EXAMPLE.TEST"),
    "rec-critical-dns-uri": rec(11) + rec(4, b"mail.example.test") + rec(5, b"http://x/"),
    "rec-raw-san": rec(12, bytes.fromhex("3016a014060a2b060104018237140203a0060c04614065")),
    "rec-email-subject": rec(13, b"carol@mail.example.test") + rec(7, b"carol"),
}
for k, v in seeds.items():
    open(os.path.join(cm, k), "wb").write(v)

kr = os.path.join(fz, "kcd_request")
def esc(name):
    pem = open(os.path.join(ca, name + ".crt"), "rb").read()
    return urllib.parse.quote(pem, safe="-._~").encode()
req = {
    "cert-alice-default": b"\x00" + esc("alice") + b"\0\0",
    "cert-alice-target": b"\x00" + esc("alice") + b"\0HTTP@backend.example.test\0",
    "cert-alice-bad-target": b"\x00" + esc("alice") + b"\0HTTP@evil.example.test\0",
    "cert-alice-host": b"\x08" + esc("alice") + b"\0\0webmail.example.test:443",
    "cert-twoupn": b"\x00" + esc("twoupn") + b"\0\0",
    "cert-raw-pem": b"\x00" + open(os.path.join(ca, "alice.crt"), "rb").read() + b"\0\0",
    "cert-der": b"\x04" + open(os.path.join(cm, "ca-alice.der"), "rb").read(),
    "valid-default": b"\x01\0",
    "valid-wildcard-host": b"\x05\0x.wild.example.test.",
    "valid-host-port": b"\x05\0webmail.example.test:8443",
    "valid-ipv6-host": b"\x05\0[::1]:443",
    "valid-target-principal": b"\x01\0HTTP/other.example.test@EXAMPLE.TEST\0",
    "valid-target-ctl": b"\x01\0HTTP@mail.example.test\r\nX: y\0",
    "gateway-own": b"\x02\0",
    "gateway-own-host": b"\x06\0webmail.example.test",
    "valid-trailing-junk": b"\x03%0A-----BEGIN%20CERTIFICATE-----%0AAAAA\0\0",
    "empty-cert": b"\x00\0\0",
    "no-target-no-host": b"\x0c",
}
for k, v in req.items():
    open(os.path.join(kr, k), "wb").write(v)

ps = os.path.join(fz, "plugin_step")
ap = os.path.join(fz, "apreq")
unit = os.path.join(fz, "..", "..", "unit", "data", "apreq")
toks = [(ap, f, f) for f in sorted(os.listdir(ap))]
toks += [(unit, f, "unit-" + f) for f in sorted(os.listdir(unit)) if f.endswith(".tok")]
for d, src, f in toks:
    tok = open(os.path.join(d, src), "rb").read()
    spnego = f.startswith("spnego") or f.startswith("unit-spnego")
    open(os.path.join(ps, ("spnego-mech-" if spnego else "gssapi-mech-") + f), "wb").write(
        bytes([1 if spnego else 0]) + tok)
    # the same token under the other mechanism
    open(os.path.join(ps, ("gssapi-mech-" if spnego else "spnego-mech-") + f), "wb").write(
        bytes([0 if spnego else 1]) + tok)
t = open(os.path.join(ap, "krb5-mutual-aes256.tok"), "rb").read()
open(os.path.join(ps, "gssapi-no-initial-then-token"), "wb").write(b"\x02" + t)
open(os.path.join(ps, "gssapi-token-then-layer-reply"), "wb").write(
    b"\x00" + t + b"FUZZSTEP" + b"" + b"FUZZSTEP" + bytes.fromhex("050403020100ffff"))
open(os.path.join(ps, "gssapi-truncated"), "wb").write(b"\x00" + t[: len(t) // 2])
open(os.path.join(ps, "spnego-empty-steps"), "wb").write(b"\x01FUZZSTEPFUZZSTEP")
PY
check "cert_map seeds written" test "$(ls "$fz/cert_map" | wc -l)" -ge 30
check "kcd_request seeds written" test "$(ls "$fz/kcd_request" | wc -l)" -ge 18
check "plugin_step seeds written" test "$(ls "$fz/plugin_step" | wc -l)" -ge 14
harness_finish
