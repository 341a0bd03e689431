/*
 * NAME
 *   diag - GSS, krb5, OpenSSL and file errors as cause + fix (include/mailsso/diag.h)
 *
 * DESCRIPTION
 *   Three tables (krb5 codes, GSS routine errors, X.509 verify codes) pair a
 *   code with what it means to a mail administrator and what to do. The
 *   library's own text always goes to code_text, so an unknown code still
 *   says something. File errors look at the file (mode, owner) and at the
 *   process (effective uid/gid) to say who cannot read what.
 *
 *   Nothing here allocates memory of its own or keeps state: the buffers are
 *   inside struct mailsso_diag, and the library texts are copied and freed at
 *   once.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include <gssapi/gssapi.h>
#include <krb5/krb5.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <mailsso/diag.h>
#include <mailsso/error.h>
#include <mailsso/util.h>

typedef struct known {
    long code;
    const char *cause;
    const char *fix;
} known;

#define FRESH_KEYTAB "export a fresh keytab for the service (MIT: kadmin ktadd -k FILE " \
    "SERVICE/HOST; AD: ktpass) and add it with mailsso-keytab merge, then run mailsso-keytab verify"

static const known krb5_table[] = {
    { KRB5KRB_AP_ERR_BAD_INTEGRITY,
      "the ticket could not be decrypted with the keytab's key: the keytab holds a key for this "
      "principal, kvno and enctype, but not the key the KDC used (service password reset "
      "without a kvno change, keytab taken from another account, or AES keys made with ktutil "
      "and the wrong salt)",
      FRESH_KEYTAB },
    { KRB5KRB_AP_ERR_MODIFIED,
      "the ticket failed its integrity check with the keytab's key: the keytab is stale or "
      "belongs to another account (in AD often a duplicate SPN on two accounts)",
      FRESH_KEYTAB "; in AD look for duplicate SPNs with `setspn -X`" },
    { KRB5KRB_AP_ERR_BADKEYVER,
      "the keytab has no key for the ticket's kvno: the service password changed since the "
      "keytab was exported",
      "export a fresh keytab (ktpass / kadmin ktadd) and merge it with mailsso-keytab merge" },
    { KRB5_KT_KVNONOTFOUND,
      "the keytab holds the service principal but not the key version (kvno) of the ticket: "
      "the service password changed since the keytab was exported",
      "export a fresh keytab (ktpass / kadmin ktadd) and merge it with mailsso-keytab merge" },
    { KRB5KRB_AP_ERR_NOKEY,
      "the keytab has no key of the ticket's enctype and kvno for this service",
      FRESH_KEYTAB "; compare the ticket's enctype with mailsso-keytab list" },
    { KRB5_KT_NOTFOUND,
      "the keytab has no key for the service principal the client asked for (wrong keytab, "
      "missing principal, or the client used another host name)",
      "add the principal's key: kadmin ktadd -k KEYTAB SERVICE/HOST@REALM (MIT) or ktpass (AD); "
      "check with mailsso-keytab list which principals it holds" },
    { KRB5_KT_END,
      "the keytab holds no usable entry (it is empty, or none matches the wanted principal)",
      FRESH_KEYTAB },
    { KRB5_KT_FORMAT,
      "the keytab file is damaged or not a keytab",
      FRESH_KEYTAB },
    { KRB5_KEYTAB_BADVNO,
      "the file is not a keytab or has an unknown keytab version",
      "check the keytab path; " FRESH_KEYTAB },
    { KRB5KRB_AP_ERR_SKEW,
      "the clocks of client and server differ by more than the allowed skew (default 5 minutes)",
      "synchronise the clocks of the mail server, clients and KDC with NTP (chrony / ntpd / "
      "w32time)" },
    { KRB5_KDCREP_SKEW,
      "this machine's clock differs from the KDC's by more than the allowed skew",
      "synchronise this machine's clock with NTP" },
    { KRB5KRB_AP_ERR_TKT_NYV,
      "the client's ticket is not valid yet: the server's clock is behind the KDC's",
      "synchronise the clocks of the mail server and the KDC with NTP" },
    { KRB5KRB_AP_ERR_REPEAT,
      "replay detected: this authenticator was already used (a client or proxy retrying the "
      "same token, or two processes sharing a replay cache)",
      "if it happens often, check that the clocks are synchronised and that the replay cache "
      "directory (KRB5RCACHEDIR) is private to the service and writable" },
    { KRB5KRB_AP_ERR_TKT_EXPIRED,
      "the client's service ticket has expired",
      "the client must get a new ticket (kinit, or lock and unlock the desktop); check the "
      "clocks if this happens with fresh tickets" },
    { KRB5KRB_AP_ERR_NOT_US,
      "the ticket is for another service principal than the one this server accepts (the "
      "client used another host name, or DNS canonicalisation changed it)",
      "make clients use the name in the keytab, or add a key for the name they use "
      "(imap/NAME@REALM) to the keytab; check the `service`/`hostname` setting" },
    { KRB5KRB_AP_WRONG_PRINC,
      "the ticket names a different server principal than the one this server asked for",
      "check the hostname setting of the service against the principals in the keytab "
      "(mailsso-keytab list); add the missing principal's key" },
    { KRB5KRB_AP_ERR_BADMATCH,
      "ticket and authenticator do not belong together (corrupted or tampered token)",
      "retry; if it persists, capture the token and inspect it with mailsso-keytab doctor" },
    { KRB5KRB_AP_ERR_MSG_TYPE,
      "the client did not send a Kerberos AP-REQ (maybe NTLM inside SPNEGO, or garbage)",
      "configure the client for Kerberos (a ticket for the mail service, not NTLM)" },
    { KRB5KRB_AP_ERR_BADVERSION,
      "the client sent a Kerberos message of an unknown protocol version",
      "check the client's Kerberos library" },
    { KRB5_BAD_ENCTYPE,
      "the encryption type is not supported or not permitted by this Kerberos library (DES, "
      "or RC4 disabled by permitted_enctypes / allow_rc4 in krb5.conf)",
      "use AES keys: in AD set msDS-SupportedEncryptionTypes on the service account to AES, "
      "change its password and export a new keytab; or allow the enctype in krb5.conf" },
    { KRB5_PROG_ETYPE_NOSUPP,
      "the encryption type is not supported by this Kerberos library (DES, or RC4 disabled in "
      "krb5.conf)",
      "use AES keys: set msDS-SupportedEncryptionTypes on the AD account, reset its password "
      "and export a new keytab with AES keys" },
    { KRB5KDC_ERR_ETYPE_NOSUPP,
      "the KDC has no key of an encryption type both sides accept (e.g. the service account "
      "has only RC4 keys and the client allows only AES)",
      "give the account AES keys (AD: msDS-SupportedEncryptionTypes = 24, then reset the "
      "password) and export a new keytab" },
    { KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN,
      "the KDC does not know the service principal asked for (missing SPN, misspelled host "
      "name, or DNS canonicalisation turned the name into another one)",
      "create it (MIT: kadmin addprinc -randkey SERVICE/HOST; AD: setspn -S SERVICE/HOST ACCOUNT) "
      "and check `dns_canonicalize_hostname`/`rdns` in krb5.conf" },
    { KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN,
      "the KDC does not know the client principal (no such user in the realm, or the name was "
      "mapped to the wrong realm)",
      "check the user's name and realm (UPN suffix to realm mapping)" },
    { KRB5KDC_ERR_BADOPTION,
      "the KDC refused a requested option: for S4U2Proxy this means delegation to the target "
      "service is not allowed, or protocol transition is not allowed so the S4U2Self ticket "
      "was not forwardable",
      "allow constrained delegation from the gateway account to the target service (AD: "
      "msDS-AllowedToDelegateTo and \"use any authentication protocol\"; MIT LDAP: "
      "krbAllowedToDelegateTo and +ok_to_auth_as_delegate)" },
    { KRB5KDC_ERR_POLICY,
      "the KDC's policy refused the request (e.g. protocol transition or delegation not "
      "allowed for this account, or a disabled/restricted account)",
      "check the account's delegation and policy flags on the KDC (AD: delegation tab, "
      "\"account is sensitive and cannot be delegated\"; MIT: +ok_to_auth_as_delegate)" },
    { KRB5KDC_ERR_PREAUTH_FAILED,
      "pre-authentication failed: wrong password or stale key for this principal",
      "check the password, or export a fresh keytab for the account" },
    { KRB5_PREAUTH_FAILED,
      "pre-authentication failed: wrong password or stale key for this principal",
      "check the password, or export a fresh keytab for the account" },
    { KRB5KDC_ERR_CLIENT_REVOKED,
      "the account is disabled, locked out or expired on the KDC",
      "enable or unlock the account on the KDC" },
    { KRB5KDC_ERR_KEY_EXP,
      "the password of the account has expired",
      "change the password (and export a fresh keytab if it is a service account)" },
    { KRB5_KDC_UNREACH,
      "no KDC answered for the realm (down, firewalled, or wrong address in krb5.conf / DNS)",
      "check the realm's `kdc` entries in krb5.conf or the _kerberos SRV records, and that "
      "port 88 (TCP and UDP) is reachable" },
    { KRB5_REALM_UNKNOWN,
      "the realm is unknown: krb5.conf has no entry for it and DNS found no KDC",
      "add the realm to [realms] in krb5.conf (or set dns_lookup_kdc = true with SRV "
      "records)" },
    { KRB5_REALM_CANT_RESOLVE,
      "the KDC host names of the realm do not resolve",
      "fix the `kdc` host names in krb5.conf or DNS" },
    { KRB5_CONFIG_CANTOPEN,
      "the Kerberos configuration file cannot be opened",
      "check KRB5_CONFIG and that /etc/krb5.conf exists and is readable" },
    { KRB5_CC_NOTFOUND,
      "no credentials found in the credentials cache (no ticket)",
      "get a ticket first (kinit), or check KRB5CCNAME" },
    { KRB5_FCC_NOFILE,
      "the credentials cache does not exist (no ticket)",
      "get a ticket first (kinit), or check KRB5CCNAME" },
    { KRB5_RC_IO,
      "the replay cache cannot be read or written",
      "make the replay cache directory (KRB5RCACHEDIR, default /var/tmp) writable for the "
      "service user" },
    { KRB5KDC_ERR_WRONG_REALM,
      "the KDC says the principal belongs to another realm",
      "check the realm mapping ([domain_realm] in krb5.conf)" },
    { KRB5KDC_ERR_MUST_USE_USER2USER,
      "the target is a user account, not a service (user-to-user required)",
      "request a ticket for the service's SPN, not for a user" },
    { ENOENT,
      "a file Kerberos needs (keytab, credentials cache or krb5.conf) does not exist",
      "check the keytab path (KRB5_KTNAME / the keytab setting) and KRB5CCNAME" },
    { EACCES,
      "a file Kerberos needs (keytab, credentials cache or replay cache) is not readable by "
      "this process",
      "give the service user read access to the keytab (e.g. group mail, mode 0640)" },
};

/* errno minors when the GSS library's text says the keytab is concerned */
static const known keytab_enoent = {
    ENOENT,
    "the keytab file does not exist (wrong path in the keytab setting / KRB5_KTNAME, or it "
    "was never created)",
    "point the keytab setting at the real file, or create it (MIT: kadmin ktadd -k FILE "
    "SERVICE/HOST; AD: ktpass) and add it with mailsso-keytab merge"
};
static const known keytab_eacces = {
    EACCES,
    "the keytab file is not readable by the service's user",
    "give the service user read access without opening it to everyone: chgrp mail FILE && "
    "chmod 0640 FILE (see mailsso-keytab doctor)"
};

