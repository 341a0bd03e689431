/*
 * NAME
 *   cache.c - impersonated credentials per (principal, cert fingerprint, target)
 *
 * DESCRIPTION
 *   A hash table plus an LRU list, bounded to max_entries. An entry is
 *     PENDING  a worker thread is talking to the KDC for it (S4U2Self +
 *              S4U2Proxy); requests wait for it (single flight: N
 *              concurrent misses for one user make one S4U2Self + one
 *              S4U2Proxy);
 *     READY    a credential, valid until `expires` (the filler computes
 *              min(ticket end - margin, certificate notAfter, cap));
 *     FAILED   the failure, replayed until `expires` (negative_ttl) so a
 *              misconfiguration does not hammer the KDC.
 *   KDC calls block (MIT krb5 retries a KDC that does not answer for about
 *   a minute), so they never run on a request-serving thread: a miss
 *   starts a detached worker thread (at most max_jobs at once, beyond that
 *   a miss is refused with 503 kdc_busy) and the request registers a
 *   waiter. A waiter is told once, through its notify function (libmicro-
 *   httpd resumes the suspended connection) or, without one, through the
 *   `done` condition variable, when the entry is complete or when
 *   kdc_timeout seconds have passed (the timer thread); a timed-out request
 *   gets 503 kdc_timeout while the worker goes on and fills the cache (or
 *   the negative cache) when the KDC answers.
 *   Entries are reference counted (lookups, waiters, the worker): eviction
 *   unlinks, the last holder frees. The credential is released with
 *   gss_release_cred (MIT credentials are safe to use from several
 *   threads).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mailsso/util.h>
#include "kcd.h"
#include "cache.h"

#define NBUCKETS 1024

enum { PENDING, READY, FAILED };

/* What a FAILED entry replays: allocated only for failures, so a READY
 * entry (the common case: one per cached user) does not carry ~2.6 KB of
 * empty message buffers. */
struct cached_failure {
    int status;
    const char *cause_name;          /* static */
    char *message;
    char *fix;
};

struct kcd_cache_entry {
    char *key;
    int state;
    int linked;
    int refs;
    int waiters;                     /* registered kcd_cache_wait */
    gss_cred_id_t cred;
    char *header;                    /* first token, for a request waiting at completion */
    time_t expires;
    struct cached_failure *failure;  /* FAILED entries only (NULL otherwise) */
    struct kcd_cache_entry *hnext;
    struct kcd_cache_entry *prev, *next;   /* LRU: head = most recent */
};

struct kcd_cache {
    pthread_mutex_t lock;
    pthread_cond_t done;             /* some waiter fired (synchronous waiters) */
    pthread_cond_t timer_cv;         /* CLOCK_MONOTONIC: waiters changed / stop */
    pthread_t timer;
    int stop;
    long long timeout;               /* kdc_timeout, seconds */
    time_t negative_ttl;
    size_t max_jobs, jobs;           /* worker threads running */
    void (*orphan_fn)(void *);       /* the last worker frees the owner */
    void *orphan_arg;
    kcd_cache_wait *waiters;         /* every waiter not yet fired */
    size_t max_entries, n;
    kcd_cache_entry *buckets[NBUCKETS];
    kcd_cache_entry *head, *tail;
};

static unsigned
hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NBUCKETS;
}

static void *timer_main(void *p);

int
kcd_cache_new(size_t max_entries, size_t max_jobs, long long timeout, time_t negative_ttl,
              kcd_cache **out)
{
    kcd_cache *c = calloc(1, sizeof(*c));
    pthread_condattr_t ca;
    if (c == NULL)
        return MAILSSO_E_NOMEM;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->done, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->timer_cv, &ca);
    pthread_condattr_destroy(&ca);
    c->max_entries = max_entries > 0 ? max_entries : 1;
    c->max_jobs = max_jobs > 0 ? max_jobs : 1;
    c->timeout = timeout > 0 ? timeout : 1;
    c->negative_ttl = negative_ttl;
    if (pthread_create(&c->timer, NULL, timer_main, c) != 0) {
        pthread_cond_destroy(&c->timer_cv);
        pthread_cond_destroy(&c->done);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return MAILSSO_E_NOMEM;
    }
    *out = c;
    return 0;
}

