/* Unit tests for lib/enctype.c: names, aliases, classes and the policy grammar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <krb5.h>

#include <mailsso/enctype.h>
#include <mailsso/util.h>

typedef struct name_case {
    const char *name;
    int32_t number;
} name_case;

/* Every canonical name and alias MIT krb5 1.20 accepts (krb5_string_to_enctype),
 * plus the single DES names it dropped in 1.18. */
static const name_case names[] = {
    { "des-cbc-crc", 1 },
    { "des-cbc-md4", 2 },
    { "des-cbc-md5", 3 },
    { "des", 3 },
    { "des-cbc-raw", 4 },
    { "des3-cbc-raw", 6 },
    { "des-hmac-sha1", 8 },
    { "des3-cbc-sha1", 16 },
    { "des3-hmac-sha1", 16 },
    { "des3-cbc-sha1-kd", 16 },
    { "aes128-cts-hmac-sha1-96", 17 },
    { "aes128-cts", 17 },
    { "aes128-sha1", 17 },
    { "aes256-cts-hmac-sha1-96", 18 },
    { "aes256-cts", 18 },
    { "aes256-sha1", 18 },
    { "aes128-cts-hmac-sha256-128", 19 },
    { "aes128-sha2", 19 },
    { "aes256-cts-hmac-sha384-192", 20 },
    { "aes256-sha2", 20 },
    { "arcfour-hmac", 23 },
    { "rc4-hmac", 23 },
    { "arcfour-hmac-md5", 23 },
    { "arcfour-hmac-exp", 24 },
    { "rc4-hmac-exp", 24 },
    { "arcfour-hmac-md5-exp", 24 },
    { "camellia128-cts-cmac", 25 },
    { "camellia128-cts", 25 },
    { "camellia256-cts-cmac", 26 },
    { "camellia256-cts", 26 },
};

static void
every_alias_resolves_to_its_number_and_the_canonical_name_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(names); i++) {
        mailsso_error err = MAILSSO_ERROR_INIT;
        int32_t e = -1, back = -1;
        const char *canon;

        if (mailsso_enctype_from_name(names[i].name, &e, &err) != 0)
            fail_msg("'%s': expected %d, got error: %s", names[i].name, names[i].number,
                     err.message);
        if (e != names[i].number)
            fail_msg("'%s': expected %d, got %d", names[i].name, names[i].number, e);
        canon = mailsso_enctype_name(e);
        assert_non_null(canon);
        assert_int_equal(mailsso_enctype_from_name(canon, &back, NULL), 0);
        assert_int_equal(back, e);
    }
}

static void
canonical_names_are_the_ones_klist_prints(void **state)
{
    (void)state;
    assert_string_equal(mailsso_enctype_name(17), "aes128-cts-hmac-sha1-96");
    assert_string_equal(mailsso_enctype_name(18), "aes256-cts-hmac-sha1-96");
    assert_string_equal(mailsso_enctype_name(19), "aes128-cts-hmac-sha256-128");
    assert_string_equal(mailsso_enctype_name(20), "aes256-cts-hmac-sha384-192");
    assert_string_equal(mailsso_enctype_name(23), "arcfour-hmac");
    assert_string_equal(mailsso_enctype_name(24), "arcfour-hmac-exp");
    assert_string_equal(mailsso_enctype_name(16), "des3-cbc-sha1");
    assert_string_equal(mailsso_enctype_name(1), "des-cbc-crc");
    assert_string_equal(mailsso_enctype_name(25), "camellia128-cts-cmac");
    assert_string_equal(mailsso_enctype_name(26), "camellia256-cts-cmac");
    assert_null(mailsso_enctype_name(0));
    assert_null(mailsso_enctype_name(99));
    assert_null(mailsso_enctype_name(-1));
}

/* The installed MIT library is the reference: whatever name it accepts must
 * resolve to the same number here, and its canonical names must be ours. */
