/*
 * NAME
 *   cert.c - client certificate checks and certificate -> principal mapping
 *
 * DESCRIPTION
 *   kcd_cert_verify() takes what nginx sends ($ssl_client_escaped_cert: the
 *   URL-escaped PEM of the leaf), and:
 *     1. builds and verifies the chain to kcd.trust_anchors with the
 *        kcd.intermediates as untrusted helpers (signatures, dates, CA
 *        constraints) -- without touching the network;
 *     2. only then, for the verified chain, collects the CRL distribution
 *        points (http/https only) plus kcd.crl_urls, gets the CRLs from the
 *        CRL store, and verifies again with CRL checking for the whole
 *        chain. A missing or stale CRL is a 503 when crl_fail_mode is
 *        "closed" and a warning when "open". (CDP URLs of a
 *        certificate that does not chain are never fetched.)
 *     3. checks the EKU (kcd.require_eku: all of them) and key usage,
 *        the SHA-256 thumbprint against thumbprint_deny / thumbprint_allow;
 *     4. maps the UPN SAN otherName (1.3.6.1.4.1.311.20.2.3) through
 *        upn_realms to user@REALM, or, for a certificate without UPN, its
 *        subject DN through subject_rules. Several UPNs, no UPN, an
 *        unmapped suffix, a multi-component name or the gateway's own
 *        principal are refused.
 */
#include <config.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <mailsso/diag.h>
#include <mailsso/log.h>
#include <mailsso/util.h>
#include "kcd.h"

#define UPN_OID "1.3.6.1.4.1.311.20.2.3"
#define MAX_CERT_INPUT (64 * 1024)
#define MAX_URLS 16

struct kcd_certcheck {
    const kcd_settings *s;
    kcd_crl_store *crls;
    X509_STORE *store;
    STACK_OF(X509) *intermediates;
    const char **inter_urls;           /* CDPs of the configured intermediates + crl_urls */
    size_t n_inter_urls;
    ASN1_OBJECT **eku;
    size_t n_eku;
    struct vcache *vc;                 /* verification cache; NULL when verify_cache_ttl = 0 */
};

/* ------------------------------------------------------------ helpers */
static void
openssl_text(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        mailsso_strlcpy(buf, "no OpenSSL detail", size);
    else
        ERR_error_string_n(e, buf, size);
    ERR_clear_error();
}

static int
add_url(const char ***urls, size_t *n, const char *url)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*urls)[i], url) == 0)
            return 0;
    const char **nu = realloc(*urls, (*n + 1) * sizeof(*nu));
    if (nu == NULL)
        return -1;
    nu[*n] = strdup(url);
    if (nu[*n] == NULL) {
        *urls = nu;
        return -1;
    }
    *urls = nu;
    (*n)++;
    return 0;
}

static void
free_urls(const char **urls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)urls[i]);
    free(urls);
}

/* CRL distribution points of cert: full-name URIs, http(s) only. */
static int
cert_cdp_urls(X509 *cert, const char ***urls, size_t *n)
{
    STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
    int rc = 0;

    if (dps == NULL)
        return 0;
    for (int i = 0; i < sk_DIST_POINT_num(dps) && rc == 0; i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
        if (dp->distpoint == NULL || dp->distpoint->type != 0)
            continue;
        GENERAL_NAMES *names = dp->distpoint->name.fullname;
        for (int j = 0; j < sk_GENERAL_NAME_num(names) && rc == 0; j++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, j);
            if (gn->type != GEN_URI)
                continue;
            const unsigned char *d = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
            int len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
            char url[1024];
            if (len <= 0 || (size_t)len >= sizeof(url) || *n >= MAX_URLS)
                continue;
            memcpy(url, d, (size_t)len);
            url[len] = '\0';
            if (strlen(url) != (size_t)len)
                continue;
            if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
                continue;
            rc = add_url(urls, n, url);
        }
    }
    CRL_DIST_POINTS_free(dps);
    return rc;
}

static int
load_certs(const char *path, STACK_OF(X509) **out, mailsso_error *err)
{
    BIO *bio = BIO_new_file(path, "r");
    STACK_OF(X509) *sk = NULL;
    X509 *x = NULL;
    char txt[256];

    if (bio == NULL) {
        openssl_text(txt, sizeof(txt));
        mailsso_error_set(err, MAILSSO_E_IO, "cannot read certificates from %s: %s", path, txt);
        return MAILSSO_E_IO;
    }
    sk = sk_X509_new_null();
    while (sk != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(sk, x)) {
            X509_free(x);
            break;
        }
    }
    ERR_clear_error();
    BIO_free(bio);
    if (sk == NULL || sk_X509_num(sk) == 0) {
        sk_X509_pop_free(sk, X509_free);
        mailsso_error_set(err, MAILSSO_E_PARSE, "%s holds no PEM certificate", path);
        mailsso_error_set_fix(err, "give a PEM file (-----BEGIN CERTIFICATE-----)");
        return MAILSSO_E_PARSE;
    }
    *out = sk;
    return 0;
}

