/*
 * NAME
 *   apreq - who is a client's Kerberos token for? (include/mailsso/apreq.h)
 *
 * DESCRIPTION
 *   A small DER reader over a bounded cursor: every tag and length is
 *   checked against the bytes left in the enclosing element before use,
 *   lengths are definite (DER), tags and length fields have a fixed maximum
 *   size. The grammar is walked with straight-line code, one function per
 *   level of the (fixed) ASN.1 structure, so attacker-chosen nesting cannot
 *   drive recursion: a SPNEGO token may wrap a krb5 token once, never
 *   SPNEGO again.
 *
 *     token      = GSS-framed | AP-REQ | NegTokenInit | NegTokenResp
 *     GSS-framed = [APPLICATION 0] { mech OID, inner }          (RFC 2743 3.1)
 *       krb5 OID (1.2.840.113554.1.2.2, MS 1.2.840.48018.1.2.2):
 *                inner = TOK_ID 01 00 || AP-REQ                  (RFC 4121 4.1)
 *       SPNEGO OID (1.3.6.1.5.5.2): inner = [0] NegTokenInit | [1] NegTokenResp
 *     NegTokenInit = SEQUENCE { [0] mechTypes, [1] reqFlags, [2] mechToken
 *                    OCTET STRING, [3] mechListMIC / negHints, ... } (RFC 4178)
 *     AP-REQ     = [APPLICATION 14] SEQUENCE { [0] pvno 5, [1] msg-type 14,
 *                  [2] ap-options, [3] Ticket, [4] authenticator } (RFC 4120)
 *     Ticket     = [APPLICATION 1] SEQUENCE { [0] tkt-vno 5, [1] realm,
 *                  [2] sname, [3] enc-part EncryptedData }
 *     EncryptedData = SEQUENCE { [0] etype, [1] kvno OPTIONAL, [2] cipher }
 *
 * DIAGNOSTICS
 *   MAILSSO_E_PARSE with the byte offset of the defect; MAILSSO_E_UNSUPPORTED
 *   for well-formed tokens of another mechanism (NTLM, unknown OIDs) or krb5
 *   tokens that are not an AP-REQ; MAILSSO_E_NOTFOUND for a SPNEGO token
 *   without a mechanism token.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <mailsso/apreq.h>
#include <mailsso/error.h>
#include <mailsso/util.h>

#define CLS_UNIVERSAL 0
#define CLS_APPLICATION 1
#define CLS_CONTEXT 2

typedef struct cur {
    const unsigned char *p;   /* start of the region */
    size_t len;               /* its length */
    size_t off;               /* read position within the region */
    size_t base;              /* offset of p[0] within the whole token */
} cur;

typedef struct tlv {
    unsigned cls;
    int cons;
    uint32_t num;
    const unsigned char *val;
    size_t len;
    size_t at;      /* token offset of the identifier octet */
    size_t vat;     /* token offset of the value */
} tlv;

static int
perr(mailsso_error *err, size_t off, const char *what, const char *detail)
{
    mailsso_error_set(err, MAILSSO_E_PARSE, "malformed Kerberos token: %s at offset %zu: %s",
                      what, off, detail);
    mailsso_error_set_fix(err, "the client sent a damaged or non-Kerberos token; check the client "
                               "and any proxy in between");
    return MAILSSO_E_PARSE;
}

static cur
sub(const tlv *t)
{
    cur c = { t->val, t->len, 0, t->vat };
    return c;
}

