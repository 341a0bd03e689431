/*
 * Unit tests for lib/diag.c: known GSS/krb5/X.509/errno codes give a cause
 * and a fix that name the real problem; unknown codes still give the
 * library's text.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include <mailsso/diag.h>

#if defined(__SANITIZE_ADDRESS__)
/* MIT's GSS library keeps process-wide state (error maps, a failed acquire's
 * name) that LeakSanitizer reports; our own code is still checked. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libgssapi_krb5.so\nleak:libkrb5.so\n";
}
#endif

/* Case-sensitive "all of these words appear" check with a readable failure. */
static void
expect_words(const char *what, const char *text, const char *const *words)
{
    for (size_t i = 0; words[i] != NULL; i++)
        if (strstr(text, words[i]) == NULL)
            fail_msg("%s: expected \"%s\" in: %s", what, words[i], text);
}

static void
expect_clean_text(const mailsso_diag *d)
{
    assert_true(d->code_text[0] != '\0');
    assert_true(d->cause[0] != '\0');
    for (const char *p = d->code_text; *p; p++)
        if ((unsigned char)*p < 0x20)
            fail_msg("control character 0x%02x in code_text: %s", *p, d->code_text);
}

typedef struct case_krb5 {
    krb5_error_code code;
    const char *name;
    const char *cause_words[4];
    const char *fix_words[3];
} case_krb5;

static const case_krb5 krb5_cases[] = {
    { KRB5KRB_AP_ERR_BAD_INTEGRITY, "BAD_INTEGRITY", { "decrypted", "keytab", "key", NULL },
      { "fresh keytab", NULL } },
    { KRB5KRB_AP_ERR_SKEW, "SKEW", { "clocks", "skew", NULL }, { "NTP", NULL } },
    { KRB5KRB_AP_ERR_REPEAT, "REPEAT", { "replay", NULL }, { "replay cache", NULL } },
    { KRB5KRB_AP_ERR_TKT_EXPIRED, "TKT_EXPIRED", { "expired", NULL }, { "new ticket", NULL } },
    { KRB5KRB_AP_ERR_NOT_US, "NOT_US", { "another service principal", "host name", NULL },
      { "keytab", NULL } },
    { KRB5KRB_AP_ERR_BADKEYVER, "BADKEYVER", { "no key for the ticket's kvno", "password changed",
      NULL }, { "mailsso-keytab merge", NULL } },
    { KRB5KRB_AP_ERR_MODIFIED, "MODIFIED", { "keytab", "stale", NULL }, { "fresh keytab", NULL } },
    { KRB5_KT_NOTFOUND, "KT_NOTFOUND", { "no key for the service principal", NULL },
      { "ktadd", "ktpass", NULL } },
    { KRB5_KT_KVNONOTFOUND, "KT_KVNONOTFOUND", { "kvno", NULL }, { "fresh keytab", NULL } },
    { KRB5_KT_END, "KT_END", { "no usable entry", NULL }, { "keytab", NULL } },
    { KRB5_BAD_ENCTYPE, "BAD_ENCTYPE", { "encryption type", "RC4", NULL }, { "AES", NULL } },
    { KRB5_PROG_ETYPE_NOSUPP, "PROG_ETYPE_NOSUPP", { "encryption type", NULL }, { "AES", NULL } },
    { KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN, "S_PRINCIPAL_UNKNOWN", { "service principal", "SPN", NULL },
      { "setspn", NULL } },
    { KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN, "C_PRINCIPAL_UNKNOWN", { "client principal", NULL },
      { "realm", NULL } },
    { KRB5KDC_ERR_BADOPTION, "BADOPTION", { "delegation", "protocol transition", NULL },
      { "msDS-AllowedToDelegateTo", "ok_to_auth_as_delegate", NULL } },
    { KRB5KDC_ERR_POLICY, "POLICY", { "policy", "protocol transition", NULL }, { "delegation", NULL } },
    { KRB5KDC_ERR_ETYPE_NOSUPP, "KDC_ETYPE_NOSUPP", { "encryption type", "RC4", NULL },
      { "AES", NULL } },
    { KRB5KDC_ERR_PREAUTH_FAILED, "PREAUTH_FAILED", { "wrong password", NULL }, { "keytab", NULL } },
    { KRB5_KDC_UNREACH, "KDC_UNREACH", { "no KDC answered", NULL }, { "port 88", NULL } },
    { KRB5_REALM_UNKNOWN, "REALM_UNKNOWN", { "realm is unknown", NULL }, { "krb5.conf", NULL } },
    { KRB5KRB_AP_WRONG_PRINC, "WRONG_PRINC", { "different server principal", NULL },
      { "keytab", NULL } },
};