static void
table_agrees_with_the_installed_mit_library(void **state)
{
    krb5_context ctx = NULL;

    (void)state;
    assert_int_equal(krb5_init_context(&ctx), 0);
    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(names); i++) {
        krb5_enctype mit = 0;

        if (krb5_string_to_enctype((char *)names[i].name, &mit) != 0)
            continue;       /* MIT >= 1.18 no longer knows single DES */
        if (mit != names[i].number)
            fail_msg("'%s': MIT says %d, our table says %d", names[i].name, mit,
                     names[i].number);
    }
    for (int32_t e = -300; e <= 300; e++) {
        char mitname[128];
        const char *ours = mailsso_enctype_name(e);

        if (krb5_enctype_to_name(e, FALSE, mitname, sizeof(mitname)) != 0)
            continue;
        if (ours == NULL || strcmp(ours, mitname) != 0)
            fail_msg("enctype %d: MIT prints '%s', we print '%s'", e, mitname,
                     ours != NULL ? ours : "(null)");
    }
    krb5_free_context(ctx);
}

static void
names_are_case_insensitive(void **state)
{
    int32_t e = 0;

    (void)state;
    assert_int_equal(mailsso_enctype_from_name("AES256-CTS-HMAC-SHA1-96", &e, NULL), 0);
    assert_int_equal(e, 18);
    assert_int_equal(mailsso_enctype_from_name("RC4-HMAC", &e, NULL), 0);
    assert_int_equal(e, 23);
    assert_int_equal(mailsso_enctype_from_name("Aes128-Sha2", &e, NULL), 0);
    assert_int_equal(e, 19);
}

static void
decimal_numbers_are_accepted_for_known_enctypes(void **state)
{
    int32_t e = 0;

    (void)state;
    assert_int_equal(mailsso_enctype_from_name("18", &e, NULL), 0);
    assert_int_equal(e, 18);
    assert_int_equal(mailsso_enctype_from_name("23", &e, NULL), 0);
    assert_int_equal(e, 23);
    e = 7;
    assert_int_equal(mailsso_enctype_from_name("99", &e, NULL), MAILSSO_E_NOTFOUND);
    assert_int_equal(mailsso_enctype_from_name("-18", &e, NULL), MAILSSO_E_NOTFOUND);
    assert_int_equal(mailsso_enctype_from_name("18x", &e, NULL), MAILSSO_E_NOTFOUND);
    assert_int_equal(mailsso_enctype_from_name("99999999999999999999", &e, NULL),
                     MAILSSO_E_NOTFOUND);
    assert_int_equal(e, 7); /* untouched on failure */
}

static void
unknown_name_error_names_the_word(void **state)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    int32_t e = 5;

    (void)state;
    assert_int_equal(mailsso_enctype_from_name("aes512-cts", &e, &err), MAILSSO_E_NOTFOUND);
    assert_int_equal(err.code, MAILSSO_E_NOTFOUND);
    if (strstr(err.message, "aes512-cts") == NULL)
        fail_msg("expected the word in the message, got '%s'", err.message);
    assert_true(err.fix[0] != '\0');
    assert_int_equal(e, 5);
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_enctype_from_name("", &e, &err), MAILSSO_E_NOTFOUND);
    assert_int_equal(mailsso_enctype_from_name(NULL, &e, NULL), MAILSSO_E_INVALID);
}

static void
classes_put_des_and_3des_in_broken_and_rc4_in_legacy(void **state)
{
    static const int32_t strong[] = { 17, 18, 19, 20, 25, 26 };
    static const int32_t legacy[] = { 23 };
    static const int32_t broken[] = { 1, 2, 3, 4, 5, 6, 7, 8, 16, 24 };

    (void)state;
    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(strong); i++)
        assert_int_equal(mailsso_enctype_classify(strong[i]), MAILSSO_ENCTYPE_STRONG);
    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(legacy); i++)
        assert_int_equal(mailsso_enctype_classify(legacy[i]), MAILSSO_ENCTYPE_LEGACY);
    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(broken); i++) {
        if (mailsso_enctype_classify(broken[i]) != MAILSSO_ENCTYPE_BROKEN)
            fail_msg("enctype %d: expected broken, got %s", broken[i],
                     mailsso_enctype_class_name(mailsso_enctype_classify(broken[i])));
    }
    assert_int_equal(mailsso_enctype_classify(0), MAILSSO_ENCTYPE_UNKNOWN);
    assert_int_equal(mailsso_enctype_classify(99), MAILSSO_ENCTYPE_UNKNOWN);
    assert_string_equal(mailsso_enctype_class_name(MAILSSO_ENCTYPE_STRONG), "strong");
    assert_string_equal(mailsso_enctype_class_name(MAILSSO_ENCTYPE_LEGACY), "legacy");
    assert_string_equal(mailsso_enctype_class_name(MAILSSO_ENCTYPE_BROKEN), "broken");
    assert_string_equal(mailsso_enctype_class_name(MAILSSO_ENCTYPE_UNKNOWN), "unknown");
}

