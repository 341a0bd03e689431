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

static int
cmp_desc(const void *a, const void *b)
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
    const char **princs = NULL;
    char **names = NULL;
    uint32_t *kvnos = NULL, keep = 0;
    long long age = -1;
    char *path = NULL;
    int c, rc = KTOOL_EXIT_FAIL;
    size_t np, i, j, removed = 0;
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
    np = ktool_principals(kt, &princs);
    /* copy the names: removal frees the entries princs[] points into */
    names = calloc(np + 1, sizeof(*names));
    kvnos = calloc(kt->n_entries + 1, sizeof(*kvnos));
    if (names == NULL || kvnos == NULL) {
        ktool_errorf("out of memory");
        goto cleanup;
    }
    for (j = 0; j < np; j++) {
        names[j] = strdup(princs[j]);
        if (names[j] == NULL) {
            ktool_errorf("out of memory");
            goto cleanup;
        }
    }
    free(princs);
    princs = NULL;
    for (j = 0; j < np; j++) {
        const char *p = names[j];
        size_t nk = 0, k;
        uint32_t newest = mailsso_keytab_max_kvno(kt, p);

        for (i = 0; i < kt->n_entries; i++)
            if (strcmp(kt->entries[i].principal, p) == 0 &&
                mailsso_keytab_entry_matches(&kt->entries[i], &pf))
                break;
        if (i == kt->n_entries)
            continue;   /* filtered out */
        for (i = 0; i < kt->n_entries; i++) {
            if (strcmp(kt->entries[i].principal, p) != 0)
                continue;
            for (k = 0; k < nk; k++)
                if (kvnos[k] == kt->entries[i].kvno)
                    break;
            if (k == nk)
                kvnos[nk++] = kt->entries[i].kvno;
        }
        qsort(kvnos, nk, sizeof(*kvnos), cmp_desc);
        for (k = 0; k < nk; k++) {
            uint32_t v = kvnos[k];
            int drop;

            if (v == newest)
                continue;
            if (keep > 0) {
                drop = k >= keep;
            } else {
                /* drop the kvno when all its keys are older than AGE */
                drop = 1;
                for (i = 0; i < kt->n_entries; i++)
                    if (strcmp(kt->entries[i].principal, p) == 0 && kt->entries[i].kvno == v &&
                        (long long)kt->entries[i].timestamp >= (long long)now - age)
                        drop = 0;
            }
            if (drop) {
                mailsso_keytab_filter f = { p, v, 0 };
                size_t n = 0;
                printf("%s %s kvno %u\n", wo.w.dry_run ? "would purge" : "purging", p, v);
                mailsso_keytab_remove(kt, &f, &n);
                removed += n;
            }
        }
    }
    if (removed == 0) {
        printf("nothing to purge in %s\n", path);
        rc = KTOOL_EXIT_OK;
        goto cleanup;
    }
    rc = ktool_write(path, kt, &wo, 0);
cleanup:
    free(kvnos);
    free(princs);
    if (names != NULL)
        for (j = 0; names[j] != NULL; j++)
            free(names[j]);
    free(names);
    free(path);
    mailsso_keytab_free(kt);
    return rc;
}