static void
known_krb5_codes_give_cause_and_fix(void **state)
{
    krb5_context ctx = NULL;

    (void)state;
    assert_int_equal(krb5_init_context(&ctx), 0);
    for (size_t i = 0; i < sizeof(krb5_cases) / sizeof(krb5_cases[0]); i++) {
        const case_krb5 *c = &krb5_cases[i];
        mailsso_diag d;

        /* once with the caller's context, once with a temporary one */
        for (int with_ctx = 0; with_ctx < 2; with_ctx++) {
            mailsso_diag_krb5(with_ctx ? ctx : NULL, c->code, &d);
            expect_clean_text(&d);
            assert_int_equal(d.krb5_code, c->code);
            expect_words(c->name, d.cause, c->cause_words);
            expect_words(c->name, d.fix, c->fix_words);
            /* code_text is the library's own message */
            if (strcmp(d.code_text, error_message(c->code)) != 0)
                fail_msg("%s: code_text \"%s\", expected \"%s\"", c->name, d.code_text,
                         error_message(c->code));
        }
    }
    krb5_free_context(ctx);
}

static void
gss_minor_krb5_code_is_explained(void **state)
{
    mailsso_diag d;

    (void)state;
    mailsso_diag_gss(GSS_S_FAILURE, (OM_uint32)KRB5KRB_AP_ERR_BADKEYVER, &d);
    expect_clean_text(&d);
    assert_int_equal(d.krb5_code, KRB5KRB_AP_ERR_BADKEYVER);
    assert_non_null(strstr(d.cause, "kvno"));
    assert_non_null(strstr(d.fix, "mailsso-keytab merge"));
    /* both the GSS and the mechanism message, joined with "; " */
    assert_non_null(strstr(d.code_text, "; "));
    assert_non_null(strstr(d.code_text, error_message(KRB5KRB_AP_ERR_BADKEYVER)));

    mailsso_diag_gss(GSS_S_FAILURE, (OM_uint32)KRB5KRB_AP_ERR_SKEW, &d);
    assert_non_null(strstr(d.cause, "clocks"));
}

typedef struct case_gss {
    OM_uint32 major;
    const char *name;
    const char *word;
} case_gss;

static void
gss_major_codes_are_explained(void **state)
{
    static const case_gss cases[] = {
        { GSS_S_DEFECTIVE_TOKEN, "DEFECTIVE_TOKEN", "malformed" },
        { GSS_S_BAD_MECH, "BAD_MECH", "mechanism" },
        { GSS_S_NO_CRED, "NO_CRED", "keytab" },
        { GSS_S_CREDENTIALS_EXPIRED, "CREDENTIALS_EXPIRED", "expired" },
        { GSS_S_DUPLICATE_TOKEN, "DUPLICATE_TOKEN", "replay" },
        { GSS_S_BAD_BINDINGS, "BAD_BINDINGS", "channel bindings" },
        { GSS_S_CONTEXT_EXPIRED, "CONTEXT_EXPIRED", "expired" },
    };
    mailsso_diag d;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *words[] = { cases[i].word, NULL };
        mailsso_diag_gss(cases[i].major, 0, &d);
        expect_clean_text(&d);
        expect_words(cases[i].name, d.cause, words);
        assert_true(d.fix[0] != '\0');
        assert_int_equal(d.krb5_code, 0);
    }
}

static void
unknown_codes_still_get_text_and_a_generic_cause(void **state)
{
    mailsso_diag d;

    (void)state;
    mailsso_diag_krb5(NULL, 123456789, &d);
    expect_clean_text(&d);
    assert_non_null(strstr(d.cause, "not known"));
    mailsso_diag_gss(GSS_S_FAILURE, 987654321u, &d);
    expect_clean_text(&d);
    assert_non_null(strstr(d.cause, "not known"));
    mailsso_diag_gss(GSS_S_COMPLETE, 0, &d);
    assert_string_equal(d.cause, "no error");
}

