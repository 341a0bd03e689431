/*
 * NAME
 *   crl.c - CRL download and cache
 *
 * DESCRIPTION
 *   One entry per URL: the last good CRL, its nextUpdate, when it was
 *   fetched, and the last failure. kcd_crl_get() serves the cached CRL
 *   while it is fresh (now < nextUpdate, and younger than crl_refresh); otherwise it downloads it again (libcurl, crl_timeout
 *   seconds, at most 4 MB, DER or PEM). After a failed download the URL is
 *   not tried again for crl_retry seconds, so a dead CRL server does not
 *   slow every request down; meanwhile the stale CRL (if any) is still
 *   handed out and OpenSSL reports it as expired, which cert.c turns into
 *   fail-closed or fail-open. The signature of a CRL is checked by OpenSSL
 *   against its issuer during chain verification, not here.
 *   Downloads happen under the store's lock: they are rare, and holding the
 *   lock makes concurrent misses for one URL one download.
 *
 *   The store's generation counter changes whenever a CRL is (re)loaded or
 *   a refresh fails, and kcd_crl_get() tells until when the CRL it handed
 *   out would be served again without a refresh; cert.c's verification
 *   cache keeps a verdict only while both stay the same, so a revocation
 *   the helper can see applies on the very next request.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <mailsso/util.h>
#include "kcd.h"

#define CRL_MAX_BYTES (4 * 1024 * 1024)

typedef struct crl_entry {
    char *url;
    X509_CRL *crl;
    time_t next_update;
    time_t fetched;
    time_t last_fail;
    char last_error[256];
    struct crl_entry *next;
} crl_entry;

struct kcd_crl_store {
    pthread_mutex_t lock;
    const kcd_settings *s;
    const mailsso_logger *lg;
    crl_entry *head;
    unsigned long long generation;   /* bumped (atomically) on every load or failed refresh */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
kcd_crl_store_new(const kcd_settings *s, const mailsso_logger *lg, kcd_crl_store **out)
{
    kcd_crl_store *cs = calloc(1, sizeof(*cs));
    if (cs == NULL)
        return MAILSSO_E_NOMEM;
    pthread_once(&curl_once, curl_init_once);
    pthread_mutex_init(&cs->lock, NULL);
    cs->s = s;
    cs->lg = lg;
    *out = cs;
    return 0;
}

void
kcd_crl_store_free(kcd_crl_store *cs)
{
    if (cs == NULL)
        return;
    for (crl_entry *e = cs->head, *n; e != NULL; e = n) {
        n = e->next;
        X509_CRL_free(e->crl);
        free(e->url);
        free(e);
    }
    pthread_mutex_destroy(&cs->lock);
    free(cs);
}

typedef struct membuf {
    unsigned char *data;
    size_t len;
    int too_big;
} membuf;

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    membuf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > CRL_MAX_BYTES) {
        b->too_big = 1;
        return 0;
    }
    unsigned char *nd = realloc(b->data, b->len + n + 1);
    if (nd == NULL)
        return 0;
    memcpy(nd + b->len, ptr, n);
    b->data = nd;
    b->len += n;
    return n;
}

static int
download(const kcd_crl_store *cs, const char *url, X509_CRL **crl_out, char *why, size_t wsize)
{
    CURL *h = curl_easy_init();
    membuf b = { NULL, 0, 0 };
    char errbuf[CURL_ERROR_SIZE] = "";
    long code = 0;
    CURLcode cc;
    X509_CRL *crl = NULL;
    BIO *bio = NULL;
    int rc = -1;
    long timeout = cs->s->crl_timeout > 0 ? (long)cs->s->crl_timeout : 5;
    char fileurl[1100];

    if (h == NULL) {
        snprintf(why, wsize, "%s: curl_easy_init failed", url);
        return -1;
    }
    if (url[0] == '/') {
        /* a plain path from kcd.crl_urls */
        snprintf(fileurl, sizeof(fileurl), "file://%s", url);
        curl_easy_setopt(h, CURLOPT_URL, fileurl);
    } else {
        curl_easy_setopt(h, CURLOPT_URL, url);
    }
    /* file:// only comes from kcd.crl_urls: certificate CDPs are http(s) only (cert.c) */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mailsso-kcd/" PACKAGE_VERSION);
    kcd_count(&kcd_stats.crl_fetches);
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(why, wsize, "CRL %s: %s", url,
                 b.too_big ? "larger than 4 MB" : (errbuf[0] ? errbuf : curl_easy_strerror(cc)));
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200 && !(code == 0 && (url[0] == '/' || strncmp(url, "file:", 5) == 0))) {
        snprintf(why, wsize, "CRL %s: HTTP status %ld", url, code);
        goto done;
    }
    bio = BIO_new_mem_buf(b.data, (int)b.len);
    if (bio == NULL)
        goto done;
    if (b.len > 10 && memmem(b.data, b.len, "-----BEGIN", 10) != NULL)
        crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    else
        crl = d2i_X509_CRL_bio(bio, NULL);
    if (crl == NULL) {
        snprintf(why, wsize, "CRL %s: not a DER or PEM CRL (%zu bytes)", url, b.len);
        ERR_clear_error();
        goto done;
    }
    *crl_out = crl;
    crl = NULL;
    rc = 0;
