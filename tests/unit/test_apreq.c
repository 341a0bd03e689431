/*
 * Unit tests for lib/apreq.c.
 *
 * The files data/apreq/NAME.tok are first tokens captured from MIT gss_init_sec_context
 * against a throwaway KDC (data/apreq/make-tokens.sh and make-tokens.c
 * regenerate them; the expected values below are what klist showed then).
 * Malformed variants are derived from them or built here with a tiny DER
 * writer.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <mailsso/apreq.h>
#include <mailsso/error.h>

#define DATA TEST_SRCDIR "/data/apreq/"

typedef struct buf {
    unsigned char *p;
    size_t n;
} buf;

static buf
load(const char *path)
{
    buf b = { NULL, 0 };
    FILE *f = fopen(path, "rb");
    long n;

    if (f == NULL)
        fail_msg("cannot open fixture %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    b.p = malloc((size_t)n);
    assert_non_null(b.p);
    assert_int_equal(fread(b.p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b.n = (size_t)n;
    return b;
}

/* ------------------------------------------------------------ a tiny DER writer */

static buf
raw(const void *p, size_t n)
{
    buf b;

    b.p = malloc(n ? n : 1);
    assert_non_null(b.p);
    memcpy(b.p, p, n);
    b.n = n;
    return b;
}

/* tag + definite length + content; frees content */
static buf
der(unsigned char tag, buf content)
{
    unsigned char hdr[6];
    size_t h = 0;
    buf out;

    hdr[h++] = tag;
    if (content.n < 0x80) {
        hdr[h++] = (unsigned char)content.n;
    } else if (content.n < 0x100) {
        hdr[h++] = 0x81;
        hdr[h++] = (unsigned char)content.n;
    } else if (content.n < 0x10000) {
        hdr[h++] = 0x82;
        hdr[h++] = (unsigned char)(content.n >> 8);
        hdr[h++] = (unsigned char)content.n;
    } else {
        hdr[h++] = 0x83;
        hdr[h++] = (unsigned char)(content.n >> 16);
        hdr[h++] = (unsigned char)(content.n >> 8);
        hdr[h++] = (unsigned char)content.n;
    }
    out.p = malloc(h + content.n);
    assert_non_null(out.p);
    memcpy(out.p, hdr, h);
    memcpy(out.p + h, content.p, content.n);
    out.n = h + content.n;
    free(content.p);
    return out;
}

/* concatenation of count bufs (freed) */
static buf
cat(int count, ...)
{
    va_list ap;
    buf out = { NULL, 0 };

    va_start(ap, count);
    for (int i = 0; i < count; i++) {
        buf b = va_arg(ap, buf);
        out.p = realloc(out.p, out.n + b.n + 1);
        assert_non_null(out.p);
        if (b.n > 0)
            memcpy(out.p + out.n, b.p, b.n);
        out.n += b.n;
        free(b.p);
    }
    va_end(ap);
    return out;
}

static buf
integer(long v)
{
    unsigned char b[5];
    size_t n = 0;

    if (v >= -128 && v <= 127) {
        b[n++] = (unsigned char)v;
    } else if (v >= -32768 && v <= 32767) {
        b[n++] = (unsigned char)(v >> 8);
        b[n++] = (unsigned char)v;
    } else {
        b[n++] = 0;
        b[n++] = (unsigned char)(v >> 24);
        b[n++] = (unsigned char)(v >> 16);
        b[n++] = (unsigned char)(v >> 8);
        b[n++] = (unsigned char)v;
    }
    return der(0x02, raw(b, n));
}

static buf
gstr(const char *s, size_t n)
{
    return der(0x1b, raw(s, n));
}

#define CTX(n, x) der((unsigned char)(0xa0 + (n)), (x))
#define SEQ(x) der(0x30, (x))

