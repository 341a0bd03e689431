/*
 * NAME
 *   merge.c - mailsso-keytab merge: the ktutil rkt/rkt/wkt flow in one step
 *
 * DESCRIPTION
 *   Reads every input (and OUT itself when it exists, unless --replace, as
 *   ktutil's wkt appends), drops exact duplicates, refuses a conflict (same
 *   principal, kvno and enctype with another key) unless --prefer says which
 *   input wins, and writes OUT atomically. On any error OUT is untouched.
 */
#include <config.h>

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ktool.h"

static void
help(void)
{
    printf("usage: %s merge -o OUT [options] IN...\n"
           "Merge keytabs (e.g. one ktpass keytab per service) into OUT. Exact duplicates are\n"
           "dropped; the same principal+kvno+enctype with a different key is a conflict and an\n"
           "error unless --prefer names the winner. An existing OUT is merged in first (like\n"
           "ktutil wkt, which appends) unless --replace.\n"
           "  -o, --output OUT        keytab to write (atomically)\n"
           "      --prefer first|last on conflict keep the key read first / last\n"
           "      --replace           ignore OUT's current contents\n"
           "  -n, --dry-run           report what would be written, write nothing\n"
           "      --mode MODE         file mode (default: keep, new files 0600)\n"
           "      --owner USER[:GROUP], --group GROUP   owner of OUT (e.g. root:postfix)\n"
           "  -q, --quiet             no summary line\n", KTOOL_PROG);
}

int
ktool_cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        { "prefer", required_argument, NULL, 'P' },
        { "replace", no_argument, NULL, 'R' },
        { "dry-run", no_argument, NULL, 'n' },
        { "mode", required_argument, NULL, 'm' },
        { "owner", required_argument, NULL, 'u' },
        { "group", required_argument, NULL, 'g' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab *dst = NULL, *src = NULL;
    mailsso_keytab_merge_policy policy = MAILSSO_MERGE_FAIL_ON_CONFLICT;
    ktool_write_opts wo;
    char *out = NULL, *in = NULL;
    const char *out_arg = NULL;
    int replace = 0, quiet = 0, c, rc = KTOOL_EXIT_FAIL, i;
    struct stat st;

    ktool_write_opts_init(&wo);
    while ((c = getopt_long(argc, argv, "o:nqh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out_arg = optarg; break;
        case 'P':
            if (strcmp(optarg, "first") == 0)
                policy = MAILSSO_MERGE_KEEP_FIRST;
            else if (strcmp(optarg, "last") == 0)
                policy = MAILSSO_MERGE_KEEP_LAST;
            else
                return ktool_usage_error("merge", "--prefer takes 'first' or 'last', not '%s'",
                                         optarg);
            break;
        case 'R': replace = 1; break;
        case 'n': wo.w.dry_run = 1; break;
        case 'm': if (ktool_parse_mode(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'u': if (ktool_parse_owner(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'g': if (ktool_parse_group(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'q': quiet = 1; break;
        case 'h': help(); return KTOOL_EXIT_OK;
        default: return ktool_usage_error("merge", "bad option");
        }
    }
    if (out_arg == NULL)
        return ktool_usage_error("merge", "-o OUT is required");
    if (optind >= argc)
        return ktool_usage_error("merge", "name at least one input keytab");
    if (ktool_keytab_path(out_arg, &out, &err) != 0) {
        ktool_print_error(&err);
        goto cleanup;
    }
    dst = mailsso_keytab_new();
    if (dst == NULL) {
        ktool_errorf("out of memory");
        goto cleanup;
    }
    if (!replace && stat(out, &st) == 0) {
        if (mailsso_keytab_read(out, &src, &err) != 0) {
            ktool_print_error(&err);
            fprintf(stderr, "  (the existing output keytab; use --replace to overwrite it)\n");
            goto cleanup;
        }
        if (mailsso_keytab_merge(dst, src, MAILSSO_MERGE_FAIL_ON_CONFLICT, NULL, NULL, &err) != 0) {
            ktool_print_error(&err);
            goto cleanup;
        }
        if (!quiet && src->n_entries > 0)
            printf("%s: %zu existing entr%s kept\n", out, src->n_entries,
                   src->n_entries == 1 ? "y" : "ies");
        mailsso_keytab_free(src);
        src = NULL;
    }
    for (i = optind; i < argc; i++) {
        size_t added = 0, dupes = 0;

        free(in);
        in = NULL;
        if (ktool_keytab_path(argv[i], &in, &err) != 0 || mailsso_keytab_read(in, &src, &err) != 0) {
            ktool_print_error(&err);
            goto cleanup;
        }
        if (mailsso_keytab_merge(dst, src, policy, &added, &dupes, &err) != 0) {
            if (err.code == MAILSSO_E_CONFLICT)
                mailsso_error_set_fix(&err, "find out which key the KDC has now ('%s verify' on "
                                      "each input), then rerun with --prefer first or --prefer "
                                      "last", KTOOL_PROG);
            ktool_print_error(&err);
            fprintf(stderr, "  (while merging %s; nothing was written)\n", in);
            goto cleanup;
        }
        if (!quiet)
            printf("%s: %zu entr%s added, %zu duplicate%s skipped\n", in, added,
                   added == 1 ? "y" : "ies", dupes, dupes == 1 ? "" : "s");
        mailsso_keytab_free(src);
        src = NULL;
    }
    rc = ktool_write(out, dst, &wo, quiet);
cleanup:
    free(in);
    free(out);
    mailsso_keytab_free(src);
    mailsso_keytab_free(dst);
    return rc;
}