static int
rd_tlv(cur *c, tlv *t, const char *what, mailsso_error *err)
{
    size_t i = c->off, n, len = 0;
    unsigned char b;
    char detail[128];

    if (i >= c->len)
        return perr(err, c->base + i, what, "element missing (end of data)");
    b = c->p[i++];
    t->at = c->base + c->off;
    t->cls = b >> 6;
    t->cons = (b >> 5) & 1;
    t->num = b & 0x1f;
    if (t->num == 0x1f) {
        t->num = 0;
        for (int k = 0;; k++) {
            if (k == 4)
                return perr(err, t->at, what, "tag number longer than 4 bytes");
            if (i >= c->len)
                return perr(err, c->base + i, what, "truncated tag");
            b = c->p[i++];
            t->num = (t->num << 7) | (b & 0x7f);
            if (!(b & 0x80))
                break;
        }
    }
    if (i >= c->len)
        return perr(err, c->base + i, what, "truncated: length missing");
    b = c->p[i++];
    if (b < 0x80) {
        len = b;
    } else if (b == 0x80) {
        return perr(err, c->base + i - 1, what, "indefinite length (not DER)");
    } else {
        n = b & 0x7f;
        if (n > 4)
            return perr(err, c->base + i - 1, what, "length field longer than 4 bytes");
        if (n > c->len - i)
            return perr(err, c->base + i, what, "truncated length field");
        for (size_t k = 0; k < n; k++)
            len = (len << 8) | c->p[i++];
    }
    if (len > c->len - i) {
        snprintf(detail, sizeof(detail), "length %zu exceeds the %zu bytes left", len,
                 c->len - i);
        return perr(err, t->at, what, detail);
    }
    t->val = c->p + i;
    t->len = len;
    t->vat = c->base + i;
    c->off = i + len;
    return 0;
}

static int
is(const tlv *t, unsigned cls, int cons, uint32_t num)
{
    return t->cls == cls && t->cons == cons && t->num == num;
}

static int
expect(cur *c, unsigned cls, int cons, uint32_t num, tlv *t, const char *what, mailsso_error *err)
{
    static const char *const cls_name[] = { "UNIVERSAL", "APPLICATION", "", "PRIVATE" };
    char detail[160];
    int rc = rd_tlv(c, t, what, err);

    if (rc != 0)
        return rc;
    if (is(t, cls, cons, num))
        return 0;
    snprintf(detail, sizeof(detail), "expected %s%s%lu%s%s, found %s%s%lu%s%s",
             cls_name[cls], cls == CLS_CONTEXT ? "[" : " ", (unsigned long)num,
             cls == CLS_CONTEXT ? "]" : "", cons ? " constructed" : "",
             cls_name[t->cls], t->cls == CLS_CONTEXT ? "[" : " ", (unsigned long)t->num,
             t->cls == CLS_CONTEXT ? "]" : "", t->cons ? " constructed" : "");
    return perr(err, t->at, what, detail);
}

/* [n] EXPLICIT wrapper holding exactly one element of the given universal tag. */
static int
explicit_elem(cur *c, uint32_t ctx, unsigned cls, int cons, uint32_t num, tlv *inner,
              const char *what, mailsso_error *err)
{
    tlv outer;
    cur in;
    int rc = expect(c, CLS_CONTEXT, 1, ctx, &outer, what, err);

    if (rc != 0)
        return rc;
    in = sub(&outer);
    rc = expect(&in, cls, cons, num, inner, what, err);
    if (rc != 0)
        return rc;
    if (in.off != in.len)
        return perr(err, in.base + in.off, what, "extra bytes after the element");
    return 0;
}

static int
int_value(const tlv *t, int64_t *v, const char *what, mailsso_error *err)
{
    int64_t x;

    if (t->len == 0 || t->len > 5)
        return perr(err, t->at, what, "integer of invalid size");
    x = (t->val[0] & 0x80) ? -1 : 0;
    for (size_t i = 0; i < t->len; i++)
        x = (int64_t)((uint64_t)x << 8) | t->val[i];
    if (x < INT32_MIN || x > (int64_t)UINT32_MAX)
        return perr(err, t->at, what, "integer out of range");
    *v = x;
    return 0;
}

static int
explicit_int(cur *c, uint32_t ctx, int64_t *v, const char *what, mailsso_error *err)
{
    tlv t;
    int rc = explicit_elem(c, ctx, CLS_UNIVERSAL, 0, 2, &t, what, err);

    return rc != 0 ? rc : int_value(&t, v, what, err);
}