static buf
encdata(long etype, long kvno /* -1: absent */)
{
    static const unsigned char cipher[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

    if (kvno < 0)
        return SEQ(cat(2, CTX(0, integer(etype)), CTX(2, der(0x04, raw(cipher, 8)))));
    return SEQ(cat(3, CTX(0, integer(etype)), CTX(1, integer(kvno)),
                   CTX(2, der(0x04, raw(cipher, 8)))));
}

/* A bare AP-REQ for components comps[] @ realm. */
static buf
apreq(const char *const *comps, const size_t *lens, size_t n, const char *realm, long kvno,
      long tkt_etype, long auth_etype, int mutual)
{
    unsigned char opts[5] = { 0, mutual ? 0x20 : 0, 0, 0, 0 };
    buf names = { NULL, 0 };

    for (size_t i = 0; i < n; i++)
        names = cat(2, names, gstr(comps[i], lens[i]));
    return der(0x6e, SEQ(cat(5,
        CTX(0, integer(5)),
        CTX(1, integer(14)),
        CTX(2, der(0x03, raw(opts, 5))),
        CTX(3, der(0x61, SEQ(cat(4,
            CTX(0, integer(5)),
            CTX(1, gstr(realm, strlen(realm))),
            CTX(2, SEQ(cat(2, CTX(0, integer(3)), CTX(1, SEQ(names))))),
            CTX(3, encdata(tkt_etype, kvno)))))),
        CTX(4, encdata(auth_etype, -1)))));
}

static const unsigned char OID_KRB5[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 1, 2, 2 };
static const unsigned char OID_SPNEGO[] = { 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02 };

static buf
gss_krb5(buf ap)
{
    static const unsigned char tokid[2] = { 1, 0 };

    return der(0x60, cat(3, raw(OID_KRB5, sizeof(OID_KRB5)), raw(tokid, 2), ap));
}

static buf
spnego_init(buf mech_token)
{
    return der(0x60, cat(2, raw(OID_SPNEGO, sizeof(OID_SPNEGO)),
                         CTX(0, SEQ(cat(2, CTX(0, SEQ(raw(OID_KRB5, sizeof(OID_KRB5)))),
                                        CTX(2, der(0x04, mech_token)))))));
}

static int
inspect(buf b, mailsso_apreq_info *info, mailsso_error *err)
{
    /* exact-size copy so that AddressSanitizer sees any over-read */
    unsigned char *copy = malloc(b.n ? b.n : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, b.p, b.n);
    rc = mailsso_apreq_inspect(copy, b.n, info, err);
    free(copy);
    return rc;
}

/* ------------------------------------------------------------ real tokens */

typedef struct expect_tok {
    const char *file;
    const char *server;
    uint32_t kvno;
    int32_t tkt_etype;
    int32_t auth_etype;
    int spnego;
    int mutual;
} expect_tok;

static const expect_tok real_tokens[] = {
    { "krb5-mutual.tok", "imap/mail.example.test@EXAMPLE.TEST", 2, 18, 18, 0, 1 },
    { "krb5-nomutual.tok", "imap/mail.example.test@EXAMPLE.TEST", 2, 18, 18, 0, 0 },
    { "spnego-mutual.tok", "imap/mail.example.test@EXAMPLE.TEST", 2, 18, 18, 1, 1 },
    { "krb5-aes128.tok", "smtp/mail.example.test@EXAMPLE.TEST", 3, 17, 18, 0, 1 },
};

static void
real_mit_tokens_report_server_kvno_and_enctypes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(real_tokens) / sizeof(real_tokens[0]); i++) {
        const expect_tok *e = &real_tokens[i];
        char path[4096];
        buf b;
        mailsso_apreq_info info;
        mailsso_error err = MAILSSO_ERROR_INIT;

        snprintf(path, sizeof(path), DATA "%s", e->file);
        b = load(path);
        if (inspect(b, &info, &err) != 0)
            fail_msg("%s: %s", e->file, err.message);
        assert_string_equal(info.server, e->server);
        assert_string_equal(info.realm, "EXAMPLE.TEST");
        assert_int_equal(info.has_kvno, 1);
        assert_int_equal(info.kvno, e->kvno);
        assert_int_equal(info.ticket_enctype, e->tkt_etype);
        assert_int_equal(info.authenticator_enctype, e->auth_etype);
        assert_int_equal(info.spnego, e->spnego);
        assert_int_equal(info.mutual_required, e->mutual);
        free(b.p);
    }
}

static void
every_truncation_of_real_tokens_is_a_parse_error(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(real_tokens) / sizeof(real_tokens[0]); i++) {
        char path[4096];
        buf b;

        snprintf(path, sizeof(path), DATA "%s", real_tokens[i].file);
        b = load(path);
        for (size_t cut = 0; cut < b.n; cut++) {
            buf t = { b.p, cut };
            mailsso_apreq_info info;
            mailsso_error err = MAILSSO_ERROR_INIT;
            int rc = inspect(t, &info, &err);
            if (rc != MAILSSO_E_PARSE)
                fail_msg("%s cut at %zu of %zu: expected MAILSSO_E_PARSE (%d), got %d (%s)",
                         real_tokens[i].file, cut, b.n, MAILSSO_E_PARSE, rc, err.message);
            assert_non_null(strstr(err.message, "offset"));
        }
        free(b.p);
    }
}

