/*
 * NAME
 *   plugin.c - mailsso Cyrus SASL server plugin: GSSAPI and GSS-SPNEGO
 *
 * SYNOPSIS
 *   smtpd.conf / imapd.conf:
 *     mech_list: GSSAPI
 *     mailsso_config: /etc/mailsso/mailsso.conf    (optional)
 *     keytab: /etc/postfix/smtp.keytab              (stock option, used if
 *                                                    mailsso.conf names none)
 *
 * DESCRIPTION
 *   The only exported symbol is sasl_server_plug_init(). It loads the
 *   configuration (the SASL option mailsso_config, else the default path if
 *   that file exists, else built-in defaults), runs the start-up self-check
 *   of every configured service's keytab and logs each problem loudly. The
 *   mechanisms are always registered: a broken keytab never makes GSSAPI
 *   vanish from the list; instead every login fails with a log line that
 *   says why, and the self-check text is logged again on the first
 *   connection (where the application's log callback is reachable).
 *
 *   The plugin never calls exit(), never changes the environment, and keeps
 *   no process-wide GSS/krb5 state: each service has its own credential.
 *   It holds one private krb5_context for its lifetime, unused, so that
 *   MIT's GSS calls inside a login find krb5.conf already parsed.
 *
 * DIAGNOSTICS
 *   Lines start with "mailsso:". Failures and self-check problems are
 *   SASL_LOG_ERR; the per-login audit line uses audit_level from mailsso.conf.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <krb5/krb5.h>

#include <mailsso/log.h>
#include <mailsso/util.h>

#include "plugin.h"

#define MSP_EXPORT __attribute__((visibility("default")))

typedef struct msp_mech_glob {
    msp_global *g;
    int spnego;
} msp_mech_glob;

typedef struct msp_plugin {
    msp_global g;
    msp_mech_glob mech_glob[2];
    sasl_server_plug_t plugs[2];
    int refs;                    /* mech_free is called once per mechanism */
} msp_plugin;