/* ------------------------------------------------------------ verification cache
 * Successful verifications, keyed by the SHA-256 of the exact header value
 * received (so a hit skips URL-decoding and PEM parsing too). An entry is
 * used only while now < expires (min of verify_cache_ttl, the notAfter of
 * every certificate of the chain, and the time any CRL used is due for a
 * refresh) and while the CRL store's generation is the one its CRLs were
 * current at (any CRL load or failed refresh changes it; kcd_crl_get()
 * reports when another thread changed the store in the middle of our
 * series of CRL look-ups, and then nothing is stored). The
 * runtime, and so this cache, is rebuilt on SIGHUP. Bounded to
 * cache_max_entries with an LRU list; one mutex. Failures are not cached. */
#define VC_BUCKETS 4096

typedef struct vc_entry {
    unsigned char key[32];
    unsigned long long gen;
    time_t expires;
    time_t not_after;
    char fingerprint[KCD_FPR_HEX];
    const char *subject, *serial, *principal;    /* into text[] */
    struct vc_entry *hnext, *prev, *next;
    char text[];
} vc_entry;

struct vcache {
    pthread_mutex_t lock;
    size_t max, n;
    vc_entry *buckets[VC_BUCKETS];
    vc_entry *head, *tail;            /* LRU: head = most recent */
};

static unsigned
vc_hash(const unsigned char key[32])
{
    return ((unsigned)key[0] | (unsigned)key[1] << 8 | (unsigned)key[2] << 16) % VC_BUCKETS;
}

static void
vc_unlink(struct vcache *vc, vc_entry *e)
{
    vc_entry **pp = &vc->buckets[vc_hash(e->key)];
    while (*pp != NULL && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp != NULL)
        *pp = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        vc->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        vc->tail = e->prev;
    vc->n--;
}

static void
vc_front(struct vcache *vc, vc_entry *e)
{
    e->prev = NULL;
    e->next = vc->head;
    if (vc->head)
        vc->head->prev = e;
    vc->head = e;
    if (vc->tail == NULL)
        vc->tail = e;
}

static vc_entry *
vc_find(struct vcache *vc, const unsigned char key[32])
{
    for (vc_entry *e = vc->buckets[vc_hash(key)]; e != NULL; e = e->hnext)
        if (memcmp(e->key, key, 32) == 0)
            return e;
    return NULL;
}

static struct vcache *
vc_new(size_t max)
{
    struct vcache *vc = calloc(1, sizeof(*vc));
    if (vc == NULL)
        return NULL;
    pthread_mutex_init(&vc->lock, NULL);
    vc->max = max > 0 ? max : 1;
    return vc;
}

static void
vc_free(struct vcache *vc)
{
    if (vc == NULL)
        return;
    for (vc_entry *e = vc->head, *n; e != NULL; e = n) {
        n = e->next;
        free(e);
    }
    pthread_mutex_destroy(&vc->lock);
    free(vc);
}

/* 1 and info filled on a usable entry; 0 otherwise (a stale entry is dropped). */
static int
vc_lookup(struct vcache *vc, const unsigned char key[32], unsigned long long gen, time_t now,
          kcd_cert_info *info)
{
    vc_entry *e;
    int hit = 0;

    pthread_mutex_lock(&vc->lock);
    e = vc_find(vc, key);
    if (e != NULL && (e->gen != gen || now >= e->expires)) {
        vc_unlink(vc, e);
        free(e);
        e = NULL;
    }
    if (e != NULL) {
        if (vc->head != e) {
            vc_unlink(vc, e);
            vc->n++;
            vc_front(vc, e);
            e->hnext = vc->buckets[vc_hash(key)];
            vc->buckets[vc_hash(key)] = e;
        }
        memcpy(info->fingerprint, e->fingerprint, sizeof(info->fingerprint));
        mailsso_strlcpy(info->subject, e->subject, sizeof(info->subject));
        mailsso_strlcpy(info->serial, e->serial, sizeof(info->serial));
        mailsso_strlcpy(info->principal, e->principal, sizeof(info->principal));
        info->not_after = e->not_after;
        info->crl_skipped = 0;
        hit = 1;
    }
    pthread_mutex_unlock(&vc->lock);
    return hit;
}

static void
vc_store(struct vcache *vc, const unsigned char key[32], unsigned long long gen, time_t expires,
         const kcd_cert_info *info)
{
    size_t ls = strlen(info->subject) + 1, lr = strlen(info->serial) + 1,
           lp = strlen(info->principal) + 1;
    vc_entry *e = malloc(sizeof(*e) + ls + lr + lp), *old;

    if (e == NULL)
        return;                       /* only a lost optimisation */
    memset(e, 0, sizeof(*e));
    memcpy(e->key, key, 32);
    e->gen = gen;
    e->expires = expires;
    e->not_after = info->not_after;
    memcpy(e->fingerprint, info->fingerprint, sizeof(e->fingerprint));
    memcpy(e->text, info->subject, ls);
    memcpy(e->text + ls, info->serial, lr);
    memcpy(e->text + ls + lr, info->principal, lp);
    e->subject = e->text;
    e->serial = e->text + ls;
    e->principal = e->text + ls + lr;

    pthread_mutex_lock(&vc->lock);
    old = vc_find(vc, key);
    if (old != NULL) {
        vc_unlink(vc, old);
        free(old);
    }
    while (vc->n >= vc->max && vc->tail != NULL) {
        old = vc->tail;
        vc_unlink(vc, old);
        free(old);
    }
    e->hnext = vc->buckets[vc_hash(key)];
    vc->buckets[vc_hash(key)] = e;
    vc_front(vc, e);
    vc->n++;
    pthread_mutex_unlock(&vc->lock);
}

