/*
 * NAME
 *   krb.c - the Kerberos / GSS round trip behind verify, doctor and rotate
 *
 * DESCRIPTION
 *   ktool_get_token() plays the client: it gets a ticket for a service
 *   principal -- with the keytab's own key (an AS exchange for a ticket to
 *   itself, encrypted by the KDC in the service's current key), or with a
 *   client's password, keytab or ccache -- and returns the first GSS token
 *   (raw krb5 mech).
 *   ktool_accept_token() plays the server the way the plugin does: an
 *   acceptor credential from the keytab file (gss_acquire_cred_from), the
 *   enctype policy applied to it, gss_accept_sec_context. When acceptance
 *   fails it compares the ticket (kvno, enctype, read with lib/apreq) with
 *   the keytab to say precisely why: stale kvno, missing enctype, refused
 *   enctype or wrong key. All credentials live in private MEMORY ccaches:
 *   the user's ccache is never touched.
 */
#include <config.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include <mailsso/apreq.h>
#include <mailsso/config.h>
#include <mailsso/diag.h>
#include <mailsso/util.h>

#include "ktool.h"

static gss_OID_desc krb5_mech_oid = { 9, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02" };
static gss_OID_set_desc krb5_mech_set = { 1, &krb5_mech_oid };

int
ktool_krb5_init(krb5_context *ctx_out, mailsso_error *err)
{
    krb5_context ctx = NULL;
    krb5_error_code code = krb5_init_context(&ctx);

    if (code != 0) {
        mailsso_error_set(err, MAILSSO_E_KRB5, "cannot initialise Kerberos (error %ld): "
                          "is krb5.conf readable?", (long)code);
        mailsso_error_set_fix(err, "check KRB5_CONFIG / /etc/krb5.conf");
        return MAILSSO_E_KRB5;
    }
    *ctx_out = ctx;
    return 0;
}

int
ktool_krb5_error(krb5_context ctx, krb5_error_code code, mailsso_error *err, const char *what)
{
    mailsso_diag d;

    mailsso_diag_krb5(ctx, code, &d);
    mailsso_error_set(err, MAILSSO_E_KRB5, "%s: %s%s%s", what, d.code_text,
                      d.cause[0] ? " -- " : "", d.cause);
    if (d.fix[0] != '\0')
        mailsso_error_set_fix(err, "%s", d.fix);
    return MAILSSO_E_KRB5;
}

int
ktool_gss_error(OM_uint32 major, OM_uint32 minor, mailsso_error *err, const char *what)
{
    mailsso_diag d;

    mailsso_diag_gss(major, minor, &d);
    mailsso_error_set(err, MAILSSO_E_GSS, "%s: %s%s%s", what, d.code_text,
                      d.cause[0] ? " -- " : "", d.cause);
    if (d.fix[0] != '\0')
        mailsso_error_set_fix(err, "%s", d.fix);
    return MAILSSO_E_GSS;
}

static int
import_name(const char *principal, gss_name_t *name_out, mailsso_error *err)
{
    OM_uint32 major, minor;
    gss_buffer_desc buf;

    buf.value = (void *)principal;
    buf.length = strlen(principal);
    major = gss_import_name(&minor, &buf, GSS_KRB5_NT_PRINCIPAL_NAME, name_out);
    if (GSS_ERROR(major)) {
        char what[600];
        ktool_fmt(what, sizeof(what), "principal '%s' does not parse", principal);
        return ktool_gss_error(major, minor, err, what);
    }
    return 0;
}

static void
memory_ccache_name(char *buf, size_t size)
{
    static unsigned counter;

    snprintf(buf, size, "MEMORY:mailsso-keytab-%ld-%u", (long)getpid(), ++counter);
}

/* AS exchange for client into a fresh MEMORY ccache. service NULL: the TGT. */
static int
initial_creds(krb5_context ctx, const ktool_client *client, const char *client_princ,
              const char *service, krb5_ccache *cc_out, krb5_creds *creds_out,
              mailsso_error *err)
{
    krb5_principal princ = NULL;
    krb5_keytab kt = NULL;
    krb5_ccache cc = NULL;
    krb5_get_init_creds_opt *opt = NULL;
    krb5_creds creds;
    char ccname[128], ktname[PATH_MAX + 8], what[1024];
    char *pw = NULL;
    krb5_error_code code;
    int rc = 0, have_creds = 0;

    memset(&creds, 0, sizeof(creds));
    code = krb5_parse_name(ctx, client_princ, &princ);
    if (code != 0) {
        ktool_fmt(what, sizeof(what), "client principal '%s' does not parse", client_princ);
        rc = ktool_krb5_error(ctx, code, err, what);
        goto cleanup;
    }
    code = krb5_get_init_creds_opt_alloc(ctx, &opt);
    if (code != 0) {
        rc = ktool_krb5_error(ctx, code, err, "krb5_get_init_creds_opt_alloc");
        goto cleanup;
    }
    krb5_get_init_creds_opt_set_forwardable(opt, 1);
    krb5_get_init_creds_opt_set_tkt_life(opt, 600);
    if (client->mode == KTOOL_CLIENT_PASSWORD) {
        if (client->password == NULL) {
            rc = ktool_read_password(client->password_file, "Password for client: ", 0, &pw,
                                     err);
            if (rc != 0)
                goto cleanup;
        }
        code = krb5_get_init_creds_password(ctx, &creds, princ,
                                            client->password ? client->password : pw, NULL, NULL,
                                            0, service, opt);
    } else {
        const char *ktpath = client->mode == KTOOL_CLIENT_KEYTAB ? client->client_keytab
                                                                 : client->self_keytab;
        snprintf(ktname, sizeof(ktname), "FILE:%s", ktpath);
        code = krb5_kt_resolve(ctx, ktname, &kt);
        if (code == 0)
            code = krb5_get_init_creds_keytab(ctx, &creds, princ, kt, 0, service, opt);
    }
    if (code != 0) {
        if (client->mode == KTOOL_CLIENT_SELF)
            ktool_fmt(what, sizeof(what),
                     "the KDC refused the keytab's newest key for %s (AS exchange%s%s)",
                     client_princ, service ? " for " : "", service ? service : "");
        else
            ktool_fmt(what, sizeof(what), "cannot get initial credentials for client %s",
                     client_princ);
        rc = ktool_krb5_error(ctx, code, err, what);
        goto cleanup;
    }
    have_creds = 1;
    if (cc_out != NULL) {
        memory_ccache_name(ccname, sizeof(ccname));
        code = krb5_cc_resolve(ctx, ccname, &cc);
        if (code == 0)
            code = krb5_cc_initialize(ctx, cc, princ);
        if (code == 0)
            code = krb5_cc_store_cred(ctx, cc, &creds);
        if (code != 0) {
            rc = ktool_krb5_error(ctx, code, err, "cannot store credentials in a memory ccache");
            goto cleanup;
        }
        *cc_out = cc;
        cc = NULL;
    }
    if (creds_out != NULL) {
        *creds_out = creds;
        have_creds = 0;
    }
cleanup:
    if (have_creds)
        krb5_free_cred_contents(ctx, &creds);
    if (cc != NULL)
        krb5_cc_destroy(ctx, cc);
    if (kt != NULL)
        krb5_kt_close(ctx, kt);
    krb5_get_init_creds_opt_free(ctx, opt);
    krb5_free_principal(ctx, princ);
    ktool_password_free(pw);
    return rc;
}

int
ktool_get_token(const ktool_client *client, const char *service, gss_buffer_desc *token_out,
                mailsso_error *err)
{
    krb5_context ctx = NULL;
    krb5_ccache cc = NULL;
    gss_name_t target = GSS_C_NO_NAME;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_ctx_id_t gctx = GSS_C_NO_CONTEXT;
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    gss_key_value_element_desc el[1];
    gss_key_value_set_desc store;
    OM_uint32 major, minor;
    char ccname[256], what[1024];
    const char *cname = NULL;
    int rc = 0;

    rc = ktool_krb5_init(&ctx, err);
    if (rc != 0)
        return rc;
    rc = import_name(service, &target, err);
    if (rc != 0)
        goto cleanup;

    switch (client->mode) {
    case KTOOL_CLIENT_CCACHE:
        cname = client->ccache != NULL ? client->ccache : krb5_cc_default_name(ctx);
        break;
    case KTOOL_CLIENT_SELF:
    case KTOOL_CLIENT_PASSWORD:
    case KTOOL_CLIENT_KEYTAB: {
        char *fullname = NULL;
        /* SELF: an AS exchange as the service, for a ticket to itself: the
         * KDC encrypts it in the service's current long-term key, exactly as
         * it does for mail clients. */
        rc = initial_creds(ctx, client,
                           client->mode == KTOOL_CLIENT_SELF ? service : client->principal,
                           client->mode == KTOOL_CLIENT_SELF ? service : NULL, &cc, NULL, err);
        if (rc != 0)
            goto cleanup;
        if (krb5_cc_get_full_name(ctx, cc, &fullname) != 0) {
            rc = mailsso_error_set(err, MAILSSO_E_KRB5, "cannot name the memory ccache");
            goto cleanup;
        }
        snprintf(ccname, sizeof(ccname), "%s", fullname);
        krb5_free_string(ctx, fullname);
        cname = ccname;
        break;
    }
    }
    el[0].key = "ccache";
    el[0].value = cname;
    store.count = 1;
    store.elements = el;
    major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &krb5_mech_set,
                                  GSS_C_INITIATE, &store, &cred, NULL, NULL);
    if (GSS_ERROR(major)) {
        ktool_fmt(what, sizeof(what), "cannot use the client credentials in %s", cname);
        rc = ktool_gss_error(major, minor, err, what);
        goto cleanup;
    }
    major = gss_init_sec_context(&minor, cred, &gctx, target,
                                 &krb5_mech_oid, GSS_C_MUTUAL_FLAG, 0,
                                 GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, &out, NULL,
                                 NULL);
    if (GSS_ERROR(major)) {
        ktool_fmt(what, sizeof(what), "cannot get a ticket for %s", service);
        rc = ktool_gss_error(major, minor, err, what);
        goto cleanup;
    }
    *token_out = out;
    out.value = NULL;
    out.length = 0;
cleanup:
    gss_release_buffer(&minor, &out);
    gss_delete_sec_context(&minor, &gctx, GSS_C_NO_BUFFER);
    gss_release_cred(&minor, &cred);
    gss_release_name(&minor, &target);
    if (cc != NULL)
        krb5_cc_destroy(ctx, cc);
    krb5_free_context(ctx);
    return rc;
}