static void
describe_prints_name_and_number(void **state)
{
    char buf[64];
    char tiny[8];

    (void)state;
    assert_string_equal(mailsso_enctype_describe(18, buf, sizeof(buf)),
                        "aes256-cts-hmac-sha1-96(18)");
    assert_string_equal(mailsso_enctype_describe(23, buf, sizeof(buf)), "arcfour-hmac(23)");
    assert_string_equal(mailsso_enctype_describe(99, buf, sizeof(buf)), "unknown(99)");
    assert_string_equal(mailsso_enctype_describe(-5, buf, sizeof(buf)), "unknown(-5)");
    mailsso_enctype_describe(18, tiny, sizeof(tiny));
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

/* Parses spec, asserts success, returns the policy. */
static mailsso_enctype_policy *
must_parse(const char *spec)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_enctype_policy *p = NULL;

    if (mailsso_enctype_policy_parse(spec, &p, &err) != 0)
        fail_msg("policy '%s': expected success, got: %s", spec, err.message);
    assert_non_null(p);
    return p;
}

static void
assert_allowed_set(const char *spec, const int32_t *allowed, size_t n)
{
    mailsso_enctype_policy *p = must_parse(spec);

    for (int32_t e = -1; e < 70; e++) {
        int want = 0;

        for (size_t i = 0; i < n; i++)
            want |= allowed[i] == e;
        if (mailsso_enctype_policy_allows(p, e) != want)
            fail_msg("policy '%s', enctype %d: expected %s, got %s", spec, e,
                     want ? "allowed" : "denied", want ? "denied" : "allowed");
    }
    mailsso_enctype_policy_free(p);
}

static void
policy_aes_allows_the_four_aes_types_and_not_rc4(void **state)
{
    static const int32_t aes[] = { 17, 18, 19, 20 };

    (void)state;
    assert_allowed_set("aes", aes, 4);
    assert_allowed_set("default", aes, 4);
    assert_allowed_set("AES", aes, 4);
}

static void assert_policy_error(const char *spec, const char *must_mention);

static void
policy_aes_rc4_allows_arcfour_too(void **state)
{
    static const int32_t set[] = { 17, 18, 19, 20, 23 };

    (void)state;
    /* never the 40-bit export variant (24) */
    assert_allowed_set("aes rc4", set, 5);
    assert_allowed_set("aes,rc4", set, 5);
    assert_allowed_set(" aes ,  legacy ", set, 5);
    assert_policy_error("aes arcfour-hmac-exp", "broken");
}

static void
policy_minus_word_denies_what_it_names(void **state)
{
    static const int32_t strong_minus[] = { 18, 19, 20, 25, 26 };
    static const int32_t only23[] = { 18, 23 };
    static const int32_t sha1[] = { 17, 18 };

    (void)state;
    assert_allowed_set("strong -aes128-cts-hmac-sha1-96", strong_minus, 5);
    assert_allowed_set("aes256-cts rc4-hmac", only23, 2);
    assert_allowed_set("aes -aes-sha2", sha1, 2);
    /* left to right: a later allow re-enables */
    assert_allowed_set("aes -aes128-cts aes128-cts -aes-sha2", sha1, 2);
    /* denying a broken type is harmless */
    assert_allowed_set("aes-sha1 -des -des3", sha1, 2);
    assert_allowed_set("17 18", sha1, 2);
}

