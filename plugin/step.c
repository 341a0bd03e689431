/*
 * NAME
 *   step.c - GSSAPI (RFC 4752) and GSS-SPNEGO server steps
 *
 * DESCRIPTION
 *   GSSAPI:
 *     AUTHNEG  client tokens -> gss_accept_sec_context with the service's
 *              credential (no channel bindings: RFC 4752 has none). When the
 *              context is complete: the ticket's server principal is checked
 *              against accept_names, the ticket and session-key enctypes
 *              against the enctype policy, the client principal against the
 *              identity rules (realm, mapping). A final mutual-auth token is
 *              sent and an empty reply expected, as with the stock plugin.
 *     SSFCAP   we send, wrapped (integrity only), the layers we offer
 *              (none/integrity/confidentiality, from the context flags and
 *              the application's min/max SSF) and our maximum buffer.
 *     SSFREQ   the client's wrapped choice, its maximum buffer and the
 *              authorization identity. An authzid that the identity rules
 *              call "self" (empty, the mailbox, or an enabled form like
 *              alice@EXAMPLE.TEST) logs in as the mailbox; anything else goes
 *              through the application's SASL proxy policy.
 *   GSS-SPNEGO: the context exchange only; the layer follows the context
 *   flags (as Cyrus does), no authzid. Every failure is explained in one log
 *   line (explain.c); the client only ever gets a generic failure. Every
 *   success writes one audit line.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include <mailsso/log.h>
#include <mailsso/util.h>

#include "plugin.h"

#define GENERIC_FAILURE "GSSAPI authentication failed"

static int
set_output(msp_conn *c, const void *data, size_t len, const char **serverout,
           unsigned *serveroutlen)
{
    free(c->out);
    c->out = malloc(len ? len : 1);
    if (c->out == NULL)
        return SASL_NOMEM;
    if (len)
        memcpy(c->out, data, len);
    *serverout = (const char *)c->out;
    *serveroutlen = (unsigned)len;
    return SASL_OK;
}

int
msp_mech_new(void *glob_context, sasl_server_params_t *sparams, const char *challenge,
             unsigned challen, void **conn_context)
{
    msp_conn *c;
    int spnego = 0;
    msp_global *g = msp_global_of(glob_context, &spnego);

    (void)challenge;
    (void)challen;
    if (g == NULL)
        return SASL_FAIL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SASL_NOMEM;
    c->state = MSP_AUTHNEG;
    c->spnego = spnego;
    c->g = g;
    c->utils = sparams->utils;
    c->ctx = GSS_C_NO_CONTEXT;
    c->acc_cred = GSS_C_NO_CREDENTIAL;
    c->client_name = GSS_C_NO_NAME;
    c->layer = MSP_LAYER_NONE;
    msp_selfcheck_relog(g, sparams->utils);
    *conn_context = c;
    return SASL_OK;
}

void
msp_mech_dispose(void *conn_context, const sasl_utils_t *utils)
{
    msp_conn *c = conn_context;
    OM_uint32 minor;

    (void)utils;
    if (c == NULL)
        return;
    /* The name before the context: while the context is alive, MIT's
     * release_name finds krb5.conf still parsed (see profile_hold). */
    if (c->client_name != GSS_C_NO_NAME)
        (void)gss_release_name(&minor, &c->client_name);
    if (c->ctx != GSS_C_NO_CONTEXT)
        (void)gss_delete_sec_context(&minor, &c->ctx, GSS_C_NO_BUFFER);
    msp_cred_put(c->g, c->cred);
    free(c->principal);
    free(c->mailbox);
    free(c->token);
    free(c->out);
    msp_layer_free(c);
    free(c);
}

/* Common fields of a failure report. */
static void
failure_init(msp_conn *c, sasl_server_params_t *p, msp_failure *f, const char *stage)
{
    memset(f, 0, sizeof(*f));
    f->mech = c->spnego ? "GSS-SPNEGO" : "GSSAPI";
    f->service = c->svc != NULL ? c->svc->name : (p->service ? p->service : "?");
    f->keytab = c->svc != NULL ? (c->svc->keytab_path ? c->svc->keytab_path : c->svc->keytab)
                               : NULL;
    f->apreq = c->have_apreq ? &c->apreq : NULL;
    f->apreq_error = c->have_apreq ? NULL : c->apreq_err;
    f->client = c->principal;
    f->stage = stage;
    f->ipremote = p->ipremoteport;
    f->svc = c->svc;
    f->token = c->token;
    f->token_len = c->token_len;
}

