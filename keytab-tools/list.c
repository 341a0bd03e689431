/*
 * NAME
 *   list.c - mailsso-keytab list: show a keytab's keys, flag weak and stale ones
 *
 * DESCRIPTION
 *   Groups entries by principal; for each key prints kvno, enctype (name and
 *   number), strength class, timestamp and flags: "weak" (RC4, or broken
 *   DES/3DES), "stale" (an older kvno than the newest the keytab holds for
 *   the principal: only tickets issued before the last password change use
 *   it). --json prints the same data as one JSON object.
 */
#include <config.h>

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ktool.h"

static void
help(void)
{
    printf("usage: %s list [--json] [-p PRINCIPAL] [KEYTAB]\n"
           "Show every key: principal, kvno, enctype (name and number), strength class,\n"
           "timestamp; flag weak enctypes (RC4, DES) and stale kvnos (older than the newest).\n"
           "KEYTAB defaults to KRB5_KTNAME / the krb5.conf default keytab.\n"
           "  -p, --principal P   only keys of P (P may be NAME@* or *@REALM)\n"
           "  -j, --json          JSON output\n", KTOOL_PROG);
}

static int
is_weak(int32_t e)
{
    mailsso_enctype_class c = mailsso_enctype_classify(e);
    return c != MAILSSO_ENCTYPE_STRONG;
}

int
ktool_cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "principal", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab *kt = NULL;
    mailsso_keytab_filter f = { NULL, 0, 0 };
    const char **princs = NULL;
    char *path = NULL;
    int json = 0, c, rc = KTOOL_EXIT_FAIL;
    size_t np, i, j, shown = 0;

    while ((c = getopt_long(argc, argv, "jp:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'p': f.principal = optarg; break;
        case 'h': help(); return KTOOL_EXIT_OK;
        default: return ktool_usage_error("list", "bad option");
        }
    }
    if (argc - optind > 1)
        return ktool_usage_error("list", "at most one KEYTAB");
    if (ktool_keytab_path(optind < argc ? argv[optind] : NULL, &path, &err) != 0 ||
        mailsso_keytab_read(path, &kt, &err) != 0) {
        ktool_print_error(&err);
        goto cleanup;
    }
    np = ktool_principals(kt, &princs);

    if (json) {
        int first = 1;
        printf("{\"keytab\":");
        ktool_json_str(stdout, path);
        printf(",\"version\":%u,\"entries\":[", kt->version);
        for (i = 0; i < kt->n_entries; i++) {
            const mailsso_keytab_entry *e = &kt->entries[i];
            const char *name = mailsso_enctype_name(e->enctype);
            char tb[64];
            uint32_t maxk;

            if (!mailsso_keytab_entry_matches(e, &f))
                continue;
            maxk = mailsso_keytab_max_kvno(kt, e->principal);
            printf("%s{\"slot\":%zu,\"principal\":", first ? "" : ",", i + 1);
            ktool_json_str(stdout, e->principal);
            printf(",\"name_type\":%d,\"kvno\":%u,\"enctype\":%d,\"enctype_name\":", e->name_type,
                   e->kvno, e->enctype);
            ktool_json_str(stdout, name ? name : "unknown");
            printf(",\"strength\":");
            ktool_json_str(stdout, mailsso_enctype_class_name(mailsso_enctype_classify(e->enctype)));
            printf(",\"timestamp\":%u,\"time\":\"%s\",\"weak\":%s,\"stale\":%s}", e->timestamp,
                   ktool_time_str(e->timestamp, tb, sizeof(tb)),
                   is_weak(e->enctype) ? "true" : "false", e->kvno < maxk ? "true" : "false");
            first = 0;
        }
        printf("],\"principals\":[");
        first = 1;
        for (j = 0; j < np; j++) {
            uint32_t maxk = mailsso_keytab_max_kvno(kt, princs[j]);
            int strong = 0, any = 0;
            mailsso_keytab_filter pf = { princs[j], 0, 0 };

            if (f.principal != NULL) {
                for (i = 0; i < kt->n_entries; i++)
                    if (strcmp(kt->entries[i].principal, princs[j]) == 0)
                        break;
                if (!mailsso_keytab_entry_matches(&kt->entries[i], &f))
                    continue;
            }
            for (i = 0; i < kt->n_entries; i++) {
                const mailsso_keytab_entry *e = &kt->entries[i];
                if (!mailsso_keytab_entry_matches(e, &pf) || strcmp(e->principal, princs[j]) != 0)
                    continue;
                if (e->kvno == maxk) {
                    any = 1;
                    if (!is_weak(e->enctype))
                        strong = 1;
                }
            }
            printf("%s{\"principal\":", first ? "" : ",");
            ktool_json_str(stdout, princs[j]);
            printf(",\"newest_kvno\":%u,\"only_weak\":%s}", maxk, any && !strong ? "true" : "false");
            first = 0;
        }
        printf("]}\n");
        rc = KTOOL_EXIT_OK;
        goto cleanup;
    }

    printf("Keytab: %s (format 0x%04x, %zu entr%s, %zu principal%s)\n", path, kt->version,
           kt->n_entries, kt->n_entries == 1 ? "y" : "ies", np, np == 1 ? "" : "s");
    for (j = 0; j < np; j++) {
        uint32_t maxk = mailsso_keytab_max_kvno(kt, princs[j]);
        int header = 0, strong_new = 0, weak_new = 0;

        for (i = 0; i < kt->n_entries; i++) {
            const mailsso_keytab_entry *e = &kt->entries[i];
            char eb[64], tb[64], flags[32];

            if (strcmp(e->principal, princs[j]) != 0 || !mailsso_keytab_entry_matches(e, &f))
                continue;
            if (!header) {
                printf("\n%s\n  %4s  %-36s %-8s %-20s %s\n", e->principal, "KVNO", "ENCTYPE",
                       "STRENGTH", "TIMESTAMP", "FLAGS");
                header = 1;
            }
            flags[0] = '\0';
            if (is_weak(e->enctype))
                strcat(flags, "weak");
            if (e->kvno < maxk)
                strcat(flags, flags[0] ? ",stale" : "stale");
            if (e->kvno == maxk) {
                if (is_weak(e->enctype))
                    weak_new = 1;
                else
                    strong_new = 1;
            }
            printf("  %4u  %-36s %-8s %-20s %s\n", e->kvno,
                   ktool_enctype_str(e->enctype, eb, sizeof(eb)),
                   mailsso_enctype_class_name(mailsso_enctype_classify(e->enctype)),
                   ktool_time_str(e->timestamp, tb, sizeof(tb)), flags);
            shown++;
        }
        if (header && weak_new && !strong_new)
            printf("  warning: kvno %u holds only weak keys (RC4/DES): AD gives RC4 tickets to "
                   "accounts without msDS-SupportedEncryptionTypes; enable AES on the account "
                   "and export AES keys\n", maxk);
    }
    if (shown == 0 && f.principal != NULL)
        printf("\nno keys match principal %s\n", f.principal);
    rc = KTOOL_EXIT_OK;
cleanup:
    free(princs);
    free(path);
    mailsso_keytab_free(kt);
    return rc;
}