done:
    X509_CRL_free(crl);
    BIO_free(bio);
    free(b.data);
    curl_easy_cleanup(h);
    return rc;
}

static time_t
asn1_epoch(const ASN1_TIME *t)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

/* When e stops being served as is (nextUpdate or crl_refresh); 0 = never. */
static time_t
due_time(const kcd_crl_store *cs, const crl_entry *e)
{
    time_t due = e->next_update;
    if (cs->s->crl_refresh > 0 && (due == 0 || e->fetched + cs->s->crl_refresh < due))
        due = e->fetched + (time_t)cs->s->crl_refresh;
    return due;
}

/* With cs->lock held. */
static int
get_locked(kcd_crl_store *cs, const char *url, X509_CRL **crl_out, time_t *due_out, char *why,
           size_t wsize)
{
    crl_entry *e;
    time_t now = time(NULL);
    X509_CRL *fresh = NULL;
    char err[256] = "";

    for (e = cs->head; e != NULL; e = e->next)
        if (strcmp(e->url, url) == 0)
            break;
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL || (e->url = strdup(url)) == NULL) {
            free(e);
            snprintf(why, wsize, "out of memory");
            return -1;
        }
        e->next = cs->head;
        cs->head = e;
    }
    if (e->crl != NULL && (e->next_update == 0 || now < e->next_update) &&
        (cs->s->crl_refresh <= 0 || now - e->fetched < cs->s->crl_refresh)) {
        *crl_out = e->crl;
        if (due_out != NULL)
            *due_out = due_time(cs, e);
        return 0;
    }
    if (e->last_fail != 0 && now - e->last_fail < (cs->s->crl_retry > 0 ? cs->s->crl_retry : 0)) {
        snprintf(why, wsize, "%s (not retried for %llds)", e->last_error,
                 (long long)(cs->s->crl_retry - (now - e->last_fail)));
        *crl_out = e->crl;
        return e->crl ? -2 : -1;
    }
    if (download(cs, url, &fresh, err, sizeof(err)) != 0) {
        __atomic_add_fetch(&cs->generation, 1, __ATOMIC_RELEASE);
        e->last_fail = now;
        mailsso_strlcpy(e->last_error, err, sizeof(e->last_error));
        mailsso_log(cs->lg, MAILSSO_LOG_WARN, "%s%s", err,
                    e->crl ? " (keeping the previous CRL, which is past its nextUpdate)" : "");
        snprintf(why, wsize, "%s", err);
        *crl_out = e->crl;
        return e->crl ? -2 : -1;
    }
    X509_CRL_free(e->crl);
    __atomic_add_fetch(&cs->generation, 1, __ATOMIC_RELEASE);
    e->crl = fresh;
    e->fetched = now;
    e->last_fail = 0;
    e->last_error[0] = '\0';
    e->next_update = asn1_epoch(X509_CRL_get0_nextUpdate(fresh));
    mailsso_log(cs->lg, MAILSSO_LOG_INFO, "CRL %s loaded: %d revoked, next update in %llds",
                url, X509_CRL_get_REVOKED(fresh) ? sk_X509_REVOKED_num(X509_CRL_get_REVOKED(fresh)) : 0,
                e->next_update ? (long long)(e->next_update - now) : -1LL);
    *crl_out = e->crl;
    if (due_out != NULL)
        *due_out = due_time(cs, e);
    return 0;
}

unsigned long long
kcd_crl_generation(kcd_crl_store *cs)
{
    /* Lock-free: a download may hold cs->lock for crl_timeout seconds. */
    return __atomic_load_n(&cs->generation, __ATOMIC_ACQUIRE);
}

int
kcd_crl_get(kcd_crl_store *cs, const char *url, STACK_OF(X509_CRL) *crls_out, time_t *due_out,
            unsigned long long *gen_io, char *why_buf, size_t why_size)
{
    X509_CRL *crl = NULL;
    int rc, same;

    pthread_mutex_lock(&cs->lock);
    /* Did anybody else change the store since the caller's previous call? */
    same = gen_io != NULL && *gen_io != KCD_CRL_GEN_CHANGED &&
           (*gen_io == KCD_CRL_GEN_START || *gen_io == cs->generation);
    rc = get_locked(cs, url, &crl, due_out, why_buf, why_size);
    if (gen_io != NULL)
        *gen_io = same ? cs->generation : KCD_CRL_GEN_CHANGED;
    if (crl != NULL) {
        X509_CRL_up_ref(crl);
        if (!sk_X509_CRL_push(crls_out, crl))
            X509_CRL_free(crl);
    }
    pthread_mutex_unlock(&cs->lock);
    return rc;
}

int
kcd_crl_prefetch(kcd_crl_store *cs, const char *const *urls, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        X509_CRL *crl = NULL;
        char why[512];
        pthread_mutex_lock(&cs->lock);
        if (get_locked(cs, urls[i], &crl, NULL, why, sizeof(why)) == -1)
            bad++;
        pthread_mutex_unlock(&cs->lock);
    }
    return bad;
}