static int
fail(msp_conn *c, const msp_failure *f, int code)
{
    msp_explain(c->utils, f);
    c->utils->seterror(c->utils->conn, SASL_NOLOG, GENERIC_FAILURE);
    c->state = MSP_FAILED;
    return code;
}

static char *
display_name(gss_name_t name)
{
    gss_buffer_desc buf = GSS_C_EMPTY_BUFFER;
    OM_uint32 major, minor;
    char *s = NULL;

    major = gss_display_name(&minor, name, &buf, NULL);
    if (GSS_ERROR(major))
        return NULL;
    if (memchr(buf.value, '\0', buf.length) == NULL) {
        s = malloc(buf.length + 1);
        if (s != NULL) {
            memcpy(s, buf.value, buf.length);
            s[buf.length] = '\0';
        }
    }
    (void)gss_release_buffer(&minor, &buf);
    return s;
}

/* The context key's enctype (MIT: GSS_C_INQ_SSPI_SESSION_KEY, element 1 is
 * the OID 1.2.840.113554.1.2.2.4.<enctype>). 0 if unknown. */
static int32_t
session_enctype(gss_ctx_id_t ctx)
{
    static const unsigned char prefix[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12,
                                            0x01, 0x02, 0x02, 0x04 };
    gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
    OM_uint32 major, minor;
    int32_t e = 0;

    major = gss_inquire_sec_context_by_oid(&minor, ctx, GSS_C_INQ_SSPI_SESSION_KEY, &set);
    if (GSS_ERROR(major) || set == GSS_C_NO_BUFFER_SET)
        return 0;
    if (set->count >= 2 && set->elements[1].length > sizeof(prefix) &&
        memcmp(set->elements[1].value, prefix, sizeof(prefix)) == 0) {
        const unsigned char *b = set->elements[1].value;
        uint32_t v = 0;
        for (size_t i = sizeof(prefix); i < set->elements[1].length && i < sizeof(prefix) + 5; i++) {
            v = (v << 7) | (b[i] & 0x7f);
            if (!(b[i] & 0x80))
                break;
        }
        e = (int32_t)v;
    }
    if (set->count >= 1 && set->elements[0].value != NULL)
        mailsso_zero(set->elements[0].value, set->elements[0].length);
    (void)gss_release_buffer_set(&minor, &set);
    return e;
}

static sasl_ssf_t
context_ssf(gss_ctx_id_t ctx)
{
    gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
    OM_uint32 major, minor;
    sasl_ssf_t ssf = 56;

    major = gss_inquire_sec_context_by_oid(&minor, ctx, GSS_C_SEC_CONTEXT_SASL_SSF, &set);
    if (!GSS_ERROR(major) && set != GSS_C_NO_BUFFER_SET && set->count == 1 &&
        set->elements[0].length == 4) {
        const unsigned char *b = set->elements[0].value;
        ssf = ((sasl_ssf_t)b[0] << 24) | ((sasl_ssf_t)b[1] << 16) | ((sasl_ssf_t)b[2] << 8) | b[3];
    }
    if (set != GSS_C_NO_BUFFER_SET)
        (void)gss_release_buffer_set(&minor, &set);
    return ssf;
}

static const char *
etype_text(int32_t e, char *buf, size_t size)
{
    if (e == 0)
        return mailsso_strlcpy(buf, "unknown", size), buf;
    return mailsso_enctype_describe(e, buf, size);
}

/* The ticket's server principal when msp_cred_covers() said every key of the
 * keytab belongs to an accepted name: the only principal of the keytab (the
 * only one whose key can have decrypted the ticket), else the name the
 * ticket carries if the keytab holds it (for the audit line only: the
 * decision does not depend on it). NULL: ask the context. */
static char *
covered_target(const msp_conn *c)
{
    const msp_cred *cr = c->cred;

    if (cr->n_principals == 1)
        return strdup(cr->principals[0]);
    for (size_t i = 0; c->have_apreq && i < cr->n_principals; i++)
        if (strcmp(cr->principals[i], c->apreq.server) == 0)
            return strdup(c->apreq.server);
    return NULL;
}