/* ------------------------------------------------------------ setup */
int
kcd_certcheck_new(const kcd_settings *s, kcd_crl_store *crls, kcd_certcheck **out,
                  mailsso_error *err)
{
    kcd_certcheck *cc = calloc(1, sizeof(*cc));
    STACK_OF(X509) *roots = NULL;
    int rc = MAILSSO_E_NOMEM;

    if (cc == NULL)
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
    cc->s = s;
    cc->crls = crls;
    if (s->trust_anchors[0] == '\0') {
        rc = mailsso_error_set(err, MAILSSO_E_CONFIG, "%s: kcd.trust_anchors is not set",
                               s->config_path);
        mailsso_error_set_fix(err, "set trust_anchors to the PEM file of the root CA(s) that "
                              "issue user certificates");
        goto fail;
    }
    rc = load_certs(s->trust_anchors, &roots, err);
    if (rc != 0)
        goto fail;
    cc->store = X509_STORE_new();
    if (cc->store == NULL)
        goto nomem;
    for (int i = 0; i < sk_X509_num(roots); i++)
        X509_STORE_add_cert(cc->store, sk_X509_value(roots, i));
    if (s->intermediates[0] != '\0') {
        rc = load_certs(s->intermediates, &cc->intermediates, err);
        if (rc != 0)
            goto fail;
    } else {
        cc->intermediates = sk_X509_new_null();
        if (cc->intermediates == NULL)
            goto nomem;
    }
    for (int i = 0; i < sk_X509_num(cc->intermediates); i++)
        if (cert_cdp_urls(sk_X509_value(cc->intermediates, i), &cc->inter_urls,
                          &cc->n_inter_urls) != 0)
            goto nomem;
    for (size_t i = 0; i < s->n_crl_urls; i++)
        if (add_url(&cc->inter_urls, &cc->n_inter_urls, s->crl_urls[i]) != 0)
            goto nomem;

    cc->n_eku = s->n_eku;
    if (cc->n_eku > 0) {
        cc->eku = calloc(cc->n_eku, sizeof(*cc->eku));
        if (cc->eku == NULL)
            goto nomem;
    }
    for (size_t i = 0; i < s->n_eku; i++) {
        const char *name = s->eku[i];
        if (strcasecmp(name, "clientAuth") == 0)
            name = "1.3.6.1.5.5.7.3.2";
        else if (strcasecmp(name, "msSmartcardLogin") == 0 || strcasecmp(name, "smartcardLogon") == 0)
            name = "1.3.6.1.4.1.311.20.2.2";
        else if (strcasecmp(name, "any") == 0)
            name = "2.5.29.37.0";
        cc->eku[i] = OBJ_txt2obj(name, 1);
        if (cc->eku[i] == NULL) {
            rc = mailsso_error_set(err, MAILSSO_E_CONFIG,
                                   "%s: kcd.require_eku item '%s' is neither clientAuth, "
                                   "msSmartcardLogin, any nor a dotted OID",
                                   s->config_path, s->eku[i]);
            goto fail;
        }
    }
    if (s->verify_cache_ttl > 0) {
        cc->vc = vc_new((size_t)(s->cache_size > 0 ? s->cache_size : 1));
        if (cc->vc == NULL)
            goto nomem;
    }
    sk_X509_pop_free(roots, X509_free);
    *out = cc;
    return 0;

nomem:
    rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory loading certificates");
fail:
    sk_X509_pop_free(roots, X509_free);
    kcd_certcheck_free(cc);
    return rc;
}

void
kcd_certcheck_free(kcd_certcheck *cc)
{
    if (cc == NULL)
        return;
    X509_STORE_free(cc->store);
    sk_X509_pop_free(cc->intermediates, X509_free);
    free_urls(cc->inter_urls, cc->n_inter_urls);
    for (size_t i = 0; i < cc->n_eku; i++)
        ASN1_OBJECT_free(cc->eku ? cc->eku[i] : NULL);
    free(cc->eku);
    vc_free(cc->vc);
    free(cc);
}

size_t
kcd_certcheck_crl_urls(kcd_certcheck *cc, const char *const **urls_out)
{
    *urls_out = cc->inter_urls;
    return cc->n_inter_urls;
}