static const known gss_table[] = {
    { GSS_S_DEFECTIVE_TOKEN,
      "the client's token is malformed or not a Kerberos/SPNEGO token (truncated, wrong "
      "mechanism, NTLM, or mangled by a proxy)",
      "check that the client uses Kerberos (GSSAPI) and that no proxy alters the SASL "
      "exchange; inspect the token with mailsso-keytab doctor" },
    { GSS_S_BAD_MECH,
      "the client asked for a security mechanism this server does not offer (e.g. NTLM "
      "or a mechanism missing from the GSS library)",
      "configure the client for Kerberos, or install the GSS mechanism it asks for" },
    { GSS_S_NO_CRED,
      "the server has no usable credentials: the keytab is missing, unreadable, or holds no "
      "key for this service",
      "check the keytab path and permissions and that it holds the service principal "
      "(mailsso-keytab list / verify)" },
    { GSS_S_CREDENTIALS_EXPIRED,
      "the credentials have expired (an expired ticket or delegated credential)",
      "get fresh credentials (kinit / renew) and check the clocks" },
    { GSS_S_CONTEXT_EXPIRED,
      "the security context has expired (the ticket lifetime ended)",
      "re-authenticate; check ticket lifetimes and clocks" },
    { GSS_S_BAD_BINDINGS,
      "the channel bindings do not match: the TLS channel the client saw differs from the "
      "server's (a TLS-terminating proxy in between, or a client bug)",
      "disable channel binding on one side, or let the mail server terminate TLS itself" },
    { GSS_S_BAD_NAME,
      "a name could not be parsed as a Kerberos principal or host-based service",
      "check the service and hostname settings" },
    { GSS_S_BAD_NAMETYPE,
      "a name of an unsupported type was given",
      "check the service and hostname settings" },
    { GSS_S_BAD_SIG,
      "a message failed its integrity check (corruption, or keys out of sync)",
      "retry; check for proxies altering the stream" },
    { GSS_S_NO_CONTEXT,
      "no security context is established",
      "this is a protocol sequence bug; retry the login" },
    { GSS_S_DEFECTIVE_CREDENTIAL,
      "the credential is damaged (a keytab or ticket that cannot be used)",
      FRESH_KEYTAB },
    { GSS_S_UNAUTHORIZED,
      "the operation is not authorised by local policy",
      "check the service's policy settings" },
    { GSS_S_UNAVAILABLE,
      "the operation is not available in this GSS library",
      "upgrade or configure the GSS library" },
    { GSS_S_NAME_NOT_MN,
      "a name is not a mechanism name",
      "check the service and hostname settings" },
};

