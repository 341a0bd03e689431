/*
 * NAME
 *   s4u.c - gateway credentials, S4U2Self, S4U2Proxy, Negotiate tokens
 *
 * DESCRIPTION
 *   The gateway's TGT is obtained from kcd.keytab with the krb5 API,
 *   explicitly FORWARDABLE (S4U2Proxy needs a forwardable evidence ticket,
 *   which the KDC only issues when the gateway's TGT is forwardable), into
 *   a private MEMORY ccache, and turned into a GSS initiator credential for
 *   krb5 + SPNEGO (SPNEGO must be asked for both here and when
 *   impersonating, or MIT fails with "SPNEGO cannot find mechanisms to
 *   negotiate"). It is renewed when less than a quarter of its life (at
 *   most 10 minutes) is left; old credentials are released when the
 *   gateway object is freed, since cached user credentials were derived
 *   from them.
 *
 *   kcd_s4u_impersonate() is S4U2Self: gss_acquire_cred_impersonate_name()
 *   for user@REALM (a plain principal name, not an enterprise name: that
 *   would cost a third KDC request). kcd_s4u_token() runs
 *   gss_init_sec_context() to the target: the first call per credential and
 *   target is S4U2Proxy; MIT stores the proxy ticket in the credential's
 *   own MEMORY ccache, so later calls only build a fresh AP-REQ locally.
 *
 *   Failures are classified into an HTTP status, a cause name and a fix.
 *   KDC refusals that look alike (BADOPTION for "target not in the
 *   delegation list" and for "protocol transition not allowed") are told
 *   apart by inspecting the evidence ticket's FORWARDABLE flag.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>
#include <openssl/evp.h>

#include <mailsso/diag.h>
#include <mailsso/util.h>
#include "kcd.h"

static gss_OID_desc spnego_oid = { 6, (void *)"\x2b\x06\x01\x05\x05\x02" };
static gss_OID_desc krb5_oid = { 9, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02" };

struct kcd_gateway {
    pthread_mutex_t lock;
    const kcd_settings *s;
    char name[KCD_PRINC_MAX];
    gss_cred_id_t cred;
    time_t tgt_start, tgt_end, acquired_at;
    gss_cred_id_t *retired;
    char **retired_cc;
    size_t n_retired;
    char ccname[128];
    char ktname[128];                /* in-memory copy of kcd.keytab */
    gss_OID_desc mech_elems[2];
    gss_OID_set_desc mechs;          /* krb5 + SPNEGO: the gateway credential */
    gss_OID_set_desc imp_mechs;      /* SPNEGO only, or krb5 only: impersonation */
};

/* ------------------------------------------------------------ errors */
static void
classify_krb5(int32_t code, const char *stage, const char *principal, const char *target,
              const kcd_settings *s, kcd_result *r)
{
    switch (code) {
    case KRB5_KDC_UNREACH:
    case KRB5_REALM_CANT_RESOLVE:
    case KRB5_REALM_UNKNOWN:
    case ETIMEDOUT:
    case ECONNREFUSED:
        r->status = KCD_UNAVAILABLE;
        r->cause_name = "kdc_unreachable";
        break;
    case KRB5KRB_AP_ERR_SKEW:
        r->status = KCD_UNAVAILABLE;
        r->cause_name = "clock_skew";
        break;
    case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
        if (strcmp(stage, "S4U2Self") == 0) {
            r->status = KCD_FORBIDDEN;
            r->cause_name = "principal_unknown";
        } else {
            r->status = KCD_BAD_GATEWAY;
            r->cause_name = "gateway_unknown";
        }
        break;
    case KRB5KDC_ERR_CLIENT_REVOKED:
        r->status = KCD_FORBIDDEN;
        r->cause_name = "principal_disabled";
        break;
    case KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN:
        r->status = KCD_BAD_GATEWAY;
        r->cause_name = strcmp(stage, "S4U2Proxy") == 0 ? "target_unknown" : "gateway_unknown";
        break;
    case KRB5KDC_ERR_BADOPTION:
    case KRB5KDC_ERR_POLICY:
        r->status = KCD_BAD_GATEWAY;
        r->cause_name = "delegation_denied";
        break;
    case KRB5KDC_ERR_ETYPE_NOSUPP:
    case KRB5_PROG_ETYPE_NOSUPP:
    case KRB5_BAD_ENCTYPE:
        r->status = KCD_BAD_GATEWAY;
        r->cause_name = "enctype";
        break;
    default:
        r->status = KCD_BAD_GATEWAY;
        r->cause_name = strcmp(stage, "gateway") == 0 ? "gateway_credentials" : "kdc_error";
        break;
    }
    if (strcmp(r->cause_name, "principal_unknown") == 0) {
        kcd_fix(r, "the certificate names %s, which the KDC does not know: check the UPN and "
                "the upn_realms mapping (AD: the account's userPrincipalName)", principal);
    } else if (strcmp(r->cause_name, "delegation_denied") == 0) {
        kcd_fix(r, "allow %s to delegate to %s: AD: account -> Delegation -> 'Trust this user "
                "for delegation to specified services only' and add the SPN; MIT (LDAP KDB): "
                "add krbAllowedToDelegateTo: <target principal> to the gateway's entry",
                s->gateway_principal[0] ? s->gateway_principal : "the gateway", target ? target : "the target");
    } else if (strcmp(r->cause_name, "kdc_unreachable") == 0) {
        kcd_fix(r, "check the [realms] kdc entries of krb5.conf and that the KDC answers "
                "(mailsso-kcd doctor); requests are retried after Retry-After");
    } else if (strcmp(r->cause_name, "clock_skew") == 0) {
        kcd_fix(r, "synchronise the gateway's clock with the KDC (NTP); the default "
                "tolerance is 5 minutes");
    } else if (strcmp(r->cause_name, "target_unknown") == 0) {
        kcd_fix(r, "no principal has the SPN for %s: register it on the backend's account "
                "(setspn -S HTTP/host account / kadmin addprinc) and use the name clients "
                "use, not a load balancer alias", target ? target : "the target");
    } else if (strcmp(r->cause_name, "enctype") == 0) {
        kcd_fix(r, "the KDC and the gateway share no enctype: set msDS-SupportedEncryptionTypes "
                "(AES) on the accounts and re-export the keytab");
    }
}