static void
assert_policy_error(const char *spec, const char *must_mention)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_enctype_policy *p = NULL;
    int rc = mailsso_enctype_policy_parse(spec, &p, &err);

    if (rc == 0)
        fail_msg("policy '%s': expected an error, got success", spec);
    assert_int_equal(rc, MAILSSO_E_CONFIG);
    assert_int_equal(err.code, MAILSSO_E_CONFIG);
    assert_null(p);
    if (must_mention != NULL && strstr(err.message, must_mention) == NULL)
        fail_msg("policy '%s': expected '%s' in the message, got '%s'", spec, must_mention,
                 err.message);
}

static void
policy_naming_des_or_3des_is_an_error(void **state)
{
    (void)state;
    assert_policy_error("des", "des");
    assert_policy_error("des3", "des3");
    assert_policy_error("des3-cbc-sha1", "des3-cbc-sha1");
    assert_policy_error("aes des3-hmac-sha1", "des3-hmac-sha1");
    assert_policy_error("aes des-cbc-crc", "des-cbc-crc");
    assert_policy_error("aes 16", "16");
    assert_policy_error("broken", "broken");
}

static void
policy_empty_unknown_or_allowing_nothing_is_an_error(void **state)
{
    (void)state;
    assert_policy_error("", "empty");
    assert_policy_error("  ,  ", "empty");
    assert_policy_error("aes blowfish", "blowfish");
    assert_policy_error("aes -", NULL);
    assert_policy_error("aes -aes", "no enctype");
    assert_policy_error("-rc4", "no enctype");
}

static void
broken_enctypes_are_never_allowed(void **state)
{
    mailsso_enctype_policy *p = must_parse("strong legacy");

    (void)state;
    for (int32_t e = 0; e < 64; e++) {
        if (mailsso_enctype_classify(e) == MAILSSO_ENCTYPE_BROKEN)
            assert_false(mailsso_enctype_policy_allows(p, e));
    }
    assert_true(mailsso_enctype_policy_allows(p, 23));
    assert_false(mailsso_enctype_policy_allows(NULL, 18));
    mailsso_enctype_policy_free(p);
    mailsso_enctype_policy_free(NULL);
}

static void
policy_describe_lists_canonical_names(void **state)
{
    mailsso_enctype_policy *p = must_parse("aes rc4 -arcfour-hmac-exp");
    char buf[256];
    char small[40];

    (void)state;
    assert_string_equal(mailsso_enctype_policy_describe(p, buf, sizeof(buf)),
                        "aes128-cts-hmac-sha1-96 aes256-cts-hmac-sha1-96 "
                        "aes128-cts-hmac-sha256-128 aes256-cts-hmac-sha384-192 arcfour-hmac");
    /* too small: whole names only, always terminated */
    assert_string_equal(mailsso_enctype_policy_describe(p, small, sizeof(small)),
                        "aes128-cts-hmac-sha1-96");
    mailsso_enctype_policy_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_alias_resolves_to_its_number_and_the_canonical_name_round_trips),
        cmocka_unit_test(canonical_names_are_the_ones_klist_prints),
        cmocka_unit_test(table_agrees_with_the_installed_mit_library),
        cmocka_unit_test(names_are_case_insensitive),
        cmocka_unit_test(decimal_numbers_are_accepted_for_known_enctypes),
        cmocka_unit_test(unknown_name_error_names_the_word),
        cmocka_unit_test(classes_put_des_and_3des_in_broken_and_rc4_in_legacy),
        cmocka_unit_test(describe_prints_name_and_number),
        cmocka_unit_test(policy_aes_allows_the_four_aes_types_and_not_rc4),
        cmocka_unit_test(policy_aes_rc4_allows_arcfour_too),
        cmocka_unit_test(policy_minus_word_denies_what_it_names),
        cmocka_unit_test(policy_naming_des_or_3des_is_an_error),
        cmocka_unit_test(policy_empty_unknown_or_allowing_nothing_is_an_error),
        cmocka_unit_test(broken_enctypes_are_never_allowed),
        cmocka_unit_test(policy_describe_lists_canonical_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
