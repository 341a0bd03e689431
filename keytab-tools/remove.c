/*
 * NAME
 *   remove.c - mailsso-keytab remove: delete keys by principal, kvno, enctype
 *
 * DESCRIPTION
 *   At least one filter is required (no accidental "remove everything").
 *   Nothing matching is an error and leaves the keytab untouched.
 */
#include <config.h>

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ktool.h"

static void
help(void)
{
    printf("usage: %s remove [-p PRINCIPAL] [-V KVNO] [-e ENCTYPE] [options] [KEYTAB]\n"
           "Remove the keys matching every given filter (at least one filter).\n"
           "  -p, --principal P    principal (NAME@* any realm, *@REALM any name)\n"
           "  -V, --kvno N         key version number\n"
           "  -e, --enctype E      enctype name or number (e.g. arcfour-hmac, 23)\n"
           "  -n, --dry-run        show what would be removed, write nothing\n"
           "      --mode MODE, --owner USER[:GROUP], --group GROUP   as for merge\n",
           KTOOL_PROG);
}

int
ktool_cmd_remove(int argc, char **argv)
{
    static const struct option opts[] = {
        { "principal", required_argument, NULL, 'p' },
        { "kvno", required_argument, NULL, 'V' },
        { "enctype", required_argument, NULL, 'e' },
        { "dry-run", no_argument, NULL, 'n' },
        { "mode", required_argument, NULL, 'm' },
        { "owner", required_argument, NULL, 'u' },
        { "group", required_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab *kt = NULL;
    mailsso_keytab_filter f = { NULL, 0, 0 };
    ktool_write_opts wo;
    char *path = NULL;
    int c, rc = KTOOL_EXIT_FAIL;
    size_t i, removed = 0;

    ktool_write_opts_init(&wo);
    while ((c = getopt_long(argc, argv, "p:V:k:e:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': f.principal = optarg; break;
        case 'V':
        case 'k':
            if (ktool_parse_u32(optarg, &f.kvno) != 0 || f.kvno == 0)
                return ktool_usage_error("remove", "--kvno '%s' is not a positive number", optarg);
            break;
        case 'e':
            if (mailsso_enctype_from_name(optarg, &f.enctype, &err) != 0) {
                ktool_print_error(&err);
                return KTOOL_EXIT_USAGE;
            }
            break;
        case 'n': wo.w.dry_run = 1; break;
        case 'm': if (ktool_parse_mode(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'u': if (ktool_parse_owner(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'g': if (ktool_parse_group(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'h': help(); return KTOOL_EXIT_OK;
        default: return ktool_usage_error("remove", "bad option");
        }
    }
    if (f.principal == NULL && f.kvno == 0 && f.enctype == 0)
        return ktool_usage_error("remove", "give at least one of -p, -V, -e");
    if (argc - optind > 1)
        return ktool_usage_error("remove", "at most one KEYTAB");
    if (ktool_keytab_path(optind < argc ? argv[optind] : NULL, &path, &err) != 0 ||
        mailsso_keytab_read(path, &kt, &err) != 0) {
        ktool_print_error(&err);
        goto cleanup;
    }
    for (i = 0; i < kt->n_entries; i++) {
        const mailsso_keytab_entry *e = &kt->entries[i];
        char eb[64];
        if (mailsso_keytab_entry_matches(e, &f))
            printf("%s %s kvno %u %s\n", wo.w.dry_run ? "would remove" : "removing", e->principal,
                   e->kvno, ktool_enctype_str(e->enctype, eb, sizeof(eb)));
    }
    if (mailsso_keytab_remove(kt, &f, &removed) != 0) {
        ktool_errorf("cannot remove entries from %s", path);
        goto cleanup;
    }
    if (removed == 0) {
        char eb[64];
        ktool_errorf("no key in %s matches principal %s, kvno %s%u, enctype %s; nothing changed",
                     path, f.principal ? f.principal : "(any)", f.kvno ? "" : "(any) ", f.kvno,
                     f.enctype ? ktool_enctype_str(f.enctype, eb, sizeof(eb)) : "(any)");
        fprintf(stderr, "  fix: see the keys with '%s list %s'\n", KTOOL_PROG, path);
        goto cleanup;
    }
    rc = ktool_write(path, kt, &wo, 0);
cleanup:
    free(path);
    mailsso_keytab_free(kt);
    return rc;
}