/* Through SPNEGO, MIT's mechglue hands back a remapped minor code: the krb5
 * error number is lost but its text survives in the status message. */
static const krb5_error_code known_codes[] = {
    KRB5_KDC_UNREACH, KRB5_REALM_CANT_RESOLVE, KRB5_REALM_UNKNOWN, KRB5KRB_AP_ERR_SKEW,
    KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN, KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN,
    KRB5KDC_ERR_CLIENT_REVOKED, KRB5KDC_ERR_BADOPTION, KRB5KDC_ERR_POLICY,
    KRB5KDC_ERR_ETYPE_NOSUPP, KRB5_PROG_ETYPE_NOSUPP, KRB5_BAD_ENCTYPE,
    KRB5KRB_AP_ERR_TKT_EXPIRED, KRB5KDC_ERR_TGT_REVOKED, KRB5KDC_ERR_SERVICE_REVOKED,
};

static int32_t
recover_code(const mailsso_diag *d)
{
    krb5_context ctx = NULL;
    int32_t found = 0;

    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(known_codes); i++)
        if (d->krb5_code == known_codes[i])
            return d->krb5_code;
    if (krb5_init_context(&ctx) != 0)
        return 0;
    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(known_codes) && !found; i++) {
        const char *m = krb5_get_error_message(ctx, known_codes[i]);
        if (m != NULL && m[0] != '\0' && strstr(d->code_text, m) != NULL)
            found = known_codes[i];
        krb5_free_error_message(ctx, m);
    }
    krb5_free_context(ctx);
    return found;
}

static void
fail_code(krb5_error_code code, const char *stage, const char *what, const char *principal,
          const char *target, const kcd_settings *s, kcd_result *r)
{
    mailsso_diag d;
    kcd_result tmp;

    mailsso_diag_krb5(NULL, code, &d);
    kcd_result_init(&tmp);
    classify_krb5(code, stage, principal, target, s, &tmp);
    kcd_fail(r, tmp.status, tmp.cause_name, "%s %s: %s (%s)", stage, what, d.cause, d.code_text);
    kcd_fix(r, "%s", tmp.fix[0] ? tmp.fix : d.fix);
}

static void
fail_gss(OM_uint32 major, OM_uint32 minor, const char *stage, const char *what,
         const char *principal, const char *target, const kcd_settings *s, kcd_result *r)
{
    mailsso_diag d;
    kcd_result tmp;
    int32_t code;

    mailsso_diag_gss(major, minor, &d);
    code = recover_code(&d);
    if (code != 0 && code != d.krb5_code) {
        fail_code(code, stage, what, principal, target, s, r);
        return;
    }
    kcd_result_init(&tmp);
    classify_krb5(d.krb5_code != 0 ? d.krb5_code : (int32_t)minor, stage, principal, target, s,
                  &tmp);
    kcd_fail(r, tmp.status, tmp.cause_name, "%s %s: %s (%s)", stage, what, d.cause, d.code_text);
    if (tmp.fix[0])
        kcd_fix(r, "%s", tmp.fix);
    else
        kcd_fix(r, "%s", d.fix);
}

