/*
 * NAME
 *   gen-mailsso-conf-man - write mailsso.conf(5) from the config schema
 *
 * SYNOPSIS
 *   gen-mailsso-conf-man [OUTPUT]
 *
 * DESCRIPTION
 *   Build-time helper (docs/Makefile.am): prints the man page that
 *   mailsso_config_write_manpage() derives from lib/config_schema.c, to
 *   OUTPUT or standard output. Exit status 0 on success, 1 on a write error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mailsso/config.h>

int
main(int argc, char **argv)
{
    FILE *out = stdout;
    int rc;

    if (argc > 2) {
        fprintf(stderr, "usage: %s [OUTPUT]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        out = fopen(argv[1], "w");
        if (out == NULL) {
            fprintf(stderr, "%s: cannot write %s: %s\n", argv[0], argv[1], strerror(errno));
            return 1;
        }
    }
    rc = mailsso_config_write_manpage(out);
    if (fflush(out) != 0)
        rc = -1;
    if (out != stdout && fclose(out) != 0)
        rc = -1;
    if (rc != 0) {
        fprintf(stderr, "%s: cannot write the man page\n", argv[0]);
        return 1;
    }
    return 0;
}
