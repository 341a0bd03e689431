/*
 * NAME
 *   shell.c - mailsso-keytab shell: a ktutil-compatible shell
 *
 * DESCRIPTION
 *   Keeps a key list in memory and understands ktutil's commands, so vendor
 *   instructions work unchanged, interactively or in batch mode
 *   (printf 'rkt a\nrkt b\nwkt out\nq\n' | mailsso-keytab shell):
 *     read_kt/rkt FILE, write_kt/wkt FILE, list/l [-t] [-k] [-e],
 *     add_entry/addent (-password|-key) -p P -k KVNO [-e ENCTYPE] [-f] [-s SALT],
 *     delete_entry/delent SLOT, clear_list/clear, list_requests/lr/?, quit/exit/q.
 *   Differences from ktutil, all on the safe side: wkt merges into an
 *   existing file through the atomic, locked writer (ktutil appends in
 *   place) and refuses conflicting keys; errors name the file and the fix.
 *   With -password/-key the secret is read from the terminal without echo,
 *   or, in batch mode, from the next input line (as ktutil does).
 *   A command that fails makes the exit status 1 at the end.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mailsso/util.h>

#include "ktool.h"

#define MAX_ARGS 32

typedef struct shell {
    mailsso_keytab *list;
    FILE *in;
    int interactive;
    int failed;
    ktool_write_opts wo;
} shell;

static void
help(void)
{
    printf("usage: %s shell [--dry-run] [--mode MODE] [--owner USER[:GROUP]]\n"
           "A ktutil-compatible shell reading commands from stdin (interactive or batch):\n"
           "  read_kt, rkt FILE          read a keytab into the key list\n"
           "  write_kt, wkt FILE         write the key list to FILE (merged with its keys)\n"
           "  list, l [-t] [-k] [-e]     show the list (timestamps, keys, enctypes)\n"
           "  add_entry, addent -password|-key -p PRINCIPAL -k KVNO [-e ENCTYPE] [-f] [-s SALT]\n"
           "  delete_entry, delent SLOT  remove an entry\n"
           "  clear_list, clear          empty the list\n"
           "  list_requests, lr, ?       this list\n"
           "  quit, exit, q\n", KTOOL_PROG);
}

static void
requests(void)
{
    printf("Available ktutil-compatible requests:\n\n"
           "clear_list, clear        Clear the current keylist.\n"
           "read_kt, rkt             Read a krb5 keytab into the current keylist.\n"
           "write_kt, wkt            Write the current keylist to a krb5 keytab.\n"
           "add_entry, addent        Add an entry to the current keylist.\n"
           "delete_entry, delent     Delete an entry from the current keylist.\n"
           "list, l                  List the current keylist.\n"
           "list_requests, lr, ?     List available requests.\n"
           "quit, exit, q            Exit program.\n");
}

static int
split(char *line, char **argv)
{
    int argc = 0;
    char *p = line;

    while (*p != '\0' && argc < MAX_ARGS - 1) {
        char *out;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        argv[argc++] = out = p;
        while (*p != '\0' && !isspace((unsigned char)*p)) {
            if (*p == '"' || *p == '\'') {
                char q = *p++;
                while (*p != '\0' && *p != q)
                    *out++ = *p++;
                if (*p == q)
                    p++;
            } else {
                *out++ = *p++;
            }
        }
        if (*p != '\0')
            p++;
        *out = '\0';
    }
    argv[argc] = NULL;
    return argc;
}

static int
cmd_rkt(shell *sh, int argc, char **argv)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab *kt = NULL;
    char *path = NULL;
    size_t i;
    int rc = -1;

    if (argc != 2) {
        fprintf(stderr, "%s: usage: %s FILE\n", argv[0], argv[0]);
        return -1;
    }
    if (ktool_keytab_path(argv[1], &path, &err) != 0 || mailsso_keytab_read(path, &kt, &err) != 0) {
        ktool_print_error(&err);
        goto cleanup;
    }
    /* like ktutil: append every entry, duplicates included */
    for (i = 0; i < kt->n_entries; i++)
        if (mailsso_keytab_add(sh->list, &kt->entries[i], &err) != 0) {
            ktool_print_error(&err);
            goto cleanup;
        }
    rc = 0;
cleanup:
    free(path);
    mailsso_keytab_free(kt);
    return rc;
}

