/*
 * NAME
 *   verify.c - mailsso-keytab verify: prove the keytab accepts real tickets
 *
 * DESCRIPTION
 *   For each principal of the keytab (or those of --service / -p): get a
 *   ticket from the KDC -- by default an AS exchange with the keytab's own
 *   key for a ticket to the principal itself (the KDC encrypts it in the
 *   service's current key, as for any client), or with a client's password,
 *   keytab or ccache -- and accept it from
 *   the keytab file through gss_accept_sec_context with the enctype policy
 *   applied, the same acceptor path the SASL plugin uses. Reports the kvno
 *   and enctype of the ticket; on failure the precise reason (stale kvno,
 *   missing enctype, refused enctype, wrong key) and a fix. Exit 0 only if
 *   every principal passed.
 */
#include <config.h>

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mailsso/util.h>

#include "ktool.h"

static void
help(void)
{
    printf("usage: %s verify [options] [KEYTAB]\n"
           "Prove that KEYTAB accepts the tickets the KDC issues for each of its principals:\n"
           "get a ticket, accept it through gss_accept_sec_context with the enctype policy,\n"
           "report kvno and enctype. Exit status 0 only if every principal passed.\n"
           "  -s, --service NAME      only this mail service's principal (smtp, submission,\n"
           "                          imap, pop, sieve, lmtp, http; repeatable); its enctype\n"
           "                          policy comes from that section of mailsso.conf\n"
           "  -p, --principal P       only this principal\n"
           "  How the ticket is obtained (default: the keytab's own key asks for a ticket to itself):\n"
           "      --client P          as client P, with one of:\n"
           "      --password-file F   P's password (first line; '-' = stdin)\n"
           "      --client-keytab K   P's keytab\n"
           "      --ccache C          existing credentials (e.g. after kinit)\n"
           "      --policy SPEC       enctype policy (default: mailsso.conf 'enctypes', or aes)\n"
           "  -j, --json              JSON output\n", KTOOL_PROG);
}

/* The first principal component used by a mail service. */
static const char *
service_component(const char *service)
{
    static const struct { const char *svc, *comp; } map[] = {
        { "smtp", "smtp" }, { "submission", "smtp" }, { "lmtp", "lmtp" }, { "imap", "imap" },
        { "pop", "pop" }, { "pop3", "pop" }, { "sieve", "sieve" }, { "http", "HTTP" },
    };
    size_t i;

    for (i = 0; i < MAILSSO_ARRAY_LEN(map); i++)
        if (mailsso_streq_ci(service, map[i].svc))
            return map[i].comp;
    return service;
}

static int
principal_is_service(const char *principal, const char *service)
{
    const char *comp = service_component(service);
    size_t n = strlen(comp);

    return strncasecmp(principal, comp, n) == 0 && principal[n] == '/';
}

