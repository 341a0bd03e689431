/*
 * NAME
 *   explain.c - one log line that says why a GSSAPI login failed
 *
 * DESCRIPTION
 *   msp_explain() writes exactly one line through utils->log(utils->conn,
 *   SASL_LOG_ERR, ...):
 *
 *     mailsso: GSSAPI login failed: service=imap stage=accept client=...
 *     ticket=imap/mail.example.test@EXAMPLE.TEST kvno=3
 *     enctype=aes256-cts-hmac-sha1-96(18) keytab=/etc/mail.keytab holds
 *     [kvno 2: aes256-cts-hmac-sha1-96(18) aes128-cts-hmac-sha1-96(17)];
 *     error: <GSS/krb5 text>; cause: ...; fix: ...
 *
 *   The ticket's server principal, kvno and enctype come from the client's
 *   AP-REQ (lib/apreq, never trusted for decisions); what the keytab holds
 *   comes from reading it (lib/keytab); the cause and fix from lib/diag,
 *   refined here by comparing the two (no key for the principal, for the
 *   kvno, for the enctype; key present but different).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <krb5/krb5.h>

#include <mailsso/keytab.h>
#include <mailsso/log.h>
#include <mailsso/util.h>

#include "plugin.h"

#define APPEND(buf, size, used, ...) do { \
        if ((used) < (size)) \
            (used) += (size_t)snprintf((buf) + (used), (size) - (used), __VA_ARGS__); \
    } while (0)

int
msp_keytab_summary(const char *path, const char *principal, uint32_t kvno, int32_t enctype,
                   char *buf, size_t size, int *have_principal, int *have_kvno, int *have_enctype,
                   int *errno_out)
{
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    size_t used = 0;
    uint32_t kvnos[32];
    size_t n_kvnos = 0;
    char d[64], san[300];
    int rerr;

    *have_principal = *have_kvno = *have_enctype = 0;
    buf[0] = '\0';
    if (path == NULL) {
        APPEND(buf, size, used, "(not a file keytab)");
        return -1;
    }
    if ((rerr = msp_readable(path)) != 0) {
        if (errno_out != NULL)
            *errno_out = rerr;
        APPEND(buf, size, used, "(unreadable: %s)", strerror(rerr));
        return -1;
    }
    if (mailsso_keytab_read(path, &kt, &err) != 0) {
        APPEND(buf, size, used, "(cannot parse: %s)", err.message);
        return -1;
    }
    /* distinct kvnos held for principal, in file order */
    for (size_t i = 0; i < kt->n_entries; i++) {
        const mailsso_keytab_entry *e = &kt->entries[i];
        size_t k;
        if (principal == NULL || strcmp(e->principal, principal) != 0)
            continue;
        *have_principal = 1;
        for (k = 0; k < n_kvnos; k++)
            if (kvnos[k] == e->kvno)
                break;
        if (k == n_kvnos && n_kvnos < MAILSSO_ARRAY_LEN(kvnos))
            kvnos[n_kvnos++] = e->kvno;
        if (e->kvno == kvno) {
            *have_kvno = 1;
            if (e->enctype == enctype)
                *have_enctype = 1;
        }
    }
    if (*have_principal) {
        APPEND(buf, size, used, "[");
        for (size_t k = 0; k < n_kvnos; k++) {
            APPEND(buf, size, used, "%skvno %u:", k ? "; " : "", kvnos[k]);
            for (size_t i = 0; i < kt->n_entries; i++) {
                const mailsso_keytab_entry *e = &kt->entries[i];
                if (strcmp(e->principal, principal) == 0 && e->kvno == kvnos[k])
                    APPEND(buf, size, used, " %s", mailsso_enctype_describe(e->enctype, d,
                                                                             sizeof(d)));
            }
        }
        APPEND(buf, size, used, "]");
    } else {
        size_t shown = 0;
        mailsso_log_sanitize(principal ? principal : "?", principal ? strlen(principal) : 1,
                             san, sizeof(san));
        APPEND(buf, size, used, "nothing for %s (it holds:", san);
        for (size_t i = 0; i < kt->n_entries && shown < 6; i++) {
            int seen = 0;
            for (size_t j = 0; j < i; j++)
                if (strcmp(kt->entries[j].principal, kt->entries[i].principal) == 0)
                    seen = 1;
            if (seen)
                continue;
            mailsso_log_sanitize(kt->entries[i].principal, strlen(kt->entries[i].principal), san,
                                 sizeof(san));
            APPEND(buf, size, used, " %s", san);
            shown++;
        }
        APPEND(buf, size, used, "%s)", kt->n_entries == 0 ? " no entries" : "");
    }
    mailsso_keytab_free(kt);
    return 0;
}

