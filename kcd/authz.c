/*
 * NAME
 *   authz.c - one authorization request end to end, results and counters
 *
 * DESCRIPTION
 *   kcd_authorize_start()/_resume() (kcd_authorize() blocking): target
 *   check -> certificate checks and mapping -> credential cache (S4U2Self +
 *   S4U2Proxy on a miss, on a worker thread, waited for at most
 *   kcd.kdc_timeout: then 503 kdc_timeout) -> a fresh Negotiate token.
 *   Every outcome is logged on one line: allowed (INFO) or refused
 *   (WARN for 403, ERR for 5xx) with "[status cause]", the certificate's
 *   subject, serial and SHA-256, the target, and "cause ...; fix ...".
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mailsso/log.h>
#include <mailsso/util.h>
#include "cache.h"
#include "kcd.h"

kcd_counters kcd_stats = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ------------------------------------------------------------ results */
void
kcd_result_init(kcd_result *r)
{
    memset(r, 0, sizeof(*r));
}

void
kcd_result_clear(kcd_result *r)
{
    if (r->header != NULL)
        mailsso_zfree(r->header, strlen(r->header));
    kcd_result_init(r);
}

void
kcd_fail(kcd_result *r, int status, const char *cause_name, const char *fmt, ...)
{
    va_list ap;
    if (r == NULL || r->status != 0)
        return;
    r->status = status;
    r->cause_name = cause_name;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    /* MIT texts may end in NUL or newline: keep the line clean. */
    for (char *p = r->message; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

void
kcd_fix(kcd_result *r, const char *fmt, ...)
{
    va_list ap;
    if (r == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(r->fix, sizeof(r->fix), fmt, ap);
    va_end(ap);
    for (char *p = r->fix; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* ------------------------------------------------------------ counters */
void
kcd_count(unsigned long long *field)
{
    pthread_mutex_lock(&kcd_stats.lock);
    (*field)++;
    pthread_mutex_unlock(&kcd_stats.lock);
}

void
kcd_count_failure(const char *cause_name)
{
    if (cause_name == NULL)
        cause_name = "unknown";
    pthread_mutex_lock(&kcd_stats.lock);
    for (int i = 0; i < KCD_CAUSES_MAX; i++) {
        if (kcd_stats.cause[i] == NULL)
            kcd_stats.cause[i] = cause_name;
        if (strcmp(kcd_stats.cause[i], cause_name) == 0) {
            kcd_stats.count[i]++;
            break;
        }
    }
    pthread_mutex_unlock(&kcd_stats.lock);
}

char *
kcd_stats_json(void)
{
    size_t size = 4096, len = 0;
    char *buf = malloc(size);
    if (buf == NULL)
        return NULL;
    pthread_mutex_lock(&kcd_stats.lock);
    len += (size_t)snprintf(buf + len, size - len,
                            "{\"status\":\"ok\",\"requests\":%llu,\"allowed\":%llu,"
                            "\"cache_hits\":%llu,\"kdc_calls\":%llu,\"crl_fetches\":%llu,"
                            "\"verify_cache_hits\":%llu,\"failures\":{",
                            kcd_stats.requests, kcd_stats.ok, kcd_stats.cache_hits,
                            kcd_stats.kdc_calls, kcd_stats.crl_fetches,
                            kcd_stats.verify_cache_hits);
    for (int i = 0; i < KCD_CAUSES_MAX && kcd_stats.cause[i] != NULL && len < size - 64; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s\"%s\":%llu", i ? "," : "",
                                kcd_stats.cause[i], kcd_stats.count[i]);
    pthread_mutex_unlock(&kcd_stats.lock);
    snprintf(buf + len, size - len, "}}\n");
    return buf;
}

/* ------------------------------------------------------------ runtime */
int
kcd_runtime_new(kcd_settings *s, const mailsso_logger *lg, int gateway_required,
                kcd_runtime **out, mailsso_error *err)
{
    kcd_runtime *rt = calloc(1, sizeof(*rt));
    kcd_result r;
    int rc;

    if (rt == NULL)
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
    rt->s = s;
    rt->lg = *lg;
    kcd_result_init(&r);
    rc = kcd_crl_store_new(s, &rt->lg, &rt->crls);
    if (rc == 0)
        rc = kcd_certcheck_new(s, rt->crls, &rt->cc, err);
    if (rc == 0)
        rc = kcd_cache_new((size_t)(s->cache_size > 0 ? s->cache_size : 1), KCD_KDC_MAX_JOBS,
                           s->kdc_timeout, (time_t)s->negative_ttl, &rt->cache);
    if (rc != 0) {
        mailsso_error_set(err, rc, "out of memory");
        goto fail;
    }
    if (kcd_gateway_new(s, &rt->gw, &r) != 0) {
        if (gateway_required) {
            rc = mailsso_error_set(err, MAILSSO_E_KRB5, "[%d %s] %s", r.status, r.cause_name,
                                   r.message);
            mailsso_error_set_fix(err, "%s", r.fix);
            goto fail;
        }
        mailsso_log(&rt->lg, MAILSSO_LOG_ERR, "[%d %s] %s; fix: %s (will retry per request)",
                    r.status, r.cause_name, r.message, r.fix);
    }
    *out = rt;
    return 0;
fail:
    rt->s = NULL;     /* the caller still owns s on failure */
    kcd_runtime_free(rt);
    return rc;
}

static void
runtime_free_now(void *p)
{
    kcd_runtime *rt = p;
    kcd_cache_free(rt->cache);          /* user creds before the gateway's */
    kcd_gateway_free(rt->gw);
    kcd_certcheck_free(rt->cc);
    kcd_crl_store_free(rt->crls);
    kcd_settings_free(rt->s);
    free(rt);
}

void
kcd_runtime_free(kcd_runtime *rt)
{
    if (rt == NULL)
        return;
    /* S4U workers still waiting for the KDC use the gateway and settings:
     * the last of them frees the runtime. */
    if (kcd_cache_defer_free(rt->cache, runtime_free_now, rt))
        return;
    runtime_free_now(rt);
}

void
kcd_runtime_wake_all(kcd_runtime *rt)
{
    if (rt != NULL)
        kcd_cache_wake_all(rt->cache);
}

/* ------------------------------------------------------------ one request */
/* What a worker thread needs to fill a cache entry: its own copies. */
typedef struct fill_job {
    kcd_runtime *rt;
    char principal[KCD_PRINC_MAX];
    char target[512];
    time_t not_after;
} fill_job;

struct kcd_request {
    kcd_runtime *rt;
    kcd_cert_info info;
    char key[KCD_PRINC_MAX + KCD_FPR_HEX + 600];
    char target[512];
    char tclean[300];
    char peer[64];
    int attempt;
    int waiting;
    kcd_cache_wait wait;
};

static void *
job_new(void *ctx)
{
    const kcd_request *q = ctx;
    fill_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->rt = q->rt;
    mailsso_strlcpy(j->principal, q->info.principal, sizeof(j->principal));
    mailsso_strlcpy(j->target, q->target, sizeof(j->target));
    j->not_after = q->info.not_after;
    return j;
}

static void
job_free(void *p)
{
    free(p);
}

/* On a worker thread: S4U2Self + S4U2Proxy (inside the first token). */
static int
fill(void *argp, gss_cred_id_t *cred_out, time_t *expires_out, char **header_out, kcd_result *r)
{
    fill_job *a = argp;
    const kcd_settings *s = a->rt->s;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    time_t end = 0, now = time(NULL), exp;
    char *header = NULL;
    OM_uint32 minor;

    if (a->rt->gw == NULL) {
        kcd_gateway *gw = NULL;
        /* Start-up failed (KDC down?): try again now. Two workers may race
         * here: the loser frees its gateway. */
        if (kcd_gateway_new(s, &gw, r) != 0)
            return -1;
        if (!__sync_bool_compare_and_swap(&a->rt->gw, NULL, gw))
            kcd_gateway_free(gw);
    }
    /* The authoritative own-principal check: the certificate check could not
     * make it while the gateway was down, and impersonating ourselves would
     * hand a client the gateway's own identity at the backend. */
    if (strcmp(a->principal, kcd_gateway_name(a->rt->gw)) == 0) {
        kcd_fail(r, KCD_FORBIDDEN, "own_principal",
                 "certificate maps to the gateway's own principal %s",
                 kcd_gateway_name(a->rt->gw));
        kcd_fix(r, "never issue user certificates naming a service account");
        return -1;
    }
    if (kcd_s4u_impersonate(a->rt->gw, a->principal, &cred, &end, r) != 0)
        return -1;
    kcd_count(&kcd_stats.kdc_calls);     /* S4U2Proxy inside the first token */
    if (kcd_s4u_token(a->rt->gw, cred, a->principal, a->target, &header, r) != 0) {
        gss_release_cred(&minor, &cred);
        return -1;
    }
    exp = end - (s->cache_margin > 0 ? s->cache_margin : 0);
    if (a->not_after > 0 && a->not_after < exp)
        exp = a->not_after;
    if (s->cache_max_lifetime > 0 && now + s->cache_max_lifetime < exp)
        exp = now + s->cache_max_lifetime;
    if (exp < now)
        exp = now;
    *cred_out = cred;
    *expires_out = exp;
    *header_out = header;
    return 0;
}

static int
target_ok(const char *t)
{
    if (strchr(t, '@') == NULL || t[0] == '@' || strlen(t) > 255)
        return 0;
    for (const char *p = t; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '\\')
            return 0;
    return 1;
}

/* Splits "left = right" into trimmed copies; 0 or -1. */
static int
split_pair(const char *item, char *left, size_t lsize, char *right, size_t rsize)
{
    const char *eq = strchr(item, '=');
    size_t n;
    if (eq == NULL)
        return -1;
    while (*item == ' ' || *item == '\t')
        item++;
    n = (size_t)(eq - item);
    while (n > 0 && (item[n - 1] == ' ' || item[n - 1] == '\t'))
        n--;
    if (n >= lsize)
        return -1;
    memcpy(left, item, n);
    left[n] = '\0';
    eq++;
    while (*eq == ' ' || *eq == '\t')
        eq++;
    mailsso_strlcpy(right, eq, rsize);
    for (n = strlen(right); n > 0 && (right[n - 1] == ' ' || right[n - 1] == '\t'); n--)
        right[n - 1] = '\0';
    return 0;
}

static int
host_matches(const char *pattern, const char *host)
{
    size_t hl = strlen(host), pl = strlen(pattern);
    if (hl > 0 && host[hl - 1] == '.')
        hl--;
    if (strcmp(pattern, "*") == 0)
        return 1;
    if (pattern[0] == '*' && pattern[1] == '.') {
        pl -= 1;      /* ".example.com" */
        return hl > pl && strncasecmp(host + hl - pl, pattern + 1, pl) == 0;
    }
    return pl == hl && strncasecmp(pattern, host, hl) == 0;
}

/* The backend service for this request: an explicit target must be one the
 * configuration names; a host is looked up in kcd.targets; else
 * default_target. Fills buf or r. */
static int
choose_target(const kcd_settings *s, const char *target, const char *host, char *buf,
              size_t size, kcd_result *r)
{
    char left[256], right[512], clean[300];

    if (target != NULL && target[0] != '\0') {
        int ok = strcmp(target, s->default_target) == 0;
        for (size_t i = 0; i < s->n_targets && !ok; i++)
            ok = split_pair(s->targets[i], left, sizeof(left), right, sizeof(right)) == 0 &&
                 strcmp(right, target) == 0;
        if (!ok) {
            mailsso_log_sanitize(target, strlen(target), clean, sizeof(clean));
            kcd_fail(r, KCD_BAD_GATEWAY, "target_not_allowed",
                     "target %s (X-Kcd-Target) is neither kcd.default_target nor in "
                     "kcd.targets", clean);
            kcd_fix(r, "add it to kcd.targets (\"host = %s\") if the gateway may serve it", clean);
            return -1;
        }
        mailsso_strlcpy(buf, target, size);
        return 0;
    }
    if (host != NULL && host[0] != '\0') {
        char h[256];
        mailsso_strlcpy(h, host, sizeof(h));
        char *colon = strrchr(h, ':');          /* Host: name:port */
        if (colon != NULL && strchr(h, ']') == NULL)
            *colon = '\0';
        for (size_t i = 0; i < s->n_targets; i++) {
            if (split_pair(s->targets[i], left, sizeof(left), right, sizeof(right)) == 0 &&
                host_matches(left, h)) {
                mailsso_strlcpy(buf, right, size);
                return 0;
            }
        }
    }
    if (s->default_target[0] == '\0') {
        if (host != NULL)
            mailsso_log_sanitize(host, strlen(host), clean, sizeof(clean));
        kcd_fail(r, KCD_BAD_GATEWAY, "no_target",
                 "no kcd.targets entry for host '%s' and no kcd.default_target",
                 host ? clean : "");
        kcd_fix(r, "set default_target (e.g. \"HTTP@mail.example.com\") or add "
                "\"host = HTTP@backend\" to kcd.targets");
        return -1;
    }
    mailsso_strlcpy(buf, s->default_target, size);
    return 0;
}

static void
log_outcome(kcd_request *q, kcd_result *r)
{
    kcd_runtime *rt = q->rt;
    kcd_cert_info *info = &q->info;
    char subj[600];

    if (info->subject[0])
        mailsso_log_sanitize(info->subject, strlen(info->subject), subj, sizeof(subj));
    else
        mailsso_strlcpy(subj, "-", sizeof(subj));
    if (r->status == 0) {
        r->status = KCD_OK;
        kcd_count(&kcd_stats.ok);
        mailsso_log(&rt->lg, MAILSSO_LOG_INFO,
                    "allowed %s -> %s (%s; cert %s serial %s sha256 %s; peer %s)",
                    info->principal, q->tclean,
                    r->cache_hit ? "cache hit" : "S4U2Self+S4U2Proxy",
                    subj, info->serial, info->fingerprint, q->peer);
    } else {
        kcd_count_failure(r->cause_name);
        mailsso_log(&rt->lg, r->status >= 500 ? MAILSSO_LOG_ERR : MAILSSO_LOG_WARN,
                    "refused [%d %s] %s -> %s (cert %s serial %s sha256 %s; peer %s): "
                    "cause: %s; fix: %s",
                    r->status, r->cause_name ? r->cause_name : "unknown",
                    r->principal[0] ? r->principal : "-", q->tclean[0] ? q->tclean : "-", subj,
                    info->serial[0] ? info->serial : "-",
                    info->fingerprint[0] ? info->fingerprint : "-", q->peer, r->message,
                    r->fix[0] ? r->fix : "-");
    }
}

/* The cache part: 1 waiting (notify will be called), 0 done (r final). */
static int
step(kcd_request *q, kcd_notify_fn notify, void *arg, kcd_result *r)
{
    kcd_runtime *rt = q->rt;
    kcd_cache_ref ref;
    int rc;

    for (;;) {
        if (q->waiting) {
            q->waiting = 0;
            rc = kcd_cache_collect(rt->cache, &q->wait, &ref, r);
        } else {
            kcd_result_init(r);
            mailsso_strlcpy(r->principal, q->info.principal, sizeof(r->principal));
            rc = kcd_cache_lookup(rt->cache, q->key, fill, job_new, job_free, q, &q->wait,
                                  notify, arg, &ref, r);
            if (rc == KCD_CACHE_PENDING) {
                q->waiting = 1;
                return 1;
            }
        }
        if (rc != 0)
            return 0;
        if (ref.header != NULL) {
            r->header = ref.header;
            ref.header = NULL;
            kcd_cache_release(rt->cache, &ref);
            return 0;
        }
        r->cache_hit = 1;
        if (kcd_s4u_token(rt->gw, ref.cred, q->info.principal, q->target, &r->header, r) == 0) {
            kcd_count(&kcd_stats.cache_hits);
            kcd_cache_release(rt->cache, &ref);
            return 0;
        }
        /* The cached credential stopped working: forget it, try once more. */
        mailsso_log(&rt->lg, MAILSSO_LOG_INFO, "cached credential for %s failed (%s): retrying",
                    q->info.principal, r->message);
        kcd_cache_drop(rt->cache, &ref);
        kcd_cache_release(rt->cache, &ref);
        if (++q->attempt >= 2)
            return 0;
    }
}

void
kcd_request_free(kcd_request *q)
{
    if (q == NULL)
        return;
    if (q->waiting) {
        /* Never left waiting by the callers; be safe anyway. */
        kcd_cache_ref ref;
        kcd_result r;
        kcd_result_init(&r);
        if (kcd_cache_collect(q->rt->cache, &q->wait, &ref, &r) == 0) {
            if (ref.header != NULL)
                mailsso_zfree(ref.header, strlen(ref.header));
            kcd_cache_release(q->rt->cache, &ref);
        }
    }
    free(q);
}

int
kcd_authorize_start(kcd_runtime *rt, const char *cert, size_t cert_len, const char *req_target,
                    const char *host, const char *peer, kcd_notify_fn notify, void *arg,
                    kcd_request **q_out, kcd_result *r)
{
    const kcd_settings *s = rt->s;
    kcd_request *q;

    *q_out = NULL;
    kcd_result_init(r);
    kcd_count(&kcd_stats.requests);
    q = calloc(1, sizeof(*q));
    if (q == NULL) {
        kcd_fail(r, KCD_UNAVAILABLE, "internal", "out of memory");
        kcd_count_failure(r->cause_name);
        return 0;
    }
    q->rt = rt;
    mailsso_strlcpy(q->peer, peer ? peer : "-", sizeof(q->peer));
    if (choose_target(s, req_target, host, q->target, sizeof(q->target), r) != 0)
        goto done;
    mailsso_log_sanitize(q->target, strlen(q->target), q->tclean, sizeof(q->tclean));
    if (!target_ok(q->target)) {
        kcd_fail(r, KCD_BAD_GATEWAY, "bad_target",
                 "target '%s' is not service@host or service/host@REALM", q->tclean);
        kcd_fix(r, "write targets like HTTP@mail.example.com");
        goto done;
    }
    /* While the gateway is down, the configured name stands in for it (fill()
     * checks again against the real name before any S4U). */
    if (kcd_cert_verify(rt->cc, cert, cert_len,
                        rt->gw ? kcd_gateway_name(rt->gw) : rt->s->gateway_principal,
                        &q->info, r) != 0)
        goto done;
    if (q->info.crl_skipped)
        mailsso_log(&rt->lg, MAILSSO_LOG_WARN,
                    "revocation of %s (sha256 %s) not checked: CRL unavailable and "
                    "crl_fail_mode = open", q->info.principal, q->info.fingerprint);
    snprintf(q->key, sizeof(q->key), "%s\n%s\n%s", q->info.principal, q->info.fingerprint,
             q->target);
    if (step(q, notify, arg, r) == 1) {
        *q_out = q;
        return 1;
    }
done:
    log_outcome(q, r);
    kcd_request_free(q);
    return 0;
}

int
kcd_authorize_resume(kcd_request *q, kcd_notify_fn notify, void *arg, kcd_result *r)
{
    if (step(q, notify, arg, r) == 1)
        return 1;
    log_outcome(q, r);
    return 0;
}

void
kcd_authorize(kcd_runtime *rt, const char *cert, size_t cert_len, const char *req_target,
              const char *host, const char *peer, kcd_result *r)
{
    kcd_request *q = NULL;

    if (kcd_authorize_start(rt, cert, cert_len, req_target, host, peer, NULL, NULL, &q, r) == 0)
        return;
    do
        kcd_cache_wait_sync(rt->cache, &q->wait);
    while (kcd_authorize_resume(q, NULL, NULL, r) == 1);
    kcd_request_free(q);
}