int
ktool_cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        { "service", required_argument, NULL, 's' },
        { "principal", required_argument, NULL, 'p' },
        { "client", required_argument, NULL, 'C' },
        { "password-file", required_argument, NULL, 'F' },
        { "client-keytab", required_argument, NULL, 'K' },
        { "ccache", required_argument, NULL, 'c' },
        { "policy", required_argument, NULL, 'P' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab *kt = NULL;
    mailsso_enctype_policy *policy = NULL;
    ktool_client client;
    const char *services[16], *only = NULL, *policy_spec = NULL;
    const char **princs = NULL;
    size_t n_services = 0, np, j, tested = 0, failed = 0;
    char *client_pw = NULL, *path = NULL;
    int c, json = 0, rc = KTOOL_EXIT_FAIL, status, use_ccache = 0;

    memset(&client, 0, sizeof(client));
    while ((c = getopt_long(argc, argv, "s:p:jh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (n_services == MAILSSO_ARRAY_LEN(services))
                return ktool_usage_error("verify", "too many --service options");
            services[n_services++] = optarg;
            break;
        case 'p': only = optarg; break;
        case 'C': client.principal = optarg; break;
        case 'F': client.password_file = optarg; break;
        case 'K': client.client_keytab = optarg; break;
        case 'c': client.ccache = optarg; use_ccache = 1; break;
        case 'P': policy_spec = optarg; break;
        case 'j': json = 1; break;
        case 'h': help(); return KTOOL_EXIT_OK;
        default: return ktool_usage_error("verify", "bad option");
        }
    }
    if (argc - optind > 1)
        return ktool_usage_error("verify", "at most one KEYTAB");
    if (client.principal == NULL && (client.password_file != NULL || client.client_keytab != NULL))
        return ktool_usage_error("verify", "--password-file/--client-keytab need --client");
    status = ktool_client_resolve("verify", &client, use_ccache, &client_pw);
    if (status >= 0)
        return status;
    if (ktool_keytab_path(optind < argc ? argv[optind] : NULL, &path, &err) != 0 ||
        mailsso_keytab_read(path, &kt, &err) != 0) {
        ktool_print_error(&err);
        goto cleanup;
    }
    client.self_keytab = path;
    if (ktool_load_policy(policy_spec, n_services == 1 ? services[0] : NULL, &policy, &err) != 0) {
        ktool_print_error(&err);
        goto cleanup;
    }
    np = ktool_principals(kt, &princs);
    if (json) {
        printf("{\"keytab\":");
        ktool_json_str(stdout, path);
        printf(",\"results\":[");
    }
    for (j = 0; j < np; j++) {
        const char *p = princs[j];
        gss_buffer_desc token = GSS_C_EMPTY_BUFFER;
        ktool_accept_result res;
        mailsso_error perr = MAILSSO_ERROR_INIT;
        OM_uint32 minor;
        size_t s;
        char eb[64];
        int ok = 0;

        if (only != NULL && strcmp(only, p) != 0)
            continue;
        if (n_services > 0) {
            for (s = 0; s < n_services; s++)
                if (principal_is_service(p, services[s]))
                    break;
            if (s == n_services)
                continue;
        }
        tested++;
        memset(&res, 0, sizeof(res));
        if (ktool_get_token(&client, p, &token, &perr) == 0) {
            if (ktool_accept_token(path, kt, p, policy, &token, &res, &perr) == 0 && res.ok)
                ok = 1;
        }
        gss_release_buffer(&minor, &token);
        if (!ok && res.reason[0] == '\0') {
            if (perr.fix[0] != '\0')
                ktool_fmt(res.reason, sizeof(res.reason), "%s (fix: %s)", perr.message, perr.fix);
            else
                ktool_fmt(res.reason, sizeof(res.reason), "%s", perr.message);
            if (client.mode == KTOOL_CLIENT_SELF && perr.code == MAILSSO_E_KRB5)
                ktool_fmt(res.reason + strlen(res.reason), sizeof(res.reason) - strlen(res.reason),
                         "; the keytab's newest key (kvno %u) is not the KDC's current key: a "
                         "stale kvno or a key made with the wrong password/salt",
                         mailsso_keytab_max_kvno(kt, p));
        }
        if (!ok) {
            /* the fix names this principal and keytab, not lib/diag's placeholder */
            ktool_name_principal(res.reason, sizeof(res.reason), p, path);
            failed++;
        }
        if (json) {
            printf("%s{\"principal\":", tested > 1 ? "," : "");
            ktool_json_str(stdout, p);
            printf(",\"ok\":%s", ok ? "true" : "false");
            if (res.have_kvno)
                printf(",\"kvno\":%u", res.ticket_kvno);
            if (res.ticket_enctype != 0) {
                printf(",\"enctype\":%d,\"enctype_name\":", res.ticket_enctype);
                ktool_json_str(stdout, mailsso_enctype_name(res.ticket_enctype));
            }
            if (!ok) {
                printf(",\"reason\":");
                ktool_json_str(stdout, res.reason);
            }
            printf("}");
        } else if (ok) {
            printf("OK   %s: accepted a ticket with kvno %u, %s%s%s\n", p, res.ticket_kvno,
                   ktool_enctype_str(res.ticket_enctype, eb, sizeof(eb)),
                   res.client[0] ? ", client " : "", res.client);
        } else {
            printf("FAIL %s: %s\n", p, res.reason);
        }
    }
    if (json) {
        printf("],\"tested\":%zu,\"failed\":%zu,\"ok\":%s}\n", tested, failed,
               tested > 0 && failed == 0 ? "true" : "false");
    }
    if (tested == 0) {
        ktool_errorf("no principal in %s matches%s%s", path, only ? " " : " the services given",
                     only ? only : "");
        fprintf(stderr, "  fix: see the principals with '%s list %s'\n", KTOOL_PROG, path);
        goto cleanup;
    }
    if (!json)
        printf("%zu of %zu principal%s verified\n", tested - failed, tested,
               tested == 1 ? "" : "s");
    rc = failed == 0 ? KTOOL_EXIT_OK : KTOOL_EXIT_FAIL;
cleanup:
    mailsso_enctype_policy_free(policy);
    free(princs);
    ktool_password_free(client_pw);
    free(path);
    mailsso_keytab_free(kt);
    return rc;
}