/* Checks once the context is complete. Returns SASL_OK or a failure code. */
static int
finish_context(msp_conn *c, sasl_server_params_t *p)
{
    gss_name_t target = GSS_C_NO_NAME;
    OM_uint32 major, minor;
    char *tname = NULL;
    msp_failure f;
    char cause[2048], fix[1600], acc[1024], d1[64], d2[64];
    mailsso_error err = MAILSSO_ERROR_INIT;
    int ret = SASL_OK;

    c->principal = display_name(c->client_name);
    if (c->principal != NULL)
        mailsso_log_sanitize(c->principal, strlen(c->principal), c->plog, sizeof(c->plog));
    if (c->principal == NULL) {
        failure_init(c, p, &f, "client name");
        f.cause = "the client's principal name cannot be displayed or contains a NUL byte";
        f.fix = "none on the server; the client presented a malformed name";
        return fail(c, &f, SASL_BADAUTH);
    }

    /* 1. the service name the ticket was for (authenticated: from the
     *    context, proven by a credential for that name only, or known to be
     *    accepted whatever it is: msp_cred_covers) */
    if (c->named_target)
        tname = strdup(c->apreq.server);     /* decrypted with that principal's key */
    else if (msp_cred_covers(c->g, c->svc, c->cred, p->serverFQDN))
        tname = covered_target(c);
    if (tname == NULL) {
        major = gss_inquire_context(&minor, c->ctx, NULL, &target, NULL, NULL, NULL, NULL, NULL);
        if (!GSS_ERROR(major) && target != GSS_C_NO_NAME)
            tname = display_name(target);
        if (target != GSS_C_NO_NAME)
            (void)gss_release_name(&minor, &target);
    }
    if (tname == NULL && c->have_apreq)
        tname = strdup(c->apreq.server);
    mailsso_log_sanitize(tname ? tname : "", tname ? strlen(tname) : 0, c->target,
                         sizeof(c->target));
    free(tname);
    if (!msp_accept_name_ok(c->svc, p->serverFQDN, c->target)) {
        failure_init(c, p, &f, "service name");
        snprintf(cause, sizeof(cause),
                 "the ticket is for %s, which this service does not accept (accept_names: %s)",
                 c->target, msp_accept_describe(c->svc, p->serverFQDN, acc, sizeof(acc)));
        snprintf(fix, sizeof(fix),
                 "if clients may use that name, add \"%s\" to accept_names for service %s in "
                 "mailsso.conf; otherwise configure the client with this server's name",
                 c->target, c->svc->name);
        f.cause = cause;
        f.fix = fix;
        return fail(c, &f, SASL_BADAUTH);
    }

    /* 2. enctypes (MIT already refused anything outside the policy; this
     *    double-checks and names what was used) */
    c->ticket_etype = c->have_apreq ? c->apreq.ticket_enctype : 0;
    c->session_etype = session_enctype(c->ctx);
    if (c->session_etype == 0 && c->have_apreq)
        c->session_etype = c->apreq.authenticator_enctype;
    {
        int32_t bad = 0;
        const char *which = NULL, *ptext = NULL;
        const mailsso_enctype_policy *pol = msp_policy_for(c->svc, c->principal, &ptext);
        if (c->ticket_etype != 0 && !mailsso_enctype_policy_allows(pol, c->ticket_etype)) {
            bad = c->ticket_etype;
            which = "ticket";
        } else if (c->session_etype != 0 && !mailsso_enctype_policy_allows(pol, c->session_etype)) {
            bad = c->session_etype;
            which = "session key";
        }
        if (bad != 0) {
            failure_init(c, p, &f, "enctype policy");
            snprintf(cause, sizeof(cause), "enctype refused by our policy: the %s enctype is %s "
                     "but enctypes = \"%s\" for service %s (client %s)", which,
                     etype_text(bad, d1, sizeof(d1)), ptext, c->svc->name, c->plog);
            snprintf(fix, sizeof(fix), "give the account %s AES keys (AD: "
                     "msDS-SupportedEncryptionTypes, then re-export the keytab), or allow it "
                     "explicitly in mailsso.conf enctypes", !strcmp(which, "ticket") ?
                     c->target : c->plog);
            f.cause = cause;
            f.fix = fix;
            return fail(c, &f, SASL_BADAUTH);
        }
        if (c->svc->warn_rc4 &&
            (mailsso_enctype_classify(c->ticket_etype) == MAILSSO_ENCTYPE_LEGACY ||
             mailsso_enctype_classify(c->session_etype) == MAILSSO_ENCTYPE_LEGACY)) {
            const char *who = c->plog;
            msp_log(c->utils, SASL_LOG_WARN,
                    "%s: WARNING: RC4 used by login of %s to service %s (ticket for %s: %s, "
                    "session key: %s); RC4 is allowed by \"%s\" but deprecated; fix: "
                    "give %s AES keys (AD: msDS-SupportedEncryptionTypes = 0x18 on the account, "
                    "then re-export the keytab with -crypto AES256-SHA1)",
                    MSP_LOG_PREFIX, who, c->svc->name, c->target,
                    etype_text(c->ticket_etype, d1, sizeof(d1)),
                    etype_text(c->session_etype, d2, sizeof(d2)), ptext,
                    mailsso_enctype_classify(c->ticket_etype) == MAILSSO_ENCTYPE_LEGACY
                        ? c->target : who);
        }
    }

    /* 3. identity: realm and mapping */
    if (c->svc->rules == NULL) {
        failure_init(c, p, &f, "identity rules");
        f.cause = "the identity rules could not be built from mailsso.conf";
        f.fix = "run mailsso-keytab --check-config / fix mailsso.conf";
        return fail(c, &f, SASL_FAIL);
    }
    if (mailsso_identity_map(c->svc->rules, c->principal, &c->mailbox, &err) != 0) {
        failure_init(c, p, &f, "identity");
        snprintf(cause, sizeof(cause), "%s", err.message);
        snprintf(fix, sizeof(fix), "%s", err.fix[0] ? err.fix :
                 "allow the realm (realms) or add a map rule in mailsso.conf if this user may log in");
        f.cause = cause;
        f.fix = fix;
        c->mailbox = NULL;
        return fail(c, &f, SASL_BADAUTH);
    }
    return ret;
}

