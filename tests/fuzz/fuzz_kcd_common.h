/*
 * fuzz_kcd_common.h - shared set-up of the mailsso-kcd harnesses
 * (fuzz_cert_map, fuzz_kcd_request)
 *
 * At start-up (once per process) a harness makes a private directory, a test
 * CA (EC P-256, in memory, its certificate written there as the only trust
 * anchor: a fuzzed input can never carry its signature) and writes
 * mailsso.conf files there, which it loads with the real kcd_settings_load.
 * fkcd_issue() signs a leaf certificate with that CA: the harnesses use it to
 * put fuzzed subjects and SANs into certificates that DO verify, so that the
 * mapping code behind the chain check is reached.
 * fkcd_escape() URL-escapes PEM as nginx's $ssl_client_escaped_cert does.
 */
#ifndef MAILSSO_FUZZ_KCD_COMMON_H
#define MAILSSO_FUZZ_KCD_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <mailsso/log.h>

#include "fuzz_common.h"

#define FKCD_UPN_OID "1.3.6.1.4.1.311.20.2.3"

typedef struct fkcd_ca {
    char dir[256];
    EVP_PKEY *ca_key;
    X509 *ca;
    EVP_PKEY *leaf_key;
    long serial;
} fkcd_ca;

static inline void
fkcd_die(const char *what)
{
    fprintf(stderr, "fuzz kcd set-up: %s failed\n", what);
    abort();
}

static inline EVP_PKEY *
fkcd_eckey(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (k == NULL)
        fkcd_die("EVP_EC_gen");
    return k;
}

static inline void
fkcd_name_add(X509_NAME *n, const char *field, const char *value)
{
    if (!X509_NAME_add_entry_by_txt(n, field, MBSTRING_ASC, (const unsigned char *)value, -1,
                                    -1, 0))
        fkcd_die("X509_NAME_add_entry_by_txt");
}

static inline void
fkcd_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (e == NULL || !X509_add_ext(x, e, -1))
        fkcd_die("X509_add_ext");
    X509_EXTENSION_free(e);
}

/* Writes text to dir/name; the path into path_out. */
static inline void
fkcd_write(const fkcd_ca *ca, const char *name, const char *text, char *path_out, size_t size)
{
    FILE *f;

    if ((size_t)snprintf(path_out, size, "%s/%s", ca->dir, name) >= size)
        fkcd_die("path too long");
    f = fopen(path_out, "w");
    if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0)
        fkcd_die(path_out);
}

/* Private dir, CA key + self-signed CA certificate (dir/ca.pem), leaf key. */
static inline void
fkcd_ca_init(fkcd_ca *ca)
{
    const char *tmp = getenv("TMPDIR");
    X509_NAME *n;
    FILE *f;
    char path[300];

    memset(ca, 0, sizeof(*ca));
    snprintf(ca->dir, sizeof(ca->dir), "%s/mailsso-fuzz-kcd.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(ca->dir) == NULL)
        fkcd_die("mkdtemp");
    ca->ca_key = fkcd_eckey();
    ca->leaf_key = fkcd_eckey();
    ca->ca = X509_new();
    if (ca->ca == NULL)
        fkcd_die("X509_new");
    X509_set_version(ca->ca, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(ca->ca), 1);
    n = X509_get_subject_name(ca->ca);
    fkcd_name_add(n, "O", "Example");
    fkcd_name_add(n, "CN", "mailsso fuzz root CA");
    X509_set_issuer_name(ca->ca, n);
    X509_gmtime_adj(X509_getm_notBefore(ca->ca), -86400);
    X509_gmtime_adj(X509_getm_notAfter(ca->ca), 86400L * 365);
    X509_set_pubkey(ca->ca, ca->ca_key);
    fkcd_add_ext(ca->ca, ca->ca, NID_basic_constraints, "critical,CA:TRUE");
    fkcd_add_ext(ca->ca, ca->ca, NID_key_usage, "critical,keyCertSign,cRLSign");
    fkcd_add_ext(ca->ca, ca->ca, NID_subject_key_identifier, "hash");
    if (!X509_sign(ca->ca, ca->ca_key, EVP_sha256()))
        fkcd_die("X509_sign (CA)");
    snprintf(path, sizeof(path), "%s/ca.pem", ca->dir);
    f = fopen(path, "w");
    if (f == NULL || !PEM_write_X509(f, ca->ca) || fclose(f) != 0)
        fkcd_die(path);
    ca->serial = 100;
}

/* A leaf signed by the CA: subject and extensions as given (taken over),
 * plus key usage digitalSignature and EKU clientAuth unless the caller's
 * extensions already hold them. NULL if OpenSSL refuses (odd input). */
static inline X509 *
fkcd_issue(fkcd_ca *ca, const X509_NAME *subject, STACK_OF(X509_EXTENSION) *exts)
{
    X509 *x = X509_new();
    int have_ku = 0, have_eku = 0;

    if (x == NULL)
        return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ca->serial++);
    if (subject != NULL && !X509_set_subject_name(x, subject))
        goto fail;
    X509_set_issuer_name(x, X509_get_subject_name(ca->ca));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, ca->leaf_key);
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
        have_ku |= nid == NID_key_usage;
        have_eku |= nid == NID_ext_key_usage;
        if (!X509_add_ext(x, e, -1))
            goto fail;
    }
    if (!have_ku)
        fkcd_add_ext(x, ca->ca, NID_key_usage, "critical,digitalSignature");
    if (!have_eku)
        fkcd_add_ext(x, ca->ca, NID_ext_key_usage, "clientAuth");
    if (!X509_sign(x, ca->ca_key, EVP_sha256()))
        goto fail;
    return x;
fail:
    X509_free(x);
    return NULL;
}

/* URL-escaped PEM of x, as nginx's $ssl_client_escaped_cert (everything but
 * unreserved characters escaped). malloc'd, NUL-terminated. */
static inline char *
fkcd_escaped_pem(X509 *x, size_t *len_out)
{
    static const char hex[] = "0123456789ABCDEF";
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL, *out = NULL;
    long n;
    size_t o = 0;

    if (b == NULL || !PEM_write_bio_X509(b, x))
        fkcd_die("PEM_write_bio_X509");
    n = BIO_get_mem_data(b, &pem);
    out = malloc((size_t)n * 3 + 1);
    if (out == NULL)
        abort();
    for (long i = 0; i < n; i++) {
        unsigned char c = (unsigned char)pem[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    BIO_free(b);
    *len_out = o;
    return out;
}

/* 1 if s holds a byte < 0x20 or 0x7f (or is NULL). */
static inline int
fkcd_bad_text(const char *s)
{
    return s == NULL || fuzz_has_ctl(s);
}

/* Log sink that checks every line the helper logs: one line, no control
 * characters (a certificate or header must not forge log lines). */
static inline void
fkcd_log_sink(void *ctx, mailsso_log_level level, const char *line)
{
    (void)ctx;
    (void)level;
    FUZZ_ASSERT(!fuzz_has_ctl(line), "log line with a control character: %s", line);
}

#endif