/* Known enctype numbers, to turn a policy into gss_krb5_set_allowable_enctypes. */
static const int32_t all_enctypes[] = { 1, 2, 3, 16, 17, 18, 19, 20, 23, 24, 25, 26 };

static void
explain_failure(const mailsso_keytab *kt, const char *server, const mailsso_apreq_info *info,
                int have_info, const mailsso_enctype_policy *policy, OM_uint32 major,
                OM_uint32 minor, ktool_accept_result *res)
{
    mailsso_diag d;
    char eb[64], held[256];
    size_t i, hl = 0;
    int have_princ = 0, have_kvno = 0, have_et = 0;

    mailsso_diag_gss(major, minor, &d);
    held[0] = '\0';
    if (!have_info) {
        ktool_fmt(res->reason, sizeof(res->reason), "%s -- %s (fix: %s)", d.code_text, d.cause,
                 d.fix);
        return;
    }
    for (i = 0; i < kt->n_entries; i++) {
        const mailsso_keytab_entry *e = &kt->entries[i];
        if (strcmp(e->principal, server) != 0)
            continue;
        have_princ = 1;
        if (!info->has_kvno || e->kvno == info->kvno) {
            have_kvno = 1;
            if (e->enctype == info->ticket_enctype)
                have_et = 1;
        }
        if (hl + 32 < sizeof(held))
            hl += (size_t)snprintf(held + hl, sizeof(held) - hl, "%s%u/%s", hl ? " " : "",
                                   e->kvno, mailsso_enctype_name(e->enctype)
                                       ? mailsso_enctype_name(e->enctype) : "?");
    }
    ktool_enctype_str(info->ticket_enctype, eb, sizeof(eb));
    if (!have_princ) {
        ktool_fmt(res->reason, sizeof(res->reason),
                 "missing principal: the keytab holds no key for %s (fix: export its keys "
                 "and merge them with 'mailsso-keytab merge')", server);
    } else if (!have_kvno) {
        ktool_fmt(res->reason, sizeof(res->reason),
                 "stale kvno: the KDC issued a ticket with kvno %u, the keytab holds "
                 "kvno/enctype %s -- the service password changed after this keytab was "
                 "exported (fix: export a fresh keytab (ktpass / kadmin ktadd) and merge it, "
                 "or run 'mailsso-keytab rotate')", info->kvno, held);
    } else if (!have_et) {
        ktool_fmt(res->reason, sizeof(res->reason),
                 "missing enctype: the ticket is encrypted with %s (kvno %u) but the keytab "
                 "has no %s key for that kvno (holds %s) (fix: export the keytab with that "
                 "enctype, e.g. ktpass -crypto AES256-SHA1 or kadmin ktadd -e, or "
                 "'mailsso-keytab add -e')", eb, info->kvno, eb, held);
    } else if (policy != NULL && !mailsso_enctype_policy_allows(policy, info->ticket_enctype)) {
        char pb[256];
        ktool_fmt(res->reason, sizeof(res->reason),
                 "refused enctype: the ticket is encrypted with %s, which the enctype policy "
                 "does not allow (allowed: %s) (fix: give the service account AES keys "
                 "(msDS-SupportedEncryptionTypes) or widen 'enctypes' in mailsso.conf)", eb,
                 mailsso_enctype_policy_describe(policy, pb, sizeof(pb)));
    } else if (d.krb5_code == KRB5KRB_AP_ERR_BAD_INTEGRITY || d.krb5_code == KRB5KRB_AP_ERR_MODIFIED) {
        ktool_fmt(res->reason, sizeof(res->reason),
                 "wrong key: the keytab's %s key for kvno %u does not decrypt the KDC's ticket "
                 "-- the password or the salt used to make it is wrong (fix: re-add the key with "
                 "the right password and --salt-type (AD user accounts: ad-user; computer "
                 "accounts: ad-computer; or --salt-type kdc), or export a fresh keytab)",
                 eb, info->kvno);
    } else {
        ktool_fmt(res->reason, sizeof(res->reason), "%s -- %s (fix: %s)", d.code_text, d.cause,
                 d.fix);
    }
}

