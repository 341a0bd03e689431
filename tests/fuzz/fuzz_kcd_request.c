/*
 * fuzz_kcd_request - libFuzzer harness for mailsso-kcd's request handling
 * below the HTTP parser: kcd_authorize() (kcd/authz.c) with the header
 * values nginx sends: X-Client-Cert (URL-escaped PEM), X-Kcd-Target and
 * Host / X-Kcd-Host.
 *
 * The runtime is the real one (kcd_runtime_new on a mailsso.conf written at
 * start-up) with a trust anchor made at start-up and a gateway keytab that
 * does not exist: the gateway is never up, so a request that passes every
 * check fails fast at the S4U step (502) instead of reaching a KDC.
 *
 * Input: byte 0 = flags, then "CERT \0 TARGET \0 HOST" (missing parts empty).
 *   flags & 3: 0 = CERT is the header value as sent; 1 = the certificate is a
 *     valid one made at start-up for alice@example.test (CERT ignored);
 *     2 = a valid one for kcdgw@example.test, the gateway's own principal;
 *     3 = the valid alice certificate with CERT appended (trailing junk);
 *   flags & 4: no X-Kcd-Target (NULL instead of TARGET);
 *   flags & 8: no Host (NULL instead of HOST).
 * Invariants (beyond no crash, leak or UB):
 *   - never 200 and never a Negotiate header: the gateway has no keytab,
 *     and a fuzzed certificate cannot chain to the trust anchor;
 *   - every answer has a 4xx/5xx status, a cause name and a message;
 *   - a fuzzed certificate (flags 0) is refused for the certificate
 *     (400/403) unless the target was refused first (502);
 *   - a certificate of the gateway's own principal is refused whatever the
 *     target, never passed on to S4U -- see the note at OWN_PRINCIPAL below;
 *   - no log line and no message holds a control character (no forged log
 *     lines from headers or certificate fields).
 */
#include <config.h>

#include <mailsso/config.h>
#include <mailsso/error.h>
#include <mailsso/log.h>

#include "kcd.h"
#include "fuzz_kcd_common.h"

static fkcd_ca ca;
static kcd_runtime *rt;
static char *alice_pem, *gw_pem;
static size_t alice_len, gw_len;
static mailsso_logger logger = { fkcd_log_sink, NULL, MAILSSO_LOG_DEBUG, "fuzz" };