static int
cmd_wkt(shell *sh, int argc, char **argv)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab *kt = NULL;
    char *path = NULL;
    int rc = -1;

    if (argc != 2) {
        fprintf(stderr, "%s: usage: %s FILE\n", argv[0], argv[0]);
        return -1;
    }
    if (ktool_keytab_path(argv[1], &path, &err) != 0 || ktool_read(path, 1, &kt, &err) != 0) {
        ktool_print_error(&err);
        goto cleanup;
    }
    if (mailsso_keytab_merge(kt, sh->list, MAILSSO_MERGE_FAIL_ON_CONFLICT, NULL, NULL, &err) != 0) {
        ktool_print_error(&err);
        fprintf(stderr, "  (%s was not changed)\n", path);
        goto cleanup;
    }
    if (ktool_write(path, kt, &sh->wo, 1) != KTOOL_EXIT_OK)
        goto cleanup;
    rc = 0;
cleanup:
    free(path);
    mailsso_keytab_free(kt);
    return rc;
}

static int
cmd_list(shell *sh, int argc, char **argv)
{
    int show_t = 0, show_k = 0, show_e = 0, i;
    size_t s;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0') {
            fprintf(stderr, "%s: usage: %s [-t] [-k] [-e]\n", argv[0], argv[0]);
            return -1;
        }
        for (a++; *a; a++) {
            if (*a == 't') show_t = 1;
            else if (*a == 'k') show_k = 1;
            else if (*a == 'e') show_e = 1;
            else {
                fprintf(stderr, "%s: usage: %s [-t] [-k] [-e]\n", argv[0], argv[0]);
                return -1;
            }
        }
    }
    printf("slot KVNO %sPrincipal\n", show_t ? "Timestamp           " : "");
    printf("---- ---- %s---------------------------------------------------------------------\n",
           show_t ? "------------------- " : "");
    for (s = 0; s < sh->list->n_entries; s++) {
        const mailsso_keytab_entry *e = &sh->list->entries[s];
        printf("%4zu %4u ", s + 1, e->kvno);
        if (show_t) {
            char tb[32];
            time_t t = (time_t)e->timestamp;
            struct tm tm;
            if (localtime_r(&t, &tm) != NULL && strftime(tb, sizeof(tb), "%m/%d/%Y %H:%M:%S", &tm))
                printf("%s ", tb);
            else
                printf("%-19u ", e->timestamp);
        }
        printf("%40s", e->principal);   /* ktutil's layout */
        if (show_e) {
            const char *n = mailsso_enctype_name(e->enctype);
            if (n != NULL)
                printf(" (%s) ", n);
            else
                printf(" (etype %d) ", e->enctype);
        }
        if (show_k) {
            size_t k;
            printf(" (0x");
            for (k = 0; k < e->key_len; k++)
                printf("%02x", e->key[k]);
            printf(")");
        }
        printf("\n");
    }
    return 0;
}