static const known x509_table[] = {
    { X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
      "certificate chain incomplete: the issuer of a certificate is not in the trusted CA "
      "file or the chain (missing intermediate CA)",
      "add the intermediate CA to the chain file, or the root to the trusted CA file" },
    { X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
      "certificate chain incomplete: the issuer certificate was not found",
      "add the missing intermediate/root CA to the CA file" },
    { X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
      "certificate chain incomplete: the client certificate's issuer is unknown",
      "add the issuing (intermediate) CA to the CA file" },
    { X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
      "the chain ends in a self-signed root that is not trusted (untrusted CA)",
      "add the root CA to the trusted CA file if it is meant to be trusted" },
    { X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
      "the certificate is self-signed and not trusted (untrusted)",
      "issue the certificate from the trusted CA" },
    { X509_V_ERR_CERT_HAS_EXPIRED,
      "the certificate has expired",
      "issue a new certificate (or check the clock of this machine)" },
    { X509_V_ERR_CERT_NOT_YET_VALID,
      "the certificate is not yet valid (its start date is in the future)",
      "check this machine's clock with NTP" },
    { X509_V_ERR_CERT_REVOKED,
      "the certificate has been revoked by its CA",
      "the user needs a new certificate; this refusal is intended" },
    { X509_V_ERR_UNABLE_TO_GET_CRL,
      "CRL unavailable: no CRL for the issuing CA could be found or downloaded, so revocation "
      "cannot be checked",
      "make the CRL distribution point reachable or configure the CRL file for every CA in "
      "the chain (root and intermediates)" },
    { X509_V_ERR_CRL_HAS_EXPIRED,
      "CRL expired: the CA's CRL is past its nextUpdate time",
      "publish a fresh CRL on the CA (and check this machine's clock)" },
    { X509_V_ERR_CRL_NOT_YET_VALID,
      "the CRL is not yet valid (its thisUpdate is in the future)",
      "check the clocks of this machine and the CA" },
    { X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER,
      "the issuer of the CRL cannot be found",
      "add the CRL issuer's CA certificate to the CA file" },
    { X509_V_ERR_CRL_SIGNATURE_FAILURE,
      "the CRL's signature is invalid (damaged CRL or wrong CA)",
      "download the CRL again and check it belongs to this CA" },
    { X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE,
      "the CRL's signature cannot be checked",
      "download the CRL again and check it belongs to this CA" },
    { X509_V_ERR_CERT_SIGNATURE_FAILURE,
      "the certificate's signature is invalid (tampered, or issued by another CA of the same "
      "name)",
      "check the CA file holds the right CA" },
    { X509_V_ERR_INVALID_CA,
      "a certificate in the chain is not a valid CA certificate",
      "fix the chain: intermediates must have basicConstraints CA:TRUE" },
    { X509_V_ERR_INVALID_PURPOSE,
      "the certificate is not valid for this purpose (extended key usage lacks client "
      "authentication)",
      "issue a certificate with extendedKeyUsage clientAuth" },
    { X509_V_ERR_CERT_UNTRUSTED,
      "the root CA is not trusted for this purpose",
      "check the trusted CA file" },
    { X509_V_ERR_CERT_REJECTED,
      "the root CA is marked to reject this purpose",
      "check the trusted CA file" },
    { X509_V_ERR_PATH_LENGTH_EXCEEDED,
      "the chain is longer than a CA's path length constraint allows",
      "fix the CA hierarchy or the chain" },
    { X509_V_ERR_KEYUSAGE_NO_CRL_SIGN,
      "the CRL issuer's certificate may not sign CRLs",
      "fix the CA certificate's keyUsage (cRLSign)" },
    { X509_V_ERR_HOSTNAME_MISMATCH,
      "the certificate does not match the host name",
      "use the name in the certificate, or issue one for the name used" },
};