static void
fail_krb5(krb5_context ctx, krb5_error_code code, const char *what, const kcd_settings *s,
          kcd_result *r)
{
    mailsso_diag d;
    kcd_result tmp;

    mailsso_diag_krb5(ctx, code, &d);
    kcd_result_init(&tmp);
    classify_krb5(code, "gateway", s->gateway_principal, NULL, s, &tmp);
    kcd_fail(r, tmp.status, tmp.cause_name, "gateway credentials: %s: %s (%s)", what, d.cause,
             d.code_text);
    kcd_fix(r, "%s", tmp.fix[0] ? tmp.fix : d.fix);
}

/* ------------------------------------------------------------ keytab snapshot */
/*
 * The keytab file is read once into a MEMORY keytab that lives as long as
 * the process, so the TGT can be renewed after privileges were dropped. A
 * reload re-reads the file; if that fails for lack of permission (we run
 * unprivileged by then) and the path did not change, the snapshot taken at
 * start-up is kept. Snapshots are never destroyed: an old runtime may still
 * renew from one while a reload drains it.
 */
static pthread_mutex_t kt_lock = PTHREAD_MUTEX_INITIALIZER;
static krb5_context kt_ctx;
static char kt_path[1024];
static char kt_memname[128];
static unsigned kt_gen;

static int
snapshot_keytab(const kcd_settings *s, char *memname_out, size_t size, kcd_result *r)
{
    krb5_keytab file = NULL, mem = NULL;
    krb5_kt_cursor cur;
    krb5_keytab_entry ent;
    krb5_error_code code;
    char name[128];
    int n = 0, rc = -1, open_cursor = 0;

    pthread_mutex_lock(&kt_lock);
    if (kt_ctx == NULL && (code = krb5_init_context(&kt_ctx)) != 0) {
        kcd_fail(r, KCD_BAD_GATEWAY, "gateway_credentials", "krb5_init_context failed (%d)",
                 (int)code);
        goto out;
    }
    snprintf(name, sizeof(name), "MEMORY:mailsso-kcd-keytab-%ld-%u", (long)getpid(), ++kt_gen);
    code = krb5_kt_resolve(kt_ctx, s->keytab, &file);
    if (code == 0)
        code = krb5_kt_resolve(kt_ctx, name, &mem);
    if (code == 0)
        code = krb5_kt_start_seq_get(kt_ctx, file, &cur);
    if (code == 0)
        open_cursor = 1;
    while (code == 0 && (code = krb5_kt_next_entry(kt_ctx, file, &ent, &cur)) == 0) {
        code = krb5_kt_add_entry(kt_ctx, mem, &ent);
        krb5_free_keytab_entry_contents(kt_ctx, &ent);
        n++;
    }
    if (open_cursor)
        krb5_kt_end_seq_get(kt_ctx, file, &cur);
    if (code == KRB5_KT_END && n > 0)
        code = 0;
    if (code != 0) {
        if ((code == EACCES || code == EPERM) && strcmp(kt_path, s->keytab) == 0 &&
            kt_memname[0] != '\0') {
            mailsso_strlcpy(memname_out, kt_memname, size);
            rc = 0;          /* keep the start-up snapshot */
            goto out;
        }
        if (code == ENOENT || code == EACCES || code == EPERM) {
            mailsso_diag d;
            mailsso_diag_file(code, s->keytab, &d);
            kcd_fail(r, KCD_BAD_GATEWAY, "gateway_credentials", "gateway keytab %s: %s",
                     s->keytab, d.cause);
            kcd_fix(r, "%s", d.fix);
        } else if (code == KRB5_KT_END) {
            kcd_fail(r, KCD_BAD_GATEWAY, "gateway_credentials", "gateway keytab %s is empty",
                     s->keytab);
            kcd_fix(r, "export the gateway account's keys into it (ktpass / kadmin ktadd)");
        } else {
            mailsso_diag d;
            mailsso_diag_krb5(kt_ctx, code, &d);
            kcd_fail(r, KCD_BAD_GATEWAY, "gateway_credentials", "reading gateway keytab %s: %s "
                     "(%s)", s->keytab, d.cause, d.code_text);
            kcd_fix(r, "%s", d.fix);
        }
        if (mem != NULL)
            krb5_kt_close(kt_ctx, mem);
        mem = NULL;
        goto out;
    }
    mailsso_strlcpy(kt_path, s->keytab, sizeof(kt_path));
    mailsso_strlcpy(kt_memname, name, sizeof(kt_memname));
    mailsso_strlcpy(memname_out, name, size);
    mem = NULL;              /* kept open for the life of the process */
    rc = 0;
out:
    if (file != NULL)
        krb5_kt_close(kt_ctx, file);
    pthread_mutex_unlock(&kt_lock);
    return rc;
}

