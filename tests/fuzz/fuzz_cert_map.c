/*
 * fuzz_cert_map.c - libFuzzer harness for mailsso-kcd's certificate ->
 * principal mapping (kcd/cert.c)
 *
 * The mapping itself (map_principal, map_subject, email_san in cert.c) is
 * static and runs only after the chain verified, so the harness reaches it
 * through the public kcd_cert_verify() with certificates that DO verify: it
 * signs, with a CA made at start-up (the only trust anchor), a leaf that
 * carries the fuzzed subject and subjectAltName extensions:
 *   - input starting with 0x30 (a DER SEQUENCE): a DER certificate; its
 *     subject and every subjectAltName extension (duplicates, criticality
 *     and all) are taken over (seeds: certificates of tests/harness/ca.sh);
 *   - anything else: records "TYPE LEN BYTES..." building the SANs and the
 *     subject (UPN as UTF8String / IA5String / OCTET STRING, e-mail, DNS,
 *     URI, another otherName, subject CN/O/OU, a second SAN extension, a
 *     critical SAN, raw bytes as the SAN's value).
 * The raw input is also given to kcd_cert_verify() as the header value.
 * Each certificate is checked under two configurations: A (UPN only, gateway
 * kcdgw@EXAMPLE.TEST) and B (plus subject_rules, one of them naming the
 * gateway HTTP/gw.example.test@EXAMPLE.TEST and one a realm outside
 * upn_realms).
 *
 * Invariants (beyond no crash, leak or UB):
 *   - the raw input never verifies (it cannot carry the CA's signature);
 *   - a mapped principal is "LOCAL@REALM" with REALM one of upn_realms'
 *     (EXAMPLE.TEST, AD.EXAMPLE.TEST) and LOCAL a single component without
 *     '/', '\', '@', spaces or control characters;
 *   - never the gateway's own principal;
 *   - a certificate with two or more UPN SANs (in one or several SAN
 *     extensions) is never mapped; one with exactly one UPN maps to exactly
 *     "local part @ realm of its suffix" (suffix compared without case);
 *   - a certificate without UPN maps only under B, and only to a subject
 *     rule's result;
 *   - a refusal carries a 4xx/5xx status, a cause name and a message, all
 *     log lines and messages are free of control characters.
 */
#include <config.h>

#include <ctype.h>
#include <strings.h>

#include <mailsso/config.h>
#include <mailsso/error.h>
#include <mailsso/log.h>

#include "kcd.h"
#include "fuzz_kcd_common.h"

typedef struct mapcfg {
    const char *name;
    const char *gateway;
    int has_rules;
    kcd_settings *s;
    kcd_crl_store *crls;
    kcd_certcheck *cc;
} mapcfg;

static fkcd_ca ca;
static mapcfg cfgs[2] = {
    { "A", "kcdgw@EXAMPLE.TEST", 0, NULL, NULL, NULL },
    { "B", "HTTP/gw.example.test@EXAMPLE.TEST", 1, NULL, NULL, NULL },
};
static mailsso_logger logger = { fkcd_log_sink, NULL, MAILSSO_LOG_DEBUG, "fuzz" };
static ASN1_OBJECT *upn_oid;

static void
load_cfg(mapcfg *c)
{
    char text[4096], path[300], file[64];
    mailsso_error err = MAILSSO_ERROR_INIT;

    snprintf(text, sizeof(text),
             "kcd = {\n"
             "  trust_anchors = \"%s/ca.pem\";\n"
             "  keytab = \"%s/no-such.keytab\";\n"
             "  principal = \"%s\";\n"
             "  upn_realms = [\"example.test = EXAMPLE.TEST\", \" ad.example.test = AD.EXAMPLE.TEST \"];\n"
             "  crl_fail_mode = \"open\";\n"
             "  crl_required_at_start = false;\n"
             "  %s\n"
             "};\n",
             ca.dir, ca.dir, c->gateway,
             c->has_rules
                 ? "subject_rules = [\"CN=svc-archive,OU=Services,O=Example = archive@EXAMPLE.TEST\", "
                   "\"CN=gw-service,O=Example = HTTP/gw.example.test@EXAMPLE.TEST\", "
                   "\"CN=evil,O=Example = evil@OTHER.TEST\", "
                   "\"email:*@mail.example.test = %u@EXAMPLE.TEST\", "
                   "\"email:boss@example.test = boss@AD.EXAMPLE.TEST\"];"
                 : "");
    snprintf(file, sizeof(file), "mailsso-%s.conf", c->name);
    fkcd_write(&ca, file, text, path, sizeof(path));
    if (kcd_settings_load(path, &c->s, &err) != 0) {
        fprintf(stderr, "fuzz_cert_map: config %s refused: %s (fix: %s)\n", c->name, err.message,
                err.fix);
        abort();
    }
    if (kcd_crl_store_new(c->s, &logger, &c->crls) != 0 ||
        kcd_certcheck_new(c->s, c->crls, &c->cc, &err) != 0) {
        fprintf(stderr, "fuzz_cert_map: config %s: certcheck: %s\n", c->name, err.message);
        abort();
    }
}