static void
entry_free(kcd_cache_entry *e)
{
    OM_uint32 minor;
    if (e == NULL)
        return;
    gss_release_cred(&minor, &e->cred);
    if (e->header != NULL)
        mailsso_zfree(e->header, strlen(e->header));
    if (e->failure != NULL) {
        free(e->failure->message);
        free(e->failure->fix);
        free(e->failure);
    }
    free(e->key);
    free(e);
}

static void
lru_unlink(kcd_cache *c, kcd_cache_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void
lru_front(kcd_cache *c, kcd_cache_entry *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

/* Unlink from table and LRU; free if nobody holds it. Lock held. */
static void
remove_entry(kcd_cache *c, kcd_cache_entry *e)
{
    kcd_cache_entry **pp = &c->buckets[hash(e->key)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    lru_unlink(c, e);
    e->linked = 0;
    c->n--;
    if (e->refs == 0)
        entry_free(e);
}

void
kcd_cache_free(kcd_cache *c)
{
    if (c == NULL)
        return;
    /* The owner made sure no worker runs (kcd_cache_defer_free) and no
     * request waits. */
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_signal(&c->timer_cv);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->timer, NULL);
    while (c->head)
        remove_entry(c, c->head);
    pthread_cond_destroy(&c->timer_cv);
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

size_t
kcd_cache_size(kcd_cache *c)
{
    size_t n;
    pthread_mutex_lock(&c->lock);
    n = c->n;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void
evict(kcd_cache *c)
{
    kcd_cache_entry *e = c->tail;
    while (c->n > c->max_entries && e != NULL) {
        kcd_cache_entry *prev = e->prev;
        if (e->state != PENDING)
            remove_entry(c, e);
        e = prev;
    }
}

/* ------------------------------------------------------------ waiters */
static void
mono_now(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
}

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void
wait_unlink(kcd_cache *c, kcd_cache_wait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        c->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

/* Registers w on the PENDING entry e (takes a reference). Lock held. */
static void
wait_register(kcd_cache *c, kcd_cache_entry *e, kcd_cache_wait *w, kcd_cache_notify_fn notify,
              void *arg)
{
    memset(w, 0, sizeof(*w));
    w->entry = e;
    w->notify = notify;
    w->arg = arg;
    mono_now(&w->deadline);
    w->deadline.tv_sec += (time_t)c->timeout;
    e->refs++;
    e->waiters++;
    w->next = c->waiters;
    if (c->waiters)
        c->waiters->prev = w;
    c->waiters = w;
    pthread_cond_signal(&c->timer_cv);
}

/* Marks w fired (how) and unlinks it; returns it when its notify must be
 * called after the lock is dropped (asynchronous waiters), else NULL.
 * Lock held. */
static kcd_cache_wait *
wait_fire(kcd_cache *c, kcd_cache_wait *w, int how)
{
    wait_unlink(c, w);
    w->fired = how;
    w->entry->waiters--;
    return w->notify != NULL ? w : NULL;
}

/* Calls the notify functions of a list built with fire_next, lock NOT held:
 * w may be freed by its owner as soon as its notify ran. */
static void
notify_list(kcd_cache_wait *w)
{
    while (w != NULL) {
        kcd_cache_wait *next = w->fire_next;
        kcd_cache_notify_fn fn = w->notify;
        void *arg = w->arg;
        fn(arg);
        w = next;
    }
}

/* Fires waiters whose deadline passed; sleeps until the next deadline. */
static void *
timer_main(void *p)
{
    kcd_cache *c = p;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        struct timespec now, next = { 0, 0 };
        kcd_cache_wait *w, *wn, *fire = NULL;
        int have_next = 0, fired = 0;
        mono_now(&now);
        for (w = c->waiters; w != NULL; w = wn) {
            wn = w->next;
            if (!ts_before(&now, &w->deadline)) {
                kcd_cache_wait *f = wait_fire(c, w, KCD_WAIT_TIMEOUT);
                fired = 1;
                if (f != NULL) {
                    f->fire_next = fire;
                    fire = f;
                }
            } else if (!have_next || ts_before(&w->deadline, &next)) {
                next = w->deadline;
                have_next = 1;
            }
        }
        if (fired) {
            pthread_cond_broadcast(&c->done);
            pthread_mutex_unlock(&c->lock);
            notify_list(fire);
            pthread_mutex_lock(&c->lock);
            continue;
        }
        if (have_next)
            pthread_cond_timedwait(&c->timer_cv, &c->lock, &next);
        else
            pthread_cond_wait(&c->timer_cv, &c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ------------------------------------------------------------ background fill */
typedef struct fill_job {
    kcd_cache *c;
    kcd_cache_entry *e;
    kcd_cache_fill_fn fill;
    kcd_cache_job_free_fn job_free;
    void *job;
} fill_job;

static struct cached_failure *
failure_new(const kcd_result *r)
{
    struct cached_failure *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->status = r->status ? r->status : KCD_UNAVAILABLE;
    f->cause_name = r->cause_name ? r->cause_name : "internal";
    f->message = strdup(r->message);
    f->fix = strdup(r->fix);
    if (f->message == NULL || f->fix == NULL) {
        free(f->message);
        free(f->fix);
        free(f);
        return NULL;
    }
    return f;
}

/* The entry's KDC work is over: READY or FAILED, the worker counted out
 * (in the same critical section, so that once a waiter can see the result
 * the owner may free the cache at once: the worker then touches nothing of
 * it any more), waiters told. 1: the owner was freed meanwhile and left it
 * to this worker (kcd_cache_defer_free). */
static int
complete(kcd_cache *c, kcd_cache_entry *e, int rc, gss_cred_id_t cred, time_t expires,
         char *header, const kcd_result *r)
{
    kcd_cache_wait *w, *wn, *fire = NULL;
    time_t now;
    int orphan;

    pthread_mutex_lock(&c->lock);
    now = time(NULL);
    if (rc == 0) {
        e->state = READY;
        e->cred = cred;
        e->expires = expires;
        /* The first token (made by S4U2Proxy) goes to a request waiting now;
         * nobody waiting: a token must not be kept to be used much later. */
        if (e->waiters > 0)
            e->header = header;
        else if (header != NULL)
            mailsso_zfree(header, strlen(header));
    } else {
        e->state = FAILED;
        e->expires = now + (c->negative_ttl > 0 ? c->negative_ttl : 0);
        e->failure = failure_new(r);
        /* Nothing to replay (negative cache off, or no memory): forget it;
         * the requests waiting now still get the failure (they hold refs). */
        if ((c->negative_ttl <= 0 || e->failure == NULL) && e->linked)
            remove_entry(c, e);
    }
    for (w = c->waiters; w != NULL; w = wn) {
        wn = w->next;
        if (w->entry == e) {
            kcd_cache_wait *f = wait_fire(c, w, KCD_WAIT_DONE);
            if (f != NULL) {
                f->fire_next = fire;
                fire = f;
            }
        }
    }
    e->refs--;                           /* the job's reference */
    if (!e->linked && e->refs == 0)
        entry_free(e);
    c->jobs--;
    orphan = c->orphan_fn != NULL && c->jobs == 0;
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->lock);
    notify_list(fire);
    return orphan;
}

static void *
job_main(void *p)
{
    fill_job *j = p;
    kcd_cache *c = j->c;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    time_t expires = 0;
    char *header = NULL;
    kcd_result r;
    int rc, orphan;

    kcd_cache_entry *e = j->e;

    kcd_result_init(&r);
    rc = j->fill(j->job, &cred, &expires, &header, &r);
    if (rc != 0 && r.status == 0)
        kcd_fail(&r, KCD_UNAVAILABLE, "internal", "credential acquisition failed");
    j->job_free(j->job);
    free(j);
    orphan = complete(c, e, rc, cred, expires, header, &r);
    if (orphan)
        c->orphan_fn(c->orphan_arg);     /* frees c (and its owner) */
    return NULL;
}

/* Starts the KDC work for the new PENDING entry e on its own thread. Lock
 * held. 0 or -1 (r filled). */
static int
start_job(kcd_cache *c, kcd_cache_entry *e, kcd_cache_fill_fn fill, kcd_cache_job_new_fn job_new,
          kcd_cache_job_free_fn job_free, void *ctx, kcd_result *r)
{
    fill_job *j = calloc(1, sizeof(*j));
    pthread_attr_t attr;
    pthread_t tid;
    int rc;

    if (j == NULL || (j->job = job_new(ctx)) == NULL) {
        free(j);
        kcd_fail(r, KCD_UNAVAILABLE, "internal", "out of memory");
        return -1;
    }
    j->c = c;
    j->e = e;
    j->fill = fill;
    j->job_free = job_free;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&tid, &attr, job_main, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        job_free(j->job);
        free(j);
        kcd_fail(r, KCD_UNAVAILABLE, "internal", "cannot start a KDC worker thread: %s",
                 strerror(rc));
        kcd_fix(r, "raise the helper's thread/process limit (ulimit -u, systemd TasksMax)");
        return -1;
    }
    c->jobs++;
    e->refs++;                           /* the job's reference */
    return 0;
}

int
kcd_cache_lookup(kcd_cache *c, const char *key, kcd_cache_fill_fn fill,
                 kcd_cache_job_new_fn job_new, kcd_cache_job_free_fn job_free, void *ctx,
                 kcd_cache_wait *w, kcd_cache_notify_fn notify, void *arg, kcd_cache_ref *ref,
                 kcd_result *r)
{
    kcd_cache_entry *e;
    unsigned h = hash(key);
    time_t now;

    memset(ref, 0, sizeof(*ref));
    pthread_mutex_lock(&c->lock);
    now = time(NULL);
    for (e = c->buckets[h]; e != NULL; e = e->hnext)
        if (strcmp(e->key, key) == 0)
            break;
    if (e != NULL && e->state != PENDING && now >= e->expires) {
        remove_entry(c, e);
        e = NULL;
    }
    if (e != NULL && e->state == PENDING) {
        wait_register(c, e, w, notify, arg);
        pthread_mutex_unlock(&c->lock);
        return KCD_CACHE_PENDING;
    }
    if (e != NULL) {
        lru_unlink(c, e);
        lru_front(c, e);
        if (e->state == FAILED) {
            kcd_fail(r, e->failure->status, e->failure->cause_name, "%s (cached for %llds)",
                     e->failure->message, (long long)(e->expires - now));
            kcd_fix(r, "%s", e->failure->fix);
            pthread_mutex_unlock(&c->lock);
            return -1;
        }
        e->refs++;
        ref->entry = e;
        ref->cred = e->cred;
        ref->hit = 1;
        pthread_mutex_unlock(&c->lock);
        return 0;
    }

    /* Miss: a PENDING entry, the KDC work on a worker thread, and this
     * request waits for it (single flight: later misses wait too). */
    if (c->jobs >= c->max_jobs) {
        pthread_mutex_unlock(&c->lock);
        kcd_fail(r, KCD_UNAVAILABLE, "kdc_busy",
                 "%zu credential requests are already waiting for the KDC (the limit)",
                 c->max_jobs);
        kcd_fix(r, "the KDC answers slowly or not at all: check it and the network to it "
                "(mailsso-kcd doctor); cached users are still served");
        return -1;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL || (e->key = strdup(key)) == NULL) {
        free(e);
        pthread_mutex_unlock(&c->lock);
        kcd_fail(r, KCD_UNAVAILABLE, "internal", "out of memory");
        return -1;
    }
    e->state = PENDING;
    e->cred = GSS_C_NO_CREDENTIAL;
    if (start_job(c, e, fill, job_new, job_free, ctx, r) != 0) {
        free(e->key);
        free(e);
        pthread_mutex_unlock(&c->lock);
        return -1;
    }
    e->linked = 1;
    e->hnext = c->buckets[h];
    c->buckets[h] = e;
    lru_front(c, e);
    c->n++;
    evict(c);
    wait_register(c, e, w, notify, arg);
    pthread_mutex_unlock(&c->lock);
    return KCD_CACHE_PENDING;
}

int
kcd_cache_collect(kcd_cache *c, kcd_cache_wait *w, kcd_cache_ref *ref, kcd_result *r)
{
    kcd_cache_entry *e = w->entry;
    int rc = -1;

    memset(ref, 0, sizeof(*ref));
    if (e == NULL)
        return -1;
    pthread_mutex_lock(&c->lock);
    if (w->fired == 0)                   /* collected early: counts as a timeout */
        wait_fire(c, w, KCD_WAIT_TIMEOUT);
    if (e->state == READY) {
        ref->entry = e;                  /* keeps the waiter's reference */
        ref->cred = e->cred;
        ref->header = e->header;         /* the first token, to one request only */
        ref->hit = ref->header == NULL;
        e->header = NULL;
        rc = 0;
    } else if (e->state == FAILED && e->failure != NULL) {
        kcd_fail(r, e->failure->status, e->failure->cause_name, "%s", e->failure->message);
        kcd_fix(r, "%s", e->failure->fix);
    } else if (e->state == FAILED) {
        kcd_fail(r, KCD_UNAVAILABLE, "internal", "out of memory");
    } else {
        kcd_fail(r, KCD_UNAVAILABLE, "kdc_timeout",
                 "the KDC did not answer within %llds (kcd.kdc_timeout); S4U2Self/S4U2Proxy "
                 "goes on in the background and fills the cache when the KDC answers",
                 c->timeout);
        kcd_fix(r, "check that the KDC is up and answering and the network path to it "
                "(krb5.conf [realms] kdc, firewalls; mailsso-kcd doctor); clients retry after "
                "Retry-After");
    }
    if (rc != 0) {
        e->refs--;
        if (!e->linked && e->refs == 0)
            entry_free(e);
    }
    w->entry = NULL;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void
kcd_cache_wait_sync(kcd_cache *c, kcd_cache_wait *w)
{
    pthread_mutex_lock(&c->lock);
    while (w->fired == 0)
        pthread_cond_wait(&c->done, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

void
kcd_cache_wake_all(kcd_cache *c)
{
    kcd_cache_wait *fire = NULL;
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    while (c->waiters != NULL) {
        kcd_cache_wait *f = wait_fire(c, c->waiters, KCD_WAIT_TIMEOUT);
        if (f != NULL) {
            f->fire_next = fire;
            fire = f;
        }
    }
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->lock);
    notify_list(fire);
}

int
kcd_cache_defer_free(kcd_cache *c, void (*fn)(void *), void *arg)
{
    int deferred = 0;
    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->lock);
    if (c->jobs > 0) {
        c->orphan_fn = fn;
        c->orphan_arg = arg;
        deferred = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return deferred;
}
void
kcd_cache_release(kcd_cache *c, kcd_cache_ref *ref)
{
    kcd_cache_entry *e = ref->entry;
    if (e == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    e->refs--;
    if (!e->linked && e->refs == 0)
        entry_free(e);
    pthread_mutex_unlock(&c->lock);
    ref->entry = NULL;
}

void
kcd_cache_drop(kcd_cache *c, kcd_cache_ref *ref)
{
    kcd_cache_entry *e = ref->entry;
    if (e == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    if (e->linked)
        remove_entry(c, e);
    pthread_mutex_unlock(&c->lock);
}