/* ------------------------------------------------------------ gateway */
static unsigned cc_serial;

static int
acquire_locked(kcd_gateway *gw, kcd_result *r)
{
    const kcd_settings *s = gw->s;
    krb5_context ctx = NULL;
    krb5_keytab kt = NULL;
    krb5_principal princ = NULL;
    krb5_get_init_creds_opt *opt = NULL;
    krb5_creds creds;
    krb5_ccache cc = NULL;
    krb5_error_code code;
    char *pname = NULL;
    char ccname[128];
    gss_key_value_element_desc el[1];
    gss_key_value_set_desc store = { 1, el };
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_name_t gname = GSS_C_NO_NAME;
    gss_buffer_desc nb;
    OM_uint32 major, minor;
    int rc = -1, have_creds = 0;
    char what[600];
    char memname[128];

    memset(&creds, 0, sizeof(creds));
    code = krb5_init_context(&ctx);
    if (code != 0) {
        kcd_fail(r, KCD_BAD_GATEWAY, "gateway_credentials", "krb5_init_context failed (%d)",
                 (int)code);
        kcd_fix(r, "check KRB5_CONFIG / /etc/krb5.conf");
        return -1;
    }
    if (s->keytab[0] == '\0') {
        kcd_fail(r, KCD_BAD_GATEWAY, "gateway_credentials", "kcd.keytab is not set");
        kcd_fix(r, "set keytab to the gateway account's keytab in the kcd group");
        goto done;
    }
    if (gw->ktname[0] == '\0') {
        if (snapshot_keytab(s, memname, sizeof(memname), r) != 0)
            goto done;
        mailsso_strlcpy(gw->ktname, memname, sizeof(gw->ktname));
    }
    code = krb5_kt_resolve(ctx, gw->ktname, &kt);
    if (code != 0) {
        fail_krb5(ctx, code, s->keytab, s, r);
        goto done;
    }
    if (s->gateway_principal[0] != '\0') {
        code = krb5_parse_name(ctx, s->gateway_principal, &princ);
        if (code != 0) {
            fail_krb5(ctx, code, s->gateway_principal, s, r);
            goto done;
        }
    } else {
        krb5_kt_cursor cur;
        krb5_keytab_entry ent;
        code = krb5_kt_start_seq_get(ctx, kt, &cur);
        if (code == 0) {
            code = krb5_kt_next_entry(ctx, kt, &ent, &cur);
            if (code == 0) {
                code = krb5_copy_principal(ctx, ent.principal, &princ);
                krb5_free_keytab_entry_contents(ctx, &ent);
            }
            krb5_kt_end_seq_get(ctx, kt, &cur);
        }
        if (code != 0) {
            if (code == ENOENT || code == EACCES) {
                mailsso_diag d;
                mailsso_diag_file(code, s->keytab, &d);
                kcd_fail(r, KCD_BAD_GATEWAY, "gateway_credentials", "keytab %s: %s", s->keytab,
                         d.cause);
                kcd_fix(r, "%s", d.fix);
            } else {
                snprintf(what, sizeof(what), "reading keytab %s", s->keytab);
                fail_krb5(ctx, code, what, s, r);
            }
            goto done;
        }
    }
    code = krb5_unparse_name(ctx, princ, &pname);
    if (code != 0) {
        fail_krb5(ctx, code, "unparse gateway name", s, r);
        goto done;
    }
    code = krb5_get_init_creds_opt_alloc(ctx, &opt);
    if (code != 0)
        goto kfail;
    krb5_get_init_creds_opt_set_forwardable(opt, 1);
    code = krb5_get_init_creds_keytab(ctx, &creds, princ, kt, 0, NULL, opt);
    if (code != 0) {
        if (code == ENOENT || code == EACCES) {
            mailsso_diag d;
            mailsso_diag_file(code, s->keytab, &d);
            kcd_fail(r, KCD_BAD_GATEWAY, "gateway_credentials", "keytab %s: %s", s->keytab,
                     d.cause);
            kcd_fix(r, "%s", d.fix);
            goto done;
        }
        snprintf(what, sizeof(what), "TGT for %s from %s", pname, s->keytab);
        fail_krb5(ctx, code, what, s, r);
        goto done;
    }
    have_creds = 1;
    if (!(creds.ticket_flags & TKT_FLG_FORWARDABLE)) {
        kcd_fail(r, KCD_BAD_GATEWAY, "gateway_not_forwardable",
                 "the KDC issued a non-forwardable TGT to %s: S4U2Proxy will be refused", pname);
        kcd_fix(r, "allow forwardable tickets for the gateway account (MIT: modprinc "
                "+allow_forwardable; AD: 'Account is sensitive and cannot be delegated' off)");
        goto done;
    }
    /* Process-wide unique: a reloaded runtime's gateway must not reuse (and
     * its predecessor later destroy) the same MEMORY ccache. */
    snprintf(ccname, sizeof(ccname), "MEMORY:mailsso-kcd-gw-%ld-%u", (long)getpid(),
             __atomic_add_fetch(&cc_serial, 1, __ATOMIC_RELAXED));
    code = krb5_cc_resolve(ctx, ccname, &cc);
    if (code == 0)
        code = krb5_cc_initialize(ctx, cc, princ);
    if (code == 0)
        code = krb5_cc_store_cred(ctx, cc, &creds);
    if (code != 0)
        goto kfail;

    el[0].key = "ccache";
    el[0].value = ccname;
    nb.value = pname;
    nb.length = strlen(pname);
    major = gss_import_name(&minor, &nb, GSS_KRB5_NT_PRINCIPAL_NAME, &gname);
    if (!GSS_ERROR(major))
        major = gss_acquire_cred_from(&minor, gname, GSS_C_INDEFINITE, &gw->mechs,
                                      GSS_C_INITIATE, &store, &cred, NULL, NULL);
    if (GSS_ERROR(major)) {
        fail_gss(major, minor, "gateway", "gss_acquire_cred_from", pname, NULL, s, r);
        goto done;
    }
    if (gw->cred != GSS_C_NO_CREDENTIAL) {
        gss_cred_id_t *nr = realloc(gw->retired, (gw->n_retired + 1) * sizeof(*nr));
        char **nc = realloc(gw->retired_cc, (gw->n_retired + 1) * sizeof(*nc));
        if (nr != NULL)
            gw->retired = nr;
        if (nc != NULL)
            gw->retired_cc = nc;
        if (nr != NULL && nc != NULL) {
            gw->retired[gw->n_retired] = gw->cred;
            gw->retired_cc[gw->n_retired] = strdup(gw->ccname);
            gw->n_retired++;
        }
    }
    gw->cred = cred;
    cred = GSS_C_NO_CREDENTIAL;
    mailsso_strlcpy(gw->ccname, ccname, sizeof(gw->ccname));
    mailsso_strlcpy(gw->name, pname, sizeof(gw->name));
    gw->tgt_start = creds.times.starttime ? creds.times.starttime : creds.times.authtime;
    gw->tgt_end = creds.times.endtime;
    gw->acquired_at = time(NULL);
    kcd_count(&kcd_stats.kdc_calls);
    rc = 0;
    goto done;

kfail:
    fail_krb5(ctx, code, "storing the gateway TGT", s, r);
done:
    if (cc != NULL)
        krb5_cc_close(ctx, cc);
    if (have_creds)
        krb5_free_cred_contents(ctx, &creds);
    krb5_get_init_creds_opt_free(ctx, opt);
    krb5_free_unparsed_name(ctx, pname);
    krb5_free_principal(ctx, princ);
    if (kt != NULL)
        krb5_kt_close(ctx, kt);
    gss_release_name(&minor, &gname);
    gss_release_cred(&minor, &cred);
    krb5_free_context(ctx);
    return rc;
}