static void
audit(msp_conn *c, sasl_server_params_t *p, sasl_out_params_t *o, const char *authzid)
{
    char d1[64], d2[64], az[300];
    int level = c->g->audit_level;

    if (level < 0)
        return;
    az[0] = '\0';
    if (authzid != NULL && authzid[0] != '\0')
        mailsso_log_sanitize(authzid, strlen(authzid), az, sizeof(az));
    msp_log(c->utils, level,
            "%s: login ok: mech=%s service=%s principal=%s mailbox=%s%s%s%s%s ticket=%s "
            "kvno=%s%u ticket_enctype=%s session_enctype=%s ssf=%u client=%s",
            MSP_LOG_PREFIX, c->spnego ? "GSS-SPNEGO" : "GSSAPI", c->svc->name, c->plog,
            c->mailbox, az[0] ? " authzid=" : "", az,
            (o->user && strcmp(o->user, c->mailbox) != 0) ? " user=" : "",
            (o->user && strcmp(o->user, c->mailbox) != 0) ? o->user : "", c->target,
            c->have_apreq && c->apreq.has_kvno ? "" : "?",
            c->have_apreq ? c->apreq.kvno : 0, etype_text(c->ticket_etype, d1, sizeof(d1)),
            etype_text(c->session_etype, d2, sizeof(d2)), (unsigned)o->mech_ssf,
            p->ipremoteport ? p->ipremoteport : "-");
}

