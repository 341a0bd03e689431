/*
 * NAME
 *   service.c - per-service settings and the cached acceptor credential
 *
 * DESCRIPTION
 *   A service ("smtp", "imap", "pop", ...) is what libsasl passes as the
 *   service name; its settings come from the mailsso.conf group of that
 *   name, falling back to the top level and the schema defaults.
 *
 *   The keytab is, in this order: mailsso.conf "keytab" for the service
 *   (or top level), the stock plugin's SASL option "keytab:", the krb5
 *   default keytab. It is always handed to GSS through a credential store
 *   (gss_acquire_cred_from with {"keytab": name}); the process environment
 *   and MIT's process-wide acceptor identity are never touched.
 *
 *   The credential is acquired for GSS_C_NO_NAME (every key in the keytab)
 *   and the ticket's server principal is checked against accept_names after
 *   gss_accept_sec_context, so a ticket for a name outside the list is
 *   refused even when the keytab holds its key, and the refusal names both.
 *
 *   That check costs three GSS calls per login, so it is skipped when it
 *   cannot fail (msp_cred_covers): when the credential is acquired, the
 *   distinct principals of the keytab are listed; if every one of them is
 *   accepted for the service and server name, and the keytab file is still
 *   the one that was listed (same stamp, checked after the accept), every
 *   ticket MIT accepted was decrypted with the key of an accepted principal
 *   -- MIT's acceptor with GSS_C_NO_NAME only tries keys of the keytab, and
 *   the ticket's encrypted part can only be made by someone holding that
 *   key (the KDC). The ticket's cleartext server name is never trusted for
 *   this decision. (As always with Kerberos, principals that share one key,
 *   e.g. several SPNs of one AD account, cannot be told apart.)
 *
 *   When the keytab also holds names that are not accepted (one file for
 *   smtp, imap and pop), msp_cred_named() gives a credential for exactly
 *   the principal the ticket names (read from the AP-REQ, unauthenticated),
 *   if that principal is in the keytab and accepted: MIT then decrypts the
 *   ticket only with that principal's key, so a ticket whose cleartext name
 *   was changed from a refused principal to an accepted one fails to
 *   decrypt. A successful accept thus proves the ticket is for the name we
 *   checked, and the per-login check is skipped. (Verified against MIT
 *   1.20 with forged AP-REQs: a smtp/ ticket relabelled imap/ fails to
 *   decrypt; relabelled to a name the keytab lacks, MIT decrypts it with
 *   the smtp/ key and gss_inquire_context reports smtp/, which the
 *   per-login check refuses.) Such credentials belong to
 *   the msp_cred of the keytab generation they were acquired for and go
 *   with it. Anything else (name not in the keytab, not accepted, no AP-REQ
 *   in the first token) uses the general credential and the per-login check.
 *
 *   Credentials are cached per service and re-acquired when the keytab's
 *   (device, inode, size, mtime) change, so a rotated keytab is used by the
 *   next login without a restart. The enctype policy is applied to the
 *   credential (gss_krb5_set_allowable_enctypes), so MIT refuses tickets and
 *   session keys outside the policy whatever the host's permitted_enctypes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>

#include <mailsso/keytab.h>
#include <mailsso/log.h>
#include <mailsso/util.h>

#include "plugin.h"

const char *
msp_keytab_file(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return NULL;
    if (strncmp(name, "FILE:", 5) == 0)
        return name + 5;
    if (strncmp(name, "WRFILE:", 7) == 0)
        return name + 7;
    if (name[0] == '/')
        return name;
    if (strchr(name, ':') != NULL)
        return NULL;        /* MEMORY:, KEYRING:, ... */
    return name;
}

/* Readable by this process's effective identity? (open, not access(): access
 * checks the real uid.) 0 or an errno. */
