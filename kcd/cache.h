/*
 * NAME
 *   cache.h - the credential cache's lookup/collect/release interface (see cache.c)
 *
 * SYNOPSIS
 *   rc = kcd_cache_lookup(c, key, fill, job_new, job_free, ctx, &w, notify, arg, &ref, &r);
 *   rc == 0: a cached credential in ref (release it); -1: r filled;
 *   rc == KCD_CACHE_PENDING: the KDC work runs on a worker thread; notify(arg)
 *   is called once from another thread (or, notify NULL, kcd_cache_wait_sync
 *   returns) when it is done or kdc_timeout passed; then
 *   kcd_cache_collect(c, &w, &ref, &r) gives 0 (ref, maybe the first token in
 *   ref.header) or -1 (r: the failure, or 503 kdc_timeout).
 */
#ifndef MAILSSO_KCD_CACHE_H
#define MAILSSO_KCD_CACHE_H

#include "kcd.h"

typedef struct kcd_cache_entry kcd_cache_entry;

typedef struct kcd_cache_ref {
    kcd_cache_entry *entry;
    gss_cred_id_t cred;      /* borrowed from the entry until release */
    char *header;            /* the first token, minted with S4U2Proxy (owned) */
    int hit;
} kcd_cache_ref;

#define KCD_CACHE_PENDING 1
enum { KCD_WAIT_DONE = 1, KCD_WAIT_TIMEOUT = 2 };

typedef void (*kcd_cache_notify_fn)(void *arg);

/* A request waiting for a PENDING entry; owned by the caller, fields private. */
typedef struct kcd_cache_wait {
    kcd_cache_entry *entry;
    struct timespec deadline;            /* CLOCK_MONOTONIC */
    int fired;                           /* 0, KCD_WAIT_DONE, KCD_WAIT_TIMEOUT */
    kcd_cache_notify_fn notify;
    void *arg;
    struct kcd_cache_wait *prev, *next, *fire_next;
} kcd_cache_wait;

/* Fills a missing entry on a worker thread: S4U2Self (+ S4U2Proxy and a
 * first token into *header_out). Returns 0 or -1 with r filled. */
typedef int (*kcd_cache_fill_fn)(void *job, gss_cred_id_t *cred_out, time_t *expires_out,
                                 char **header_out, kcd_result *r);
/* Makes the worker's own copy of what fill needs (called on a miss only). */
typedef void *(*kcd_cache_job_new_fn)(void *ctx);
typedef void (*kcd_cache_job_free_fn)(void *job);

int kcd_cache_lookup(kcd_cache *c, const char *key, kcd_cache_fill_fn fill,
                     kcd_cache_job_new_fn job_new, kcd_cache_job_free_fn job_free, void *ctx,
                     kcd_cache_wait *w, kcd_cache_notify_fn notify, void *arg,
                     kcd_cache_ref *ref, kcd_result *r);
int kcd_cache_collect(kcd_cache *c, kcd_cache_wait *w, kcd_cache_ref *ref, kcd_result *r);
/* Blocks until w fired (waiters without a notify function). */
void kcd_cache_wait_sync(kcd_cache *c, kcd_cache_wait *w);
/* Fires every waiter now (as timed out): before stopping the server. */
void kcd_cache_wake_all(kcd_cache *c);
/* 1 if workers still run: the last one calls fn(arg) instead; 0: free now. */
int kcd_cache_defer_free(kcd_cache *c, void (*fn)(void *), void *arg);
void kcd_cache_release(kcd_cache *c, kcd_cache_ref *ref);
/* Removes the entry (e.g. its credential stopped working); still release it. */
void kcd_cache_drop(kcd_cache *c, kcd_cache_ref *ref);

#endif