/* snprintf that may truncate on purpose (diagnostic text is bounded). */
static void put(char *dst, size_t size, const char *fmt, ...) MAILSSO_PRINTF(3, 4);

static void
put(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

static const known *
lookup(const known *table, size_t n, long code)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].code == code)
            return &table[i];
    return NULL;
}

static void
diag_reset(mailsso_diag *out)
{
    out->code_text[0] = '\0';
    out->cause[0] = '\0';
    out->fix[0] = '\0';
    out->krb5_code = 0;
}

/* Appends text (len bytes, trailing NULs dropped) with "; " between parts. */
static void
append_text(char *dst, size_t dstsize, const char *text, size_t len)
{
    size_t cur = strlen(dst);

    while (len > 0 && text[len - 1] == '\0')
        len--;
    if (len == 0 || cur + 1 >= dstsize)
        return;
    if (cur > 0) {
        if (cur + 2 >= dstsize)
            return;
        memcpy(dst + cur, "; ", 2);
        cur += 2;
    }
    for (size_t i = 0; i < len && cur + 1 < dstsize; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\0')
            break;
        dst[cur++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    dst[cur] = '\0';
}

static void
set_known(mailsso_diag *out, const known *k)
{
    mailsso_strlcpy(out->cause, k->cause, sizeof(out->cause));
    mailsso_strlcpy(out->fix, k->fix, sizeof(out->fix));
}

static void
display_status(OM_uint32 code, int type, char *dst, size_t dstsize)
{
    OM_uint32 msg_ctx = 0, minor;
    int rounds = 0;

    do {
        gss_buffer_desc buf = GSS_C_EMPTY_BUFFER;
        OM_uint32 major = gss_display_status(&minor, code, type, GSS_C_NO_OID, &msg_ctx, &buf);
        if (GSS_ERROR(major)) {
            gss_release_buffer(&minor, &buf);
            break;
        }
        append_text(dst, dstsize, buf.value ? (const char *)buf.value : "", buf.length);
        gss_release_buffer(&minor, &buf);
    } while (msg_ctx != 0 && ++rounds < 16);
}

void
mailsso_diag_gss(OM_uint32 major, OM_uint32 minor, mailsso_diag *out)
{
    OM_uint32 routine = GSS_ROUTINE_ERROR(major);
    const known *k = NULL;

    if (out == NULL)
        return;
    diag_reset(out);
    if (major != GSS_S_COMPLETE)
        display_status(major, GSS_C_GSS_CODE, out->code_text, sizeof(out->code_text));
    if (minor != 0) {
        size_t before = strlen(out->code_text);
        display_status(minor, GSS_C_MECH_CODE, out->code_text, sizeof(out->code_text));
        if (strlen(out->code_text) == before) {
            /* a minor code the mechglue did not hand out itself: ask com_err */
            const char *msg = error_message((long)(int32_t)minor);
            if (msg != NULL)
                append_text(out->code_text, sizeof(out->code_text), msg, strlen(msg));
        }
        out->krb5_code = (int32_t)minor;
        k = lookup(krb5_table, MAILSSO_ARRAY_LEN(krb5_table), (long)(int32_t)minor);
    }
    if (k != NULL && (k->code == ENOENT || k->code == EACCES) &&
        strstr(out->code_text, "Key table") != NULL)
        k = k->code == ENOENT ? &keytab_enoent : &keytab_eacces;
    if (k == NULL && routine != 0)
        k = lookup(gss_table, MAILSSO_ARRAY_LEN(gss_table), (long)routine);
    if (k != NULL) {
        set_known(out, k);
    } else if (routine == 0 && (major & GSS_S_DUPLICATE_TOKEN)) {
        mailsso_strlcpy(out->cause,
                        "replay detected: the client's token was already used (a retry or a "
                        "replay by someone else)", sizeof(out->cause));
        mailsso_strlcpy(out->fix,
                        "if it repeats, check clock synchronisation and that the replay cache "
                        "is private to the service", sizeof(out->fix));
    } else if (routine == 0 && (major & (GSS_S_OLD_TOKEN | GSS_S_UNSEQ_TOKEN | GSS_S_GAP_TOKEN))) {
        mailsso_strlcpy(out->cause, "a message arrived out of sequence or too late",
                        sizeof(out->cause));
        mailsso_strlcpy(out->fix, "check for proxies reordering or replaying traffic",
                        sizeof(out->fix));
    } else if (major == GSS_S_COMPLETE && minor == 0) {
        mailsso_strlcpy(out->cause, "no error", sizeof(out->cause));
    } else if (strstr(out->code_text, "SPNEGO cannot find mechanisms") != NULL) {
        mailsso_strlcpy(out->cause,
                        "SPNEGO found no mechanism both sides support (the client offered no "
                        "Kerberos, or the credential was not acquired for SPNEGO)",
                        sizeof(out->cause));
        mailsso_strlcpy(out->fix,
                        "make the client use Kerberos; when impersonating, ask for the SPNEGO "
                        "mechanism both when acquiring the credential and when impersonating",
                        sizeof(out->fix));
    } else {
        mailsso_strlcpy(out->cause,
                        "the GSS-API call failed for a reason not known to mailsso (see the "
                        "library's message)", sizeof(out->cause));
        mailsso_strlcpy(out->fix,
                        "run mailsso-keytab doctor and check the KDC and service logs; raise the "
                        "log level to debug for details", sizeof(out->fix));
    }
    if (out->code_text[0] == '\0')
        put(out->code_text, sizeof(out->code_text), "GSS major 0x%08lx, minor %ld",
                 (unsigned long)major, (long)(int32_t)minor);
}

void
mailsso_diag_krb5(krb5_context ctx, krb5_error_code code, mailsso_diag *out)
{
    krb5_context tmp = NULL;
    const known *k;

    if (out == NULL)
        return;
    diag_reset(out);
    out->krb5_code = (int32_t)code;
    if (code == 0) {
        mailsso_strlcpy(out->code_text, "success", sizeof(out->code_text));
        mailsso_strlcpy(out->cause, "no error", sizeof(out->cause));
        return;
    }
    if (ctx == NULL && krb5_init_context(&tmp) == 0)
        ctx = tmp;
    if (ctx != NULL) {
        const char *msg = krb5_get_error_message(ctx, code);
        if (msg != NULL)
            append_text(out->code_text, sizeof(out->code_text), msg, strlen(msg));
        krb5_free_error_message(ctx, msg);
    } else {
        const char *msg = error_message(code);
        if (msg != NULL)
            append_text(out->code_text, sizeof(out->code_text), msg, strlen(msg));
    }
    if (tmp != NULL)
        krb5_free_context(tmp);
    if (out->code_text[0] == '\0')
        put(out->code_text, sizeof(out->code_text), "krb5 error %ld", (long)code);
    k = lookup(krb5_table, MAILSSO_ARRAY_LEN(krb5_table), (long)code);
    if (k != NULL) {
        set_known(out, k);
    } else {
        mailsso_strlcpy(out->cause,
                        "the Kerberos library reported an error not known to mailsso (see the "
                        "library's message)", sizeof(out->cause));
        mailsso_strlcpy(out->fix,
                        "check krb5.conf, the keytab (mailsso-keytab verify) and the KDC log",
                        sizeof(out->fix));
    }
}

void
mailsso_diag_openssl(long verify_result, mailsso_diag *out)
{
    unsigned long e, first = 0;
    const known *k = NULL;

    if (out == NULL)
        return;
    diag_reset(out);
    if (verify_result != 0) {
        const char *s = X509_verify_cert_error_string(verify_result);
        if (s != NULL)
            append_text(out->code_text, sizeof(out->code_text), s, strlen(s));
        k = lookup(x509_table, MAILSSO_ARRAY_LEN(x509_table), verify_result);
    }
    while ((e = ERR_get_error()) != 0) {
        char buf[256];
        if (first == 0)
            first = e;
        ERR_error_string_n(e, buf, sizeof(buf));
        append_text(out->code_text, sizeof(out->code_text), buf, strlen(buf));
    }
    if (k != NULL) {
        set_known(out, k);
    } else if (verify_result != 0) {
        put(out->cause, sizeof(out->cause),
                 "the certificate failed verification (X509_V_ERR %ld)", verify_result);
        mailsso_strlcpy(out->fix, "check the certificate chain, the CA file and the CRLs",
                        sizeof(out->fix));
    } else if (first != 0) {
        int lib = ERR_GET_LIB(first);
        if (lib == ERR_LIB_PEM) {
            mailsso_strlcpy(out->cause, "a certificate or key file is not valid PEM",
                            sizeof(out->cause));
            mailsso_strlcpy(out->fix, "check the file contents (openssl x509 -in FILE -noout "
                                      "-text)", sizeof(out->fix));
        } else {
            mailsso_strlcpy(out->cause, "an OpenSSL operation failed (see the library's message)",
                            sizeof(out->cause));
            mailsso_strlcpy(out->fix, "check the certificate, key and CA files",
                            sizeof(out->fix));
        }
    } else {
        mailsso_strlcpy(out->code_text, "no OpenSSL error recorded", sizeof(out->code_text));
        mailsso_strlcpy(out->cause, "no OpenSSL error", sizeof(out->cause));
    }
}

/* ------------------------------------------------------------ files */

static const char *
errno_text(int errnum, char *buf, size_t size)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(errnum, buf, size);
#else
    if (strerror_r(errnum, buf, size) != 0)
        put(buf, size, "error %d", errnum);
    return buf;
#endif
}

static void
user_name(uid_t uid, char *out, size_t size)
{
    struct passwd pw, *res = NULL;
    char buf[1024];

    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
        put(out, size, "%lu (%s)", (unsigned long)uid, res->pw_name);
    else
        put(out, size, "%lu", (unsigned long)uid);
}

static void
group_name(gid_t gid, char *out, size_t size)
{
    struct group gr, *res = NULL;
    char buf[1024];

    if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res != NULL)
        put(out, size, "%lu (%s)", (unsigned long)gid, res->gr_name);
    else
        put(out, size, "%lu", (unsigned long)gid);
}