/* 1 if the host's krb5.conf permits enctype (permitted_enctypes), 0 if not,
 * -1 if unknown. Reads the same profile the acceptor uses. */
static int
host_permits(int32_t enctype)
{
    krb5_context ctx = NULL;
    krb5_enctype *list = NULL;
    int ret = -1;

    if (enctype == 0 || krb5_init_context(&ctx) != 0)
        return -1;
    if (krb5_get_permitted_enctypes(ctx, &list) == 0) {
        ret = 0;
        for (size_t i = 0; list[i] != 0; i++)
            if (list[i] == enctype)
                ret = 1;
        krb5_free_enctypes(ctx, list);
    }
    krb5_free_context(ctx);
    return ret;
}

/* ---- clock skew: how much? ------------------------------------------------
 * MIT only says "Clock skew too great". To say by how much, decrypt the
 * ticket with our own keytab, then the authenticator with the ticket's session
 * key, and compare its ctime with our clock. A minimal DER walk locates the
 * two parts in a raw krb5 GSS token (RFC 4121 framing). Nothing of this drives
 * a decision; it only makes the log line precise. */
typedef struct der {
    const unsigned char *p;
    size_t n;
} der;

/* Reads one TLV (single-byte tag); content into *c. */
static int
der_next(der *d, unsigned char *tag, der *c)
{
    size_t len = 0, i, nb;

    if (d->n < 2)
        return -1;
    *tag = d->p[0];
    if (d->p[1] < 0x80) {
        len = d->p[1];
        i = 2;
    } else {
        nb = d->p[1] & 0x7f;
        if (nb == 0 || nb > 4 || d->n < 2 + nb)
            return -1;
        for (i = 0; i < nb; i++)
            len = (len << 8) | d->p[2 + i];
        i = 2 + nb;
    }
    if (len > d->n - i)
        return -1;
    c->p = d->p + i;
    c->n = len;
    d->p += i + len;
    d->n -= i + len;
    return 0;
}

/* Finds context tag [n] in a SEQUENCE's content; *tlv gets the whole inner TLV. */
static int
der_field(der seq, unsigned n, der *inner)
{
    unsigned char tag;
    der c;

    while (seq.n > 0) {
        if (der_next(&seq, &tag, &c) != 0)
            return -1;
        if (tag == (0xa0 | n)) {
            *inner = c;
            return 0;
        }
    }
    return -1;
}