/* Peeks whether the next element is context tag [ctx]. */
static int
next_is_ctx(const cur *c, uint32_t ctx)
{
    cur probe = *c;
    tlv t;

    if (probe.off >= probe.len || rd_tlv(&probe, &t, "", NULL) != 0)
        return 0;
    return is(&t, CLS_CONTEXT, 1, ctx);
}

/* Appends bytes to a display buffer: '/', '@', '\' escaped, non-printables as \xHH. */
static void
disp_append(char *dst, size_t size, size_t *pos, const unsigned char *s, size_t len, int escape)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        char tmp[5];
        size_t n = 0;

        if (escape && (c == '/' || c == '@' || c == '\\')) {
            tmp[n++] = '\\';
            tmp[n++] = (char)c;
        } else if (c == '\\') {
            tmp[n++] = '\\';
            tmp[n++] = '\\';
        } else if (c < 0x20 || c >= 0x7f) {
            tmp[n++] = '\\';
            tmp[n++] = 'x';
            tmp[n++] = hex[c >> 4];
            tmp[n++] = hex[c & 15];
        } else {
            tmp[n++] = (char)c;
        }
        if (*pos + n + 4 >= size) {   /* keep room for "..." and NUL */
            if (*pos + 4 <= size) {
                memcpy(dst + *pos, "...", 3);
                *pos += 3;
            }
            dst[*pos] = '\0';
            *pos = size;   /* full: ignore the rest */
            return;
        }
        memcpy(dst + *pos, tmp, n);
        *pos += n;
        dst[*pos] = '\0';
    }
}

static int
is_kerberos_string(const tlv *t)
{
    /* GeneralString, also UTF8String / IA5String / PrintableString seen in the wild */
    return t->cls == CLS_UNIVERSAL && !t->cons &&
           (t->num == 27 || t->num == 12 || t->num == 22 || t->num == 19);
}

static int
parse_encdata(const tlv *seq, int32_t *etype, uint32_t *kvno, int *has_kvno, const char *what,
              mailsso_error *err)
{
    cur c = sub(seq);
    tlv cipher;
    int64_t v;
    int rc;

    rc = explicit_int(&c, 0, &v, what, err);
    if (rc != 0)
        return rc;
    if (v > INT32_MAX)
        return perr(err, seq->vat, what, "etype out of range");
    *etype = (int32_t)v;
    *has_kvno = 0;
    *kvno = 0;
    if (next_is_ctx(&c, 1)) {
        rc = explicit_int(&c, 1, &v, what, err);
        if (rc != 0)
            return rc;
        if (v < 0)
            return perr(err, seq->vat, what, "negative kvno");
        *kvno = (uint32_t)v;
        *has_kvno = 1;
    }
    return explicit_elem(&c, 2, CLS_UNIVERSAL, 0, 4, &cipher, what, err);
}