/* First ancestor directory of path that this process cannot search, into dir. */
static int
blocked_dir(const char *path, char *dir, size_t size)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len >= sizeof(buf))
        return 0;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i < len; i++) {
        if (buf[i] != '/')
            continue;
        buf[i] = '\0';
        if (faccessat(AT_FDCWD, buf, X_OK, AT_EACCESS) != 0 && errno == EACCES) {
            mailsso_strlcpy(dir, buf, size);
            return 1;
        }
        buf[i] = '/';
    }
    return 0;
}

/* Nearest existing ancestor of a missing path, for "no such file" hints. */
static int
missing_dir(const char *path, char *dir, size_t size)
{
    char buf[4096];
    char *slash;
    struct stat st;

    if (strlen(path) >= sizeof(buf))
        return 0;
    mailsso_strlcpy(buf, path, sizeof(buf));
    slash = strrchr(buf, '/');
    if (slash == NULL || slash == buf)
        return 0;
    *slash = '\0';
    if (stat(buf, &st) == 0)
        return 0;
    mailsso_strlcpy(dir, buf, size);
    return 1;
}

void
mailsso_diag_file(int errnum, const char *path, mailsso_diag *out)
{
    char ebuf[128], me[160], mygrp[160], dir[512];
    struct stat st;

    if (out == NULL)
        return;
    diag_reset(out);
    if (path == NULL)
        path = "(unnamed file)";
    put(out->code_text, sizeof(out->code_text), "%s: %s", path,
             errno_text(errnum, ebuf, sizeof(ebuf)));
    user_name(geteuid(), me, sizeof(me));
    group_name(getegid(), mygrp, sizeof(mygrp));

    switch (errnum) {
    case ENOENT:
        if (missing_dir(path, dir, sizeof(dir)))
            put(out->cause, sizeof(out->cause),
                     "%s does not exist: not even its directory %s exists", path, dir);
        else
            put(out->cause, sizeof(out->cause), "%s does not exist", path);
        put(out->fix, sizeof(out->fix),
                 "check the path in the configuration, or create the keytab there (MIT: kadmin "
                 "ktadd -k %s PRINCIPAL; AD: ktpass /out FILE, then mailsso-keytab merge)", path);
        break;
    case EACCES:
    case EPERM:
        if (blocked_dir(path, dir, sizeof(dir)) && stat(dir, &st) == 0) {
            char own[160], grp[160];
            user_name(st.st_uid, own, sizeof(own));
            group_name(st.st_gid, grp, sizeof(grp));
            put(out->cause, sizeof(out->cause),
                     "permission denied: directory %s (mode %04o, owner %s, group %s) cannot be "
                     "searched by the current uid %s, gid %s, so %s cannot be reached",
                     dir, (unsigned)(st.st_mode & 07777), own, grp, me, mygrp, path);
            put(out->fix, sizeof(out->fix),
                     "give uid %s search (x) permission on %s, e.g. chmod o+x %s, or move the "
                     "file", me, dir, dir);
        } else if (stat(path, &st) == 0) {
            char own[160], grp[160];
            user_name(st.st_uid, own, sizeof(own));
            group_name(st.st_gid, grp, sizeof(grp));
            put(out->cause, sizeof(out->cause),
                     "permission denied: %s (mode %04o, owner %s, group %s) is not accessible "
                     "to the current uid %s, gid %s",
                     path, (unsigned)(st.st_mode & 07777), own, grp, me, mygrp);
            if (S_ISDIR(st.st_mode))
                put(out->fix, sizeof(out->fix),
                         "the directory must be writable to replace files in it atomically: run "
                         "as its owner, or chgrp GROUP %s && chmod g+w %s with uid %s in GROUP, "
                         "or write the keytab elsewhere", path, path, me);
            else
                put(out->fix, sizeof(out->fix),
                         "let the service read it without opening it to everyone: chgrp GROUP %s "
                         "&& chmod 0640 %s, with the service user (uid %s) in GROUP; or run the "
                         "service as the file's owner", path, path, me);
        } else {
            put(out->cause, sizeof(out->cause),
                     "permission denied on %s for the current uid %s, gid %s", path, me, mygrp);
            put(out->fix, sizeof(out->fix),
                     "check the permissions of %s and of its directories", path);
        }
        break;
    case ENOTDIR:
        put(out->cause, sizeof(out->cause),
                 "a component of %s is not a directory", path);
        put(out->fix, sizeof(out->fix), "check the path");
        break;
    case EISDIR:
        put(out->cause, sizeof(out->cause), "%s is a directory, not a file", path);
        put(out->fix, sizeof(out->fix), "name the file itself, not its directory");
        break;
    case ELOOP:
        put(out->cause, sizeof(out->cause), "%s is a symlink loop (or a refused symlink)",
                 path);
        put(out->fix, sizeof(out->fix), "point the setting at the real file");
        break;
    case EROFS:
        put(out->cause, sizeof(out->cause), "%s is on a read-only file system", path);
        put(out->fix, sizeof(out->fix), "write the file on a writable file system");
        break;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        put(out->cause, sizeof(out->cause),
                 "no space left (disk full or quota) for %s", path);
        put(out->fix, sizeof(out->fix), "free space on the file system holding %s", path);
        break;
    case ENAMETOOLONG:
        put(out->cause, sizeof(out->cause), "the path %s is too long", path);
        put(out->fix, sizeof(out->fix), "use a shorter path");
        break;
    case EIO:
        put(out->cause, sizeof(out->cause), "an I/O error occurred on %s (disk trouble)",
                 path);
        put(out->fix, sizeof(out->fix), "check the system log for disk errors");
        break;
    default:
        put(out->cause, sizeof(out->cause), "%s: %s (uid %s)", path,
                 errno_text(errnum, ebuf, sizeof(ebuf)), me);
        put(out->fix, sizeof(out->fix), "check %s and its directories", path);
        break;
    }
}

const char *
mailsso_diag_format(const mailsso_diag *d, char *buf, size_t bufsize)
{
    if (buf == NULL || bufsize == 0)
        return buf;
    if (d == NULL) {
        buf[0] = '\0';
        return buf;
    }
    if (d->fix[0] != '\0')
        put(buf, bufsize, "cause: %s; fix: %s", d->cause, d->fix);
    else
        put(buf, bufsize, "cause: %s", d->cause);
    return buf;
}
