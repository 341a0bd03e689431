/*
 * NAME
 *   main.c - mailsso-kcd command line
 *
 * SYNOPSIS
 *   mailsso-kcd serve  [-c FILE] [--foreground]
 *   mailsso-kcd token  [-c FILE] --cert PEM [--target HTTP@host] [--value]
 *   mailsso-kcd doctor [-c FILE] [--cert PEM] [--user PRINCIPAL] [--target HTTP@host]
 *   mailsso-kcd --check-config [-c FILE]
 *
 * DIAGNOSTICS
 *   Exit 0 on success; 1 error; 2 usage; token: 3 refused (403), 4 KDC or
 *   CRL unavailable (503), 5 gateway misconfiguration (502).
 */
#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsso/config.h>
#include <mailsso/log.h>
#include "kcd.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: " KCD_PROG " serve  [-c FILE] [--foreground]\n"
            "       " KCD_PROG " token  [-c FILE] --cert PEM [--target HTTP@host] [--value]\n"
            "       " KCD_PROG " doctor [-c FILE] [--cert PEM] [--user PRINCIPAL] "
            "[--target HTTP@host]\n"
            "       " KCD_PROG " --check-config [-c FILE]\n"
            "       " KCD_PROG " --version | --help\n"
            "Configuration: the \"kcd\" group of %s (see mailsso-kcd(8), mailsso.conf(5)).\n",
            MAILSSO_DEFAULT_CONFIG);
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "foreground", no_argument, NULL, 'f' },
        { "cert", required_argument, NULL, 'C' },
        { "target", required_argument, NULL, 't' },
        { "user", required_argument, NULL, 'u' },
        { "value", no_argument, NULL, 'V' },
        { "check-config", no_argument, NULL, 'K' },
        { "debug", no_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 }
    };
    const char *config = NULL, *cert = NULL, *target = NULL, *user = NULL, *cmd = NULL;
    int foreground = 0, value = 0, check = 0, debug = 0, c;
    mailsso_logger lg;

    if (argc > 1 && argv[1][0] != '-') {
        cmd = argv[1];
        argv++;
        argc--;
    }
    while ((c = getopt_long(argc, argv, "c:fdh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'f': foreground = 1; break;
        case 'C': cert = optarg; break;
        case 't': target = optarg; break;
        case 'u': user = optarg; break;
        case 'V': value = 1; break;
        case 'K': check = 1; break;
        case 'd': debug = 1; break;
        case 'h': usage(stdout); return 0;
        case 'v': printf(KCD_PROG " " PACKAGE_VERSION "\n"); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    lg = mailsso_logger_stderr(KCD_PROG, debug ? MAILSSO_LOG_DEBUG : MAILSSO_LOG_INFO);
    if (check) {
        kcd_settings *s = NULL;
        mailsso_error err = MAILSSO_ERROR_INIT;
        if (mailsso_config_check(config, stdout) != 0)
            return 1;
        if (kcd_settings_load(config, &s, &err) != 0) {
            printf("%s%s%s\n", err.message, err.fix[0] ? " (fix: " : "",
                   err.fix[0] ? err.fix : "");
            return 1;
        }
        printf("%s: kcd settings valid\n", s->config_path);
        kcd_settings_free(s);
        return 0;
    }
    if (cmd == NULL) {
        usage(stderr);
        return 2;
    }
    if (strcmp(cmd, "serve") == 0)
        return kcd_serve(config, foreground, &lg);
    if (strcmp(cmd, "token") == 0) {
        if (cert == NULL) {
            fprintf(stderr, KCD_PROG " token: --cert PEM is required\n");
            return 2;
        }
        lg.threshold = debug ? MAILSSO_LOG_DEBUG : MAILSSO_LOG_WARN;
        return kcd_token(config, &lg, cert, target, value);
    }
    if (strcmp(cmd, "doctor") == 0)
        return kcd_doctor(config, &lg, cert, user, target);
    fprintf(stderr, KCD_PROG ": unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
