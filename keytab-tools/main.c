/*
 * NAME
 *   mailsso-keytab - the keytab manager for mail SSO
 *
 * SYNOPSIS
 *   mailsso-keytab [--config FILE] COMMAND [options] [args]
 *
 * DESCRIPTION
 *   Dispatches to one subcommand per file (list.c, merge.c, ...). See
 *   mailsso-keytab(1) for the user documentation.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

    fprintf(out, "usage: %s [--config FILE] COMMAND [options] [args]\n\ncommands:\n",
            KTOOL_PROG);
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'%s COMMAND --help' describes a command; the manual is "
                 "mailsso-keytab(1).\nExit status: 0 success, 1 failure or problem found, "
                 "2 usage error.\n", KTOOL_PROG);
}

int
main(int argc, char **argv)
{
    int i = 1;
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
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n", KTOOL_PROG, argv[i]);
            usage(stderr);
            return KTOOL_EXIT_USAGE;
        }
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