void
msp_log(const sasl_utils_t *utils, int level, const char *fmt, ...)
{
    char line[MAILSSO_LOG_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    utils->log(utils->conn, level, "%s", line);
}

msp_global *
msp_global_of(void *glob_context, int *spnego_out)
{
    msp_mech_glob *mg = glob_context;

    if (mg == NULL)
        return NULL;
    *spnego_out = mg->spnego;
    return mg->g;
}

void
msp_selfcheck_relog(msp_global *g, const sasl_utils_t *utils)
{
    char *text = NULL, *summary = NULL;

    pthread_mutex_lock(&g->lock);
    if (!g->selfcheck_logged) {
        text = g->selfcheck ? strdup(g->selfcheck) : NULL;
        summary = g->summary ? strdup(g->summary) : NULL;
        g->selfcheck_logged = 1;
    }
    pthread_mutex_unlock(&g->lock);
    /* At plugin init there is no connection, so libsasl sends those lines to
     * syslog only; repeat them once where the application logs. */
    if (summary != NULL)
        msp_log(utils, SASL_LOG_NOTE, "%s", summary);
    if (text != NULL)
        msp_log(utils, SASL_LOG_ERR, "%s: start-up self-check: %s", MSP_LOG_PREFIX, text);
    free(summary);
    free(text);
}

static void
plugin_free(void *glob_context, const sasl_utils_t *utils)
{
    msp_mech_glob *mg = glob_context;
    msp_plugin *pl;

    (void)utils;
    if (mg == NULL)
        return;
    pl = (msp_plugin *)((char *)mg->g - offsetof(msp_plugin, g));
    if (--pl->refs > 0)
        return;
    msp_services_free(&pl->g);
    mailsso_config_free(pl->g.cfg);
    free(pl->g.sasl_keytab);
    free(pl->g.default_realm);
    free(pl->g.selfcheck);
    free(pl->g.summary);
    if (pl->g.profile_hold != NULL)
        krb5_free_context(pl->g.profile_hold);
    pthread_mutex_destroy(&pl->g.lock);
    free(pl);
}

static const char *
getopt_str(const sasl_utils_t *utils, const char *name)
{
    const char *v = NULL;
    unsigned len = 0;

    if (utils->getopt == NULL)
        return NULL;
    if (utils->getopt(utils->getopt_context, "GSSAPI", name, &v, &len) != SASL_OK)
        return NULL;
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

/* audit_level as a SASL level; -1 when log_level filters it out. */
static int
parse_audit_level(const char *audit, const char *threshold)
{
    mailsso_log_level a = MAILSSO_LOG_NOTICE, t = MAILSSO_LOG_INFO;

    if (audit != NULL)
        (void)mailsso_log_level_from_name(audit, &a);
    if (threshold != NULL)
        (void)mailsso_log_level_from_name(threshold, &t);
    if (a > t)
        return -1;
    switch (a) {
    case MAILSSO_LOG_ERR: return SASL_LOG_ERR;
    case MAILSSO_LOG_WARN: return SASL_LOG_WARN;
    case MAILSSO_LOG_DEBUG: return SASL_LOG_DEBUG;
    default: return SASL_LOG_NOTE;
    }
}

/* Appends a problem to g->selfcheck and logs it now. */
static void
selfcheck_add(msp_global *g, const sasl_utils_t *utils, const char *text)
{
    size_t old = g->selfcheck ? strlen(g->selfcheck) : 0;
    char *p = realloc(g->selfcheck, old + strlen(text) + 4);

    utils->log(NULL, SASL_LOG_ERR, "%s: start-up self-check: %s", MSP_LOG_PREFIX, text);
    if (p == NULL)
        return;
    if (old)
        memcpy(p + old, " | ", 3), old += 3;
    strcpy(p + old, text);
    g->selfcheck = p;
}

/* The stock plugin in our own directory: libsasl then picks one of the two
 * by directory order, i.e. unpredictably. Say so loudly. */
static void
selfcheck_neighbour(msp_global *g, const sasl_utils_t *utils)
{
    Dl_info info;
    char dir[1024], path[1100], msg[3000];
    static const char *const stock[] = { "libgssapiv2.so", "libgssapiv2.so.2", NULL };

    if (dladdr((void *)selfcheck_neighbour, &info) == 0 || info.dli_fname == NULL)
        return;
    mailsso_strlcpy(dir, info.dli_fname, sizeof(dir));
    mailsso_strlcpy(dir, dirname(dir), sizeof(dir));
    for (size_t i = 0; stock[i] != NULL; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, stock[i]);
        if (access(path, F_OK) == 0) {
            snprintf(msg, sizeof(msg), "the stock GSSAPI plugin %s is in the same directory as "
                     "this plugin (%s): libsasl keeps only one of them and the choice depends on "
                     "directory order, so some logins may be served by the stock plugin; fix: "
                     "load mailsso from a directory without libgssapiv2.so (SASL_PATH) or divert "
                     "the stock plugin (see docs/mailsso-plugin.md)", path, info.dli_fname);
            selfcheck_add(g, utils, msg);
            return;
        }
    }
}

static void
selfcheck(msp_global *g, const sasl_utils_t *utils)
{
    const char *const *names = NULL;
    size_t n = mailsso_config_services(g->cfg, &names);
    static const char *const fallback[] = { "default", NULL };
    char summary[1500];
    size_t used = 0;

    selfcheck_neighbour(g, utils);
    if (g->cfg_err.code != 0) {
        char msg[1700];
        snprintf(msg, sizeof(msg), "configuration %s is invalid: %s%s%s; every GSSAPI login "
                 "fails until it is fixed", g->cfg_origin, g->cfg_err.message,
                 g->cfg_err.fix[0] ? " (fix: " : "", g->cfg_err.fix[0] ? g->cfg_err.fix : "");
        if (g->cfg_err.fix[0])
            strncat(msg, ")", sizeof(msg) - strlen(msg) - 1);
        selfcheck_add(g, utils, msg);
        return;
    }
    if (n == 0) {
        names = fallback;
        n = 1;
    }
    for (size_t i = 0; i < n; i++) {
        msp_service *svc = NULL;
        char *problem;
        if (msp_service_get(g, utils, names[i], &svc) != SASL_OK)
            continue;
        problem = msp_selfcheck_service(g, svc);
        if (problem != NULL) {
            selfcheck_add(g, utils, problem);
            free(problem);
        }
        if (used < sizeof(summary))
            used += (size_t)snprintf(summary + used, sizeof(summary) - used,
                                     "%s%s (keytab %s from %s, enctypes \"%s\")", i ? ", " : "",
                                     svc->name, svc->keytab, svc->keytab_origin, svc->policy_text);
    }
    {
        char line[2000];
        snprintf(line, sizeof(line), "%s: GSSAPI/GSS-SPNEGO plugin ready: config %s; %s",
                 MSP_LOG_PREFIX, g->cfg_origin, used ? summary : "no services");
        utils->log(NULL, SASL_LOG_NOTE, "%s", line);
        g->summary = strdup(line);
    }
}

static void
load_config(msp_global *g, const sasl_utils_t *utils)
{
    const char *path = getopt_str(utils, "mailsso_config");
    mailsso_config *cfg = NULL;

    if (path == NULL && access(MAILSSO_DEFAULT_CONFIG, F_OK) == 0)
        path = MAILSSO_DEFAULT_CONFIG;
    if (path != NULL) {
        if (mailsso_config_load_file(path, &cfg, &g->cfg_err) == 0) {
            g->cfg = cfg;
            g->cfg_origin = mailsso_config_origin(cfg);
            return;
        }
        if (g->cfg_err.code == 0)
            mailsso_error_set(&g->cfg_err, MAILSSO_E_CONFIG, "%s cannot be loaded", path);
    }
    g->cfg = mailsso_config_defaults();
    g->cfg_origin = path != NULL ? path : "built-in defaults (no mailsso.conf)";
}

MSP_EXPORT int sasl_server_plug_init(const sasl_utils_t *utils, int maxversion, int *out_version,
                                     sasl_server_plug_t **pluglist, int *plugcount);

MSP_EXPORT int
sasl_server_plug_init(const sasl_utils_t *utils, int maxversion, int *out_version,
                      sasl_server_plug_t **pluglist, int *plugcount)
{
    msp_plugin *pl = NULL;
    krb5_context kctx = NULL;
    char *realm = NULL;
    const char *opt;

    if (maxversion < SASL_SERVER_PLUG_VERSION)
        return SASL_BADVERS;
    pl = calloc(1, sizeof(*pl));
    if (pl == NULL)
        return SASL_NOMEM;
    if (pthread_mutex_init(&pl->g.lock, NULL) != 0) {
        free(pl);
        return SASL_FAIL;
    }
    load_config(&pl->g, utils);
    if (pl->g.cfg == NULL) {
        pthread_mutex_destroy(&pl->g.lock);
        free(pl);
        return SASL_NOMEM;
    }
    opt = getopt_str(utils, "keytab");
    if (opt != NULL)
        pl->g.sasl_keytab = strdup(opt);
    if (krb5_init_context(&kctx) == 0) {
        if (krb5_get_default_realm(kctx, &realm) == 0) {
            pl->g.default_realm = strdup(realm);
            krb5_free_default_realm(kctx, realm);
        }
        /* Kept until mech_free only to keep krb5.conf parsed (plugin.h);
         * no thread uses it after this point. */
        pl->g.profile_hold = kctx;
    }
    pl->g.audit_level = parse_audit_level(mailsso_config_get_string(pl->g.cfg, NULL, "audit_level"),
                                          mailsso_config_get_string(pl->g.cfg, NULL, "log_level"));

    for (int i = 0; i < 2; i++) {
        sasl_server_plug_t *p = &pl->plugs[i];
        pl->mech_glob[i].g = &pl->g;
        pl->mech_glob[i].spnego = i == 1;
        p->mech_name = i == 0 ? "GSSAPI" : "GSS-SPNEGO";
        p->max_ssf = MSP_MAX_SSF;
        /* Same flags as the stock plugin, so that libsasl ranks both alike. */
        p->security_flags = SASL_SEC_NOPLAINTEXT | SASL_SEC_NOACTIVE | SASL_SEC_NOANONYMOUS |
                            SASL_SEC_MUTUAL_AUTH | SASL_SEC_PASS_CREDENTIALS;
        p->features = SASL_FEAT_WANT_CLIENT_FIRST | SASL_FEAT_ALLOWS_PROXY |
                      SASL_FEAT_DONTUSE_USERPASSWD | SASL_FEAT_CHANNEL_BINDING;
        p->glob_context = &pl->mech_glob[i];
        p->mech_new = msp_mech_new;
        p->mech_step = msp_mech_step;
        p->mech_dispose = msp_mech_dispose;
        p->mech_free = plugin_free;
    }
    pl->refs = 2;
    selfcheck(&pl->g, utils);

    *out_version = SASL_SERVER_PLUG_VERSION;
    *pluglist = pl->plugs;
    *plugcount = 2;
    return SASL_OK;
}