static int
step_authneg(msp_conn *c, sasl_server_params_t *p, const char *in, unsigned inlen,
             const char **out, unsigned *outlen, sasl_out_params_t *o)
{
    gss_buffer_desc itok, otok = GSS_C_EMPTY_BUFFER;
    OM_uint32 major, minor = 0;
    gss_OID mech = GSS_C_NO_OID;
    msp_failure f;
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_diag diag;
    int ret;

    if (inlen == 0) {
        /* IMAP sends the initial response separately: ask for it. */
        return set_output(c, "", 0, out, outlen) == SASL_OK ? SASL_CONTINUE : SASL_NOMEM;
    }
    if (c->svc == NULL) {
        ret = msp_service_get(c->g, c->utils, p->service, &c->svc);
        if (ret != SASL_OK)
            return ret;
    }
    if (c->ctx == GSS_C_NO_CONTEXT) {
        mailsso_error aerr = MAILSSO_ERROR_INIT;
        if (p->cbinding != NULL && p->cbinding->critical) {
            failure_init(c, p, &f, "channel binding");
            f.cause = "the application requires channel binding, which RFC 4752 GSSAPI does not "
                      "carry";
            f.fix = "make channel binding optional in the server (or use a GS2 mechanism)";
            return fail(c, &f, SASL_BADBINDING);
        }
        free(c->token);
        c->token = malloc(inlen);
        if (c->token != NULL) {
            memcpy(c->token, in, inlen);
            c->token_len = inlen;
        }
        if (mailsso_apreq_inspect(in, inlen, &c->apreq, &aerr) == 0)
            c->have_apreq = 1;
        else
            mailsso_strlcpy(c->apreq_err, aerr.message, sizeof(c->apreq_err));
        if (!c->spnego && c->have_apreq && c->apreq.spnego) {
            failure_init(c, p, &f, "token");
            f.cause = "the client sent a SPNEGO token to the GSSAPI mechanism (RFC 4752 requires a "
                      "raw Kerberos token)";
            f.fix = "configure the client to use GSS-SPNEGO, or plain Kerberos for GSSAPI";
            return fail(c, &f, SASL_BADPROT);
        }
    }
    if (c->cred == NULL && msp_cred_get(c->g, c->svc, c->utils, &c->cred, &err, &diag) != 0) {
        char cause[2048], fix[1600];
        failure_init(c, p, &f, "credential");
        snprintf(cause, sizeof(cause), "%s%s%s", err.message, diag.cause[0] ? ": " : "",
                 diag.cause);
        snprintf(fix, sizeof(fix), "%s", diag.fix[0] ? diag.fix : err.fix[0] ? err.fix
                 : "check the keytab named in mailsso.conf / the SASL option keytab");
        f.cause = cause;
        f.fix = fix;
        return fail(c, &f, SASL_FAIL);
    }

    if (c->acc_cred == GSS_C_NO_CREDENTIAL) {
        /* A keytab that also holds names we do not accept: accept with a
         * credential for just the (accepted) name the ticket carries, which
         * proves that name (service.c, msp_cred_named). Keytabs whose every
         * name is accepted need no proof (msp_cred_covers). */
        c->acc_cred = c->cred->cred;
        if (c->have_apreq && c->cred->n_principals > 1 &&
            msp_cred_named(c->g, c->svc, c->cred, c->apreq.server, p->serverFQDN, &c->acc_cred))
            c->named_target = 1;
    }
    itok.value = (void *)in;
    itok.length = inlen;
    major = gss_accept_sec_context(&minor, &c->ctx, c->acc_cred, &itok,
                                   GSS_C_NO_CHANNEL_BINDINGS,
                                   c->client_name == GSS_C_NO_NAME ? &c->client_name : NULL,
                                   &mech, &otok, &c->ret_flags, NULL, NULL);
    if (GSS_ERROR(major)) {
        failure_init(c, p, &f, "accept");
        f.have_gss = 1;
        f.major = major;
        f.minor = minor;
        {
            OM_uint32 m2;
            (void)gss_release_buffer(&m2, &otok);
        }
        return fail(c, &f, SASL_BADAUTH);
    }
    ret = set_output(c, otok.value, otok.length, out, outlen);
    {
        OM_uint32 m2;
        (void)gss_release_buffer(&m2, &otok);
    }
    if (ret != SASL_OK)
        return ret;
    if (major & GSS_S_CONTINUE_NEEDED)
        return SASL_CONTINUE;

    ret = finish_context(c, p);
    if (ret != SASL_OK)
        return ret;

    if (c->spnego) {
        /* No layer negotiation: the context flags decide, as in Cyrus. */
        if (c->ret_flags & GSS_C_CONF_FLAG) {
            c->layer = MSP_LAYER_CONFIDENTIALITY;
            o->mech_ssf = context_ssf(c->ctx);
        } else if (c->ret_flags & GSS_C_INTEG_FLAG) {
            c->layer = MSP_LAYER_INTEGRITY;
            o->mech_ssf = 1;
        } else {
            c->layer = MSP_LAYER_NONE;
            o->mech_ssf = 0;
        }
        if (p->props.min_ssf > p->external_ssf + o->mech_ssf) {
            char cause[300];
            failure_init(c, p, &f, "security layer");
            snprintf(cause, sizeof(cause), "the application requires SSF %u but the GSS-SPNEGO "
                     "context provides %u (plus external %u)", (unsigned)p->props.min_ssf,
                     (unsigned)o->mech_ssf, (unsigned)p->external_ssf);
            f.cause = cause;
            f.fix = "lower minssf, use TLS, or let the client request confidentiality";
            return fail(c, &f, SASL_TOOWEAK);
        }
        return SASL_OK;     /* caller finishes (canon_user, audit) */
    }
    c->state = MSP_SSFCAP;
    return *outlen ? SASL_CONTINUE : SASL_OK /* fall through to SSFCAP */;
}