static void
cleanup(void)
{
    char path[300];

    for (size_t i = 0; i < 2; i++) {
        kcd_certcheck_free(cfgs[i].cc);
        kcd_crl_store_free(cfgs[i].crls);
        kcd_settings_free(cfgs[i].s);
        snprintf(path, sizeof(path), "%s/mailsso-%s.conf", ca.dir, cfgs[i].name);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/ca.pem", ca.dir);
    unlink(path);
    rmdir(ca.dir);
    X509_free(ca.ca);
    EVP_PKEY_free(ca.ca_key);
    EVP_PKEY_free(ca.leaf_key);
    ASN1_OBJECT_free(upn_oid);
}

static void
init(void)
{
    static int done;

    if (done)
        return;
    done = 1;
    fkcd_ca_init(&ca);
    upn_oid = OBJ_txt2obj(FKCD_UPN_OID, 1);
    load_cfg(&cfgs[0]);
    load_cfg(&cfgs[1]);
    atexit(cleanup);
}

/* ------------------------------------------------------------ building */
typedef struct builder {
    X509_NAME *subject;
    STACK_OF(X509_EXTENSION) *exts;
    GENERAL_NAMES *gens;          /* the SAN being built */
    int critical;
} builder;

static void
gen_add(builder *b, GENERAL_NAME *gn)
{
    if (gn == NULL)
        return;
    if (b->gens == NULL)
        b->gens = GENERAL_NAMES_new();
    if (b->gens == NULL || !sk_GENERAL_NAME_push(b->gens, gn))
        GENERAL_NAME_free(gn);
}

static void
add_othername(builder *b, const char *oid, int type, const uint8_t *d, size_t n)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_TYPE *v = ASN1_TYPE_new();
    ASN1_STRING *str = ASN1_STRING_type_new(type);
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);

    if (gn == NULL || v == NULL || str == NULL || o == NULL ||
        !ASN1_STRING_set(str, d, (int)n)) {
        GENERAL_NAME_free(gn);
        ASN1_TYPE_free(v);
        ASN1_STRING_free(str);
        ASN1_OBJECT_free(o);
        return;
    }
    ASN1_TYPE_set(v, type, str);
    if (!GENERAL_NAME_set0_othername(gn, o, v)) {
        GENERAL_NAME_free(gn);
        ASN1_TYPE_free(v);
        ASN1_OBJECT_free(o);
        return;
    }
    gen_add(b, gn);
}

static void
add_ia5(builder *b, int gtype, const uint8_t *d, size_t n)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    if (gn == NULL || s == NULL || !ASN1_STRING_set(s, d, (int)n)) {
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(s);
        return;
    }
    GENERAL_NAME_set0_value(gn, gtype, s);
    gen_add(b, gn);
}

static void
push_ext(builder *b, X509_EXTENSION *e)
{
    if (e == NULL)
        return;
    if (b->exts == NULL)
        b->exts = sk_X509_EXTENSION_new_null();
    if (b->exts == NULL || !sk_X509_EXTENSION_push(b->exts, e))
        X509_EXTENSION_free(e);
}

/* Closes the SAN being built into an extension. */
static void
flush_san(builder *b)
{
    if (b->gens == NULL)
        return;
    push_ext(b, X509V3_EXT_i2d(NID_subject_alt_name, b->critical, b->gens));
    GENERAL_NAMES_free(b->gens);
    b->gens = NULL;
}

static void
add_raw_san(builder *b, const uint8_t *d, size_t n)
{
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *e = NULL;

    if (os != NULL && ASN1_OCTET_STRING_set(os, d, (int)n))
        e = X509_EXTENSION_create_by_NID(NULL, NID_subject_alt_name, b->critical, os);
    ASN1_OCTET_STRING_free(os);
    push_ext(b, e);
}

static void
subject_add(builder *b, const char *field, const uint8_t *d, size_t n)
{
    if (b->subject == NULL)
        b->subject = X509_NAME_new();
    if (b->subject != NULL && n > 0)
        X509_NAME_add_entry_by_txt(b->subject, field, MBSTRING_UTF8, d, (int)n, -1, 0);
}