/* ------------------------------------------------------------ input */
static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static X509 *
parse_cert(const char *in, size_t len, kcd_result *r)
{
    char *buf = NULL;
    size_t n = 0;
    BIO *bio = NULL;
    X509 *x = NULL;
    char txt[256];

    if (len == 0) {
        kcd_fail(r, KCD_FORBIDDEN, "no_certificate",
                 "the request carries no client certificate");
        kcd_fix(r, "nginx must have 'ssl_verify_client on' (or optional) and pass "
                "$ssl_client_escaped_cert in the X-Client-Cert header to the auth location");
        return NULL;
    }
    if (len > MAX_CERT_INPUT) {
        kcd_fail(r, KCD_BAD_REQUEST, "bad_request", "client certificate of %zu bytes is too big",
                 len);
        return NULL;
    }
    buf = malloc(len + 1);
    if (buf == NULL) {
        kcd_fail(r, KCD_UNAVAILABLE, "internal", "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%' && i + 2 < len && hexval((unsigned char)in[i + 1]) >= 0 &&
            hexval((unsigned char)in[i + 2]) >= 0) {
            buf[n++] = (char)(hexval((unsigned char)in[i + 1]) * 16 +
                              hexval((unsigned char)in[i + 2]));
            i += 2;
        } else {
            buf[n++] = in[i];
        }
    }
    buf[n] = '\0';
    bio = BIO_new_mem_buf(buf, (int)n);
    if (bio != NULL) {
        if (strstr(buf, "-----BEGIN") != NULL)
            x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        else
            x = d2i_X509_bio(bio, NULL);
    }
    if (x == NULL) {
        openssl_text(txt, sizeof(txt));
        kcd_fail(r, KCD_BAD_REQUEST, "bad_certificate",
                 "the client certificate cannot be parsed (%s)", txt);
        kcd_fix(r, "pass nginx's $ssl_client_escaped_cert (URL-escaped PEM), not $ssl_client_cert");
    }
    BIO_free(bio);
    free(buf);
    return x;
}

/* ------------------------------------------------------------ verify */
typedef struct verify_state {
    int fail_open;
    int crl_problem;         /* first X509_V_ERR_* about CRL availability */
    int crl_problem_depth;
    int other_error;         /* first other error */
    int other_depth;
} verify_state;

static int verify_ex_index = -1;
static pthread_once_t verify_once = PTHREAD_ONCE_INIT;

static void
verify_index_init(void)
{
    verify_ex_index = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int
is_crl_availability_error(int e)
{
    return e == X509_V_ERR_UNABLE_TO_GET_CRL || e == X509_V_ERR_CRL_HAS_EXPIRED ||
           e == X509_V_ERR_CRL_NOT_YET_VALID || e == X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER ||
           e == X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD ||
           e == X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD;
}

static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
    verify_state *st = X509_STORE_CTX_get_ex_data(ctx, verify_ex_index);
    int e = X509_STORE_CTX_get_error(ctx);

    if (ok || st == NULL)
        return ok;
    if (is_crl_availability_error(e)) {
        if (st->crl_problem == 0) {
            st->crl_problem = e;
            st->crl_problem_depth = X509_STORE_CTX_get_error_depth(ctx);
        }
        return 1;   /* decided after the walk: fail-open or fail-closed */
    }
    if (st->other_error == 0) {
        st->other_error = e;
        st->other_depth = X509_STORE_CTX_get_error_depth(ctx);
    }
    return 0;
}

static int
run_verify(kcd_certcheck *cc, X509 *leaf, STACK_OF(X509_CRL) *crls, verify_state *st,
           STACK_OF(X509) **chain_out)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = -1;

    pthread_once(&verify_once, verify_index_init);
    if (ctx == NULL || !X509_STORE_CTX_init(ctx, cc->store, leaf, cc->intermediates))
        goto done;
    X509_STORE_CTX_set_ex_data(ctx, verify_ex_index, st);
    X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
    if (crls != NULL) {
        X509_STORE_CTX_set0_crls(ctx, crls);
        X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }
    ok = X509_verify_cert(ctx) == 1 ? 0 : -1;
    if (ok != 0 && st->other_error == 0 && st->crl_problem == 0) {
        st->other_error = X509_STORE_CTX_get_error(ctx);
        if (st->other_error == 0)
            st->other_error = X509_V_ERR_UNSPECIFIED;
    }
    if (ok == 0 && chain_out != NULL)
        *chain_out = X509_STORE_CTX_get1_chain(ctx);
done:
    X509_STORE_CTX_free(ctx);
    return ok;
}

static void
chain_error(const verify_state *st, kcd_result *r)
{
    int e = st->other_error;
    const char *txt = X509_verify_cert_error_string(e);

    switch (e) {
    case X509_V_ERR_CERT_REVOKED:
        kcd_fail(r, KCD_FORBIDDEN, "revoked", "certificate revoked (%s, at chain depth %d)",
                 txt, st->other_depth);
        kcd_fix(r, "the CA revoked it: the user needs a new certificate");
        break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        kcd_fail(r, KCD_FORBIDDEN, "expired", "certificate expired (%s, at chain depth %d)", txt,
                 st->other_depth);
        kcd_fix(r, "the user needs a renewed certificate (check the gateway's clock too)");
        break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        kcd_fail(r, KCD_FORBIDDEN, "not_yet_valid",
                 "certificate not yet valid (%s, at chain depth %d)", txt, st->other_depth);
        kcd_fix(r, "check the clocks of the gateway and of the CA");
        break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        kcd_fail(r, KCD_FORBIDDEN, "untrusted",
                 "certificate does not chain to a trust anchor (%s, at chain depth %d)", txt,
                 st->other_depth);
        kcd_fix(r, "if the issuing CA is legitimate, put its intermediate in kcd.intermediates "
                "and its root in kcd.trust_anchors; otherwise the certificate is foreign");
        break;
    default:
        kcd_fail(r, KCD_FORBIDDEN, "invalid_certificate",
                 "certificate verification failed: %s (X509_V_ERR %d, at chain depth %d)", txt,
                 e, st->other_depth);
        kcd_fix(r, "inspect the certificate with 'openssl verify -CAfile ROOT -untrusted "
                "INTERMEDIATES -crl_check_all'");
        break;
    }
}

