#!/usr/bin/env python3
"""gen_certs.py - many user certificates, fast, for the certificate-to-KCD benchmark

usage: gen_certs.py CA_DIR CRL_PORT PREFIX FIRST COUNT OUT

Issues COUNT certificates for users PREFIX<FIRST>..PREFIX<FIRST+COUNT-1>
(UPN user@example.test in the SAN otherName 1.3.6.1.4.1.311.20.2.3, EKU
clientAuth + smart-card logon, CRL distribution point of the harness
intermediate), signed by the harness CA's intermediate ($CA_DIR/inter), all
sharing one key pair (the helper checks the certificate, never the key: TLS
did that). Writes OUT with one line per certificate: the URL-escaped PEM,
exactly what nginx puts in $ssl_client_escaped_cert.
"""
import datetime
import sys
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier


def der_utf8(s):
    b = s.encode()
    if len(b) < 128:
        return bytes([0x0C, len(b)]) + b
    return bytes([0x0C, 0x81, len(b)]) + b


def main():
    ca_dir, crl_port, prefix, first, count, out = sys.argv[1:7]
    first, count = int(first), int(count)
    with open(f"{ca_dir}/inter/key.pem", "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    with open(f"{ca_dir}/inter.crt", "rb") as f:
        ca_cert = x509.load_pem_x509_certificate(f.read())
    key = ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    upn_oid = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
    sc_logon = ObjectIdentifier("1.3.6.1.4.1.311.20.2.2")
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())
    ski = x509.SubjectKeyIdentifier.from_public_key(pub)
    cdp = x509.CRLDistributionPoints([x509.DistributionPoint(
        [x509.UniformResourceIdentifier(f"http://127.0.0.1:{crl_port}/inter.crl")], None, None, None)])
    with open(out, "w") as f:
        for i in range(first, first + count):
            name = f"{prefix}{i}"
            b = (x509.CertificateBuilder()
                 .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mailsso bench"),
                                          x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                 .issuer_name(ca_cert.subject)
                 .public_key(pub)
                 .serial_number(x509.random_serial_number())
                 .not_valid_before(now - datetime.timedelta(hours=1))
                 .not_valid_after(now + datetime.timedelta(days=30))
                 .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                 .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                                critical=True)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, sc_logon]),
                                critical=False)
                 .add_extension(x509.SubjectAlternativeName([
                     x509.OtherName(upn_oid, der_utf8(f"{name}@example.test"))]), critical=False)
                 .add_extension(ski, critical=False)
                 .add_extension(aki, critical=False)
                 .add_extension(cdp, critical=False))
            cert = b.sign(ca_key, hashes.SHA256())
            pem = cert.public_bytes(serialization.Encoding.PEM).decode()
            f.write(urllib.parse.quote(pem, safe="") + "\n")


if __name__ == "__main__":
    main()
