/*
 * NAME
 *   kcd.h - internals of mailsso-kcd (client certificate -> S4U -> Negotiate)
 *
 * SYNOPSIS
 *   kcd_settings *s = NULL;    kcd_settings_load(path, &s, &err);
 *   kcd_runtime *rt = NULL;    kcd_runtime_new(s, &lg, &rt, &err);
 *   kcd_result r;              kcd_authorize(rt, pem, pem_len, target, &r);
 *
 * DESCRIPTION
 *   The helper is split into small modules, all private to kcd/:
 *     settings.c  the "kcd" group of mailsso.conf, read into one struct
 *     cert.c      X.509 checks (chain, dates, EKU, thumbprints, CRLs) and
 *                 certificate -> principal mapping (UPN SAN, e-mail SAN)
 *     crl.c       CRL download (libcurl), cache refreshed by nextUpdate
 *     s4u.c       gateway credentials, S4U2Self, S4U2Proxy, token minting
 *     cache.c     per (principal, cert fingerprint, target) credential cache:
 *                 LRU bounded, single-flight misses, short negative entries
 *     authz.c     one request end to end -> kcd_result (status + header + log)
 *     server.c    libmicrohttpd on a Unix socket, peer check, health
 *     main.c      subcommands serve / token / doctor / --check-config
 *
 *   A failure is always a kcd_result with an HTTP status (403 user's fault,
 *   502 gateway misconfiguration, 503 + Retry-After when a KDC or CRL server
 *   is down), a short cause name used for the counters, and one log line
 *   "cause ...; fix ..." that tells the admin what to do.
 */
#ifndef MAILSSO_KCD_H
#define MAILSSO_KCD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <gssapi/gssapi.h>
#include <openssl/x509.h>
#include <mailsso/config.h>
#include <mailsso/error.h>
#include <mailsso/log.h>

#define KCD_PROG "mailsso-kcd"
#define KCD_FPR_HEX 65          /* SHA-256 as lower-case hex + NUL */
#define KCD_PRINC_MAX 512
#define KCD_TEXT_MAX 1024

/* ------------------------------------------------------------ settings */
typedef struct kcd_settings {
    mailsso_config *cfg;                 /* owns every string below */
    const char *config_path;

    const char *socket_path;
    long long socket_mode;
    const char *socket_group;
    const char *const *allowed_peers; size_t n_allowed_peers;
    const char *user;
    long long threads;
    long long max_request_bytes;
    long long max_token_bytes;
    long long retry_after;
    long long kdc_timeout;               /* seconds a request waits for S4U */

    const char *keytab;
    const char *gateway_principal;       /* may be "" -> first keytab entry */
    const char *mech;                    /* "spnego" or "krb5" */
    const char *default_target;
    const char *const *targets; size_t n_targets;        /* "host = HTTP@backend" */
    const char *const *upn_realms; size_t n_upn_realms;  /* "example.test = EXAMPLE.TEST" */
    const char *const *subject_rules; size_t n_subject_rules; /* "DN = principal" */

    const char *trust_anchors;
    const char *intermediates;
    const char *const *eku; size_t n_eku;
    const char *const *thumbprint_allow; size_t n_thumbprint_allow;
    const char *const *thumbprint_deny; size_t n_thumbprint_deny;

    int crl_fail_open;                   /* crl_fail_mode = "open" */
    const char *const *crl_urls; size_t n_crl_urls;
    int crl_required_at_start;
    long long crl_timeout;
    long long crl_retry;
    long long crl_refresh;

    long long cache_size;
    long long cache_max_lifetime;
    long long cache_margin;
    long long negative_ttl;
    long long verify_cache_ttl;          /* 0: every request verifies in full */

    const char *log_level;
} kcd_settings;

int kcd_settings_load(const char *path, kcd_settings **out, mailsso_error *err);
void kcd_settings_free(kcd_settings *s);

/* ------------------------------------------------------------ results */
typedef enum kcd_status {
    KCD_OK = 200,
    KCD_BAD_REQUEST = 400,
    KCD_FORBIDDEN = 403,
    KCD_BAD_GATEWAY = 502,
    KCD_UNAVAILABLE = 503
} kcd_status;

