/*
 * NAME
 *   cache.c - impersonated credentials per (principal, cert fingerprint, target)
 *
 * DESCRIPTION
 *   A hash table plus an LRU list, bounded to max_entries. An entry is
 *     PENDING  one thread is talking to the KDC for it; others wait on the
 *              condition variable (single flight: N concurrent misses for
 *              one user make one S4U2Self + one S4U2Proxy);
 *     READY    a credential, valid until `expires` (the caller computes
 *              min(ticket end - margin, certificate notAfter, cap));
 *     FAILED   the failure, replayed until `expires` (negative_ttl) so a
 *              misconfiguration does not hammer the KDC.
 *   Entries are reference counted: eviction unlinks, the last user frees.
 *   The credential is released with gss_release_cred (MIT credentials are
 *   safe to use from several threads).
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
    gss_cred_id_t cred;
    time_t expires;
    struct cached_failure *failure;  /* FAILED entries only (NULL otherwise) */
    struct kcd_cache_entry *hnext;
    struct kcd_cache_entry *prev, *next;   /* LRU: head = most recent */
};

struct kcd_cache {
    pthread_mutex_t lock;
    pthread_cond_t done;
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

int
kcd_cache_new(size_t max_entries, kcd_cache **out)
{
    kcd_cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return MAILSSO_E_NOMEM;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->done, NULL);
    c->max_entries = max_entries > 0 ? max_entries : 1;
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
    while (c->head)
        remove_entry(c, c->head);
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

int
kcd_cache_acquire(kcd_cache *c, const char *key, time_t negative_ttl, kcd_cache_fill_fn fill,
                  void *arg, kcd_cache_ref *ref, kcd_result *r)
{
    kcd_cache_entry *e;
    unsigned h = hash(key);
    time_t now;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    time_t expires = 0;
    char *header = NULL;
    int rc;

    memset(ref, 0, sizeof(*ref));
    pthread_mutex_lock(&c->lock);
    for (;;) {
        now = time(NULL);
        for (e = c->buckets[h]; e != NULL; e = e->hnext)
            if (strcmp(e->key, key) == 0)
                break;
        if (e == NULL)
            break;
        if (e->state == PENDING) {
            e->refs++;
            pthread_cond_wait(&c->done, &c->lock);
            e->refs--;
            if (!e->linked && e->refs == 0)
                entry_free(e);
            continue;
        }
        if (now >= e->expires) {
            remove_entry(c, e);
            break;
        }
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

    /* Miss: insert PENDING, fill without the lock. */
    e = calloc(1, sizeof(*e));
    if (e == NULL || (e->key = strdup(key)) == NULL) {
        free(e);
        pthread_mutex_unlock(&c->lock);
        kcd_fail(r, KCD_UNAVAILABLE, "internal", "out of memory");
        return -1;
    }
    e->state = PENDING;
    e->cred = GSS_C_NO_CREDENTIAL;
    e->refs = 1;
    e->linked = 1;
    e->hnext = c->buckets[h];
    c->buckets[h] = e;
    lru_front(c, e);
    c->n++;
    evict(c);
    pthread_mutex_unlock(&c->lock);

    rc = fill(arg, &cred, &expires, &header, r);

    pthread_mutex_lock(&c->lock);
    now = time(NULL);
    if (rc == 0) {
        e->state = READY;
        e->cred = cred;
        e->expires = expires;
        ref->entry = e;
        ref->cred = cred;
        ref->header = header;
    } else {
        struct cached_failure *f = NULL;
        e->state = FAILED;
        e->expires = now + (negative_ttl > 0 ? negative_ttl : 0);
        e->refs--;
        if (negative_ttl > 0) {
            f = calloc(1, sizeof(*f));
            if (f != NULL) {
                f->status = r->status;
                f->cause_name = r->cause_name;
                f->message = strdup(r->message);
                f->fix = strdup(r->fix);
            }
            if (f == NULL || f->message == NULL || f->fix == NULL) {
                if (f != NULL) {
                    free(f->message);
                    free(f->fix);
                    free(f);
                }
                f = NULL;
            }
        }
        e->failure = f;
        /* Nothing to replay (negative cache off, or no memory): forget it. */
        if (f == NULL && e->linked)
            remove_entry(c, e);
    }
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->lock);
    return rc == 0 ? 0 : -1;
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