int
msp_readable(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

int
msp_ktstamp_read(const char *path, msp_ktstamp *st, int *errno_out)
{
    struct stat sb;

    memset(st, 0, sizeof(*st));
    if (path == NULL)
        return 0;
    if (stat(path, &sb) != 0) {
        if (errno_out != NULL)
            *errno_out = errno;
        return -1;
    }
    st->valid = 1;
    st->dev = sb.st_dev;
    st->ino = sb.st_ino;
    st->size = sb.st_size;
    st->mtime = sb.st_mtim;
    return 0;
}

static int
ktstamp_equal(const msp_ktstamp *a, const msp_ktstamp *b)
{
    return a->valid == b->valid && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static char *
dupstr(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

static void
cred_free(msp_cred *c)
{
    OM_uint32 minor;

    if (c == NULL)
        return;
    (void)gss_release_cred(&minor, &c->cred);
    for (size_t i = 0; i < c->n_principals; i++) {
        free(c->principals[i]);
        if (c->named != NULL && c->named[i] != GSS_C_NO_CREDENTIAL)
            (void)gss_release_cred(&minor, &c->named[i]);
    }
    free(c->principals);
    free(c->named);
    free(c->covers_fqdn);
    free(c);
}

static void
service_free(msp_service *svc)
{
    if (svc == NULL)
        return;
    free(svc->name);
    free(svc->keytab);
    free(svc->hostname);
    free(svc->rcache);
    for (size_t i = 0; i < svc->n_realm_policies; i++) {
        free(svc->realm_policies[i].realm);
        mailsso_enctype_policy_free(svc->realm_policies[i].policy);
    }
    free(svc->realm_policies);
    for (size_t i = 0; i < svc->n_accept; i++)
        free(svc->accept[i]);
    free(svc->accept);
    mailsso_enctype_policy_free(svc->policy);
    mailsso_identity_rules_free(svc->rules);
    /* Only called from mech_free: no connection holds a reference. */
    cred_free(svc->cred);
    free(svc);
}

void
msp_services_free(msp_global *g)
{
    msp_service *svc = g->services, *next;

    while (svc != NULL) {
        next = svc->next;
        service_free(svc);
        svc = next;
    }
    g->services = NULL;
}

static char *
default_keytab_name(void)
{
    krb5_context ctx = NULL;
    char buf[1024];
    char *out = NULL;

    if (krb5_init_context(&ctx) != 0)
        return strdup("FILE:/etc/krb5.keytab");
    if (krb5_kt_default_name(ctx, buf, sizeof(buf)) == 0)
        out = strdup(buf);
    krb5_free_context(ctx);
    return out != NULL ? out : strdup("FILE:/etc/krb5.keytab");
}

static msp_service *
service_new(msp_global *g, const char *name)
{
    msp_service *svc = NULL;
    const char *kt;
    const char *const *items = NULL;
    size_t n;
    const char *spec;

    svc = calloc(1, sizeof(*svc));
    if (svc == NULL)
        return NULL;
    svc->name = dupstr(name);
    if (svc->name == NULL)
        goto fail;
    if (g->cfg_err.code != 0)
        svc->setup_err = g->cfg_err;       /* a broken mailsso.conf fails every login */

    kt = mailsso_config_get_string(g->cfg, name, "keytab");
    if (kt != NULL && kt[0] != '\0') {
        svc->keytab = dupstr(kt);
        svc->keytab_origin = mailsso_config_is_set(g->cfg, name, "keytab")
                                 ? "mailsso.conf service keytab"
                                 : "mailsso.conf keytab";
    } else if (g->sasl_keytab != NULL) {
        svc->keytab = dupstr(g->sasl_keytab);
        svc->keytab_origin = "SASL option keytab";
    } else {
        svc->keytab = default_keytab_name();
        svc->keytab_origin = "krb5 default keytab";
    }
    if (svc->keytab == NULL)
        goto fail;
    svc->keytab_path = msp_keytab_file(svc->keytab);

    n = mailsso_config_get_list(g->cfg, name, "accept_names", &items);
    if (n > 0) {
        svc->accept = calloc(n, sizeof(char *));
        if (svc->accept == NULL)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            svc->accept[i] = dupstr(items[i]);
            if (svc->accept[i] == NULL)
                goto fail;
            svc->n_accept = i + 1;
        }
    }

    kt = mailsso_config_get_string(g->cfg, name, "hostname");
    if (kt != NULL && kt[0] != '\0' && (svc->hostname = dupstr(kt)) == NULL)
        goto fail;
    kt = mailsso_config_get_string(g->cfg, name, "replay_cache");
    if (kt != NULL && kt[0] != '\0' && (svc->rcache = dupstr(kt)) == NULL)
        goto fail;
    svc->warn_rc4 = mailsso_config_get_bool(g->cfg, name, "warn_rc4");

    n = mailsso_config_get_list(g->cfg, name, "realm_enctypes", &items);
    if (n > 0) {
        svc->realm_policies = calloc(n, sizeof(*svc->realm_policies));
        if (svc->realm_policies == NULL)
            goto fail;
        for (size_t i = 0; i < n && svc->setup_err.code == 0; i++) {
            const char *eq = strchr(items[i], '=');
            msp_realm_policy *rp = &svc->realm_policies[i];
            size_t rl;
            if (eq == NULL)
                continue;       /* the schema check already refused it */
            rl = (size_t)(eq - items[i]);
            while (rl > 0 && items[i][rl - 1] == ' ')
                rl--;
            rp->realm = strndup(items[i], rl);
            eq++;
            while (*eq == ' ')
                eq++;
            if (rp->realm == NULL)
                goto fail;
            mailsso_strlcpy(rp->text, eq, sizeof(rp->text));
            svc->n_realm_policies = i + 1;
            if (mailsso_enctype_policy_parse(eq, &rp->policy, &svc->setup_err) != 0)
                rp->policy = NULL;
        }
    }

    spec = mailsso_config_get_string(g->cfg, name, "enctypes");
    if (spec == NULL || spec[0] == '\0')
        spec = "default";
    mailsso_strlcpy(svc->policy_text, spec, sizeof(svc->policy_text));
    if (mailsso_enctype_policy_parse(spec, &svc->policy, &svc->setup_err) != 0)
        svc->policy = NULL;

    if (svc->setup_err.code == 0 &&
        mailsso_identity_rules_from_config(g->cfg, name, g->default_realm, &svc->rules,
                                           &svc->setup_err) != 0)
        svc->rules = NULL;
    return svc;

fail:
    service_free(svc);
    return NULL;
}

int
msp_service_get(msp_global *g, const sasl_utils_t *utils, const char *name,
                msp_service **svc_out)
{
    msp_service *svc;
    int ret = SASL_OK;

    if (name == NULL || name[0] == '\0')
        name = "default";
    pthread_mutex_lock(&g->lock);
    for (svc = g->services; svc != NULL; svc = svc->next)
        if (strcmp(svc->name, name) == 0)
            break;
    if (svc == NULL) {
        svc = service_new(g, name);
        if (svc == NULL) {
            ret = SASL_NOMEM;
        } else {
            svc->next = g->services;
            g->services = svc;
        }
    }
    pthread_mutex_unlock(&g->lock);
    if (ret == SASL_OK)
        *svc_out = svc;
    (void)utils;
    return ret;
}

/* Allowed enctypes of the policy that the library knows, for the credential. */
static size_t
policy_enctypes(const msp_service *svc, krb5_enctype *out, size_t max)
{
    static const krb5_enctype candidates[] = {
        ENCTYPE_AES256_CTS_HMAC_SHA384_192, ENCTYPE_AES128_CTS_HMAC_SHA256_128,
        ENCTYPE_AES256_CTS_HMAC_SHA1_96,    ENCTYPE_AES128_CTS_HMAC_SHA1_96,
        ENCTYPE_CAMELLIA256_CTS_CMAC,       ENCTYPE_CAMELLIA128_CTS_CMAC,
        ENCTYPE_ARCFOUR_HMAC,               ENCTYPE_ARCFOUR_HMAC_EXP,
    };
    size_t n = 0;

    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(candidates) && n < max; i++) {
        int ok;
        if (mailsso_enctype_classify(candidates[i]) == MAILSSO_ENCTYPE_BROKEN)
            continue;
        ok = mailsso_enctype_policy_allows(svc->policy, candidates[i]);
        for (size_t r = 0; !ok && r < svc->n_realm_policies; r++)
            ok = svc->realm_policies[r].policy != NULL &&
                 mailsso_enctype_policy_allows(svc->realm_policies[r].policy, candidates[i]);
        if (ok)
            out[n++] = candidates[i];
    }
    return n;
}

static int acquire(msp_service *svc, const char *principal, gss_cred_id_t *cred_out,
                   mailsso_error *err, mailsso_diag *diag);

static void
cred_unref_locked(msp_cred *c)
{
    if (c == NULL)
        return;
    if (--c->refs == 0)
        cred_free(c);
}

/* The distinct principals of the keytab file into c; on any error c keeps
 * principals == NULL ("not known": every login is checked). */
static void
list_principals(const char *path, msp_cred *c)
{
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    char **list = NULL;
    size_t n = 0;

    if (path == NULL || mailsso_keytab_read(path, &kt, &err) != 0)
        return;
    list = calloc(kt->n_entries ? kt->n_entries : 1, sizeof(char *));
    if (list == NULL)
        goto cleanup;
    for (size_t i = 0; i < kt->n_entries; i++) {
        size_t k;
        for (k = 0; k < n; k++)
            if (strcmp(list[k], kt->entries[i].principal) == 0)
                break;
        if (k < n)
            continue;
        list[n] = strdup(kt->entries[i].principal);
        if (list[n] == NULL)
            goto cleanup;
        n++;
    }
    c->named = calloc(n ? n : 1, sizeof(gss_cred_id_t));    /* all GSS_C_NO_CREDENTIAL */
    if (c->named == NULL)
        goto cleanup;
    c->principals = list;
    c->n_principals = n;
    list = NULL;
    n = 0;

cleanup:
    for (size_t i = 0; list != NULL && i < n; i++)
        free(list[i]);
    free(list);
    mailsso_keytab_free(kt);
}

int
msp_cred_named(msp_global *g, msp_service *svc, msp_cred *cred, const char *principal,
               const char *fqdn, gss_cred_id_t *gcred_out)
{
    size_t i;
    gss_cred_id_t gc = GSS_C_NO_CREDENTIAL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_diag diag;

    if (cred == NULL || cred->principals == NULL || principal == NULL || principal[0] == '\0')
        return 0;
    for (i = 0; i < cred->n_principals; i++)
        if (strcmp(cred->principals[i], principal) == 0)
            break;
    if (i == cred->n_principals || !msp_accept_name_ok(svc, fqdn, principal))
        return 0;
    pthread_mutex_lock(&g->lock);
    gc = cred->named[i];
    pthread_mutex_unlock(&g->lock);
    if (gc == GSS_C_NO_CREDENTIAL) {
        /* acquire outside the lock; a racing thread may do the same */
        if (acquire(svc, principal, &gc, &err, &diag) != 0)
            return 0;       /* the general credential and the per-login check take over */
        pthread_mutex_lock(&g->lock);
        if (cred->named[i] == GSS_C_NO_CREDENTIAL) {
            cred->named[i] = gc;
            gc = GSS_C_NO_CREDENTIAL;
        }
        pthread_mutex_unlock(&g->lock);
        if (gc != GSS_C_NO_CREDENTIAL) {
            OM_uint32 minor;
            (void)gss_release_cred(&minor, &gc);
        }
        pthread_mutex_lock(&g->lock);
        gc = cred->named[i];
        pthread_mutex_unlock(&g->lock);
    }
    *gcred_out = gc;
    return 1;
}

int
msp_cred_covers(msp_global *g, const msp_service *svc, msp_cred *cred, const char *fqdn)
{
    msp_ktstamp now;
    int ok;

    if (cred == NULL || cred->principals == NULL || svc->keytab_path == NULL ||
        !cred->stamp.valid)
        return 0;
    if (fqdn == NULL)
        fqdn = "";
    pthread_mutex_lock(&g->lock);
    if (cred->covers_fqdn != NULL && strcmp(cred->covers_fqdn, fqdn) == 0) {
        ok = cred->covers;
    } else {
        ok = cred->n_principals > 0;
        for (size_t i = 0; ok && i < cred->n_principals; i++)
            ok = msp_accept_name_ok(svc, fqdn, cred->principals[i]);
        free(cred->covers_fqdn);
        cred->covers_fqdn = strdup(fqdn);     /* NULL: no cache, computed again */
        cred->covers = ok;
    }
    pthread_mutex_unlock(&g->lock);
    if (!ok)
        return 0;
    /* MIT read the keytab during the accept: it must still be the file whose
     * principals were listed (a rotation in between falls back to the check). */
    if (msp_ktstamp_read(svc->keytab_path, &now, NULL) != 0 || !ktstamp_equal(&now, &cred->stamp))
        return 0;
    return 1;
}

void
msp_cred_put(msp_global *g, msp_cred *cred)
{
    if (cred == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    cred_unref_locked(cred);
    pthread_mutex_unlock(&g->lock);
}

/* The acceptor credential from the service's keytab: for every key of it
 * (principal NULL) or for the keys of one principal only. */
static int
acquire(msp_service *svc, const char *principal, gss_cred_id_t *cred_out, mailsso_error *err,
        mailsso_diag *diag)
{
    gss_name_t desired = GSS_C_NO_NAME;
    gss_key_value_element_desc el[2];
    gss_key_value_set_desc store;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_OID_set_desc mechs, neg;
    gss_OID_desc oids[2] = {
        { 9, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02" },   /* krb5 */
        { 6, (void *)"\x2b\x06\x01\x05\x05\x02" },                   /* SPNEGO */
    };
    OM_uint32 major, minor;
    krb5_enctype etypes[16];
    size_t n;

    el[0].key = "keytab";
    el[0].value = svc->keytab;
    el[1].key = "rcache";
    el[1].value = svc->rcache;
    store.count = svc->rcache != NULL ? 2 : 1;
    store.elements = el;
    /* krb5 for GSSAPI, SPNEGO for GSS-SPNEGO; both from the same store. Without
     * an SPNEGO element the mechglue would hand SPNEGO the default credential,
     * i.e. the default keytab. */
    mechs.count = 2;
    mechs.elements = oids;
    if (principal != NULL) {
        gss_buffer_desc nb;
        nb.value = (void *)principal;
        nb.length = strlen(principal);
        major = gss_import_name(&minor, &nb, GSS_KRB5_NT_PRINCIPAL_NAME, &desired);
        if (GSS_ERROR(major)) {
            mailsso_diag_gss(major, minor, diag);
            return mailsso_error_set(err, MAILSSO_E_GSS, "service %s: cannot import principal "
                                     "name %s: %s", svc->name, principal, diag->code_text);
        }
    }
    major = gss_acquire_cred_from(&minor, desired, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT,
                                  &store, &cred, NULL, NULL);
    if (desired != GSS_C_NO_NAME) {
        OM_uint32 m2;
        (void)gss_release_name(&m2, &desired);
    }
    if (GSS_ERROR(major)) {
        mailsso_diag_gss(major, minor, diag);
        return mailsso_error_set(err, MAILSSO_E_GSS,
                                 "cannot use keytab %s (%s) for service %s: %s", svc->keytab,
                                 svc->keytab_origin, svc->name, diag->code_text);
    }
    /* SPNEGO may negotiate Kerberos only (no NTLM, no IAKERB). */
    neg.count = 1;
    neg.elements = &oids[0];
    (void)gss_set_neg_mechs(&minor, cred, &neg);
    n = policy_enctypes(svc, etypes, MAILSSO_ARRAY_LEN(etypes));
    if (n == 0) {
        (void)gss_release_cred(&minor, &cred);
        return mailsso_error_set(err, MAILSSO_E_CONFIG,
                                 "service %s: enctypes \"%s\" allows no enctype this Kerberos "
                                 "library supports", svc->name, svc->policy_text);
    }
    major = gss_krb5_set_allowable_enctypes(&minor, cred, (OM_uint32)n, etypes);
    if (GSS_ERROR(major)) {
        mailsso_diag_gss(major, minor, diag);
        (void)gss_release_cred(&minor, &cred);
        return mailsso_error_set(err, MAILSSO_E_GSS,
                                 "service %s: cannot restrict enctypes to \"%s\": %s", svc->name,
                                 svc->policy_text, diag->code_text);
    }
    *cred_out = cred;
    return 0;
}

int
msp_cred_get(msp_global *g, msp_service *svc, const sasl_utils_t *utils, msp_cred **cred_out,
             mailsso_error *err, mailsso_diag *diag)
{
    int replaced = 0;
    msp_ktstamp now;
    int eno = 0;
    msp_cred *fresh = NULL;
    gss_cred_id_t gcred = GSS_C_NO_CREDENTIAL;
    int ret = 0;

    memset(diag, 0, sizeof(*diag));
    if (svc->setup_err.code != 0) {
        *err = svc->setup_err;
        return svc->setup_err.code;
    }
    if (svc->keytab_path != NULL && msp_ktstamp_read(svc->keytab_path, &now, &eno) != 0) {
        mailsso_diag_file(eno, svc->keytab_path, diag);
        return mailsso_error_set(err, MAILSSO_E_IO, "keytab %s (%s) for service %s: %s",
                                 svc->keytab_path, svc->keytab_origin, svc->name, strerror(eno));
    }
    if (svc->keytab_path != NULL && (eno = msp_readable(svc->keytab_path)) != 0) {
        mailsso_diag_file(eno, svc->keytab_path, diag);
        return mailsso_error_set(err, MAILSSO_E_IO, "keytab %s (%s) for service %s: %s",
                                 svc->keytab_path, svc->keytab_origin, svc->name, strerror(eno));
    }
    if (svc->keytab_path == NULL)
        memset(&now, 0, sizeof(now));

    pthread_mutex_lock(&g->lock);
    if (svc->cred != NULL && ktstamp_equal(&svc->stamp, &now)) {
        svc->cred->refs++;
        *cred_out = svc->cred;
        pthread_mutex_unlock(&g->lock);
        return 0;
    }
    pthread_mutex_unlock(&g->lock);

    /* Acquire outside the lock; a racing thread may do the same, the last
     * one installs its credential and both are correct. */
    ret = acquire(svc, NULL, &gcred, err, diag);
    if (ret != 0)
        return ret;
    fresh = calloc(1, sizeof(*fresh));
    if (fresh == NULL) {
        OM_uint32 minor;
        (void)gss_release_cred(&minor, &gcred);
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
    }
    fresh->cred = gcred;
    fresh->refs = 2;            /* the cache and the caller */
    fresh->stamp = now;
    /* listed after the stamp was taken: a change in between makes the stamps
     * differ at the next login, which then re-acquires */
    list_principals(svc->keytab_path, fresh);
    pthread_mutex_lock(&g->lock);
    if (svc->cred != NULL && ktstamp_equal(&svc->stamp, &now)) {
        /* another thread installed a credential for this very file meanwhile */
        svc->cred->refs++;
        *cred_out = svc->cred;
        pthread_mutex_unlock(&g->lock);
        cred_free(fresh);
        return 0;
    }
    replaced = svc->cred != NULL;
    cred_unref_locked(svc->cred);
    svc->cred = fresh;
    svc->stamp = now;
    pthread_mutex_unlock(&g->lock);
    if (replaced)
        msp_log(utils, SASL_LOG_NOTE, "%s: service %s: keytab %s changed, acceptor credential "
                "re-acquired", MSP_LOG_PREFIX, svc->name, svc->keytab);
    *cred_out = fresh;
    return 0;
}

/* Expands one accept_names entry into a full pattern "svc/host@REALM". */
static void
expand_pattern(const msp_service *svc, const char *entry, const char *fqdn, char *out, size_t size)
{
    char host[256];

    mailsso_strlcpy(host, fqdn != NULL ? fqdn : "", sizeof(host));
    if (svc->hostname != NULL)
        mailsso_strlcpy(host, svc->hostname, sizeof(host));
    mailsso_ascii_lower(host);
    if (entry == NULL || strcmp(entry, "@hostbased") == 0 || entry[0] == '\0')
        snprintf(out, size, "%s/%s@*", svc->name, host);
    else if (strcmp(entry, "@any") == 0 || strcmp(entry, "*") == 0)
        snprintf(out, size, "*");
    else if (strchr(entry, '@') == NULL && strchr(entry, '/') == NULL)
        snprintf(out, size, "%s/%s@*", svc->name, entry);          /* bare host name */
    else if (strchr(entry, '@') == NULL)
        snprintf(out, size, "%s@*", entry);
    else
        snprintf(out, size, "%s", entry);
}

int
msp_accept_name_ok(const msp_service *svc, const char *fqdn, const char *principal)
{
    char pat[600];

    if (principal == NULL)
        return 0;
    if (svc->n_accept == 0) {
        expand_pattern(svc, NULL, fqdn, pat, sizeof(pat));
        return fnmatch(pat, principal, FNM_NOESCAPE) == 0;
    }
    for (size_t i = 0; i < svc->n_accept; i++) {
        expand_pattern(svc, svc->accept[i], fqdn, pat, sizeof(pat));
        if (fnmatch(pat, principal, FNM_NOESCAPE) == 0)
            return 1;
    }
    return 0;
}

const char *
msp_accept_describe(const msp_service *svc, const char *fqdn, char *buf, size_t size)
{
    char pat[600];
    size_t used = 0;
    size_t n = svc->n_accept == 0 ? 1 : svc->n_accept;

    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        expand_pattern(svc, svc->n_accept == 0 ? NULL : svc->accept[i], fqdn, pat, sizeof(pat));
        if (used < size)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", pat);
    }
    return buf;
}

/* Start-up check of one service: returns a malloc'ed problem text or NULL. */
char *
msp_selfcheck_service(msp_global *g, msp_service *svc)
{
    char text[2048];
    size_t used = 0;
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    msp_ktstamp st;
    int eno = 0;
    size_t n_ok = 0, n_refused = 0, n_broken = 0;
    char refused[256] = "";
    size_t rused = 0;

    (void)g;
    text[0] = '\0';
#define ADD(...) do { if (used < sizeof(text)) \
        used += (size_t)snprintf(text + used, sizeof(text) - used, __VA_ARGS__); } while (0)
    if (svc->setup_err.code != 0) {
        ADD("service %s: %s%s%s", svc->name, svc->setup_err.message,
            svc->setup_err.fix[0] ? " (fix: " : "", svc->setup_err.fix[0] ? svc->setup_err.fix : "");
        if (svc->setup_err.fix[0])
            ADD(")");
        return strdup(text);
    }
    if (svc->keytab_path == NULL)
        return NULL;            /* not a file: nothing we can check up front */
    if (msp_ktstamp_read(svc->keytab_path, &st, &eno) != 0 ||
        (eno = msp_readable(svc->keytab_path)) != 0) {
        mailsso_diag d;
        char fmt[1200];
        mailsso_diag_file(eno, svc->keytab_path, &d);
        ADD("service %s: keytab %s (%s) is not usable: %s; GSSAPI logins for %s will fail until "
            "this is fixed", svc->name, svc->keytab_path, svc->keytab_origin,
            mailsso_diag_format(&d, fmt, sizeof(fmt)), svc->name);
        return strdup(text);
    }
    if (mailsso_keytab_read(svc->keytab_path, &kt, &err) != 0) {
        ADD("service %s: keytab %s (%s) cannot be read: %s", svc->name, svc->keytab_path,
            svc->keytab_origin, err.message);
        return strdup(text);
    }
    for (size_t i = 0; i < kt->n_entries; i++) {
        int32_t e = kt->entries[i].enctype;
        if (mailsso_enctype_classify(e) == MAILSSO_ENCTYPE_BROKEN) {
            n_broken++;
        } else if (mailsso_enctype_policy_allows(svc->policy, e)) {
            n_ok++;
        } else {
            char d[64];
            n_refused++;
            if (rused < sizeof(refused) && strstr(refused, mailsso_enctype_describe(e, d, sizeof(d))) == NULL)
                rused += (size_t)snprintf(refused + rused, sizeof(refused) - rused, "%s%s",
                                          rused ? " " : "", d);
        }
    }
    if (kt->n_entries == 0)
        ADD("service %s: keytab %s (%s) is empty; GSSAPI logins will fail", svc->name,
            svc->keytab_path, svc->keytab_origin);
    else if (n_ok == 0)
        ADD("service %s: keytab %s (%s) holds no key our policy accepts (enctypes = \"%s\"; keytab "
            "has %s%s); every login will fail (fix: export AES keys, e.g. ktpass -crypto "
            "AES256-SHA1 or kadmin ktadd, or allow rc4 explicitly)", svc->name, svc->keytab_path,
            svc->keytab_origin, svc->policy_text, refused[0] ? refused : "",
            n_broken ? " and DES/3DES keys, never accepted" : "");
    else if (n_refused > 0)
        ADD("service %s: keytab %s holds keys our policy refuses (%s); tickets with them will be "
            "refused", svc->name, svc->keytab_path, refused);
#undef ADD
    mailsso_keytab_free(kt);
    return text[0] ? strdup(text) : NULL;
}

const mailsso_enctype_policy *
msp_policy_for(const msp_service *svc, const char *principal, const char **text_out)
{
    char realm[256];

    if (principal != NULL && mailsso_identity_realm_of(principal, realm, sizeof(realm)) == 0) {
        for (size_t i = 0; i < svc->n_realm_policies; i++) {
            if (svc->realm_policies[i].policy != NULL &&
                strcmp(svc->realm_policies[i].realm, realm) == 0) {
                *text_out = svc->realm_policies[i].text;
                return svc->realm_policies[i].policy;
            }
        }
    }
    *text_out = svc->policy_text;
    return svc->policy;
}