/* ------------------------------------------------------------ EKU, thumbprint */
static int
check_usage(kcd_certcheck *cc, X509 *x, kcd_result *r)
{
    uint32_t ku = X509_get_key_usage(x);
    EXTENDED_KEY_USAGE *eku = NULL;
    int found = 0;

    if (ku != UINT32_MAX && !(ku & KU_DIGITAL_SIGNATURE)) {
        kcd_fail(r, KCD_FORBIDDEN, "bad_key_usage",
                 "certificate key usage lacks digitalSignature");
        kcd_fix(r, "issue user certificates from a template with digitalSignature key usage");
        return -1;
    }
    if (cc->n_eku == 0)
        return 0;
    eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
    if (eku == NULL) {
        kcd_fail(r, KCD_FORBIDDEN, "bad_eku",
                 "certificate has no extended key usage (kcd.require_eku lists %zu)",
                 cc->n_eku);
        kcd_fix(r, "issue user certificates with Client Authentication or Smart Card Logon "
                "EKU, or change kcd.require_eku");
        return -1;
    }
    for (size_t j = 0; j < cc->n_eku; j++) {
        found = 0;
        for (int i = 0; i < sk_ASN1_OBJECT_num(eku) && !found; i++)
            found = OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), cc->eku[j]) == 0;
        if (!found) {
            char oid[80];
            OBJ_obj2txt(oid, sizeof(oid), cc->eku[j], 1);
            kcd_fail(r, KCD_FORBIDDEN, "bad_eku",
                     "certificate extended key usage lacks %s (kcd.require_eku item '%s')", oid,
                     cc->s->eku[j]);
            kcd_fix(r, "issue user certificates with that EKU (Client Authentication / Smart "
                    "Card Logon), or change kcd.require_eku");
            break;
        }
    }
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    if (!found)
        return -1;
    return 0;
}

static int
thumb_eq(const char *fpr, const char *item)
{
    size_t n = 0;
    for (const char *p = item; *p; p++) {
        if (*p == ':' || *p == ' ')
            continue;
        if (n >= 64 || tolower((unsigned char)*p) != fpr[n])
            return 0;
        n++;
    }
    return n == 64;
}

/* ------------------------------------------------------------ UPN */
static int
name_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p >= 0x7f || *p == '/' || *p == '\\' ||
            *p == '@')
            return 0;
    return 1;
}

int
kcd_map_upn(const kcd_settings *s, const char *upn, char *principal, size_t size,
            kcd_result *r)
{
    const char *at = strrchr(upn, '@');
    char local[256], suffix[256], clean[300];

    mailsso_log_sanitize(upn, strlen(upn), clean, sizeof(clean));
    if (at == NULL || at == upn || (size_t)(at - upn) >= sizeof(local) ||
        strlen(at + 1) >= sizeof(suffix)) {
        kcd_fail(r, KCD_FORBIDDEN, "bad_upn", "UPN '%s' is not of the form user@suffix", clean);
        kcd_fix(r, "the certificate template must put the user's UPN in the SAN");
        return -1;
    }
    memcpy(local, upn, (size_t)(at - upn));
    local[at - upn] = '\0';
    mailsso_strlcpy(suffix, at + 1, sizeof(suffix));
    if (!name_ok(local) || !name_ok(suffix)) {
        kcd_fail(r, KCD_FORBIDDEN, "bad_upn",
                 "UPN '%s' has characters not allowed in a user principal ('/', '\\', '@', "
                 "controls, spaces)", clean);
        kcd_fix(r, "only single-component user principals can be impersonated");
        return -1;
    }
    for (size_t i = 0; i < s->n_upn_realms; i++) {
        const char *item = s->upn_realms[i];
        const char *eq = strchr(item, '=');
        char dom[256], realm[256];
        size_t dl;
        if (eq == NULL)
            continue;
        dl = (size_t)(eq - item);
        while (dl > 0 && isspace((unsigned char)item[dl - 1]))
            dl--;
        while (dl > 0 && isspace((unsigned char)*item)) {
            item++;
            dl--;
        }
        if (dl == 0 || dl >= sizeof(dom))
            continue;
        memcpy(dom, item, dl);
        dom[dl] = '\0';
        const char *rp = eq + 1;
        while (isspace((unsigned char)*rp))
            rp++;
        mailsso_strlcpy(realm, rp, sizeof(realm));
        for (size_t k = strlen(realm); k > 0 && isspace((unsigned char)realm[k - 1]); k--)
            realm[k - 1] = '\0';
        if (!mailsso_streq_ci(dom, suffix) || realm[0] == '\0')
            continue;
        if ((size_t)snprintf(principal, size, "%s@%s", local, realm) >= size) {
            kcd_fail(r, KCD_FORBIDDEN, "bad_upn", "UPN '%s' is too long", clean);
            return -1;
        }
        return 0;
    }
    kcd_fail(r, KCD_FORBIDDEN, "unmapped_domain",
             "UPN suffix '%s' (from '%s') is not mapped to a realm", suffix, clean);
    kcd_fix(r, "if users of that domain may log in, add \"%s = REALM\" to kcd.upn_realms", suffix);
    return -1;
}