int
ktool_accept_token(const char *keytab_path, const mailsso_keytab *kt, const char *service,
                   const mailsso_enctype_policy *policy, const gss_buffer_desc *token,
                   ktool_accept_result *res, mailsso_error *err)
{
    gss_name_t name = GSS_C_NO_NAME, src = GSS_C_NO_NAME;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_ctx_id_t gctx = GSS_C_NO_CONTEXT;
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER, dn = GSS_C_EMPTY_BUFFER;
    gss_key_value_element_desc el[2];
    gss_key_value_set_desc store;
    mailsso_apreq_info info;
    mailsso_error ierr = MAILSSO_ERROR_INIT;
    OM_uint32 major, minor;
    char ktname[PATH_MAX + 8], what[1024];
    int rc = 0, have_info;

    memset(res, 0, sizeof(*res));
    memset(&info, 0, sizeof(info));
    have_info = mailsso_apreq_inspect(token->value, token->length, &info, &ierr) == 0;
    if (have_info) {
        res->ticket_kvno = info.kvno;
        res->have_kvno = info.has_kvno;
        res->ticket_enctype = info.ticket_enctype;
    }
    if (service != NULL) {
        rc = import_name(service, &name, err);
        if (rc != 0)
            goto cleanup;
    }
    snprintf(ktname, sizeof(ktname), "FILE:%s", keytab_path);
    el[0].key = "keytab";
    el[0].value = ktname;
    el[1].key = "rcache";
    el[1].value = "none:";
    store.count = 2;
    store.elements = el;
    major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, &krb5_mech_set, GSS_C_ACCEPT,
                                  &store, &cred, NULL, NULL);
    if (GSS_ERROR(major)) {
        ktool_fmt(what, sizeof(what), "cannot build an acceptor credential for %s from %s",
                 service ? service : "any principal", keytab_path);
        rc = ktool_gss_error(major, minor, err, what);
        goto cleanup;
    }
    if (policy != NULL) {
        int32_t allowed[MAILSSO_ARRAY_LEN(all_enctypes)];
        size_t n = 0, i;

        for (i = 0; i < MAILSSO_ARRAY_LEN(all_enctypes); i++)
            if (mailsso_enctype_policy_allows(policy, all_enctypes[i]))
                allowed[n++] = all_enctypes[i];
        if (n > 0) {
            major = gss_krb5_set_allowable_enctypes(&minor, cred, (OM_uint32)n,
                                                    (krb5_enctype *)allowed);
            if (GSS_ERROR(major)) {
                rc = ktool_gss_error(major, minor, err, "cannot apply the enctype policy");
                goto cleanup;
            }
        }
    }
    major = gss_accept_sec_context(&minor, &gctx, cred, (gss_buffer_t)token,
                                   GSS_C_NO_CHANNEL_BINDINGS, &src, NULL, &out, NULL, NULL,
                                   NULL);
    if (GSS_ERROR(major)) {
        explain_failure(kt, have_info ? info.server : (service ? service : "?"), &info,
                        have_info, policy, major, minor, res);
        goto cleanup;
    }
    if (policy != NULL && have_info && !mailsso_enctype_policy_allows(policy, info.ticket_enctype)) {
        explain_failure(kt, info.server, &info, have_info, policy, GSS_S_FAILURE, 0, res);
        goto cleanup;
    }
    res->ok = 1;
    if (gss_display_name(&minor, src, &dn, NULL) == GSS_S_COMPLETE) {
        snprintf(res->client, sizeof(res->client), "%.*s", (int)dn.length, (char *)dn.value);
        gss_release_buffer(&minor, &dn);
    }