typedef struct kcd_result {
    int status;
    const char *cause_name;              /* static: "revoked", "kdc_unreachable", ... */
    char principal[KCD_PRINC_MAX];       /* mapped user, when known */
    char message[KCD_TEXT_MAX];          /* cause, in plain words */
    char fix[KCD_TEXT_MAX];              /* what to do */
    char *header;                        /* "Negotiate <b64>" on success (owned) */
    int cache_hit;
} kcd_result;

void kcd_result_init(kcd_result *r);
void kcd_result_clear(kcd_result *r);
/* Sets status, cause name, message (printf) unless a failure is already set. */
void kcd_fail(kcd_result *r, int status, const char *cause_name, const char *fmt, ...)
    MAILSSO_PRINTF(4, 5);
void kcd_fix(kcd_result *r, const char *fmt, ...) MAILSSO_PRINTF(2, 3);

/* ------------------------------------------------------------ counters */
enum { KCD_CAUSES_MAX = 48 };
typedef struct kcd_counters {
    pthread_mutex_t lock;
    unsigned long long requests, ok, cache_hits, kdc_calls, crl_fetches, verify_cache_hits;
    const char *cause[KCD_CAUSES_MAX];
    unsigned long long count[KCD_CAUSES_MAX];
} kcd_counters;

extern kcd_counters kcd_stats;
void kcd_count(unsigned long long *field);
void kcd_count_failure(const char *cause_name);
/* JSON object of all counters into a malloc'd string. */
char *kcd_stats_json(void);

/* ------------------------------------------------------------ CRLs */
typedef struct kcd_crl_store kcd_crl_store;
int kcd_crl_store_new(const kcd_settings *s, const mailsso_logger *lg, kcd_crl_store **out);
void kcd_crl_store_free(kcd_crl_store *cs);
/* Fetches (or refreshes) every URL given; returns the number that could not be
 * had (neither fresh nor cached). */
int kcd_crl_prefetch(kcd_crl_store *cs, const char *const *urls, size_t n);
/* Adds to crls_out (caller's stack, refs taken) the CRL for url, fetching or
 * refreshing it when needed. 0 ok, -1 unavailable (why in why_buf), -2
 * available but stale (nextUpdate passed, refresh failed). On 0, *due_out
 * (may be NULL) is when that CRL will next be refreshed (0: never).
 * gen_io (may be NULL) tracks a series of calls: start it at
 * KCD_CRL_GEN_START; after each call it holds the store's generation, or
 * KCD_CRL_GEN_CHANGED once the store changed between two calls other than
 * by this series' own downloads (then an earlier CRL may be outdated). */
#define KCD_CRL_GEN_START (~0ULL - 1)
#define KCD_CRL_GEN_CHANGED (~0ULL)
int kcd_crl_get(kcd_crl_store *cs, const char *url, STACK_OF(X509_CRL) *crls_out,
                time_t *due_out, unsigned long long *gen_io, char *why_buf, size_t why_size);
/* Changes whenever any CRL of the store is (re)loaded or a refresh fails. */
unsigned long long kcd_crl_generation(kcd_crl_store *cs);

/* ------------------------------------------------------------ certificates */
typedef struct kcd_certcheck kcd_certcheck;
typedef struct kcd_cert_info {
    char fingerprint[KCD_FPR_HEX];       /* SHA-256 of the DER leaf */
    char subject[512];
    char serial[128];
    time_t not_after;
    char principal[KCD_PRINC_MAX];       /* mapped principal */
    int crl_skipped;                     /* fail-open: a CRL was missing */
} kcd_cert_info;

int kcd_certcheck_new(const kcd_settings *s, kcd_crl_store *crls, kcd_certcheck **out,
                      mailsso_error *err);
void kcd_certcheck_free(kcd_certcheck *cc);
/* URL-decodes (nginx $ssl_client_escaped_cert) when needed, parses PEM (or
 * DER), validates and maps. Fills r on failure and returns -1. */
int kcd_cert_verify(kcd_certcheck *cc, const char *pem, size_t len, const char *gateway,
                    kcd_cert_info *info, kcd_result *r);
/* CRL URLs of the configured intermediates + crl_urls (for prefetch/doctor). */
size_t kcd_certcheck_crl_urls(kcd_certcheck *cc, const char *const **urls_out);

/* UPN suffix -> realm mapping; exposed for doctor. 0 and realm, or -1. */
int kcd_map_upn(const kcd_settings *s, const char *upn, char *principal, size_t size,
                kcd_result *r);