static int
skew_seconds(const char *keytab, const void *token, size_t len, long long *skew_out)
{
    der d = { token, len }, c, apreq, seq, f, tkt, auth, authseq, x;
    unsigned char tag;
    krb5_context ctx = NULL;
    krb5_keytab kt = NULL;
    krb5_ticket *ticket = NULL;
    krb5_data tdata, plain = { 0, 0, NULL };
    krb5_enc_data enc;
    int32_t etype = 0;
    int ret = -1;
    char ts[16];
    struct tm tm;

    memset(&enc, 0, sizeof(enc));
    if (keytab == NULL || der_next(&d, &tag, &c) != 0 || tag != 0x60)
        return -1;
    if (der_next(&c, &tag, &x) != 0 || tag != 0x06 || c.n < 2 || c.p[0] != 0x01 || c.p[1] != 0x00)
        return -1;                      /* mech OID, then TOK_ID 01 00 (AP-REQ) */
    c.p += 2;
    c.n -= 2;
    if (der_next(&c, &tag, &apreq) != 0 || tag != 0x6e)
        return -1;
    if (der_next(&apreq, &tag, &seq) != 0 || tag != 0x30)
        return -1;
    if (der_field(seq, 3, &tkt) != 0 || der_field(seq, 4, &f) != 0)
        return -1;
    if (der_next(&f, &tag, &auth) != 0 || tag != 0x30)
        return -1;
    if (der_field(auth, 0, &x) != 0 || der_next(&x, &tag, &c) != 0 || tag != 0x02 || c.n > 4)
        return -1;
    for (size_t i = 0; i < c.n; i++)
        etype = (int32_t)(((uint32_t)etype << 8) | c.p[i]);
    if (der_field(auth, 2, &x) != 0 || der_next(&x, &tag, &c) != 0 || tag != 0x04)
        return -1;
    enc.enctype = etype;
    enc.ciphertext.data = (char *)c.p;
    enc.ciphertext.length = (unsigned)c.n;

    if (krb5_init_context(&ctx) != 0)
        return -1;
    tdata.data = (char *)tkt.p;
    tdata.length = (unsigned)tkt.n;
    if (krb5_kt_resolve(ctx, keytab, &kt) != 0 || krb5_decode_ticket(&tdata, &ticket) != 0 ||
        krb5_server_decrypt_ticket_keytab(ctx, kt, ticket) != 0)
        goto cleanup;
    plain.length = enc.ciphertext.length;
    plain.data = calloc(1, plain.length ? plain.length : 1);
    if (plain.data == NULL ||
        krb5_c_decrypt(ctx, ticket->enc_part2->session, KRB5_KEYUSAGE_AP_REQ_AUTH, NULL, &enc,
                       &plain) != 0)
        goto cleanup;
    d.p = (const unsigned char *)plain.data;
    d.n = plain.length;
    if (der_next(&d, &tag, &c) != 0 || tag != 0x62 || der_next(&c, &tag, &authseq) != 0 ||
        tag != 0x30 || der_field(authseq, 5, &x) != 0 || der_next(&x, &tag, &c) != 0 ||
        tag != 0x18 || c.n < 15)
        goto cleanup;
    memcpy(ts, c.p, 14);
    ts[14] = '\0';
    memset(&tm, 0, sizeof(tm));
    if (sscanf(ts, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        goto cleanup;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *skew_out = (long long)timegm(&tm) - (long long)time(NULL);
    ret = 0;

cleanup:
    if (plain.data != NULL) {
        mailsso_zero(plain.data, plain.length);
        free(plain.data);
    }
    if (ticket != NULL)
        krb5_free_ticket(ctx, ticket);
    if (kt != NULL)
        krb5_kt_close(ctx, kt);
    krb5_free_context(ctx);
    return ret;
}

static int
is_key_problem(int32_t code)
{
    switch (code) {
    case KRB5_KT_NOTFOUND:
    case KRB5_KT_KVNONOTFOUND:
    case KRB5_KT_END:
    case KRB5KRB_AP_ERR_BAD_INTEGRITY:
    case KRB5KRB_AP_ERR_BADKEYVER:
    case KRB5KRB_AP_ERR_NOKEY:
    case KRB5KRB_AP_ERR_NOT_US:
    case KRB5KRB_AP_WRONG_PRINC:
    case KRB5_BAD_ENCTYPE:
    case KRB5_PROG_ETYPE_NOSUPP:
    case 0:
        return 1;
    default:
        return 0;
    }
}

void
msp_explain(const sasl_utils_t *utils, const msp_failure *f)
{
    char line[MAILSSO_LOG_LINE_MAX];
    char holds[1200], cause[2048], fix[1600], d[64];
    mailsso_diag diag;
    size_t used = 0;
    int have_p = 0, have_k = 0, have_e = 0, kt_ok = -1, eno = 0;
    const mailsso_apreq_info *a = f->apreq;
    char client[300] = "";

    memset(&diag, 0, sizeof(diag));
    cause[0] = fix[0] = holds[0] = '\0';
    if (f->have_gss)
        mailsso_diag_gss(f->major, f->minor, &diag);
    if (f->client != NULL)
        mailsso_log_sanitize(f->client, strlen(f->client), client, sizeof(client));

    if (a != NULL && f->keytab != NULL)
        kt_ok = msp_keytab_summary(msp_keytab_file(f->keytab), a->server, a->kvno,
                                   a->ticket_enctype, holds, sizeof(holds), &have_p, &have_k,
                                   &have_e, &eno);

    /* Our own cause wins; else refine a GSS failure with the keytab contents. */
    if (f->cause != NULL) {
        snprintf(cause, sizeof(cause), "%s", f->cause);
        snprintf(fix, sizeof(fix), "%s", f->fix ? f->fix : "");
    } else if (f->have_gss && diag.krb5_code == KRB5_NOPERM_ETYPE) {
        int32_t te = a ? a->ticket_enctype : 0, se = a ? a->authenticator_enctype : 0;
        const mailsso_enctype_policy *pol = f->svc ? f->svc->policy : NULL;
        int ours_t = pol != NULL && te != 0 && !mailsso_enctype_policy_allows(pol, te);
        int ours_s = pol != NULL && se != 0 && !mailsso_enctype_policy_allows(pol, se);
        char d2[64];
        if (ours_t || ours_s) {
            snprintf(cause, sizeof(cause), "enctype refused by our policy: the %s enctype is %s "
                     "but enctypes = \"%s\" for service %s", ours_t ? "ticket" : "session key",
                     mailsso_enctype_describe(ours_t ? te : se, d, sizeof(d)),
                     f->svc->policy_text, f->svc->name);
            snprintf(fix, sizeof(fix), "give %s keys of an allowed enctype (AD: "
                     "msDS-SupportedEncryptionTypes, then re-export the keytab), or widen enctypes "
                     "in mailsso.conf (RC4: \"aes rc4\"; DES/3DES are never accepted)",
                     ours_t ? (a ? a->server : "the service account") : "the client account");
        } else if (a != NULL && host_permits(te) == 0) {
            /* (MIT says "not permitted" when the credential names one
             * principal, "cannot decrypt" when it scans the keytab) */
            snprintf(cause, sizeof(cause), "enctype refused by the host: the ticket's enctype %s "
                     "is not in permitted_enctypes of the server's krb5.conf (or the system crypto "
                     "policy), so MIT does not use the keytab key",
                     mailsso_enctype_describe(te, d, sizeof(d)));
            snprintf(fix, sizeof(fix), "add %s to permitted_enctypes in the server's krb5.conf, "
                     "or give the service account keys of a permitted enctype and re-export the "
                     "keytab", mailsso_enctype_name(te) ? mailsso_enctype_name(te) : "the enctype");
        } else {
            snprintf(cause, sizeof(cause), "enctype refused by the host's Kerberos library "
                     "settings (krb5.conf permitted_enctypes / crypto policy): ticket %s, session "
                     "key %s, although our policy (\"%s\") allows them",
                     mailsso_enctype_describe(te, d, sizeof(d)),
                     mailsso_enctype_describe(se, d2, sizeof(d2)),
                     f->svc ? f->svc->policy_text : "?");
            snprintf(fix, sizeof(fix), "add the enctype to permitted_enctypes in the server's "
                     "krb5.conf (or the system crypto policy), or give the accounts AES keys");
        }
    } else if (f->have_gss && a != NULL && kt_ok == 0 && is_key_problem(diag.krb5_code)) {
        char kvno_text[32];
        snprintf(kvno_text, sizeof(kvno_text), a->has_kvno ? "%u" : "(none)", a->kvno);
        if (!have_p) {
            snprintf(cause, sizeof(cause), "the keytab has no key for %s, the name the client "
                     "asked the KDC for", a->server);
            snprintf(fix, sizeof(fix), "add the key for %s to the keytab (AD: setspn + ktpass "
                     "-crypto AES256-SHA1; MIT: kadmin ktadd) and merge it with mailsso-keytab "
                     "merge, or point the client at a name the keytab holds", a->server);
        } else if (!have_k) {
            snprintf(cause, sizeof(cause), "stale keytab: the ticket is encrypted with kvno %s "
                     "but the keytab holds other kvnos for %s (the service password changed, or "
                     "the keytab was exported again elsewhere, e.g. a second ktpass run)",
                     kvno_text, a->server);
            snprintf(fix, sizeof(fix), "export a fresh keytab for %s and merge it (mailsso-keytab "
                     "merge keeps the old kvno for tickets still in use)", a->server);
        } else if (!have_e) {
            snprintf(cause, sizeof(cause), "the keytab holds kvno %s of %s but not for the "
                     "ticket's enctype %s", kvno_text, a->server,
                     mailsso_enctype_describe(a->ticket_enctype, d, sizeof(d)));
            snprintf(fix, sizeof(fix), "export the keytab with that enctype too (ktpass -crypto "
                     "ALL or ktadd -e), or make the KDC issue an enctype the keytab holds");
        } else if (host_permits(a->ticket_enctype) == 0) {
            snprintf(cause, sizeof(cause), "enctype refused by the host: the ticket's enctype %s "
                     "is not in permitted_enctypes of the server's krb5.conf (or the system crypto "
                     "policy), so MIT skips the keytab key and reports \"cannot decrypt ticket\"",
                     mailsso_enctype_describe(a->ticket_enctype, d, sizeof(d)));
            snprintf(fix, sizeof(fix), "add %s to permitted_enctypes in the server's krb5.conf, "
                     "or give the service account keys of a permitted enctype and re-export the "
                     "keytab", mailsso_enctype_name(a->ticket_enctype) ?
                     mailsso_enctype_name(a->ticket_enctype) : "the enctype");
        } else {
            snprintf(cause, sizeof(cause), "the keytab holds kvno %s %s for %s but it does not "
                     "decrypt the ticket: the key differs from the KDC's (the password was set "
                     "again without a kvno change, or the keytab came from another account/salt)",
                     kvno_text, mailsso_enctype_describe(a->ticket_enctype, d, sizeof(d)),
                     a->server);
            snprintf(fix, sizeof(fix), "export a fresh keytab from the KDC for %s and replace the "
                     "old entries", a->server);
        }
    } else if (f->have_gss) {
        snprintf(cause, sizeof(cause), "%s", diag.cause[0] ? diag.cause : "GSS-API failure");
        snprintf(fix, sizeof(fix), "%s", diag.fix[0] ? diag.fix : "see the error text");
        if (diag.krb5_code == KRB5KRB_AP_ERR_SKEW) {
            time_t now = time(NULL);
            struct tm tm;
            char ts[40];
            long long skew = 0;
            gmtime_r(&now, &tm);
            strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
            used = strlen(cause);
            if (f->token != NULL && skew_seconds(f->keytab, f->token, f->token_len, &skew) == 0)
                APPEND(cause, sizeof(cause), used, " (the client's clock is %lld s %s this "
                       "server's, %s)", skew < 0 ? -skew : skew, skew < 0 ? "behind" : "ahead of",
                       ts);
            else
                APPEND(cause, sizeof(cause), used, " (this server's clock: %s)", ts);
            used = 0;
        }
    } else {
        snprintf(cause, sizeof(cause), "unknown");
    }

    APPEND(line, sizeof(line), used, "%s: %s login failed: service=%s stage=%s", MSP_LOG_PREFIX,
           f->mech, f->service ? f->service : "?", f->stage ? f->stage : "?");
    if (f->ipremote != NULL)
        APPEND(line, sizeof(line), used, " client=%s", f->ipremote);
    if (client[0])
        APPEND(line, sizeof(line), used, " principal=%s", client);
    if (a != NULL) {
        APPEND(line, sizeof(line), used, " ticket=%s kvno=", a->server);
        if (a->has_kvno)
            APPEND(line, sizeof(line), used, "%u", a->kvno);
        else
            APPEND(line, sizeof(line), used, "none");
        APPEND(line, sizeof(line), used, " enctype=%s",
               mailsso_enctype_describe(a->ticket_enctype, d, sizeof(d)));
        if (a->authenticator_enctype != 0)
            APPEND(line, sizeof(line), used, " session_enctype=%s",
                   mailsso_enctype_describe(a->authenticator_enctype, d, sizeof(d)));
    } else if (f->apreq_error != NULL && f->apreq_error[0]) {
        APPEND(line, sizeof(line), used, " ticket=unreadable (%s)", f->apreq_error);
    }
    if (f->keytab != NULL) {
        APPEND(line, sizeof(line), used, " keytab=%s", f->keytab);
        if (holds[0])
            APPEND(line, sizeof(line), used, " holds %s", holds);
    }
    if (f->have_gss && diag.code_text[0])
        APPEND(line, sizeof(line), used, "; error: %s", diag.code_text);
    APPEND(line, sizeof(line), used, "; cause: %s", cause);
    if (fix[0])
        APPEND(line, sizeof(line), used, "; fix: %s", fix);
    (void)eno;
    utils->log(utils->conn, SASL_LOG_ERR, "%s", line);
}