/* A real failure from the GSS library: an acceptor credential from a keytab that is missing. */
static void
real_gss_failure_with_missing_keytab_names_the_keytab(void **state)
{
    OM_uint32 major, minor = 0;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_name_t name = GSS_C_NO_NAME;
    gss_buffer_desc nbuf = { 0, NULL };
    char conf[] = "/tmp/test_diag_krb5conf.XXXXXX";
    mailsso_diag d;
    int fd;

    (void)state;
    fd = mkstemp(conf);
    assert_true(fd >= 0);
    assert_true(write(fd, "[libdefaults]\n default_realm = EXAMPLE.TEST\n", 44) == 44);
    close(fd);
    setenv("KRB5_CONFIG", conf, 1);
    setenv("KRB5_KTNAME", "FILE:/nonexistent/test_diag/none.keytab", 1);
    nbuf.value = (void *)"imap@mail.example.test";
    nbuf.length = strlen("imap@mail.example.test");
    major = gss_import_name(&minor, &nbuf, GSS_C_NT_HOSTBASED_SERVICE, &name);
    assert_int_equal(major, GSS_S_COMPLETE);
    major = gss_acquire_cred(&minor, name, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, GSS_C_ACCEPT,
                             &cred, NULL, NULL);
    assert_true(GSS_ERROR(major));
    mailsso_diag_gss(major, minor, &d);
    expect_clean_text(&d);
    print_message("real failure: %s -> %s\n", d.code_text, d.cause);
    if (strstr(d.cause, "keytab file does not exist") == NULL)
        fail_msg("expected the cause to say the keytab file does not exist, got: %s (text: %s)",
                 d.cause, d.code_text);
    assert_non_null(strstr(d.code_text, "/nonexistent/test_diag/none.keytab"));
    gss_release_name(&minor, &name);
    gss_release_cred(&minor, &cred);
    unsetenv("KRB5_KTNAME");
    unsetenv("KRB5_CONFIG");
    unlink(conf);
}

typedef struct case_x509 {
    long code;
    const char *name;
    const char *word;
} case_x509;

static void
x509_verify_codes_are_explained(void **state)
{
    static const case_x509 cases[] = {
        { X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "ISSUER_LOCALLY", "chain incomplete" },
        { X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, "LEAF_SIGNATURE", "chain incomplete" },
        { X509_V_ERR_CERT_HAS_EXPIRED, "CERT_HAS_EXPIRED", "expired" },
        { X509_V_ERR_CERT_REVOKED, "CERT_REVOKED", "revoked" },
        { X509_V_ERR_UNABLE_TO_GET_CRL, "UNABLE_TO_GET_CRL", "CRL unavailable" },
        { X509_V_ERR_CRL_HAS_EXPIRED, "CRL_HAS_EXPIRED", "CRL expired" },
        { X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "SELF_SIGNED_IN_CHAIN", "untrusted" },
        { X509_V_ERR_INVALID_PURPOSE, "INVALID_PURPOSE", "clientAuth" },
    };
    mailsso_diag d;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char both[2 * MAILSSO_DIAG_TEXT_MAX + 4];
        const char *words[] = { cases[i].word, NULL };
        mailsso_diag_openssl(cases[i].code, &d);
        expect_clean_text(&d);
        snprintf(both, sizeof(both), "%s | %s", d.cause, d.fix);
        expect_words(cases[i].name, both, words);
        assert_string_equal(d.code_text, X509_verify_cert_error_string(cases[i].code));
    }
}

static void
openssl_error_queue_is_drained_into_code_text(void **state)
{
    mailsso_diag d;
    BIO *bio;
    X509 *x;

    (void)state;
    /* a real OpenSSL failure: parse a non-PEM buffer as a certificate */
    bio = BIO_new_mem_buf("this is not a certificate", -1);
    assert_non_null(bio);
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    assert_null(x);
    BIO_free(bio);
    assert_true(ERR_peek_error() != 0);
    mailsso_diag_openssl(0, &d);
    expect_clean_text(&d);
    assert_non_null(strstr(d.code_text, "no start line"));
    assert_non_null(strstr(d.cause, "PEM"));
    assert_int_equal(ERR_peek_error(), 0);   /* drained */
    mailsso_diag_openssl(0, &d);
    assert_string_equal(d.cause, "no OpenSSL error");
}