int
kcd_gateway_new(const kcd_settings *s, kcd_gateway **out, kcd_result *r)
{
    kcd_gateway *gw = calloc(1, sizeof(*gw));
    if (gw == NULL) {
        kcd_fail(r, KCD_UNAVAILABLE, "internal", "out of memory");
        return -1;
    }
    pthread_mutex_init(&gw->lock, NULL);
    gw->s = s;
    gw->cred = GSS_C_NO_CREDENTIAL;
    gw->mech_elems[0] = krb5_oid;
    gw->mech_elems[1] = spnego_oid;
    gw->mechs.count = 2;
    gw->mechs.elements = gw->mech_elems;
    /* Impersonating for krb5 and SPNEGO at once makes two S4U2Self requests
     * (SPNEGO impersonates through krb5 again); SPNEGO alone makes one and
     * still yields a credential SPNEGO can use. */
    gw->imp_mechs.count = 1;
    gw->imp_mechs.elements = strcmp(s->mech, "krb5") == 0 ? &gw->mech_elems[0]
                                                          : &gw->mech_elems[1];
    if (acquire_locked(gw, r) != 0) {
        kcd_gateway_free(gw);
        return -1;
    }
    *out = gw;
    return 0;
}

static void
destroy_ccache(const char *name)
{
    krb5_context ctx = NULL;
    krb5_ccache cc = NULL;
    if (name == NULL || name[0] == '\0' || krb5_init_context(&ctx) != 0)
        return;
    if (krb5_cc_resolve(ctx, name, &cc) == 0)
        krb5_cc_destroy(ctx, cc);
    krb5_free_context(ctx);
}