cleanup:
    gss_release_buffer(&minor, &out);
    gss_delete_sec_context(&minor, &gctx, GSS_C_NO_BUFFER);
    gss_release_cred(&minor, &cred);
    gss_release_name(&minor, &name);
    gss_release_name(&minor, &src);
    return rc;
}

int
ktool_load_policy(const char *spec, const char *section, mailsso_enctype_policy **policy_out,
                  mailsso_error *err)
{
    mailsso_config *cfg = NULL;
    const char *s = spec;
    int rc;

    if (s == NULL) {
        if (ktool_config_path != NULL) {
            rc = mailsso_config_load_file(ktool_config_path, &cfg, err);
            if (rc != 0)
                return rc;
        } else if (access(MAILSSO_DEFAULT_CONFIG, R_OK) == 0) {
            rc = mailsso_config_load_file(NULL, &cfg, err);
            if (rc != 0)
                return rc;
        }
        if (cfg != NULL && mailsso_config_find_key("enctypes", MAILSSO_SCOPE_SERVICE) != NULL)
            s = mailsso_config_get_string(cfg, section, "enctypes");
        if (s == NULL || *s == '\0')
            s = "default";
    }
    rc = mailsso_enctype_policy_parse(s, policy_out, err);
    mailsso_config_free(cfg);
    return rc;
}