static int
step_ssfcap(msp_conn *c, sasl_server_params_t *p, const char **out, unsigned *outlen)
{
    unsigned char data[4];
    gss_buffer_desc in, tok = GSS_C_EMPTY_BUFFER;
    OM_uint32 major, minor;
    sasl_ssf_t limit, require;
    unsigned maxbuf = p->props.maxbufsize > 0xFFFFFF ? 0xFFFFFF : p->props.maxbufsize;
    msp_failure f;
    int ret;

    limit = p->props.max_ssf > p->external_ssf ? p->props.max_ssf - p->external_ssf : 0;
    require = p->props.min_ssf > p->external_ssf ? p->props.min_ssf - p->external_ssf : 0;
    c->conf_ssf = context_ssf(c->ctx);
    data[0] = 0;
    if (require == 0)
        data[0] |= MSP_LAYER_NONE;
    if ((c->ret_flags & GSS_C_INTEG_FLAG) && require <= 1 && limit >= 1 && maxbuf)
        data[0] |= MSP_LAYER_INTEGRITY;
    if ((c->ret_flags & GSS_C_CONF_FLAG) && require <= c->conf_ssf && limit >= c->conf_ssf &&
        maxbuf)
        data[0] |= MSP_LAYER_CONFIDENTIALITY;
    if (data[0] == 0) {
        char cause[300];
        failure_init(c, p, &f, "security layer");
        snprintf(cause, sizeof(cause), "the application requires SSF %u but the Kerberos context "
                 "offers at most %u", (unsigned)require,
                 (c->ret_flags & GSS_C_CONF_FLAG) ? (unsigned)c->conf_ssf : 1u);
        f.cause = cause;
        f.fix = "lower minssf, or use TLS (external SSF)";
        return fail(c, &f, SASL_TOOWEAK);
    }
    if ((data[0] & ~MSP_LAYER_NONE) == 0)
        maxbuf = 0;     /* RFC 4752: 0 when no layer is offered */
    data[1] = (unsigned char)(maxbuf >> 16);
    data[2] = (unsigned char)(maxbuf >> 8);
    data[3] = (unsigned char)maxbuf;
    c->offered = data[0];
    c->recv_max = maxbuf;
    in.value = data;
    in.length = 4;
    major = gss_wrap(&minor, c->ctx, 0, GSS_C_QOP_DEFAULT, &in, NULL, &tok);
    if (GSS_ERROR(major)) {
        failure_init(c, p, &f, "wrap");
        f.have_gss = 1;
        f.major = major;
        f.minor = minor;
        return fail(c, &f, SASL_FAIL);
    }
    ret = set_output(c, tok.value, tok.length, out, outlen);
    (void)gss_release_buffer(&minor, &tok);
    if (ret != SASL_OK)
        return ret;
    c->state = MSP_SSFREQ;
    return SASL_CONTINUE;
}

static int
call_proxy_policy(msp_conn *c, sasl_server_params_t *p, sasl_out_params_t *o)
{
    sasl_authorize_t *proc = NULL;
    void *ctx = NULL;
    int r;

    r = c->utils->getcallback(c->utils->conn, SASL_CB_PROXY_POLICY, (sasl_callback_ft *)&proc,
                              &ctx);
    if (r != SASL_OK || proc == NULL)
        return SASL_NOAUTHZ;
    return proc(c->utils->conn, ctx, o->user, o->ulen, o->authid, o->alen, p->user_realm,
                p->user_realm ? (unsigned)strlen(p->user_realm) : 0, p->propctx);
}