static void
random_corruption_never_crashes(void **state)
{
    unsigned seed = (unsigned)time(NULL);
    buf b = load(DATA "spnego-mutual.tok");
    unsigned char *mut = malloc(b.n);

    (void)state;
    assert_non_null(mut);
    srand(seed);
    for (int round = 0; round < 20000; round++) {
        buf t = { mut, b.n };
        mailsso_apreq_info info;
        mailsso_error err = MAILSSO_ERROR_INIT;
        int flips = 1 + rand() % 3;

        memcpy(mut, b.p, b.n);
        for (int f = 0; f < flips; f++)
            mut[(size_t)rand() % b.n] = (unsigned char)rand();
        if (inspect(t, &info, &err) == 0) {
            for (const char *c = info.server; *c; c++)
                if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                    fail_msg("seed %u: control byte in server name %s", seed, info.server);
        } else {
            assert_true(err.code < 0);
            assert_true(err.message[0] != '\0');
        }
    }
    free(mut);
    free(b.p);
}

/* ------------------------------------------------------------ hand-built tokens */

static void
bare_apreq_without_kvno(void **state)
{
    const char *comps[] = { "HTTP", "gw.example.test" };
    size_t lens[] = { 4, 15 };
    buf b = apreq(comps, lens, 2, "EXAMPLE.TEST", -1, 23, 18, 0);
    mailsso_apreq_info info;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    assert_int_equal(inspect(b, &info, &err), 0);
    assert_string_equal(info.server, "HTTP/gw.example.test@EXAMPLE.TEST");
    assert_int_equal(info.has_kvno, 0);
    assert_int_equal(info.kvno, 0);
    assert_int_equal(info.ticket_enctype, 23);
    assert_int_equal(info.spnego, 0);
    /* the same AP-REQ inside RFC 4121 framing and inside SPNEGO */
    b = gss_krb5(b);
    assert_int_equal(inspect(b, &info, &err), 0);
    assert_string_equal(info.server, "HTTP/gw.example.test@EXAMPLE.TEST");
    b = spnego_init(b);
    assert_int_equal(inspect(b, &info, &err), 0);
    assert_int_equal(info.spnego, 1);
    assert_int_equal(info.ticket_enctype, 23);
    free(b.p);
}

static void
hostile_names_are_sanitised_and_bounded(void **state)
{
    const char *comps[] = { "im\nap", "a/b@c\\d", "\x1b[31mred\xff" };
    size_t lens[] = { 5, 7, 9 };
    char longname[3000];
    const char *lc[] = { longname };
    size_t ll[] = { sizeof(longname) };
    buf b = apreq(comps, lens, 3, "R\tEALM", 1, 18, 18, 1);
    mailsso_apreq_info info;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    assert_int_equal(inspect(b, &info, &err), 0);
    assert_string_equal(info.server, "im\\x0aap/a\\/b\\@c\\\\d/\\x1b[31mred\\xff@R\\x09EALM");
    assert_string_equal(info.realm, "R\\x09EALM");
    free(b.p);

    memset(longname, 'x', sizeof(longname));
    b = apreq(lc, ll, 1, "EXAMPLE.TEST", 1, 18, 18, 0);
    assert_int_equal(inspect(b, &info, &err), 0);
    assert_true(strlen(info.server) < MAILSSO_APREQ_NAME_MAX);
    assert_non_null(strstr(info.server, "..."));
    free(b.p);
}

static void
der_length_tricks_are_refused_with_offsets(void **state)
{
    static const unsigned char indefinite[] = { 0x6e, 0x80, 0x30, 0x00, 0x00, 0x00 };
    static const unsigned char longlen[] = { 0x6e, 0x85, 0, 0, 0, 0, 1, 0 };
    static const unsigned char toolong[] = { 0x6e, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30, 0x00 };
    static const unsigned char hugetag[] = { 0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00 };
    mailsso_apreq_info info;
    mailsso_error err = MAILSSO_ERROR_INIT;
    buf b;

    (void)state;
    b = raw(indefinite, sizeof(indefinite));
    assert_int_equal(inspect(b, &info, &err), MAILSSO_E_PARSE);
    assert_non_null(strstr(err.message, "indefinite length"));
    assert_non_null(strstr(err.message, "offset 1"));
    free(b.p);
    mailsso_error_clear(&err);
    b = raw(longlen, sizeof(longlen));
    assert_int_equal(inspect(b, &info, &err), MAILSSO_E_PARSE);
    assert_non_null(strstr(err.message, "longer than 4 bytes"));
    free(b.p);
    mailsso_error_clear(&err);
    b = raw(toolong, sizeof(toolong));
    assert_int_equal(inspect(b, &info, &err), MAILSSO_E_PARSE);
    assert_non_null(strstr(err.message, "exceeds"));
    free(b.p);
    mailsso_error_clear(&err);
    b = raw(hugetag, sizeof(hugetag));
    assert_int_equal(inspect(b, &info, &err), MAILSSO_E_PARSE);
    free(b.p);
    /* trailing garbage after a valid token */
    {
        const char *comps[] = { "imap", "h" };
        size_t lens[] = { 4, 1 };
        b = cat(2, apreq(comps, lens, 2, "R", 1, 18, 18, 0), raw("\0", 1));
        mailsso_error_clear(&err);
        assert_int_equal(inspect(b, &info, &err), MAILSSO_E_PARSE);
        assert_non_null(strstr(err.message, "extra bytes"));
        free(b.p);
    }
    /* empty token */
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_apreq_inspect("", 0, &info, &err), MAILSSO_E_PARSE);
}