int
ktool_kdc_kvno(const ktool_client *client, const char *principal, uint32_t *kvno_out,
               long *skew_out, mailsso_error *err)
{
    krb5_context ctx = NULL;
    krb5_creds creds, in, *out = NULL;
    krb5_ccache cc = NULL;
    krb5_ticket *tkt = NULL;
    krb5_timestamp sec = 0;
    krb5_int32 usec = 0;
    krb5_error_code code;
    const krb5_data *ticket = NULL;
    int rc, have_creds = 0;

    memset(&creds, 0, sizeof(creds));
    memset(&in, 0, sizeof(in));
    *skew_out = LONG_MIN;
    rc = ktool_krb5_init(&ctx, err);
    if (rc != 0)
        return rc;
    if (client->mode == KTOOL_CLIENT_SELF) {
        /* AS exchange as the principal, for a ticket to itself: the ticket's
         * kvno is the KDC's current one. */
        rc = initial_creds(ctx, client, principal, principal, NULL, &creds, err);
        if (rc != 0)
            goto cleanup;
        have_creds = 1;
        ticket = &creds.ticket;
        if (krb5_get_time_offsets(ctx, &sec, &usec) == 0)
            *skew_out = (long)sec;
    } else {
        if (client->mode == KTOOL_CLIENT_CCACHE) {
            code = client->ccache ? krb5_cc_resolve(ctx, client->ccache, &cc)
                                  : krb5_cc_default(ctx, &cc);
            if (code != 0) {
                rc = ktool_krb5_error(ctx, code, err, "cannot open the client ccache");
                goto cleanup;
            }
        } else {
            rc = initial_creds(ctx, client, client->principal, NULL, &cc, NULL, err);
            if (rc != 0)
                goto cleanup;
            if (krb5_get_time_offsets(ctx, &sec, &usec) == 0)
                *skew_out = (long)sec;
        }
        code = krb5_cc_get_principal(ctx, cc, &in.client);
        if (code == 0)
            code = krb5_parse_name(ctx, principal, &in.server);
        if (code == 0)
            code = krb5_get_credentials(ctx, 0, cc, &in, &out);
        if (code != 0) {
            char what[600];
            ktool_fmt(what, sizeof(what), "cannot get a ticket for %s", principal);
            rc = ktool_krb5_error(ctx, code, err, what);
            goto cleanup;
        }
        ticket = &out->ticket;
    }
    code = krb5_decode_ticket(ticket, &tkt);
    if (code != 0) {
        rc = ktool_krb5_error(ctx, code, err, "cannot decode the KDC's ticket");
        goto cleanup;
    }
    *kvno_out = tkt->enc_part.kvno;
cleanup:
    if (tkt != NULL)
        krb5_free_ticket(ctx, tkt);
    if (out != NULL)
        krb5_free_creds(ctx, out);
    if (have_creds)
        krb5_free_cred_contents(ctx, &creds);
    krb5_free_cred_contents(ctx, &in);
    if (cc != NULL) {
        if (client->mode == KTOOL_CLIENT_CCACHE)
            krb5_cc_close(ctx, cc);
        else
            krb5_cc_destroy(ctx, cc);
    }
    krb5_free_context(ctx);
    return rc;
}