/* Realm of principal must be one of the upn_realms realms. */
static int
realm_configured(const kcd_settings *s, const char *principal)
{
    const char *at = strrchr(principal, '@');
    if (at == NULL)
        return 0;
    for (size_t i = 0; i < s->n_upn_realms; i++) {
        const char *eq = strchr(s->upn_realms[i], '=');
        if (eq == NULL)
            continue;
        eq++;
        while (isspace((unsigned char)*eq))
            eq++;
        size_t n = strlen(eq);
        while (n > 0 && isspace((unsigned char)eq[n - 1]))
            n--;
        if (n == strlen(at + 1) && strncmp(eq, at + 1, n) == 0)
            return 1;
    }
    return 0;
}

/* The certificate's only e-mail SAN, or "" (none, several, or odd bytes). */
static void
email_san(X509 *x, char *buf, size_t size)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int n = 0;

    buf[0] = '\0';
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
        if (gn->type != GEN_EMAIL)
            continue;
        int len = ASN1_STRING_length(gn->d.rfc822Name);
        const unsigned char *d = ASN1_STRING_get0_data(gn->d.rfc822Name);
        if (++n == 1 && len > 0 && (size_t)len < size && memchr(d, 0, (size_t)len) == NULL) {
            memcpy(buf, d, (size_t)len);
            buf[len] = '\0';
        }
    }
    if (n != 1)
        buf[0] = '\0';
    GENERAL_NAMES_free(gens);
}

/* "email:alice@example.com" or "email:*@example.com" against the e-mail SAN;
 * TO may use %u for its local part. 1 on a match (principal in out). */
static int
email_rule(const char *from, const char *to, const char *email, char *out, size_t size)
{
    const char *at = strrchr(email, '@');
    char local[256];
    size_t n = 0;

    if (email[0] == '\0' || at == NULL || at == email || (size_t)(at - email) >= sizeof(local))
        return 0;
    from += 6;       /* "email:" */
    if (from[0] == '*' && from[1] == '@') {
        if (!mailsso_streq_ci(from + 2, at + 1))
            return 0;
    } else if (!mailsso_streq_ci(from, email)) {
        return 0;
    }
    memcpy(local, email, (size_t)(at - email));
    local[at - email] = '\0';
    if (!name_ok(local))
        return 0;
    for (const char *p = to; *p && n + 1 < size; p++) {
        if (p[0] == '%' && p[1] == 'u') {
            n += (size_t)snprintf(out + n, size - n, "%s", local);
            if (n >= size)
                return 0;
            p++;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return 1;
}

/* subject_rules: "DN = principal"; DN compared case-insensitively with the
 * RFC 2253 form of the subject (CN=alice,OU=Users,O=Example); or
 * "email:ADDR = principal" / "email:*@DOMAIN = %u@REALM" on the e-mail SAN. */
static int
map_subject(kcd_certcheck *cc, X509 *x, kcd_cert_info *info, kcd_result *r)
{
    BIO *b = BIO_new(BIO_s_mem());
    char dn[1024] = "", email[512];
    int len;

    if (b == NULL)
        return 1;
    X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    len = BIO_read(b, dn, sizeof(dn) - 1);
    BIO_free(b);
    if (len <= 0)
        return 1;
    dn[len] = '\0';
    email_san(x, email, sizeof(email));
    for (size_t i = 0; i < cc->s->n_subject_rules; i++) {
        const char *rule = cc->s->subject_rules[i];
        const char *eq = strrchr(rule, '=');
        char from[1024];
        size_t fl;
        if (eq == NULL)
            continue;
        fl = (size_t)(eq - rule);
        while (fl > 0 && isspace((unsigned char)rule[fl - 1]))
            fl--;
        if (fl >= sizeof(from))
            continue;
        memcpy(from, rule, fl);
        from[fl] = '\0';
        const char *to = eq + 1;
        while (isspace((unsigned char)*to))
            to++;
        if (strncasecmp(from, "email:", 6) == 0) {
            if (!email_rule(from, to, email, info->principal, sizeof(info->principal)))
                continue;
        } else if (mailsso_streq_ci(from, dn)) {
            mailsso_strlcpy(info->principal, to, sizeof(info->principal));
        } else {
            continue;
        }
        for (size_t k = strlen(info->principal); k > 0 && isspace((unsigned char)info->principal[k - 1]); k--)
            info->principal[k - 1] = '\0';
        if (!realm_configured(cc->s, info->principal)) {
            kcd_fail(r, KCD_FORBIDDEN, "unmapped_domain",
                     "subject rule '%s' gives %s, whose realm is not in kcd.upn_realms", rule,
                     info->principal);
            kcd_fix(r, "add the realm to upn_realms or correct the rule");
            return -1;
        }
        return 0;
    }
    return 1;
}

static int
map_principal(kcd_certcheck *cc, X509 *x, const char *gateway, kcd_cert_info *info,
              kcd_result *r)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    ASN1_OBJECT *upn_obj = OBJ_txt2obj(UPN_OID, 1);
    char upn[512] = "";
    int n_upn = 0, bad = 0, rc = -1;

    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
        if (gn->type != GEN_OTHERNAME || upn_obj == NULL ||
            OBJ_cmp(gn->d.otherName->type_id, upn_obj) != 0)
            continue;
        ASN1_TYPE *v = gn->d.otherName->value;
        n_upn++;
        if (v == NULL || v->type != V_ASN1_UTF8STRING) {
            bad = 1;
            continue;
        }
        const ASN1_STRING *str = v->value.utf8string;
        int len = ASN1_STRING_length(str);
        if (n_upn == 1) {
            if (len <= 0 || (size_t)len >= sizeof(upn) ||
                memchr(ASN1_STRING_get0_data(str), 0, (size_t)len) != NULL) {
                bad = 1;
                continue;
            }
            memcpy(upn, ASN1_STRING_get0_data(str), (size_t)len);
            upn[len] = '\0';
        }
    }
    if (n_upn > 1) {
        kcd_fail(r, KCD_FORBIDDEN, "several_upn",
                 "certificate carries %d UPNs in its SAN: refusing to choose", n_upn);
        kcd_fix(r, "issue the user a certificate with exactly one UPN");
        goto done;
    }
    if (n_upn == 1 && bad) {
        kcd_fail(r, KCD_FORBIDDEN, "bad_upn",
                 "the certificate's UPN SAN is not a UTF8String without NUL bytes");
        kcd_fix(r, "fix the certificate template (UPN otherName must be UTF8String)");
        goto done;
    }
    if (n_upn == 1) {
        rc = kcd_map_upn(cc->s, upn, info->principal, sizeof(info->principal), r);
    } else {
        int m = map_subject(cc, x, info, r);
        if (m == 0) {
            rc = 0;
        } else if (m > 0) {
            kcd_fail(r, KCD_FORBIDDEN, "no_upn",
                     "certificate has no UPN (SAN otherName %s) and no kcd.subject_rules "
                     "entry matches its subject", UPN_OID);
            kcd_fix(r, "issue the user a certificate from a template that puts the UPN in the "
                    "SAN (AD: Subject Name -> 'User principal name (UPN)'), or add a "
                    "subject_rules entry");
        }
    }
    if (rc == 0 && gateway != NULL && gateway[0] && strcmp(info->principal, gateway) == 0) {
        rc = -1;
        kcd_fail(r, KCD_FORBIDDEN, "own_principal",
                 "certificate maps to the gateway's own principal %s", gateway);
        kcd_fix(r, "never issue user certificates naming a service account");
    }
    if (rc == 0)
        mailsso_strlcpy(r->principal, info->principal, sizeof(r->principal));
done:
    ASN1_OBJECT_free(upn_obj);
    GENERAL_NAMES_free(gens);
    return rc;
}