static int
step_ssfreq(msp_conn *c, sasl_server_params_t *p, const char *in, unsigned inlen,
            sasl_out_params_t *o, char **authzid_out)
{
    gss_buffer_desc itok, otok = GSS_C_EMPTY_BUFFER;
    OM_uint32 major, minor;
    const unsigned char *b;
    unsigned char choice;
    unsigned client_max;
    char *authzid = NULL;
    size_t azlen;
    msp_failure f;
    int ret = SASL_OK;

    itok.value = (void *)in;
    itok.length = inlen;
    major = gss_unwrap(&minor, c->ctx, &itok, &otok, NULL, NULL);
    if (GSS_ERROR(major)) {
        failure_init(c, p, &f, "security layer reply");
        f.have_gss = 1;
        f.major = major;
        f.minor = minor;
        return fail(c, &f, SASL_BADAUTH);
    }
    if (otok.length < 4) {
        (void)gss_release_buffer(&minor, &otok);
        failure_init(c, p, &f, "security layer reply");
        f.cause = "the client's security layer reply is shorter than 4 bytes (protocol violation)";
        f.fix = "none on the server; the client is not RFC 4752 compliant";
        return fail(c, &f, SASL_BADPROT);
    }
    b = otok.value;
    choice = b[0];
    client_max = ((unsigned)b[1] << 16) | ((unsigned)b[2] << 8) | b[3];
    azlen = otok.length - 4;
    if (azlen > 0) {
        if (memchr(b + 4, '\0', azlen) != NULL) {
            (void)gss_release_buffer(&minor, &otok);
            failure_init(c, p, &f, "authzid");
            f.cause = "the authorization identity contains a NUL byte";
            f.fix = "none on the server; the client sent a malformed authzid";
            return fail(c, &f, SASL_BADPROT);
        }
        authzid = malloc(azlen + 1);
        if (authzid == NULL) {
            (void)gss_release_buffer(&minor, &otok);
            return SASL_NOMEM;
        }
        memcpy(authzid, b + 4, azlen);
        authzid[azlen] = '\0';
    }
    (void)gss_release_buffer(&minor, &otok);

    /* Layer choice, accepting clients that set integrity and confidentiality
     * together (as Cyrus does). */
    if (!(choice & (MSP_LAYER_INTEGRITY | MSP_LAYER_CONFIDENTIALITY)) &&
        (c->offered & MSP_LAYER_NONE)) {
        c->layer = MSP_LAYER_NONE;
        o->mech_ssf = 0;
    } else if ((choice & MSP_LAYER_CONFIDENTIALITY) && (c->offered & MSP_LAYER_CONFIDENTIALITY)) {
        c->layer = MSP_LAYER_CONFIDENTIALITY;
        o->mech_ssf = c->conf_ssf;
    } else if ((choice & MSP_LAYER_INTEGRITY) && (c->offered & MSP_LAYER_INTEGRITY)) {
        c->layer = MSP_LAYER_INTEGRITY;
        o->mech_ssf = 1;
    } else {
        char cause[200];
        failure_init(c, p, &f, "security layer reply");
        snprintf(cause, sizeof(cause), "the client chose layer mask 0x%02x but we offered 0x%02x",
                 choice, c->offered);
        f.cause = cause;
        f.fix = "none on the server; the client violated RFC 4752";
        free(authzid);
        return fail(c, &f, SASL_BADPROT);
    }
    if (c->layer != MSP_LAYER_NONE) {
        OM_uint32 max_in = 0;
        if (client_max == 0) {
            free(authzid);
            failure_init(c, p, &f, "security layer reply");
            f.cause = "the client chose a security layer with a maximum buffer of 0";
            f.fix = "none on the server; the client violated RFC 4752";
            return fail(c, &f, SASL_BADPROT);
        }
        major = gss_wrap_size_limit(&minor, c->ctx, c->layer == MSP_LAYER_CONFIDENTIALITY,
                                    GSS_C_QOP_DEFAULT, client_max, &max_in);
        o->maxoutbuf = (!GSS_ERROR(major) && max_in > 0 && max_in < client_max) ? max_in
                                                                                : client_max / 2;
    }
    *authzid_out = authzid;
    return ret;
}