void
kcd_gateway_free(kcd_gateway *gw)
{
    OM_uint32 minor;
    if (gw == NULL)
        return;
    gss_release_cred(&minor, &gw->cred);
    destroy_ccache(gw->ccname);
    for (size_t i = 0; i < gw->n_retired; i++) {
        gss_release_cred(&minor, &gw->retired[i]);
        destroy_ccache(gw->retired_cc[i]);
        free(gw->retired_cc[i]);
    }
    free(gw->retired);
    free(gw->retired_cc);
    pthread_mutex_destroy(&gw->lock);
    free(gw);
}

const char *
kcd_gateway_name(const kcd_gateway *gw)
{
    return gw->name;
}

long long
kcd_gateway_skew(const kcd_gateway *gw, time_t *tgt_end_out)
{
    /* tgt_start is the KDC's clock when it issued the TGT, moments ago. */
    if (tgt_end_out != NULL)
        *tgt_end_out = gw->tgt_end;
    return (long long)gw->tgt_start - (long long)gw->acquired_at;
}

int
kcd_gateway_refresh(kcd_gateway *gw, kcd_result *r)
{
    int rc;
    pthread_mutex_lock(&gw->lock);
    rc = acquire_locked(gw, r);
    pthread_mutex_unlock(&gw->lock);
    return rc;
}

/* The gateway credential to use now, renewed when it is about to end. The
 * returned handle stays valid until kcd_gateway_free(). */
static gss_cred_id_t
current_cred(kcd_gateway *gw, kcd_result *r)
{
    gss_cred_id_t c;
    time_t now = time(NULL), left, life;

    pthread_mutex_lock(&gw->lock);
    left = gw->tgt_end - now;
    life = gw->tgt_end - gw->tgt_start;
    if (gw->cred == GSS_C_NO_CREDENTIAL || left < life / 4 || left < 600) {
        if (acquire_locked(gw, r) != 0 && (gw->cred == GSS_C_NO_CREDENTIAL || left <= 0)) {
            pthread_mutex_unlock(&gw->lock);
            return GSS_C_NO_CREDENTIAL;
        }
        r->status = 0;     /* a failed early renewal with a usable TGT is not fatal */
        r->cause_name = NULL;
        r->message[0] = r->fix[0] = '\0';
    }
    c = gw->cred;
    pthread_mutex_unlock(&gw->lock);
    return c;
}

/* ------------------------------------------------------------ S4U2Self */
/* Exported by MIT libkrb5 (libkrb5.exports) but only declared in its
 * private k5-int.h. */
krb5_error_code KRB5_CALLCONV
krb5_get_credentials_for_user(krb5_context context, krb5_flags options, krb5_ccache ccache,
                              krb5_creds *in_creds, krb5_data *cert, krb5_creds **out_creds);

static krb5_error_code
probe_s4u2self(kcd_gateway *gw, const char *principal)
{
    krb5_context ctx = NULL;
    krb5_ccache cc = NULL;
    krb5_creds in, *out = NULL;
    krb5_principal me = NULL, user = NULL;
    krb5_error_code code;
    char ccname[128];

    memset(&in, 0, sizeof(in));
    pthread_mutex_lock(&gw->lock);
    mailsso_strlcpy(ccname, gw->ccname, sizeof(ccname));
    pthread_mutex_unlock(&gw->lock);
    code = krb5_init_context(&ctx);
    if (code != 0)
        return code;
    code = krb5_cc_resolve(ctx, ccname, &cc);
    if (code == 0)
        code = krb5_cc_get_principal(ctx, cc, &me);
    if (code == 0)
        code = krb5_parse_name(ctx, principal, &user);
    if (code == 0) {
        in.client = user;
        in.server = me;
        code = krb5_get_credentials_for_user(ctx, KRB5_GC_CANONICALIZE | KRB5_GC_NO_STORE, cc,
                                             &in, NULL, &out);
        kcd_count(&kcd_stats.kdc_calls);
    }
    krb5_free_creds(ctx, out);
    krb5_free_principal(ctx, user);
    krb5_free_principal(ctx, me);
    if (cc != NULL)
        krb5_cc_close(ctx, cc);
    krb5_free_context(ctx);
    return code;
}

