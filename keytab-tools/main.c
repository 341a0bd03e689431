/*
 * NAME
 *   mailsso-keytab - the keytab manager for mail SSO
 *
 * SYNOPSIS
 *   mailsso-keytab [--config FILE] COMMAND [options] [args]
 *   mailsso-keytab --check-config [FILE]
 *
 * DESCRIPTION
 *   Dispatches to one subcommand per file (list.c, merge.c, ...). See
 *   mailsso-keytab(1) for the user documentation.
 *   --check-config validates a mailsso.conf (FILE, else --config, else the
 *   default path) with mailsso_config_check(), which prints every problem
 *   as FILE:LINE: key 'NAME': ...; exit 0 valid, 1 invalid, 2 usage.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsso/config.h>

#include "ktool.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    { "list", ktool_cmd_list, "show keys: principal, kvno, enctype, strength; flags weak/stale" },
    { "merge", ktool_cmd_merge, "merge keytabs into one (ktutil rkt/wkt), refusing conflicts" },
    { "add", ktool_cmd_add, "add keys derived from a password (MIT/AD salts) or random keys" },
    { "remove", ktool_cmd_remove, "remove keys by principal, kvno, enctype" },
    { "purge", ktool_cmd_purge, "drop old kvnos (keep the newest N, or those younger than AGE)" },
    { "verify", ktool_cmd_verify, "prove the keytab accepts tickets the KDC issues" },
    { "doctor", ktool_cmd_doctor, "find what breaks mail SSO: permissions, keys, kvno, clock, DNS" },
    { "rotate", ktool_cmd_rotate, "change the service password (kpasswd), add the new keys" },
    { "shell", ktool_cmd_shell, "ktutil-compatible shell (rkt, wkt, list, addent, delent, q)" },
};

static void
usage(FILE *out)
{
    size_t i;

    fprintf(out, "usage: %s [--config FILE] COMMAND [options] [args]\n"
                 "       %s --check-config [FILE]   validate mailsso.conf (default %s)\n"
                 "\ncommands:\n", KTOOL_PROG, KTOOL_PROG, MAILSSO_DEFAULT_CONFIG);
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'%s COMMAND --help' describes a command; the manual is "
                 "mailsso-keytab(1).\nExit status: 0 success, 1 failure or problem found, "
                 "2 usage error.\n", KTOOL_PROG);
}

/* --check-config: every problem of the file on stdout, one per line. */
static int
check_config(const char *path)
{
    if (path == NULL)
        path = MAILSSO_DEFAULT_CONFIG;
    fflush(stdout);
    if (mailsso_config_check(path, stdout) != 0) {
        fflush(stdout);
        fprintf(stderr, "%s: %s is not a valid configuration (each problem above; "
                "mailsso.conf(5) describes every key)\n", KTOOL_PROG, path);
        return KTOOL_EXIT_FAIL;
    }
    printf("%s: configuration valid\n", path);
    return KTOOL_EXIT_OK;
}

int
main(int argc, char **argv)
{
    int i = 1, check = 0;
    const char *check_path = NULL;
    size_t c;

    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return KTOOL_EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", KTOOL_PROG, PACKAGE_VERSION);
            return KTOOL_EXIT_OK;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            ktool_config_path = argv[i + 1];
            i += 2;
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            ktool_config_path = argv[i] + 9;
            i++;
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check = 1;
            i++;
        } else if (strncmp(argv[i], "--check-config=", 15) == 0) {
            if (check_path != NULL || argv[i][15] == '\0') {
                fprintf(stderr, "%s: --check-config= needs exactly one FILE\n", KTOOL_PROG);
                return KTOOL_EXIT_USAGE;
            }
            check = 1;
            check_path = argv[i] + 15;
            i++;
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n", KTOOL_PROG, argv[i]);
            usage(stderr);
            return KTOOL_EXIT_USAGE;
        }
    }
    if (check) {
        /* --check-config [FILE]: at most one file, named once, and no command */
        if (i < argc && check_path == NULL)
            check_path = argv[i++];
        if (i < argc) {
            fprintf(stderr, "%s: --check-config takes at most one FILE and no command "
                    "(got '%s')\n", KTOOL_PROG, argv[i]);
            return KTOOL_EXIT_USAGE;
        }
        if (check_path != NULL && ktool_config_path != NULL &&
            strcmp(check_path, ktool_config_path) != 0) {
            fprintf(stderr, "%s: --config %s and --check-config %s name two files: give "
                    "one\n", KTOOL_PROG, ktool_config_path, check_path);
            return KTOOL_EXIT_USAGE;
        }
        return check_config(check_path != NULL ? check_path : ktool_config_path);
    }
    if (i >= argc) {
        usage(stderr);
        return KTOOL_EXIT_USAGE;
    }
    for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        if (strcmp(argv[i], commands[c].name) == 0)
            return commands[c].fn(argc - i, argv + i);
    }
    if (strcmp(argv[i], "help") == 0) {
        usage(stdout);
        return KTOOL_EXIT_OK;
    }
    fprintf(stderr, "%s: unknown command '%s'\n", KTOOL_PROG, argv[i]);
    usage(stderr);
    return KTOOL_EXIT_USAGE;
}