/* Canonicalise, apply the identity rules to authzid. */
static int
finish_identity(msp_conn *c, sasl_server_params_t *p, sasl_out_params_t *o, const char *authzid)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    int is_self = 0;
    int r;
    msp_failure f;
    char cause[2048], fix[1600], az[300];

    if (authzid == NULL || authzid[0] == '\0') {
        is_self = 1;
    } else if (mailsso_identity_check_authzid(c->svc->rules, c->principal, c->mailbox, authzid,
                                              &is_self, &err) != 0) {
        failure_init(c, p, &f, "authzid");
        snprintf(cause, sizeof(cause), "%s", err.message);
        snprintf(fix, sizeof(fix), "%s", err.fix[0] ? err.fix : "check realms in mailsso.conf");
        f.cause = cause;
        f.fix = fix;
        return fail(c, &f, SASL_BADAUTH);
    }
    if (is_self) {
        r = p->canon_user(c->utils->conn, c->mailbox, 0,
                          SASL_CU_AUTHID | SASL_CU_AUTHZID | SASL_CU_EXTERNALLY_VERIFIED, o);
        if (r != SASL_OK) {
            failure_init(c, p, &f, "canon_user");
            snprintf(cause, sizeof(cause), "SASL canon_user refused the mailbox name %s "
                     "(code %d)", c->mailbox, r);
            f.cause = cause;
            f.fix = "check the server's canon_user plugin / auxprop settings";
            return fail(c, &f, r);
        }
        return SASL_OK;
    }
    /* A real proxy login: the application's proxy policy decides. */
    const char *who = "canon_user";
    r = p->canon_user(c->utils->conn, authzid, 0, SASL_CU_AUTHZID | SASL_CU_EXTERNALLY_VERIFIED,
                      o);
    if (r == SASL_OK)
        r = p->canon_user(c->utils->conn, c->mailbox, 0,
                          SASL_CU_AUTHID | SASL_CU_EXTERNALLY_VERIFIED, o);
    if (r == SASL_OK) {
        who = "the SASL proxy policy";
        r = call_proxy_policy(c, p, o);
    }
    if (r != SASL_OK) {
        mailsso_log_sanitize(authzid, strlen(authzid), az, sizeof(az));
        failure_init(c, p, &f, "authzid");
        snprintf(cause, sizeof(cause), "authzid mismatch: %s (mailbox %s) asked to act as \"%s\"; "
                 "%s; %s refused it (code %d)", c->plog, c->mailbox, az,
                 err.message[0] ? err.message : "it is not one of the allowed forms", who, r);
        snprintf(fix, sizeof(fix), "if \"%s\" is how users type their own name, enable the form "
                 "in authzid_forms (principal, maildomain, caseless) for service %s; if it is a "
                 "real proxy login, authorize %s in the server's proxy policy (Cyrus: "
                 "proxyservers/admins)", az, c->svc->name, c->mailbox);
        f.cause = cause;
        f.fix = fix;
        return fail(c, &f, SASL_BADAUTH);
    }
    return SASL_OK;
}

int
msp_mech_step(void *conn_context, sasl_server_params_t *p, const char *clientin,
              unsigned clientinlen, const char **serverout, unsigned *serveroutlen,
              sasl_out_params_t *o)
{
    msp_conn *c = conn_context;
    char *authzid = NULL;
    int ret;

    if (c == NULL || serverout == NULL || serveroutlen == NULL)
        return SASL_BADPARAM;
    *serverout = NULL;
    *serveroutlen = 0;
    c->utils = p->utils;

    switch (c->state) {
    case MSP_AUTHNEG:
        ret = step_authneg(c, p, clientin, clientinlen, serverout, serveroutlen, o);
        if (ret != SASL_OK)
            return ret;
        if (c->spnego)
            break;
        /* context complete with no final token: offer the layers now */
        return step_ssfcap(c, p, serverout, serveroutlen);
    case MSP_SSFCAP:
        if (clientinlen != 0) {
            msp_failure f;
            failure_init(c, p, &f, "security layer");
            f.cause = "the client sent data where an empty response was expected";
            f.fix = "none on the server; the client violated RFC 4752";
            return fail(c, &f, SASL_BADPROT);
        }
        return step_ssfcap(c, p, serverout, serveroutlen);
    case MSP_SSFREQ:
        ret = step_ssfreq(c, p, clientin, clientinlen, o, &authzid);
        if (ret != SASL_OK)
            return ret;
        break;
    default:
        c->utils->seterror(c->utils->conn, 0, GENERIC_FAILURE);
        return SASL_FAIL;
    }

    ret = finish_identity(c, p, o, authzid);
    if (ret != SASL_OK) {
        free(authzid);
        return ret;
    }
    if (c->layer != MSP_LAYER_NONE) {
        unsigned maxbuf = p->props.maxbufsize > 0xFFFFFF ? 0xFFFFFF : p->props.maxbufsize;
        if (c->spnego) {
            OM_uint32 max_in = 0, minor;
            /* GSS-SPNEGO negotiates no buffer size: accept what SASL allows */
            c->recv_max = 0xFFFFFF;
            maxbuf = maxbuf ? maxbuf : 0xFFFFFF;
            if (!GSS_ERROR(gss_wrap_size_limit(&minor, c->ctx, c->layer == MSP_LAYER_CONFIDENTIALITY,
                                               GSS_C_QOP_DEFAULT, maxbuf, &max_in)))
                o->maxoutbuf = max_in;
        }
        o->encode_context = c;
        o->encode = msp_layer_encode;
        o->decode_context = c;
        o->decode = msp_layer_decode;
    } else {
        o->encode = NULL;
        o->decode = NULL;
    }
    o->doneflag = 1;
    c->state = MSP_DONE;
    audit(c, p, o, authzid);
    free(authzid);
    return SASL_OK;
}