static void
wrong_protocol_fields_are_parse_errors(void **state)
{
    static const unsigned char not_der[] = "GET / HTTP/1.1";
    mailsso_apreq_info info;
    mailsso_error err = MAILSSO_ERROR_INIT;
    buf b;

    (void)state;
    /* msg-type 15 (AP-REP) inside an AP-REQ envelope */
    b = der(0x6e, SEQ(cat(2, CTX(0, integer(5)), CTX(1, integer(15)))));
    assert_int_equal(inspect(b, &info, &err), MAILSSO_E_PARSE);
    assert_non_null(strstr(err.message, "msg-type"));
    free(b.p);
    mailsso_error_clear(&err);
    b = raw(not_der, sizeof(not_der) - 1);
    assert_int_equal(inspect(b, &info, &err), MAILSSO_E_PARSE);
    assert_non_null(strstr(err.message, "0x47"));
    free(b.p);
}

static void
other_mechanisms_are_unsupported_not_parse_errors(void **state)
{
    static const unsigned char ntlm[] = "NTLMSSP\0\1\0\0\0\x97\x82\x08\xe2";
    static const unsigned char apRepId[2] = { 2, 0 };
    static const unsigned char oid_other[] = { 0x06, 0x03, 0x2a, 0x03, 0x04 };
    mailsso_apreq_info info;
    mailsso_error err = MAILSSO_ERROR_INIT;
    buf b;

    (void)state;
    b = raw(ntlm, sizeof(ntlm) - 1);
    assert_int_equal(inspect(b, &info, &err), MAILSSO_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "NTLM"));
    b = spnego_init(b);
    mailsso_error_clear(&err);
    assert_int_equal(inspect(b, &info, &err), MAILSSO_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "NTLM"));
    free(b.p);
    /* krb5 token id 02 00 (AP-REP) */
    b = der(0x60, cat(3, raw(OID_KRB5, sizeof(OID_KRB5)), raw(apRepId, 2), raw("\x30\x00", 2)));
    mailsso_error_clear(&err);
    assert_int_equal(inspect(b, &info, &err), MAILSSO_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "0x0200"));
    free(b.p);
    /* unknown mechanism */
    b = der(0x60, cat(2, raw(oid_other, sizeof(oid_other)), raw("\x00", 1)));
    mailsso_error_clear(&err);
    assert_int_equal(inspect(b, &info, &err), MAILSSO_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "1.2.3.4"));
    free(b.p);
    /* SPNEGO that only lists mechanisms */
    b = der(0x60, cat(2, raw(OID_SPNEGO, sizeof(OID_SPNEGO)),
                      CTX(0, SEQ(CTX(0, SEQ(raw(OID_KRB5, sizeof(OID_KRB5))))))));
    mailsso_error_clear(&err);
    assert_int_equal(inspect(b, &info, &err), MAILSSO_E_NOTFOUND);
    assert_non_null(strstr(err.message, "no mechToken"));
    free(b.p);
}

static void
nested_spnego_does_not_recurse(void **state)
{
    const char *comps[] = { "imap", "h" };
    size_t lens[] = { 4, 1 };
    buf b = gss_krb5(apreq(comps, lens, 2, "R", 1, 18, 18, 0));
    mailsso_apreq_info info;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    /* SPNEGO inside SPNEGO inside ... 200 levels: refused at the second level */
    for (int i = 0; i < 200; i++)
        b = spnego_init(b);
    assert_int_equal(inspect(b, &info, &err), MAILSSO_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "1.3.6.1.5.5.2"));
    free(b.p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_mit_tokens_report_server_kvno_and_enctypes),
        cmocka_unit_test(every_truncation_of_real_tokens_is_a_parse_error),
        cmocka_unit_test(random_corruption_never_crashes),
        cmocka_unit_test(bare_apreq_without_kvno),
        cmocka_unit_test(hostile_names_are_sanitised_and_bounded),
        cmocka_unit_test(der_length_tricks_are_refused_with_offsets),
        cmocka_unit_test(wrong_protocol_fields_are_parse_errors),
        cmocka_unit_test(other_mechanisms_are_unsupported_not_parse_errors),
        cmocka_unit_test(nested_spnego_does_not_recurse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