static int
parse_apreq(const tlv *app, mailsso_apreq_info *info, mailsso_error *err)
{
    cur c = sub(app), s, tk, tks, pn;
    tlv seq, t, ticket, tseq, realm, sname, pseq, names, enc, auth;
    int64_t v;
    size_t pos = 0;
    uint32_t dummy_kvno;
    int dummy_has, rc;

    rc = expect(&c, CLS_UNIVERSAL, 1, 16, &seq, "AP-REQ", err);
    if (rc != 0)
        return rc;
    s = sub(&seq);
    rc = explicit_int(&s, 0, &v, "AP-REQ pvno", err);
    if (rc != 0)
        return rc;
    if (v != 5)
        return perr(err, seq.vat, "AP-REQ pvno", "protocol version is not 5");
    rc = explicit_int(&s, 1, &v, "AP-REQ msg-type", err);
    if (rc != 0)
        return rc;
    if (v != 14)
        return perr(err, seq.vat, "AP-REQ msg-type", "message type is not 14 (AP-REQ)");
    rc = explicit_elem(&s, 2, CLS_UNIVERSAL, 0, 3, &t, "AP-REQ ap-options", err);
    if (rc != 0)
        return rc;
    if (t.len < 1 || t.val[0] > 7)
        return perr(err, t.at, "AP-REQ ap-options", "invalid BIT STRING");
    info->mutual_required = t.len >= 2 && (t.val[1] & 0x20) != 0;

    rc = expect(&s, CLS_CONTEXT, 1, 3, &t, "ticket", err);
    if (rc != 0)
        return rc;
    tk = sub(&t);
    rc = expect(&tk, CLS_APPLICATION, 1, 1, &ticket, "ticket", err);
    if (rc != 0)
        return rc;
    tk = sub(&ticket);
    rc = expect(&tk, CLS_UNIVERSAL, 1, 16, &tseq, "ticket", err);
    if (rc != 0)
        return rc;
    tks = sub(&tseq);
    rc = explicit_int(&tks, 0, &v, "ticket tkt-vno", err);
    if (rc != 0)
        return rc;
    if (v != 5)
        return perr(err, tseq.vat, "ticket tkt-vno", "ticket version is not 5");
    {
        tlv w;
        cur wc;
        rc = expect(&tks, CLS_CONTEXT, 1, 1, &w, "ticket realm", err);
        if (rc != 0)
            return rc;
        wc = sub(&w);
        rc = rd_tlv(&wc, &realm, "ticket realm", err);
        if (rc != 0)
            return rc;
        if (!is_kerberos_string(&realm))
            return perr(err, realm.at, "ticket realm", "not a string");
    }
    rc = expect(&tks, CLS_CONTEXT, 1, 2, &sname, "ticket sname", err);
    if (rc != 0)
        return rc;
    pn = sub(&sname);
    rc = expect(&pn, CLS_UNIVERSAL, 1, 16, &pseq, "ticket sname", err);
    if (rc != 0)
        return rc;
    pn = sub(&pseq);
    rc = explicit_int(&pn, 0, &v, "ticket sname name-type", err);
    if (rc != 0)
        return rc;
    rc = explicit_elem(&pn, 1, CLS_UNIVERSAL, 1, 16, &names, "ticket sname name-string", err);
    if (rc != 0)
        return rc;
    {
        cur nc = sub(&names);
        size_t n = 0;
        info->server[0] = '\0';
        while (nc.off < nc.len) {
            tlv comp;
            rc = rd_tlv(&nc, &comp, "ticket sname component", err);
            if (rc != 0)
                return rc;
            if (!is_kerberos_string(&comp))
                return perr(err, comp.at, "ticket sname component", "not a string");
            if (n++ > 0 && pos < sizeof(info->server))
                disp_append(info->server, sizeof(info->server), &pos,
                            (const unsigned char *)"/", 1, 0);
            if (pos < sizeof(info->server))
                disp_append(info->server, sizeof(info->server), &pos, comp.val, comp.len, 1);
        }
        if (n == 0)
            return perr(err, names.at, "ticket sname", "principal name without components");
        if (pos < sizeof(info->server))
            disp_append(info->server, sizeof(info->server), &pos,
                        (const unsigned char *)"@", 1, 0);
        if (pos < sizeof(info->server))
            disp_append(info->server, sizeof(info->server), &pos, realm.val, realm.len, 1);
    }
    {
        size_t rpos = 0;
        info->realm[0] = '\0';
        disp_append(info->realm, sizeof(info->realm), &rpos, realm.val, realm.len, 1);
    }
    rc = explicit_elem(&tks, 3, CLS_UNIVERSAL, 1, 16, &enc, "ticket enc-part", err);
    if (rc != 0)
        return rc;
    rc = parse_encdata(&enc, &info->ticket_enctype, &info->kvno, &info->has_kvno,
                       "ticket enc-part", err);
    if (rc != 0)
        return rc;
    rc = explicit_elem(&s, 4, CLS_UNIVERSAL, 1, 16, &auth, "AP-REQ authenticator", err);
    if (rc != 0)
        return rc;
    return parse_encdata(&auth, &info->authenticator_enctype, &dummy_kvno, &dummy_has,
                         "AP-REQ authenticator", err);
}