/* ------------------------------------------------------------ S4U */
typedef struct kcd_gateway kcd_gateway;
int kcd_gateway_new(const kcd_settings *s, kcd_gateway **out, kcd_result *r);
void kcd_gateway_free(kcd_gateway *gw);
/* Display name of the gateway principal ("HTTP/gw.example.test@EXAMPLE.TEST"). */
const char *kcd_gateway_name(const kcd_gateway *gw);
/* S4U2Self for principal; *cred_out is the impersonated credential, *end_out
 * its end time (epoch). Failures fill r. */
int kcd_s4u_impersonate(kcd_gateway *gw, const char *principal, gss_cred_id_t *cred_out,
                        time_t *end_out, kcd_result *r);
/* A fresh "Negotiate <b64>" for target (hostbased "HTTP@host"); the first
 * call per target does S4U2Proxy, later calls use the cached ticket. */
int kcd_s4u_token(kcd_gateway *gw, gss_cred_id_t cred, const char *principal,
                  const char *target, char **header_out, kcd_result *r);
int kcd_gateway_refresh(kcd_gateway *gw, kcd_result *r);
/* KDC clock minus ours at the last TGT (seconds); *tgt_end_out its end. */
long long kcd_gateway_skew(const kcd_gateway *gw, time_t *tgt_end_out);

/* ------------------------------------------------------------ cred cache */
typedef struct kcd_cache kcd_cache;
/* At most this many S4U acquisitions (worker threads) run at once; a further
 * miss is refused with 503 kdc_busy. */
#define KCD_KDC_MAX_JOBS 64
int kcd_cache_new(size_t max_entries, size_t max_jobs, long long kdc_timeout,
                  time_t negative_ttl, kcd_cache **out);
void kcd_cache_free(kcd_cache *c);
size_t kcd_cache_size(kcd_cache *c);

/* ------------------------------------------------------------ runtime */
typedef struct kcd_runtime {
    kcd_settings *s;
    mailsso_logger lg;
    kcd_crl_store *crls;
    kcd_certcheck *cc;
    kcd_gateway *gw;
    kcd_cache *cache;
    int refs;                            /* guarded by the server's lock */
} kcd_runtime;

int kcd_runtime_new(kcd_settings *s, const mailsso_logger *lg, int gateway_required,
                    kcd_runtime **out, mailsso_error *err);
void kcd_runtime_free(kcd_runtime *rt);

/* One request end to end. The backend service: target if given (must be
 * configured), else kcd.targets looked up by host, else default_target.
 * Logs the outcome. Blocks while the KDC is asked (at most kdc_timeout). */
void kcd_authorize(kcd_runtime *rt, const char *cert, size_t cert_len, const char *target,
                   const char *host, const char *peer, kcd_result *r);

/* The same without blocking a request-serving thread: 0 done (r final and
 * logged); 1 waiting for the KDC (*q_out set): notify(arg) is called once,
 * from another thread, when the credential is there, failed, or
 * kdc_timeout passed; then kcd_authorize_resume() (0 or 1 again). The
 * runtime must stay alive until the request is done; kcd_request_free()
 * accepts NULL. */
typedef struct kcd_request kcd_request;
typedef void (*kcd_notify_fn)(void *arg);
int kcd_authorize_start(kcd_runtime *rt, const char *cert, size_t cert_len, const char *target,
                        const char *host, const char *peer, kcd_notify_fn notify, void *arg,
                        kcd_request **q_out, kcd_result *r);
int kcd_authorize_resume(kcd_request *q, kcd_notify_fn notify, void *arg, kcd_result *r);
void kcd_request_free(kcd_request *q);
/* Ends every wait at once (as timed out): before the server stops. */
void kcd_runtime_wake_all(kcd_runtime *rt);

/* ------------------------------------------------------------ server */
int kcd_serve(const char *config_path, int foreground, const mailsso_logger *lg);
int kcd_doctor(const char *config_path, const mailsso_logger *lg, const char *cert_path,
               const char *user, const char *target);
int kcd_token(const char *config_path, const mailsso_logger *lg, const char *cert_path,
              const char *target, int value_only);
/* Reads a whole (small) file; NUL-terminated. */
int kcd_read_file(const char *path, char **data_out, size_t *len_out, mailsso_error *err);

/* base64 of len bytes into a new string. */
char *kcd_base64(const void *data, size_t len);

#endif