int
kcd_s4u_impersonate(kcd_gateway *gw, const char *principal, gss_cred_id_t *cred_out,
                    time_t *end_out, kcd_result *r)
{
    gss_cred_id_t gcred, ucred = GSS_C_NO_CREDENTIAL;
    gss_name_t uname = GSS_C_NO_NAME;
    gss_buffer_desc nb;
    OM_uint32 major, minor, lifetime = 0;

    gcred = current_cred(gw, r);
    if (gcred == GSS_C_NO_CREDENTIAL)
        return -1;
    nb.value = (void *)principal;
    nb.length = strlen(principal);
    major = gss_import_name(&minor, &nb, GSS_KRB5_NT_PRINCIPAL_NAME, &uname);
    if (GSS_ERROR(major)) {
        fail_gss(major, minor, "S4U2Self", "import name", principal, NULL, gw->s, r);
        return -1;
    }
    kcd_count(&kcd_stats.kdc_calls);
    major = gss_acquire_cred_impersonate_name(&minor, gcred, uname, GSS_C_INDEFINITE,
                                              &gw->imp_mechs,
                                              GSS_C_INITIATE, &ucred, NULL, &lifetime);
    gss_release_name(&minor, &uname);
    if (GSS_ERROR(major)) {
        char what[KCD_PRINC_MAX + 64];
        mailsso_diag d;
        krb5_error_code code;
        snprintf(what, sizeof(what), "for %s", principal);
        mailsso_diag_gss(major, minor, &d);
        /* SPNEGO swallowed the reason: ask the KDC again with the krb5 API
         * (failures only, and they are cached briefly). */
        if (recover_code(&d) == 0 && (code = probe_s4u2self(gw, principal)) != 0) {
            fail_code(code, "S4U2Self", what, principal, NULL, gw->s, r);
            return -1;
        }
        fail_gss(major, minor, "S4U2Self", what, principal, NULL, gw->s, r);
        return -1;
    }
    *cred_out = ucred;
    *end_out = lifetime == GSS_C_INDEFINITE ? time(NULL) + 86400 : time(NULL) + (time_t)lifetime;
    return 0;
}

/* 1 forwardable, 0 not, -1 unknown. */
static int
evidence_forwardable(gss_cred_id_t cred, const char *gateway)
{
    krb5_context ctx = NULL;
    krb5_ccache cc = NULL;
    krb5_cc_cursor cur;
    krb5_creds c;
    OM_uint32 minor;
    char ccname[96];
    int result = -1;
    static unsigned n;

    if (krb5_init_context(&ctx) != 0)
        return -1;
    snprintf(ccname, sizeof(ccname), "MEMORY:mailsso-kcd-probe-%ld-%u", (long)getpid(),
             __atomic_add_fetch(&n, 1, __ATOMIC_RELAXED));
    if (krb5_cc_resolve(ctx, ccname, &cc) != 0)
        goto done;
    if (GSS_ERROR(gss_krb5_copy_ccache(&minor, cred, cc)))
        goto done;
    if (krb5_cc_start_seq_get(ctx, cc, &cur) != 0)
        goto done;
    while (krb5_cc_next_cred(ctx, cc, &cur, &c) == 0) {
        char *sname = NULL;
        if (krb5_unparse_name(ctx, c.server, &sname) == 0) {
            if (strcmp(sname, gateway) == 0)
                result = (c.ticket_flags & TKT_FLG_FORWARDABLE) ? 1 : 0;
            krb5_free_unparsed_name(ctx, sname);
        }
        krb5_free_cred_contents(ctx, &c);
    }
    krb5_cc_end_seq_get(ctx, cc, &cur);
done:
    if (cc != NULL)
        krb5_cc_destroy(ctx, cc);
    krb5_free_context(ctx);
    return result;
}