static const unsigned char oid_krb5[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02 };
static const unsigned char oid_krb5_ms[] = { 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02 };
static const unsigned char oid_krb5_old[] = { 0x2b, 0x05, 0x01, 0x05, 0x02 };
static const unsigned char oid_spnego[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02 };
static const unsigned char oid_ntlm[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02,
                                          0x02, 0x0a };

static int
oid_eq(const tlv *t, const unsigned char *oid, size_t len)
{
    return t->len == len && memcmp(t->val, oid, len) == 0;
}

/* Dotted form of an OID for messages (bounded; garbage shown as such). */
static void
oid_text(const tlv *t, char *out, size_t size)
{
    size_t pos = 0;
    uint64_t acc = 0;
    int first = 1, nbytes = 0;

    out[0] = '\0';
    for (size_t i = 0; i < t->len && pos + 24 < size; i++) {
        acc = (acc << 7) | (t->val[i] & 0x7f);
        if (++nbytes > 9) {
            snprintf(out + pos, size - pos, "(invalid)");
            return;
        }
        if (t->val[i] & 0x80)
            continue;
        if (first) {
            unsigned long a = acc < 80 ? (unsigned long)(acc / 40) : 2;
            pos += (size_t)snprintf(out + pos, size - pos, "%lu.%llu", a,
                                    (unsigned long long)(acc - a * 40));
            first = 0;
        } else {
            pos += (size_t)snprintf(out + pos, size - pos, ".%llu", (unsigned long long)acc);
        }
        acc = 0;
        nbytes = 0;
    }
    if (out[0] == '\0')
        snprintf(out, size, "(empty)");
}

static int parse_krb5_inner(cur *c, mailsso_apreq_info *info, mailsso_error *err);

/* A mechToken: a framed krb5 token or a bare AP-REQ (never SPNEGO again). */
static int
parse_mech_token(const tlv *octets, mailsso_apreq_info *info, mailsso_error *err)
{
    cur c = sub(octets);
    tlv t, oid;
    cur in;
    int rc;

    if (octets->len >= 7 && memcmp(octets->val, "NTLMSSP", 7) == 0) {
        mailsso_error_set(err, MAILSSO_E_UNSUPPORTED,
                          "the SPNEGO token carries NTLM, not Kerberos");
        mailsso_error_set_fix(err, "the client has no Kerberos ticket for this service (not "
                                   "logged in to the realm, or it could not reach the KDC, or "
                                   "the service principal is unknown)");
        return MAILSSO_E_UNSUPPORTED;
    }
    rc = rd_tlv(&c, &t, "SPNEGO mechToken", err);
    if (rc != 0)
        return rc;
    if (c.off != c.len)
        return perr(err, c.base + c.off, "SPNEGO mechToken", "extra bytes after the token");
    if (is(&t, CLS_APPLICATION, 1, 14))
        return parse_apreq(&t, info, err);
    if (!is(&t, CLS_APPLICATION, 1, 0))
        return perr(err, t.at, "SPNEGO mechToken", "not a GSS-API token");
    in = sub(&t);
    rc = expect(&in, CLS_UNIVERSAL, 0, 6, &oid, "SPNEGO mechToken mechanism", err);
    if (rc != 0)
        return rc;
    if (!oid_eq(&oid, oid_krb5, sizeof(oid_krb5)) &&
        !oid_eq(&oid, oid_krb5_ms, sizeof(oid_krb5_ms)) &&
        !oid_eq(&oid, oid_krb5_old, sizeof(oid_krb5_old))) {
        char txt[128];
        oid_text(&oid, txt, sizeof(txt));
        mailsso_error_set(err, MAILSSO_E_UNSUPPORTED,
                          "the SPNEGO token carries mechanism %s, not Kerberos", txt);
        return MAILSSO_E_UNSUPPORTED;
    }
    return parse_krb5_inner(&in, info, err);
}

