/*
 * NAME
 *   cache.h - the credential cache's acquire/release interface (see cache.c)
 */
#ifndef MAILSSO_KCD_CACHE_H
#define MAILSSO_KCD_CACHE_H

#include "kcd.h"

typedef struct kcd_cache_entry kcd_cache_entry;

typedef struct kcd_cache_ref {
    kcd_cache_entry *entry;
    gss_cred_id_t cred;      /* borrowed from the entry until release */
    char *header;            /* set when this call filled the entry and minted a token */
    int hit;
} kcd_cache_ref;

/* Fills a missing entry: S4U2Self (+ S4U2Proxy and a first token into
 * *header_out). Returns 0 or -1 with r filled. */
typedef int (*kcd_cache_fill_fn)(void *arg, gss_cred_id_t *cred_out, time_t *expires_out,
                                 char **header_out, kcd_result *r);

int kcd_cache_acquire(kcd_cache *c, const char *key, time_t negative_ttl, kcd_cache_fill_fn fill,
                      void *arg, kcd_cache_ref *ref, kcd_result *r);
void kcd_cache_release(kcd_cache *c, kcd_cache_ref *ref);
/* Removes the entry (e.g. its credential stopped working); still release it. */
void kcd_cache_drop(kcd_cache *c, kcd_cache_ref *ref);

#endif