static int
check_thumbprints(kcd_certcheck *cc, const kcd_cert_info *info, kcd_result *r)
{
    for (size_t i = 0; i < cc->s->n_thumbprint_deny; i++) {
        if (thumb_eq(info->fingerprint, cc->s->thumbprint_deny[i])) {
            kcd_fail(r, KCD_FORBIDDEN, "thumbprint_denied",
                     "certificate SHA-256 %s is in kcd.thumbprint_deny", info->fingerprint);
            kcd_fix(r, "remove it from thumbprint_deny if it should be allowed again");
            return -1;
        }
    }
    if (cc->s->n_thumbprint_allow > 0) {
        int found = 0;
        for (size_t i = 0; i < cc->s->n_thumbprint_allow && !found; i++)
            found = thumb_eq(info->fingerprint, cc->s->thumbprint_allow[i]);
        if (!found) {
            kcd_fail(r, KCD_FORBIDDEN, "thumbprint_not_allowed",
                     "certificate SHA-256 %s is not in kcd.thumbprint_allow", info->fingerprint);
            kcd_fix(r, "add the thumbprint to thumbprint_allow, or empty the list");
            return -1;
        }
    }
    return 0;
}

/* The gateway may have come up since the verdict was cached. */
static int
own_principal(const char *gateway, const kcd_cert_info *info, kcd_result *r)
{
    if (gateway == NULL || gateway[0] == '\0' || strcmp(info->principal, gateway) != 0)
        return 0;
    kcd_fail(r, KCD_FORBIDDEN, "own_principal",
             "certificate maps to the gateway's own principal %s", gateway);
    kcd_fix(r, "never issue user certificates naming a service account");
    return -1;
}