/* Asks the KDC for a ticket to the principal itself with the password: the
 * ticket's kvno is the current one. */
int
ktool_kvno_with_password(krb5_context ctx, const char *principal, const char *pw, uint32_t *kvno_out,
                       mailsso_error *err)
{
    krb5_principal princ = NULL;
    krb5_creds creds;
    krb5_ticket *tkt = NULL;
    krb5_error_code code;
    int rc = 0, have = 0;

    memset(&creds, 0, sizeof(creds));
    code = krb5_parse_name(ctx, principal, &princ);
    if (code == 0) {
        code = krb5_get_init_creds_password(ctx, &creds, princ, pw, NULL, NULL, 0, principal,
                                            NULL);
        have = code == 0;
    }
    if (code == 0)
        code = krb5_decode_ticket(&creds.ticket, &tkt);
    if (code != 0) {
        rc = ktool_krb5_error(ctx, code, err, "asking the KDC for the kvno (with the password) of "
                                              "the principal failed");
        goto cleanup;
    }
    *kvno_out = tkt->enc_part.kvno;
cleanup:
    if (tkt != NULL)
        krb5_free_ticket(ctx, tkt);
    if (have)
        krb5_free_cred_contents(ctx, &creds);
    krb5_free_principal(ctx, princ);
    return rc;
}