char *
kcd_base64(const void *data, size_t len)
{
    size_t n = 4 * ((len + 2) / 3) + 1;
    char *out = malloc(n);
    if (out == NULL)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* ------------------------------------------------------------ S4U2Proxy + token */
int
kcd_s4u_token(kcd_gateway *gw, gss_cred_id_t cred, const char *principal, const char *target,
              char **header_out, kcd_result *r)
{
    gss_name_t tname = GSS_C_NO_NAME;
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_buffer_desc nb, out = GSS_C_EMPTY_BUFFER;
    OM_uint32 major, minor, m2;
    gss_OID mech = strcmp(gw->s->mech, "krb5") == 0 ? &krb5_oid : &spnego_oid;
    char *b64 = NULL, *hdr = NULL;
    int rc = -1;

    nb.value = (void *)target;
    nb.length = strlen(target);
    major = gss_import_name(&minor, &nb,
                            strchr(target, '/') != NULL ? GSS_KRB5_NT_PRINCIPAL_NAME
                                                        : GSS_C_NT_HOSTBASED_SERVICE,
                            &tname);
    if (GSS_ERROR(major)) {
        fail_gss(major, minor, "S4U2Proxy", "target name", principal, target, gw->s, r);
        goto done;
    }
    major = gss_init_sec_context(&minor, cred, &ctx, tname, mech, 0, 0,
                                 GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, &out, NULL,
                                 NULL);
    if (GSS_ERROR(major)) {
        char what[KCD_PRINC_MAX + 64];
        int fw = evidence_forwardable(cred, gw->name);
        snprintf(what, sizeof(what), "to %s for %s", target, principal);
        if (fw == 0) {
            mailsso_diag d;
            mailsso_diag_gss(major, minor, &d);
            kcd_fail(r, KCD_BAD_GATEWAY, "protocol_transition_denied",
                     "S4U2Proxy %s: protocol transition not allowed: the KDC issued a "
                     "non-forwardable evidence ticket to %s (%s)", what, gw->name, d.code_text);
            kcd_fix(r, "AD: on the gateway account choose 'Trust this user for delegation to "
                    "specified services only' + 'Use any authentication protocol'; MIT: "
                    "kadmin modprinc +ok_to_auth_as_delegate %s", gw->name);
        } else {
            mailsso_diag d;
            mailsso_diag_gss(major, minor, &d);
            if (recover_code(&d) == KRB5KDC_ERR_BADOPTION) {
                kcd_fail(r, KCD_BAD_GATEWAY, "delegation_denied",
                         "S4U2Proxy %s: the KDC refused constrained delegation: %s is not in "
                         "the delegation list of %s (%s)", what, target, gw->name, d.code_text);
                kcd_fix(r, "AD: gateway account -> Delegation -> 'Trust this user for delegation "
                        "to specified services only' + 'Use any authentication protocol', add "
                        "the backend's SPN (msDS-AllowedToDelegateTo); MIT (LDAP KDB): add "
                        "krbAllowedToDelegateTo: <target principal> to the gateway's entry; or "
                        "fix kcd.targets if the target is wrong");
            } else {
                fail_gss(major, minor, "S4U2Proxy", what, principal, target, gw->s, r);
            }
        }
        goto done;
    }
    if (out.length == 0) {
        kcd_fail(r, KCD_BAD_GATEWAY, "kdc_error", "gss_init_sec_context to %s gave no token",
                 target);
        goto done;
    }
    b64 = kcd_base64(out.value, out.length);
    if (b64 == NULL) {
        kcd_fail(r, KCD_UNAVAILABLE, "internal", "out of memory");
        goto done;
    }
    if (gw->s->max_token_bytes > 0 && (long long)strlen(b64) + 10 > gw->s->max_token_bytes) {
        kcd_fail(r, KCD_BAD_GATEWAY, "token_too_big",
                 "Negotiate token for %s to %s is %zu bytes base64, over kcd.max_token_bytes "
                 "%lld", principal, target, strlen(b64), gw->s->max_token_bytes);
        kcd_fix(r, "the user's PAC is large (many groups): raise max_token_bytes, nginx "
                "proxy_buffer_size and the backend's header limit (Apache "
                "LimitRequestFieldSize, IIS MaxFieldLength)");
        goto done;
    }
    hdr = malloc(strlen(b64) + sizeof("Negotiate "));
    if (hdr == NULL) {
        kcd_fail(r, KCD_UNAVAILABLE, "internal", "out of memory");
        goto done;
    }
    strcpy(hdr, "Negotiate ");
    strcat(hdr, b64);
    *header_out = hdr;
    hdr = NULL;
    rc = 0;
done:
    free(b64);
    free(hdr);
    gss_release_buffer(&m2, &out);
    gss_delete_sec_context(&m2, &ctx, GSS_C_NO_BUFFER);
    gss_release_name(&m2, &tname);
    return rc;
}