/* ------------------------------------------------------------ main entry */
int
kcd_cert_verify(kcd_certcheck *cc, const char *pem, size_t len, const char *gateway,
                kcd_cert_info *info, kcd_result *r)
{
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    const char **urls = NULL;
    size_t n_urls = 0;
    verify_state st;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char why[KCD_TEXT_MAX] = "";
    int rc = -1, stale = 0, missing = 0;
    const struct tm *tmp;
    struct tm tm;
    unsigned char key[32];
    unsigned long long gen = KCD_CRL_GEN_START;   /* CRL store generation the verdict rests on */
    time_t now, cache_until;

    memset(info, 0, sizeof(*info));
    if (cc->vc != NULL && len > 0 && len <= MAX_CERT_INPUT) {
        now = time(NULL);
        cache_until = now + (time_t)cc->s->verify_cache_ttl;
        SHA256((const unsigned char *)pem, len, key);
        if (vc_lookup(cc->vc, key, kcd_crl_generation(cc->crls), now, info)) {
            /* Configuration-dependent checks are cheap: run them every time. */
            if (check_thumbprints(cc, info, r) != 0 || own_principal(gateway, info, r) != 0)
                return -1;
            mailsso_strlcpy(r->principal, info->principal, sizeof(r->principal));
            kcd_count(&kcd_stats.verify_cache_hits);
            return 0;
        }
    } else {
        cache_until = 0;
    }
    leaf = parse_cert(pem, len, r);
    if (leaf == NULL)
        goto done;

    /* Identity of the certificate, for logs and the cache key. */
    X509_digest(leaf, EVP_sha256(), md, &mdlen);
    for (unsigned int i = 0; i < mdlen && i < 32; i++)
        snprintf(info->fingerprint + 2 * i, 3, "%02x", md[i]);
    X509_NAME_oneline(X509_get_subject_name(leaf), info->subject, sizeof(info->subject));
    {
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        mailsso_strlcpy(info->serial, hex ? hex : "?", sizeof(info->serial));
        OPENSSL_free(hex);
        BN_free(bn);
    }
    if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1)
        info->not_after = timegm(&tm);
    (void)tmp;

    if (check_thumbprints(cc, info, r) != 0)
        goto done;

    /* 1. chain, signatures, dates: no network. */
    memset(&st, 0, sizeof(st));
    if (run_verify(cc, leaf, NULL, &st, &chain) != 0) {
        chain_error(&st, r);
        goto done;
    }
    /* The verdict cannot outlive any certificate of the chain. */
    for (int i = 0; i < sk_X509_num(chain); i++) {
        time_t na;
        if (ASN1_TIME_to_tm(X509_get0_notAfter(sk_X509_value(chain, i)), &tm) != 1)
            continue;
        na = timegm(&tm);
        if (cache_until > na)
            cache_until = na;
    }
    if (check_usage(cc, leaf, r) != 0)
        goto done;

    /* 2. revocation, for the verified chain only. */
    {
        for (int i = 0; i < sk_X509_num(chain) - 1; i++)
            if (cert_cdp_urls(sk_X509_value(chain, i), &urls, &n_urls) != 0)
                goto nomem;
        for (size_t i = 0; i < cc->s->n_crl_urls; i++)
            if (add_url(&urls, &n_urls, cc->s->crl_urls[i]) != 0)
                goto nomem;
        crls = sk_X509_CRL_new_null();
        if (crls == NULL)
            goto nomem;
        for (size_t i = 0; i < n_urls; i++) {
            char one[512] = "";
            time_t due = 0;
            int g = kcd_crl_get(cc->crls, urls[i], crls, &due, &gen, one, sizeof(one));
            if (g == 0 && due > 0 && cache_until > due)
                cache_until = due;
            if (g != 0) {
                if (g == -2)
                    stale++;
                else
                    missing++;
                size_t wl = strlen(why);
                snprintf(why + wl, sizeof(why) - wl, "%s%s", wl ? "; " : "", one);
            }
        }
        memset(&st, 0, sizeof(st));
        st.fail_open = cc->s->crl_fail_open;
        if (run_verify(cc, leaf, crls, &st, NULL) != 0 && st.other_error != 0) {
            chain_error(&st, r);
            goto done;
        }
        if (st.crl_problem != 0) {
            if (!st.fail_open) {
                kcd_fail(r, KCD_UNAVAILABLE, "crl_unavailable",
                         "revocation status unknown: %s at chain depth %d (%s)",
                         X509_verify_cert_error_string(st.crl_problem), st.crl_problem_depth,
                         why[0] ? why : "no CRL distribution point and no kcd.crl_urls");
                kcd_fix(r, "make the CRL URL reachable from the gateway (or list a mirror in "
                        "kcd.crl_urls); crl_fail_mode = \"open\" accepts certificates meanwhile");
                goto done;
            }
            info->crl_skipped = 1;
        }
    }

    /* 3. principal */
    if (map_principal(cc, leaf, gateway, info, r) != 0)
        goto done;
    rc = 0;
    /* Remember the verdict only when revocation was fully checked. */
    if (cc->vc != NULL && !info->crl_skipped && stale == 0 && missing == 0 && n_urls > 0 &&
        gen != KCD_CRL_GEN_START && gen != KCD_CRL_GEN_CHANGED && cache_until > time(NULL))
        vc_store(cc->vc, key, gen, cache_until, info);
    goto done;

nomem:
    kcd_fail(r, KCD_UNAVAILABLE, "internal", "out of memory");
done:
    (void)stale;
    (void)missing;
    free_urls(urls, n_urls);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    sk_X509_pop_free(chain, X509_free);
    X509_free(leaf);
    ERR_clear_error();
    return rc;
}
