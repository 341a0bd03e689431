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

#include <mailsso/util.h>

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

/* "name(number)" of an enctype, remembered: a keytab holds few enctypes and
 * list prints one per key. */
typedef struct enctype_labels {
    int32_t enctype[16];
    char label[16][64];
    size_t n;
} enctype_labels;

static const char *
enctype_label(enctype_labels *c, int32_t e, char *buf, size_t size)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        if (c->enctype[i] == e)
            return c->label[i];
    if (c->n == MAILSSO_ARRAY_LEN(c->enctype))
        return ktool_enctype_str(e, buf, size);
    c->enctype[c->n] = e;
    return ktool_enctype_str(e, c->label[c->n++], sizeof(c->label[0]));
}

/* Appends s left-aligned in a field of width: printf's "%-*s". */
static char *
put_left(char *p, const char *s, size_t width)
{
    size_t n = strlen(s);

    memcpy(p, s, n);
    for (p += n; n < width; n++)
        *p++ = ' ';
    return p;
}

/* One key's line, "  %4u  %-36s %-8s %-20s %s\n", built by hand: printf's
 * field padding was a third of list's cost on big keytabs. */
static void
print_key_line(uint32_t kvno, const char *enctype, const char *strength, const char *time,
               const char *flags)
{
    char line[512], digits[16], *p = line;
    size_t nd = 0;

    if (strlen(enctype) + strlen(strength) + strlen(time) + strlen(flags) + 96 > sizeof(line)) {
        printf("  %4u  %-36s %-8s %-20s %s\n", kvno, enctype, strength, time, flags);
        return;
    }
    do {
        digits[nd++] = (char)('0' + kvno % 10u);
        kvno /= 10u;
    } while (kvno != 0);
    *p++ = ' ';
    *p++ = ' ';
    for (size_t w = nd; w < 4; w++)
        *p++ = ' ';
    while (nd > 0)
        *p++ = digits[--nd];
    *p++ = ' ';
    *p++ = ' ';
    p = put_left(p, enctype, 36);
    *p++ = ' ';
    p = put_left(p, strength, 8);
    *p++ = ' ';
    p = put_left(p, time, 20);
    *p++ = ' ';
    p = put_left(p, flags, 0);
    *p++ = '\n';
    fwrite(line, 1, (size_t)(p - line), stdout);
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
    ktool_groups *g = NULL;
    enctype_labels labels;
    char *path = NULL;
    int json = 0, c, rc = KTOOL_EXIT_FAIL;
    size_t i, j, k, shown = 0;

    labels.n = 0;
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
    if (ktool_groups_build(kt, &g) != 0) {
        ktool_errorf("out of memory");
        goto cleanup;
    }

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
            maxk = g->newest[g->group_of[i]];
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
        for (j = 0; j < g->n; j++) {
            uint32_t maxk = g->newest[j];
            int strong = 0, any = 0;

            /* a principal filter selects whole groups */
            if (f.principal != NULL &&
                !mailsso_keytab_entry_matches(&kt->entries[g->entry[g->start[j]]], &f))
                continue;
            for (k = g->start[j]; k < g->start[j + 1]; k++) {
                const mailsso_keytab_entry *e = &kt->entries[g->entry[k]];
                if (e->kvno == maxk) {
                    any = 1;
                    if (!is_weak(e->enctype))
                        strong = 1;
                }
            }
            printf("%s{\"principal\":", first ? "" : ",");
            ktool_json_str(stdout, g->principal[j]);
            printf(",\"newest_kvno\":%u,\"only_weak\":%s}", maxk, any && !strong ? "true" : "false");
            first = 0;
        }
        printf("]}\n");
        rc = KTOOL_EXIT_OK;
        goto cleanup;
    }

    printf("Keytab: %s (format 0x%04x, %zu entr%s, %zu principal%s)\n", path, kt->version,
           kt->n_entries, kt->n_entries == 1 ? "y" : "ies", g->n, g->n == 1 ? "" : "s");
    for (j = 0; j < g->n; j++) {
        uint32_t maxk = g->newest[j];
        int header = 0, strong_new = 0, weak_new = 0;

        for (k = g->start[j]; k < g->start[j + 1]; k++) {
            const mailsso_keytab_entry *e = &kt->entries[g->entry[k]];
            char eb[64], tb[64], flags[32];

            if (!mailsso_keytab_entry_matches(e, &f))
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
            print_key_line(e->kvno, enctype_label(&labels, e->enctype, eb, sizeof(eb)),
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
    ktool_groups_free(g);
    free(path);
    mailsso_keytab_free(kt);
    return rc;
}