/* Records: TYPE (low 4 bits) LEN BYTES[LEN]. */
static void
build_records(builder *b, const uint8_t *data, size_t size)
{
    size_t i = 0;

    while (i + 2 <= size) {
        unsigned type = data[i] & 0x0f;
        size_t n = data[i + 1];
        const uint8_t *d = data + i + 2;

        if (n > size - i - 2)
            n = size - i - 2;
        i += 2 + n;
        switch (type) {
        case 0: add_othername(b, FKCD_UPN_OID, V_ASN1_UTF8STRING, d, n); break;
        case 1: add_othername(b, FKCD_UPN_OID, V_ASN1_IA5STRING, d, n); break;
        case 2: add_othername(b, FKCD_UPN_OID, V_ASN1_OCTET_STRING, d, n); break;
        case 3: add_ia5(b, GEN_EMAIL, d, n); break;
        case 4: add_ia5(b, GEN_DNS, d, n); break;
        case 5: add_ia5(b, GEN_URI, d, n); break;
        case 6: add_othername(b, "1.3.6.1.5.2.2", V_ASN1_UTF8STRING, d, n); break;
        case 7: subject_add(b, "CN", d, n); break;
        case 8: subject_add(b, "O", d, n); break;
        case 9: subject_add(b, "OU", d, n); break;
        case 10: flush_san(b); break;                 /* next names: another SAN extension */
        case 11: b->critical = 1; break;
        case 12: flush_san(b); add_raw_san(b, d, n); break;
        case 13: subject_add(b, "emailAddress", d, n); break;
        default: add_othername(b, FKCD_UPN_OID, V_ASN1_BMPSTRING, d, n); break;
        }
    }
    flush_san(b);
}

/* Subject and SAN extensions of a DER certificate; 0, or -1 if it does not parse. */
static int
build_from_der(builder *b, const uint8_t *data, size_t size)
{
    const unsigned char *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)size);

    if (x == NULL)
        return -1;
    b->subject = X509_NAME_dup(X509_get_subject_name(x));
    for (int i = 0; i < X509_get_ext_count(x); i++) {
        X509_EXTENSION *e = X509_get_ext(x, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == NID_subject_alt_name)
            push_ext(b, X509_EXTENSION_dup(e));
    }
    X509_free(x);
    return 0;
}

/* ------------------------------------------------------------ oracle */
typedef struct expect {
    int n_san_ext;
    int n_upn;           /* UPN otherNames over all SAN extensions */
    int upn_ok;          /* the only UPN is a valid UTF8String user@mapped-suffix */
    char principal[600]; /* what that UPN must map to */
} expect;

static int
local_ok(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c >= 0x7f || c == '/' || c == '\\' || c == '@')
            return 0;
    }
    return 1;
}

static const char *
realm_of_suffix(const char *suffix)
{
    if (strcasecmp(suffix, "example.test") == 0)
        return "EXAMPLE.TEST";
    if (strcasecmp(suffix, "ad.example.test") == 0)
        return "AD.EXAMPLE.TEST";
    return NULL;
}

static void
oracle(X509 *x, expect *ex)
{
    memset(ex, 0, sizeof(*ex));
    for (int i = 0; i < X509_get_ext_count(x); i++) {
        X509_EXTENSION *e = X509_get_ext(x, i);
        GENERAL_NAMES *gens;

        if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) != NID_subject_alt_name)
            continue;
        ex->n_san_ext++;
        gens = X509V3_EXT_d2i(e);
        for (int j = 0; gens != NULL && j < sk_GENERAL_NAME_num(gens); j++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, j);
            if (gn->type != GEN_OTHERNAME || OBJ_cmp(gn->d.otherName->type_id, upn_oid) != 0)
                continue;
            if (++ex->n_upn != 1)
                continue;
            ASN1_TYPE *v = gn->d.otherName->value;
            if (v == NULL || v->type != V_ASN1_UTF8STRING)
                continue;
            const char *d = (const char *)ASN1_STRING_get0_data(v->value.utf8string);
            size_t n = (size_t)ASN1_STRING_length(v->value.utf8string);
            const char *at = NULL;
            for (size_t k = 0; k < n; k++)
                if (d[k] == '@')
                    at = d + k;
            if (at == NULL || memchr(d, 0, n) != NULL)
                continue;
            char suffix[300];
            size_t ln = (size_t)(at - d), sn = n - ln - 1;
            if (sn >= sizeof(suffix) || ln >= 256 || !local_ok(d, ln) || !local_ok(at + 1, sn))
                continue;
            memcpy(suffix, at + 1, sn);
            suffix[sn] = '\0';
            const char *realm = realm_of_suffix(suffix);
            if (realm == NULL)
                continue;
            ex->upn_ok = 1;
            snprintf(ex->principal, sizeof(ex->principal), "%.*s@%s", (int)ln, d, realm);
        }
        GENERAL_NAMES_free(gens);
    }
}