/* RFC 4178 NegTokenInit / NegTokenResp body: SEQUENCE of [n] elements. */
static int
parse_spnego(const tlv *choice, mailsso_apreq_info *info, mailsso_error *err)
{
    cur c = sub(choice), s;
    tlv seq;
    int rc, ntlm_offered = 0, krb5_offered = 0;
    int64_t last = -1;
    int init = choice->num == 0;

    rc = expect(&c, CLS_UNIVERSAL, 1, 16, &seq, init ? "SPNEGO NegTokenInit" :
                "SPNEGO NegTokenResp", err);
    if (rc != 0)
        return rc;
    if (c.off != c.len)
        return perr(err, c.base + c.off, "SPNEGO", "extra bytes after the sequence");
    s = sub(&seq);
    while (s.off < s.len) {
        tlv e, inner;
        cur ec;

        rc = rd_tlv(&s, &e, "SPNEGO element", err);
        if (rc != 0)
            return rc;
        if (e.cls != CLS_CONTEXT || !e.cons)
            return perr(err, e.at, "SPNEGO element", "expected a context tag");
        if ((int64_t)e.num <= last)
            return perr(err, e.at, "SPNEGO element", "elements out of order");
        last = e.num;
        ec = sub(&e);
        if (init && e.num == 0) {   /* mechTypes: SEQUENCE OF OID */
            cur mc;
            rc = expect(&ec, CLS_UNIVERSAL, 1, 16, &inner, "SPNEGO mechTypes", err);
            if (rc != 0)
                return rc;
            mc = sub(&inner);
            while (mc.off < mc.len) {
                tlv oid;
                rc = expect(&mc, CLS_UNIVERSAL, 0, 6, &oid, "SPNEGO mechTypes OID", err);
                if (rc != 0)
                    return rc;
                if (oid_eq(&oid, oid_ntlm, sizeof(oid_ntlm)))
                    ntlm_offered = 1;
                if (oid_eq(&oid, oid_krb5, sizeof(oid_krb5)) ||
                    oid_eq(&oid, oid_krb5_ms, sizeof(oid_krb5_ms)))
                    krb5_offered = 1;
            }
            continue;
        }
        if (e.num == 2) {           /* mechToken / responseToken */
            rc = expect(&ec, CLS_UNIVERSAL, 0, 4, &inner, "SPNEGO mechToken", err);
            if (rc != 0)
                return rc;
            if (ec.off != ec.len)
                return perr(err, ec.base + ec.off, "SPNEGO mechToken", "extra bytes");
            return parse_mech_token(&inner, info, err);
        }
        /* reqFlags, negState, supportedMech, mechListMIC, negHints: not needed */
    }
    if (init && ntlm_offered && !krb5_offered) {
        mailsso_error_set(err, MAILSSO_E_UNSUPPORTED,
                          "the SPNEGO token offers only NTLM, not Kerberos");
        mailsso_error_set_fix(err, "the client has no Kerberos ticket for this service");
        return MAILSSO_E_UNSUPPORTED;
    }
    mailsso_error_set(err, MAILSSO_E_NOTFOUND,
                      "the SPNEGO token carries no Kerberos token (no mechToken)");
    mailsso_error_set_fix(err, "the client only listed mechanisms; nothing to inspect");
    return MAILSSO_E_NOTFOUND;
}

/* After the krb5 mech OID: TOK_ID 01 00 then the AP-REQ, filling the rest. */
static int
parse_krb5_inner(cur *c, mailsso_apreq_info *info, mailsso_error *err)
{
    tlv ap;
    int rc;

    if (c->len - c->off < 2)
        return perr(err, c->base + c->off, "krb5 token", "truncated before the token id");
    if (c->p[c->off] != 0x01 || c->p[c->off + 1] != 0x00) {
        mailsso_error_set(err, MAILSSO_E_UNSUPPORTED,
                          "krb5 token id 0x%02x%02x at offset %zu is not an AP-REQ (0x0100)",
                          c->p[c->off], c->p[c->off + 1], c->base + c->off);
        return MAILSSO_E_UNSUPPORTED;
    }
    c->off += 2;
    rc = expect(c, CLS_APPLICATION, 1, 14, &ap, "AP-REQ", err);
    if (rc != 0)
        return rc;
    if (c->off != c->len)
        return perr(err, c->base + c->off, "krb5 token", "extra bytes after the AP-REQ");
    return parse_apreq(&ap, info, err);
}