static int
read_secret(shell *sh, const char *prompt, char **out)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    char buf[1024];
    size_t n;

    if (sh->interactive) {
        if (ktool_read_password(NULL, prompt, 0, out, &err) != 0) {
            ktool_print_error(&err);
            return -1;
        }
        return 0;
    }
    /* batch mode: the next input line, as ktutil reads it */
    if (fgets(buf, sizeof(buf), sh->in) == NULL) {
        ktool_errorf("end of input while reading the secret for '%s'", prompt);
        return -1;
    }
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    *out = strdup(buf);
    mailsso_zero(buf, sizeof(buf));
    if (*out == NULL)
        return -1;
    return 0;
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int
cmd_addent(shell *sh, int argc, char **argv)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    krb5_context ctx = NULL;
    krb5_principal princ = NULL;
    const char *principal = NULL, *salt_arg = NULL;
    int use_pw = 0, use_key = 0, fetch = 0, i, rc = -1;
    uint32_t kvno = 0;
    int have_kvno = 0;
    int32_t enctype = 0;
    char *secret = NULL, *saltstr = NULL, prompt[600];
    size_t salt_len = 0;
    unsigned char *key = NULL;
    size_t key_len = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-password") == 0) {
            use_pw = 1;
        } else if (strcmp(argv[i], "-key") == 0) {
            use_key = 1;
        } else if (strcmp(argv[i], "-f") == 0) {
            fetch = 1;
        } else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
            principal = argv[++i];
        } else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc) {
            if (ktool_parse_u32(argv[++i], &kvno) != 0) {
                fprintf(stderr, "%s: kvno '%s' is not a number\n", argv[0], argv[i]);
                return -1;
            }
            have_kvno = 1;
        } else if (strcmp(argv[i], "-e") == 0 && i + 1 < argc) {
            char *colon, name[128];
            mailsso_strlcpy(name, argv[++i], sizeof(name));
            colon = strchr(name, ':');
            if (colon != NULL)
                *colon = '\0';
            if (mailsso_enctype_from_name(name, &enctype, &err) != 0) {
                ktool_print_error(&err);
                return -1;
            }
        } else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            salt_arg = argv[++i];
        } else {
            goto usage;
        }
    }
    if (use_pw == use_key || principal == NULL || !have_kvno)
        goto usage;
    if (enctype == 0 && !fetch) {
        fprintf(stderr, "%s: give -e ENCTYPE (or -f to ask the KDC)\n", argv[0]);
        return -1;
    }
    if (enctype != 0 && mailsso_enctype_classify(enctype) == MAILSSO_ENCTYPE_BROKEN) {
        ktool_errorf("enctype %s is broken (DES/3DES); refusing to add it",
                     mailsso_enctype_name(enctype));
        return -1;
    }
    if (ktool_krb5_init(&ctx, &err) != 0)
        goto fail;
    {
        krb5_error_code code = krb5_parse_name(ctx, principal, &princ);
        if (code != 0) {
            char what[600];
            ktool_fmt(what, sizeof(what), "principal '%s' does not parse", principal);
            ktool_krb5_error(ctx, code, &err, what);
            goto fail;
        }
    }
    if (fetch) {
        krb5_enctype et = 0;
        krb5_data salt = { 0, 0, NULL }, params = { 0, 0, NULL };
        krb5_error_code code = krb5_get_etype_info(ctx, princ, NULL, &et, &salt, &params);
        if (code != 0) {
            ktool_krb5_error(ctx, code, &err, "asking the KDC for the enctype and salt failed");
            goto fail;
        }
        krb5_free_data_contents(ctx, &params);
        if (enctype == 0)
            enctype = et;
        if (salt_arg == NULL && salt.length > 0) {
            saltstr = malloc(salt.length + 1);
            if (saltstr != NULL) {
                memcpy(saltstr, salt.data, salt.length);
                saltstr[salt.length] = '\0';
                salt_len = salt.length;
            }
        }
        krb5_free_data_contents(ctx, &salt);
        if (enctype == 0) {
            mailsso_error_set(&err, MAILSSO_E_NOTFOUND, "the KDC announced no enctype for %s",
                              principal);
            goto fail;
        }
    }
    if (use_pw) {
        ktool_fmt(prompt, sizeof(prompt), "Password for %s: ", principal);
        if (read_secret(sh, prompt, &secret) != 0)
            goto out;
        if (saltstr == NULL) {
            ktool_salt_spec spec = { salt_arg ? KTOOL_SALT_EXPLICIT : KTOOL_SALT_MIT, NULL, NULL,
                                     salt_arg };
            if (ktool_compute_salt(ctx, principal, &spec, &saltstr, &salt_len, &err) != 0)
                goto fail;
        }
        if (ktool_add_password_keys(ctx, sh->list, principal, kvno, &enctype, 1, secret, saltstr,
                                    salt_len, &err) != 0)
            goto fail;
    } else {
        mailsso_keytab_entry e;
        size_t hl, k, want = 0;

        ktool_fmt(prompt, sizeof(prompt), "Key for %s (hex): ", principal);
        if (read_secret(sh, prompt, &secret) != 0)
            goto out;
        hl = strlen(secret);
        {
            size_t kb = 0, kl = 0;
            if (krb5_c_keylengths(ctx, enctype, &kb, &kl) == 0)
                want = kl;
        }
        if (hl % 2 != 0 || hl == 0 || (want != 0 && hl / 2 != want)) {
            mailsso_error_set(&err, MAILSSO_E_PARSE, "key for %s: expected %zu hex digits, got "
                              "%zu", principal, want * 2, hl);
            goto fail;
        }
        key_len = hl / 2;
        key = malloc(key_len);
        if (key == NULL)
            goto out;
        for (k = 0; k < key_len; k++) {
            int hi = hexval(secret[2 * k]), lo = hexval(secret[2 * k + 1]);
            if (hi < 0 || lo < 0) {
                mailsso_error_set(&err, MAILSSO_E_PARSE, "key for %s is not hex", principal);
                goto fail;
            }
            key[k] = (unsigned char)(hi << 4 | lo);
        }
        memset(&e, 0, sizeof(e));
        if (mailsso_keytab_entry_init(&e, principal, kvno, enctype, (uint32_t)time(NULL), key,
                                      key_len, &err) != 0 ||
            mailsso_keytab_add(sh->list, &e, &err) != 0) {
            mailsso_keytab_entry_clear(&e);
            goto fail;
        }
        mailsso_keytab_entry_clear(&e);
    }
    rc = 0;
    goto out;
usage:
    fprintf(stderr, "usage: %s (-key | -password) -p principal -k kvno [-e enctype] [-f] "
            "[-s salt]\n", argv[0]);
    return -1;
fail:
    ktool_print_error(&err);
out:
    if (key != NULL)
        mailsso_zfree(key, key_len);
    if (saltstr != NULL)
        mailsso_zfree(saltstr, salt_len);
    ktool_password_free(secret);
    if (ctx != NULL) {
        krb5_free_principal(ctx, princ);
        krb5_free_context(ctx);
    }
    return rc;
}