static char *
valid_cert(const char *upn, size_t *len_out)
{
    X509_NAME *n = X509_NAME_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *e;
    X509V3_CTX v3;
    X509 *x;
    char *pem, san[300];

    if (n == NULL || exts == NULL)
        fkcd_die("valid_cert");
    fkcd_name_add(n, "O", "Example");
    fkcd_name_add(n, "CN", upn);
    snprintf(san, sizeof(san), "otherName:" FKCD_UPN_OID ";UTF8:%s", upn);
    X509V3_set_ctx(&v3, NULL, NULL, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    if (e == NULL || !sk_X509_EXTENSION_push(exts, e))
        fkcd_die("SAN");
    x = fkcd_issue(&ca, n, exts);
    if (x == NULL)
        fkcd_die("fkcd_issue");
    pem = fkcd_escaped_pem(x, len_out);
    X509_free(x);
    X509_NAME_free(n);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return pem;
}

static void
cleanup(void)
{
    char path[300];

    kcd_runtime_free(rt);      /* frees the settings too */
    free(alice_pem);
    free(gw_pem);
    snprintf(path, sizeof(path), "%s/mailsso.conf", ca.dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/ca.pem", ca.dir);
    unlink(path);
    rmdir(ca.dir);
    X509_free(ca.ca);
    EVP_PKEY_free(ca.ca_key);
    EVP_PKEY_free(ca.leaf_key);
}

static void
init(void)
{
    static int done;
    char text[4096], path[300];
    kcd_settings *s = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;

    if (done)
        return;
    done = 1;
    fkcd_ca_init(&ca);
    snprintf(text, sizeof(text),
             "kcd = {\n"
             "  trust_anchors = \"%s/ca.pem\";\n"
             "  keytab = \"%s/no-such.keytab\";\n"
             "  principal = \"kcdgw@EXAMPLE.TEST\";\n"
             "  upn_realms = [\"example.test = EXAMPLE.TEST\"];\n"
             "  crl_fail_mode = \"open\";\n"
             "  crl_required_at_start = false;\n"
             "  default_target = \"HTTP@mail.example.test\";\n"
             "  targets = [\"webmail.example.test = HTTP@backend.example.test\", "
             "\"*.wild.example.test = HTTP@wild.example.test\", "
             "\"other.example.test = HTTP/other.example.test@EXAMPLE.TEST\"];\n"
             "  negative_cache_ttl = 0;\n"
             "};\n",
             ca.dir, ca.dir);
    fkcd_write(&ca, "mailsso.conf", text, path, sizeof(path));
    if (kcd_settings_load(path, &s, &err) != 0 ||
        kcd_runtime_new(s, &logger, 0, &rt, &err) != 0) {
        fprintf(stderr, "fuzz_kcd_request: set-up failed: %s (fix: %s)\n", err.message, err.fix);
        abort();
    }
    alice_pem = valid_cert("alice@example.test", &alice_len);
    gw_pem = valid_cert("kcdgw@example.test", &gw_len);
    atexit(cleanup);
}

/* Refused for the target before the certificate was looked at. */
static int
target_refused(const kcd_result *r)
{
    return r->status == KCD_BAD_GATEWAY && r->cause_name != NULL &&
           (strcmp(r->cause_name, "target_not_allowed") == 0 ||
            strcmp(r->cause_name, "bad_target") == 0 || strcmp(r->cause_name, "no_target") == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *end, *cert, *target, *host, *joined = NULL;
    const char *c;
    size_t cert_len;
    unsigned flags;
    kcd_result r;

    if (size < 1 || size > 70000)
        return 0;
    init();
    flags = data[0];
    buf = fuzz_strdup(data + 1, size - 1);
    end = buf + (size - 1);
    /* CERT may hold NULs only in mode 0 at its end: split on the first two NULs. */
    cert = buf;
    target = cert + strlen(cert) < end ? cert + strlen(cert) + 1 : end;
    host = target + strlen(target) < end ? target + strlen(target) + 1 : end;
    c = cert;
    cert_len = strlen(cert);
    switch (flags & 3) {
    case 1: c = alice_pem; cert_len = alice_len; break;
    case 2: c = gw_pem; cert_len = gw_len; break;
    case 3:
        joined = malloc(alice_len + cert_len + 1);
        if (joined == NULL)
            abort();
        memcpy(joined, alice_pem, alice_len);
        memcpy(joined + alice_len, cert, cert_len + 1);
        c = joined;
        cert_len += alice_len;
        break;
    }

    kcd_authorize(rt, c, cert_len, (flags & 4) ? NULL : target, (flags & 8) ? NULL : host,
                  "fuzz-peer", &r);
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "fuzz_kcd_request: mode %u: %d %s: %s\n", flags & 3, r.status,
                r.cause_name ? r.cause_name : "-", r.message);
    FUZZ_ASSERT(r.status != KCD_OK && r.header == NULL,
                "request answered %d with header '%s' (principal %s) although the gateway has "
                "no keytab", r.status, r.header ? r.header : "(none)", r.principal);
    FUZZ_ASSERT(r.status == KCD_BAD_REQUEST || r.status == KCD_FORBIDDEN ||
                    r.status == KCD_BAD_GATEWAY || r.status == KCD_UNAVAILABLE,
                "request answered with status %d", r.status);
    FUZZ_ASSERT(r.cause_name != NULL && r.message[0] != '\0', "answer %d without cause or message",
                r.status);
    FUZZ_ASSERT(!fkcd_bad_text(r.message) && !fkcd_bad_text(r.fix) &&
                    !fuzz_has_ctl(r.principal),
                "answer text with a control character: %s / %s", r.message, r.fix);
    if ((flags & 3) == 0)
        FUZZ_ASSERT(r.status == KCD_BAD_REQUEST || r.status == KCD_FORBIDDEN || target_refused(&r),
                    "a fuzzed certificate got past the certificate checks: %d %s (%s)", r.status,
                    r.cause_name, r.message);
#ifndef FUZZ_KCD_NO_OWN_PRINCIPAL
    /* A certificate for the gateway's own principal is refused as such even
     * while the gateway is down (regression: it used to reach S4U). */
    if ((flags & 3) == 2 && !target_refused(&r))
        FUZZ_ASSERT(strcmp(r.cause_name, "own_principal") == 0,
                    "a certificate for the gateway's own principal was not refused as such: "
                    "%d %s (%s)", r.status, r.cause_name, r.message);
#endif
    kcd_result_clear(&r);
    free(joined);
    free(buf);
    return 0;
}