int
mailsso_apreq_inspect(const void *token, size_t len, mailsso_apreq_info *info_out,
                      mailsso_error *err)
{
    mailsso_apreq_info info;
    cur c = { token, len, 0, 0 };
    tlv t;
    int rc;

    if (info_out == NULL || (token == NULL && len > 0))
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_apreq_inspect: NULL argument");
    if (len == 0)
        return perr(err, 0, "token", "empty token");
    memset(&info, 0, sizeof(info));
    if (len >= 7 && memcmp(token, "NTLMSSP", 7) == 0) {
        mailsso_error_set(err, MAILSSO_E_UNSUPPORTED, "the token is NTLM, not Kerberos");
        mailsso_error_set_fix(err, "the client has no Kerberos ticket for this service");
        return MAILSSO_E_UNSUPPORTED;
    }
    {
        unsigned char first = ((const unsigned char *)token)[0];
        if (first != 0x60 && first != 0x6e && first != 0xa0 && first != 0xa1) {
            char detail[96];
            snprintf(detail, sizeof(detail),
                     "first byte 0x%02x is not a Kerberos or SPNEGO token", first);
            return perr(err, 0, "token", detail);
        }
    }
    rc = rd_tlv(&c, &t, "token", err);
    if (rc != 0)
        return rc;
    if (c.off != c.len)
        return perr(err, c.off, "token", "extra bytes after the token");
    if (is(&t, CLS_APPLICATION, 1, 14)) {
        rc = parse_apreq(&t, &info, err);
    } else if (is(&t, CLS_CONTEXT, 1, 0) || is(&t, CLS_CONTEXT, 1, 1)) {
        info.spnego = 1;
        rc = parse_spnego(&t, &info, err);
    } else if (is(&t, CLS_APPLICATION, 1, 0)) {
        cur in = sub(&t);
        tlv oid;
        rc = expect(&in, CLS_UNIVERSAL, 0, 6, &oid, "GSS token mechanism", err);
        if (rc != 0)
            return rc;
        if (oid_eq(&oid, oid_spnego, sizeof(oid_spnego))) {
            tlv choice;
            info.spnego = 1;
            rc = rd_tlv(&in, &choice, "SPNEGO token", err);
            if (rc != 0)
                return rc;
            if (in.off != in.len)
                return perr(err, in.base + in.off, "SPNEGO token", "extra bytes");
            if (!is(&choice, CLS_CONTEXT, 1, 0) && !is(&choice, CLS_CONTEXT, 1, 1))
                return perr(err, choice.at, "SPNEGO token", "neither NegTokenInit nor NegTokenResp");
            rc = parse_spnego(&choice, &info, err);
        } else if (oid_eq(&oid, oid_krb5, sizeof(oid_krb5)) ||
                   oid_eq(&oid, oid_krb5_ms, sizeof(oid_krb5_ms)) ||
                   oid_eq(&oid, oid_krb5_old, sizeof(oid_krb5_old))) {
            rc = parse_krb5_inner(&in, &info, err);
        } else {
            char txt[128];
            oid_text(&oid, txt, sizeof(txt));
            mailsso_error_set(err, MAILSSO_E_UNSUPPORTED,
                              "GSS token for mechanism %s, neither Kerberos nor SPNEGO", txt);
            return MAILSSO_E_UNSUPPORTED;
        }
    } else {
        return perr(err, 0, "token", "neither a Kerberos nor a SPNEGO token");
    }
    if (rc != 0)
        return rc;
    *info_out = info;
    return 0;
}