static int
cmd_delent(shell *sh, int argc, char **argv)
{
    uint32_t slot;
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    size_t i;

    if (argc != 2 || ktool_parse_u32(argv[1], &slot) != 0) {
        fprintf(stderr, "%s: usage: %s SLOT\n", argv[0], argv[0]);
        return -1;
    }
    if (slot == 0 || slot > sh->list->n_entries) {
        fprintf(stderr, "%s: no slot %u (the list has %zu entries)\n", argv[0], slot,
                sh->list->n_entries);
        return -1;
    }
    kt = mailsso_keytab_new();
    if (kt == NULL)
        return -1;
    for (i = 0; i < sh->list->n_entries; i++) {
        if (i + 1 == slot)
            continue;
        if (mailsso_keytab_add(kt, &sh->list->entries[i], &err) != 0) {
            ktool_print_error(&err);
            mailsso_keytab_free(kt);
            return -1;
        }
    }
    mailsso_keytab_free(sh->list);
    sh->list = kt;
    return 0;
}

int
ktool_cmd_shell(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dry-run", no_argument, NULL, 'n' },
        { "mode", required_argument, NULL, 'm' },
        { "owner", required_argument, NULL, 'u' },
        { "group", required_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    shell sh;
    char line[4096];
    int c;

    memset(&sh, 0, sizeof(sh));
    ktool_write_opts_init(&sh.wo);
    while ((c = getopt_long(argc, argv, "nh", opts, NULL)) != -1) {
        switch (c) {
        case 'n': sh.wo.w.dry_run = 1; break;
        case 'm': if (ktool_parse_mode(optarg, &sh.wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'u': if (ktool_parse_owner(optarg, &sh.wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'g': if (ktool_parse_group(optarg, &sh.wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'h': help(); return KTOOL_EXIT_OK;
        default: return ktool_usage_error("shell", "bad option");
        }
    }
    if (optind < argc)
        return ktool_usage_error("shell", "no arguments expected (commands come from stdin)");
    sh.in = stdin;
    sh.interactive = isatty(STDIN_FILENO);
    sh.list = mailsso_keytab_new();
    if (sh.list == NULL)
        return KTOOL_EXIT_FAIL;
    for (;;) {
        char *av[MAX_ARGS];
        int ac, r = 0;

        if (sh.interactive) {
            fputs("mailsso-keytab:  ", stdout);
            fflush(stdout);
        }
        if (fgets(line, sizeof(line), sh.in) == NULL)
            break;
        ac = split(line, av);
        if (ac == 0 || av[0][0] == '#')
            continue;
        if (strcmp(av[0], "quit") == 0 || strcmp(av[0], "q") == 0 || strcmp(av[0], "exit") == 0)
            break;
        else if (strcmp(av[0], "rkt") == 0 || strcmp(av[0], "read_kt") == 0)
            r = cmd_rkt(&sh, ac, av);
        else if (strcmp(av[0], "wkt") == 0 || strcmp(av[0], "write_kt") == 0)
            r = cmd_wkt(&sh, ac, av);
        else if (strcmp(av[0], "l") == 0 || strcmp(av[0], "list") == 0)
            r = cmd_list(&sh, ac, av);
        else if (strcmp(av[0], "addent") == 0 || strcmp(av[0], "add_entry") == 0)
            r = cmd_addent(&sh, ac, av);
        else if (strcmp(av[0], "delent") == 0 || strcmp(av[0], "delete_entry") == 0)
            r = cmd_delent(&sh, ac, av);
        else if (strcmp(av[0], "clear") == 0 || strcmp(av[0], "clear_list") == 0) {
            mailsso_keytab_free(sh.list);
            sh.list = mailsso_keytab_new();
            if (sh.list == NULL)
                return KTOOL_EXIT_FAIL;
        } else if (strcmp(av[0], "lr") == 0 || strcmp(av[0], "list_requests") == 0 ||
                   strcmp(av[0], "?") == 0 || strcmp(av[0], "help") == 0)
            requests();
        else if (strcmp(av[0], "rst") == 0 || strcmp(av[0], "read_st") == 0 ||
                 strcmp(av[0], "wst") == 0 || strcmp(av[0], "write_st") == 0) {
            ktool_errorf("%s: srvtab files (Kerberos 4) are not supported", av[0]);
            r = -1;
        } else {
            fprintf(stderr, "%s: Unknown request \"%s\".  Type \"?\" for a request list.\n",
                    KTOOL_PROG, av[0]);
            r = -1;
        }
        if (r != 0)
            sh.failed = 1;
    }
    mailsso_zero(line, sizeof(line));
    mailsso_keytab_free(sh.list);
    return sh.failed ? KTOOL_EXIT_FAIL : KTOOL_EXIT_OK;
}
