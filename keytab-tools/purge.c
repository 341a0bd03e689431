/*
 * NAME
 *   purge.c - mailsso-keytab purge: drop old kvnos
 *
 * DESCRIPTION
 *   Per principal, keeps the newest N kvnos (--keep N), or drops kvnos
 *   whose keys are older than AGE (--older-than). The newest kvno of a
 *   principal is never purged, so purge cannot lock a service out.
 */
#include <config.h>

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ktool.h"

static void
help(void)
{
    printf("usage: %s purge (--keep N | --older-than AGE) [-p PRINCIPAL] [options] [KEYTAB]\n"
           "Remove old key versions. The newest kvno of each principal is always kept.\n"
           "  --keep N            keep the newest N kvnos of each principal (N >= 1)\n"
           "  --older-than AGE    drop older kvnos whose keys were added more than AGE ago\n"
           "                      (AGE: 30d, 12h, 90m, 2w, or seconds)\n"
           "  -p, --principal P   only this principal\n"
           "  -n, --dry-run       show what would be removed, write nothing\n"
           "  --mode MODE, --owner USER[:GROUP], --group GROUP   as for merge\n", KTOOL_PROG);
}

/* A key's version and age, sorted newest kvno first. */
typedef struct kv_age {
    uint32_t kvno;
    uint32_t timestamp;
} kv_age;

static int
cmp_desc(const void *a, const void *b)
{
    uint32_t x = ((const kv_age *)a)->kvno, y = ((const kv_age *)b)->kvno;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int
cmp_u32_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

int
ktool_cmd_purge(int argc, char **argv)
{
    static const struct option opts[] = {
        { "keep", required_argument, NULL, 'K' },
        { "older-than", required_argument, NULL, 'O' },
        { "principal", required_argument, NULL, 'p' },
        { "dry-run", no_argument, NULL, 'n' },
        { "mode", required_argument, NULL, 'm' },
        { "owner", required_argument, NULL, 'u' },
        { "group", required_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab *kt = NULL;
    mailsso_keytab_filter pf = { NULL, 0, 0 };
    ktool_write_opts wo;
    ktool_groups *g = NULL;
    kv_age *keys = NULL;            /* one group's keys */
    uint32_t *dropped = NULL, keep = 0;   /* one group's purged kvnos */
    unsigned char *purge = NULL;    /* per entry: to be removed */
    long long age = -1;
    char *path = NULL;
    int c, rc = KTOOL_EXIT_FAIL;
    size_t i, j, w, removed = 0;
    time_t now = time(NULL);

    ktool_write_opts_init(&wo);
    while ((c = getopt_long(argc, argv, "p:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'K':
            if (ktool_parse_u32(optarg, &keep) != 0 || keep == 0)
                return ktool_usage_error("purge", "--keep '%s': expected a number >= 1", optarg);
            break;
        case 'O':
            age = ktool_parse_age(optarg);
            if (age < 0)
                return ktool_usage_error("purge", "--older-than '%s': expected e.g. 30d, 12h, "
                                         "90m, 2w or seconds", optarg);
            break;
        case 'p': pf.principal = optarg; break;
        case 'n': wo.w.dry_run = 1; break;
        case 'm': if (ktool_parse_mode(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'u': if (ktool_parse_owner(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'g': if (ktool_parse_group(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'h': help(); return KTOOL_EXIT_OK;
        default: return ktool_usage_error("purge", "bad option");
        }
    }
    if ((keep == 0) == (age < 0))
        return ktool_usage_error("purge", "give exactly one of --keep N and --older-than AGE");
    if (argc - optind > 1)
        return ktool_usage_error("purge", "at most one KEYTAB");
    if (ktool_keytab_path(optind < argc ? argv[optind] : NULL, &path, &err) != 0 ||
        mailsso_keytab_read(path, &kt, &err) != 0) {
        ktool_print_error(&err);
        goto cleanup;
    }
    /* Grouped once (O(n)); each group sorted by kvno: O(n log n) overall.
     * The entries to drop are marked and removed in one pass at the end. */
    if (ktool_groups_build(kt, &g) != 0) {
        ktool_errorf("out of memory");
        goto cleanup;
    }
    keys = calloc(kt->n_entries + 1, sizeof(*keys));
    dropped = calloc(kt->n_entries + 1, sizeof(*dropped));
    purge = calloc(kt->n_entries + 1, sizeof(*purge));
    if (keys == NULL || dropped == NULL || purge == NULL) {
        ktool_errorf("out of memory");
        goto cleanup;
    }
    for (j = 0; j < g->n; j++) {
        const char *p = g->principal[j];
        size_t first = g->start[j], end = g->start[j + 1], nkeys = 0, nd = 0, rank = 0, k, x;
        uint32_t newest = g->newest[j];

        if (!mailsso_keytab_entry_matches(&kt->entries[g->entry[first]], &pf))
            continue;   /* filtered out */
        for (x = first; x < end; x++) {
            const mailsso_keytab_entry *e = &kt->entries[g->entry[x]];
            keys[nkeys].kvno = e->kvno;
            keys[nkeys].timestamp = e->timestamp;
            nkeys++;
        }
        qsort(keys, nkeys, sizeof(*keys), cmp_desc);
        /* one run of keys per kvno, newest first; rank = the kvno's position */
        for (k = 0; k < nkeys; k = x, rank++) {
            uint32_t v = keys[k].kvno;
            int drop, recent = 0;

            for (x = k; x < nkeys && keys[x].kvno == v; x++)
                if ((long long)keys[x].timestamp >= (long long)now - age)
                    recent = 1;
            if (v == newest)
                continue;
            if (keep > 0)
                drop = rank >= keep;
            else
                drop = !recent;   /* drop the kvno when all its keys are older than AGE */
            if (drop) {
                printf("%s %s kvno %u\n", wo.w.dry_run ? "would purge" : "purging", p, v);
                dropped[nd++] = v;
            }
        }
        if (nd == 0)
            continue;
        /* dropped[] is in descending order: mark the group's keys of those kvnos */
        for (x = first; x < end; x++) {
            uint32_t v = kt->entries[g->entry[x]].kvno;
            if (bsearch(&v, dropped, nd, sizeof(*dropped), cmp_u32_desc) != NULL) {
                purge[g->entry[x]] = 1;
                removed++;
            }
        }
    }
    if (removed == 0) {
        printf("nothing to purge in %s\n", path);
        rc = KTOOL_EXIT_OK;
        goto cleanup;
    }
    ktool_groups_free(g);   /* it points into the entries removed below */
    g = NULL;
    for (i = 0, w = 0; i < kt->n_entries; i++) {
        if (purge[i]) {
            mailsso_keytab_entry_clear(&kt->entries[i]);
            continue;
        }
        if (w != i) {
            kt->entries[w] = kt->entries[i];
            memset(&kt->entries[i], 0, sizeof(kt->entries[i]));
        }
        w++;
    }
    kt->n_entries = w;
    rc = ktool_write(path, kt, &wo, 0);
cleanup:
    free(purge);
    free(dropped);
    free(keys);
    ktool_groups_free(g);
    free(path);
    mailsso_keytab_free(kt);
    return rc;
}