static void
missing_file_names_the_path(void **state)
{
    mailsso_diag d;

    (void)state;
    mailsso_diag_file(ENOENT, "/etc/mailsso-test-none.keytab", &d);
    expect_clean_text(&d);
    assert_non_null(strstr(d.cause, "/etc/mailsso-test-none.keytab does not exist"));
    assert_non_null(strstr(d.fix, "ktadd"));
    mailsso_diag_file(ENOENT, "/nonexistent-dir-xyz/k.keytab", &d);
    assert_non_null(strstr(d.cause, "not even its directory /nonexistent-dir-xyz exists"));
}

/* Runs mailsso_diag_file(EACCES) as an unprivileged uid, returns the cause. */
static void
eacces_cause(const char *path, char *cause, size_t size)
{
    int p[2], status;
    pid_t pid;
    ssize_t n;

    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        mailsso_diag d;
        close(p[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(2);
        mailsso_diag_file(EACCES, path, &d);
        if (write(p[1], d.cause, strlen(d.cause) + 1) < 0)
            _exit(3);
        _exit(0);
    }
    close(p[1]);
    n = read(p[0], cause, size - 1);
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(n > 0);
    cause[n] = '\0';
}

static void
permission_denied_names_mode_owner_and_uid(void **state)
{
    char dir[] = "/tmp/test_diag.XXXXXX", file[256], inner[256], deep[300], cause[1024];
    char uidtxt[32];
    uid_t expect_uid = geteuid() == 0 ? 65534 : geteuid();

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    snprintf(file, sizeof(file), "%s/mail.keytab", dir);
    assert_int_equal(close(open(file, O_CREAT | O_WRONLY, 0600)), 0);
    assert_int_equal(chmod(file, 0600), 0);
    snprintf(uidtxt, sizeof(uidtxt), "uid %lu", (unsigned long)expect_uid);

    eacces_cause(file, cause, sizeof(cause));
    print_message("EACCES on file: %s\n", cause);
    assert_non_null(strstr(cause, file));
    assert_non_null(strstr(cause, "mode 0600"));
    assert_non_null(strstr(cause, uidtxt));
    {
        char owner[64];
        snprintf(owner, sizeof(owner), "owner %lu", (unsigned long)geteuid());
        assert_non_null(strstr(cause, owner));
    }

    /* an unsearchable directory on the way is named instead */
    snprintf(inner, sizeof(inner), "%s/private", dir);
    assert_int_equal(mkdir(inner, 0700), 0);
    snprintf(deep, sizeof(deep), "%s/x.keytab", inner);
    if (geteuid() != 0)
        assert_int_equal(chmod(inner, 0000), 0);
    eacces_cause(deep, cause, sizeof(cause));
    print_message("EACCES via directory: %s\n", cause);
    assert_non_null(strstr(cause, "directory"));
    assert_non_null(strstr(cause, inner));
    assert_non_null(strstr(cause, uidtxt));
    chmod(inner, 0700);
    rmdir(inner);
    unlink(file);
    rmdir(dir);
}

static void
format_joins_cause_and_fix(void **state)
{
    mailsso_diag d;
    char buf[2048], small[16];

    (void)state;
    mailsso_diag_krb5(NULL, KRB5KRB_AP_ERR_SKEW, &d);
    mailsso_diag_format(&d, buf, sizeof(buf));
    assert_true(strncmp(buf, "cause: the clocks", 17) == 0);
    assert_non_null(strstr(buf, "; fix: synchronise"));
    assert_ptr_equal(mailsso_diag_format(&d, small, sizeof(small)), small);
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_krb5_codes_give_cause_and_fix),
        cmocka_unit_test(gss_minor_krb5_code_is_explained),
        cmocka_unit_test(gss_major_codes_are_explained),
        cmocka_unit_test(unknown_codes_still_get_text_and_a_generic_cause),
        cmocka_unit_test(real_gss_failure_with_missing_keytab_names_the_keytab),
        cmocka_unit_test(x509_verify_codes_are_explained),
        cmocka_unit_test(openssl_error_queue_is_drained_into_code_text),
        cmocka_unit_test(missing_file_names_the_path),
        cmocka_unit_test(permission_denied_names_mode_owner_and_uid),
        cmocka_unit_test(format_joins_cause_and_fix),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