static void
check_refusal(const mapcfg *c, const kcd_result *r)
{
    FUZZ_ASSERT(r->status == KCD_BAD_REQUEST || r->status == KCD_FORBIDDEN ||
                    r->status == KCD_BAD_GATEWAY || r->status == KCD_UNAVAILABLE,
                "config %s: refusal with status %d", c->name, r->status);
    FUZZ_ASSERT(r->cause_name != NULL && r->message[0] != '\0',
                "config %s: refusal without cause or message", c->name);
    FUZZ_ASSERT(!fkcd_bad_text(r->message) && !fkcd_bad_text(r->fix),
                "config %s: refusal text with a control character: %s / %s", c->name,
                r->message, r->fix);
    FUZZ_ASSERT(r->header == NULL, "config %s: refusal with a header", c->name);
}

static void
check_mapping(const mapcfg *c, X509 *x, int rc, const kcd_cert_info *info, const kcd_result *r)
{
    expect ex;
    const char *p = info->principal, *at = strrchr(p, '@');

    if (rc != 0) {
        check_refusal(c, r);
        return;
    }
    oracle(x, &ex);
    FUZZ_ASSERT(at != NULL && (strcmp(at + 1, "EXAMPLE.TEST") == 0 ||
                               strcmp(at + 1, "AD.EXAMPLE.TEST") == 0),
                "config %s: mapped to '%s', whose realm is not in upn_realms", c->name, p);
    FUZZ_ASSERT(local_ok(p, (size_t)(at - p)),
                "config %s: mapped to '%s': not a single-component user name", c->name, p);
    FUZZ_ASSERT(strcmp(p, c->gateway) != 0, "config %s: mapped to the gateway's own principal %s",
                c->name, p);
    FUZZ_ASSERT(strcmp(r->principal, p) == 0, "config %s: result principal '%s' != info '%s'",
                c->name, r->principal, p);
    FUZZ_ASSERT(ex.n_upn <= 1, "config %s: certificate with %d UPNs (%d SAN extensions) mapped to %s",
                c->name, ex.n_upn, ex.n_san_ext, p);
    if (ex.n_upn == 1) {
        FUZZ_ASSERT(ex.upn_ok, "config %s: certificate with an invalid or unmapped UPN mapped to %s",
                    c->name, p);
        FUZZ_ASSERT(strcmp(ex.principal, p) == 0,
                    "config %s: UPN should map to '%s', got '%s'", c->name, ex.principal, p);
    } else {
        FUZZ_ASSERT(c->has_rules, "config %s (no subject rules): certificate without UPN mapped to %s",
                    c->name, p);
        FUZZ_ASSERT(strcmp(p, "archive@EXAMPLE.TEST") == 0 || strcmp(p, "boss@AD.EXAMPLE.TEST") == 0 ||
                        strcmp(at + 1, "EXAMPLE.TEST") == 0,
                    "config %s: mapped to '%s', which no subject rule gives", c->name, p);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    builder b;
    X509 *x = NULL;
    kcd_cert_info info;
    kcd_result r;
    char *pem = NULL;
    size_t pem_len = 0;

    if (size > 16384)
        return 0;
    init();

    /* 1. The raw input as the header value: never verifies. */
    kcd_result_init(&r);
    FUZZ_ASSERT(kcd_cert_verify(cfgs[size % 2].cc, (const char *)data, size, cfgs[size % 2].gateway,
                                &info, &r) != 0,
                "raw input verified against a CA key made at start-up");
    check_refusal(&cfgs[size % 2], &r);
    kcd_result_clear(&r);

    /* 2. Its subject and SANs in a certificate that verifies. */
    memset(&b, 0, sizeof(b));
    if (size > 0 && data[0] == 0x30) {
        if (build_from_der(&b, data, size) != 0)
            goto done;
    } else {
        build_records(&b, data, size);
        if (b.subject == NULL) {
            /* kcd skips every subject rule, e-mail ones too, for an empty subject. */
            static const uint8_t o[] = "Example", cn[] = "fuzz";
            subject_add(&b, "O", o, sizeof(o) - 1);
            subject_add(&b, "CN", cn, sizeof(cn) - 1);
        }
    }
    x = fkcd_issue(&ca, b.subject, b.exts);
    if (x == NULL)
        goto done;
    pem = fkcd_escaped_pem(x, &pem_len);
    for (size_t i = 0; i < 2; i++) {
        kcd_result_init(&r);
        int rc = kcd_cert_verify(cfgs[i].cc, pem, pem_len, cfgs[i].gateway, &info, &r);
        if (getenv("FUZZ_VERBOSE") != NULL)
            fprintf(stderr, "fuzz_cert_map: config %s: %s\n", cfgs[i].name,
                    rc == 0 ? info.principal : r.message);
        check_mapping(&cfgs[i], x, rc, &info, &r);
        kcd_result_clear(&r);
    }
done:
    free(pem);
    X509_free(x);
    X509_NAME_free(b.subject);
    sk_X509_EXTENSION_pop_free(b.exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(b.gens);
    return 0;
}
