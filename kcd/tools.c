/*
 * NAME
 *   tools.c - "mailsso-kcd token" and "mailsso-kcd doctor"
 *
 * DESCRIPTION
 *   token: the exact path of the daemon (same checks, same mapping, same
 *   S4U code) for one certificate file, printing the header nginx would
 *   get. doctor: walks the configuration, trust anchors, gateway keytab,
 *   KDC reachability, clock skew, CRL reachability and, with --user or
 *   --cert, the whole S4U path; one "ok"/"FAIL"/"warn" line per check.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mailsso/diag.h>
#include <mailsso/util.h>
#include "kcd.h"

int
kcd_read_file(const char *path, char **data_out, size_t *len_out, mailsso_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (f == NULL) {
        mailsso_diag d;
        mailsso_diag_file(errno, path, &d);
        mailsso_error_set(err, MAILSSO_E_IO, "cannot read %s: %s", path, d.cause);
        return MAILSSO_E_IO;
    }
    for (;;) {
        if (len + 4096 + 1 > cap) {
            char *nb;
            cap = cap ? cap * 2 : 8192;
            if (cap > 1024 * 1024 || (nb = realloc(buf, cap)) == NULL) {
                free(buf);
                fclose(f);
                return mailsso_error_set(err, MAILSSO_E_IO, "%s is too big", path);
            }
            buf = nb;
        }
        n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    *data_out = buf;
    *len_out = len;
    return 0;
}

int
kcd_token(const char *config_path, const mailsso_logger *lg, const char *cert_path,
          const char *target, int value_only)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    kcd_settings *s = NULL;
    kcd_runtime *rt = NULL;
    kcd_result r;
    char *pem = NULL;
    size_t len = 0;
    int rc = 1;

    kcd_result_init(&r);
    if (kcd_read_file(cert_path, &pem, &len, &err) != 0 ||
        kcd_settings_load(config_path, &s, &err) != 0 ||
        kcd_runtime_new(s, lg, 0, &rt, &err) != 0) {
        mailsso_log_error(lg, MAILSSO_LOG_ERR, &err);
        if (rt == NULL)
            kcd_settings_free(s);
        goto done;
    }
    kcd_authorize(rt, pem, len, target, NULL, "command line", &r);
    if (r.status == KCD_OK) {
        if (value_only)
            printf("%s\n", r.header);
        else
            printf("Authorization: %s\n", r.header);
        fflush(stdout);
        rc = 0;
    } else {
        rc = r.status == KCD_FORBIDDEN ? 3 : (r.status == KCD_UNAVAILABLE ? 4 : 5);
    }
done:
    kcd_result_clear(&r);
    kcd_runtime_free(rt);
    free(pem);
    return rc;
}

static int failures;

static void
report(const char *state, const char *what, const char *detail, const char *fix)
{
    printf("%-5s %s%s%s\n", state, what, detail && detail[0] ? ": " : "", detail ? detail : "");
    if (fix && fix[0])
        printf("      fix: %s\n", fix);
    if (strcmp(state, "FAIL") == 0)
        failures++;
}

int
kcd_doctor(const char *config_path, const mailsso_logger *lg_in, const char *cert_path,
           const char *user, const char *target)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_logger lg = *lg_in;
    kcd_settings *s = NULL;
    kcd_runtime *rt = NULL;
    kcd_result r;
    char buf[KCD_TEXT_MAX * 2];
    const char *const *urls;
    size_t n_urls;

    failures = 0;
    lg.threshold = MAILSSO_LOG_ERR;   /* doctor prints its own lines */
    if (kcd_settings_load(config_path, &s, &err) != 0) {
        report("FAIL", "configuration", err.message, err.fix);
        return 1;
    }
    report("ok", "configuration", s->config_path, NULL);
    {
        char dir[1024];
        const char *slash;
        struct stat sb;
        mailsso_strlcpy(dir, s->socket_path, sizeof(dir));
        slash = strrchr(dir, '/');
        if (slash != NULL && slash != dir)
            dir[slash - dir] = '\0';
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            snprintf(buf, sizeof(buf), "directory %s of %s does not exist", dir, s->socket_path);
            report("FAIL", "socket", buf, "create it (e.g. systemd RuntimeDirectory=mailsso)");
        } else {
            report("ok", "socket directory", dir, NULL);
        }
    }
    if (kcd_runtime_new(s, &lg, 0, &rt, &err) != 0) {
        report("FAIL", "certificates", err.message, err.fix);
        kcd_settings_free(s);
        return 1;
    }
    snprintf(buf, sizeof(buf), "trust anchors %s, intermediates %s", rt->s->trust_anchors,
             rt->s->intermediates[0] ? rt->s->intermediates : "(none)");
    report("ok", "certificates", buf, NULL);

    kcd_result_init(&r);
    if (rt->gw == NULL && kcd_gateway_new(rt->s, &rt->gw, &r) != 0) {
        snprintf(buf, sizeof(buf), "[%s] %s", r.cause_name, r.message);
        report("FAIL", "gateway keytab + KDC", buf, r.fix);
    } else {
        time_t end = 0;
        long long skew = kcd_gateway_skew(rt->gw, &end);
        snprintf(buf, sizeof(buf), "forwardable TGT for %s from %s, valid %llds",
                 kcd_gateway_name(rt->gw), rt->s->keytab, (long long)(end - time(NULL)));
        report("ok", "gateway keytab + KDC", buf, NULL);
        snprintf(buf, sizeof(buf), "KDC clock %+llds from ours", skew);
        report(skew > 240 || skew < -240 ? "FAIL" : "ok", "clock skew", buf,
               skew > 240 || skew < -240 ? "synchronise clocks (NTP): Kerberos allows 300s" : NULL);
    }
    kcd_result_clear(&r);

    n_urls = kcd_certcheck_crl_urls(rt->cc, &urls);
    if (n_urls == 0) {
        report("warn", "CRLs", "no CRL URL known before a user certificate is seen (only the "
               "leaf's distribution points will be used)", NULL);
    }
    for (size_t i = 0; i < n_urls; i++) {
        STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
        char why[512] = "";
        int g = kcd_crl_get(rt->crls, urls[i], sk, NULL, NULL, why, sizeof(why));
        report(g == 0 ? "ok" : (rt->s->crl_fail_open ? "warn" : "FAIL"),
               "CRL", g == 0 ? urls[i] : why, g == 0 ? NULL :
               "make the URL reachable from the gateway or list a mirror in kcd.crl_urls");
        sk_X509_CRL_pop_free(sk, X509_CRL_free);
    }

    if (rt->gw != NULL && (user != NULL || cert_path != NULL)) {
        const char *t = target && target[0] ? target : rt->s->default_target;
        if (cert_path != NULL) {
            char *pem = NULL;
            size_t len = 0;
            if (kcd_read_file(cert_path, &pem, &len, &err) != 0) {
                report("FAIL", "certificate", err.message, NULL);
            } else {
                kcd_result_init(&r);
                kcd_authorize(rt, pem, len, t, NULL, "doctor", &r);
                if (r.status == KCD_OK) {
                    snprintf(buf, sizeof(buf), "%s -> %s: token of %zu bytes", r.principal, t,
                             strlen(r.header));
                    report("ok", "certificate + S4U path", buf, NULL);
                } else {
                    snprintf(buf, sizeof(buf), "[%d %s] %s", r.status, r.cause_name, r.message);
                    report("FAIL", "certificate + S4U path", buf, r.fix);
                }
                kcd_result_clear(&r);
            }
            free(pem);
        }
        if (user != NULL) {
            gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
            time_t end;
            char *hdr = NULL;
            OM_uint32 minor;
            kcd_result_init(&r);
            if (kcd_s4u_impersonate(rt->gw, user, &cred, &end, &r) == 0 &&
                kcd_s4u_token(rt->gw, cred, user, t, &hdr, &r) == 0) {
                snprintf(buf, sizeof(buf), "%s -> %s: token of %zu bytes", user, t, strlen(hdr));
                report("ok", "S4U2Self + S4U2Proxy", buf, NULL);
            } else {
                snprintf(buf, sizeof(buf), "[%d %s] %s", r.status, r.cause_name, r.message);
                report("FAIL", "S4U2Self + S4U2Proxy", buf, r.fix);
            }
            free(hdr);
            gss_release_cred(&minor, &cred);
            kcd_result_clear(&r);
        }
    }
    kcd_runtime_free(rt);
    printf("%s\n", failures ? "doctor: problems found" : "doctor: all checks passed");
    return failures ? 1 : 0;
}
