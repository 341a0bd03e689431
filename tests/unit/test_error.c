/* Unit tests for lib/error.c and lib/util.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <mailsso/error.h>
#include <mailsso/util.h>

static void
first_error_wins_so_the_deepest_cause_survives(void **state)
{
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    assert_int_equal(mailsso_error_set(&err, MAILSSO_E_IO, "cannot open %s", "/x"), MAILSSO_E_IO);
    assert_int_equal(mailsso_error_set(&err, MAILSSO_E_PARSE, "later"), MAILSSO_E_PARSE);
    assert_int_equal(err.code, MAILSSO_E_IO);
    assert_string_equal(err.message, "cannot open /x");
    mailsso_error_set_fix(&err, "chmod %o", 0640);
    assert_string_equal(err.fix, "chmod 640");
    mailsso_error_clear(&err);
    assert_int_equal(err.code, MAILSSO_OK);
    assert_string_equal(err.message, "");
}

static void
null_error_record_is_accepted(void **state)
{
    (void)state;
    assert_int_equal(mailsso_error_set(NULL, MAILSSO_E_NOMEM, "x"), MAILSSO_E_NOMEM);
    mailsso_error_set_fix(NULL, "y");
    mailsso_error_clear(NULL);
}

static void
long_messages_are_truncated_not_overflowed(void **state)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    char big[4096];

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    mailsso_error_set(&err, MAILSSO_E_PARSE, "%s", big);
    assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
}

static void
code_names_are_distinct(void **state)
{
    (void)state;
    assert_string_equal(mailsso_error_code_name(MAILSSO_E_CONFLICT), "conflict");
    assert_string_equal(mailsso_error_code_name(MAILSSO_E_BUSY), "busy");
    assert_string_equal(mailsso_error_code_name(12345), "unknown");
}

static void
strlcpy_always_terminates(void **state)
{
    char buf[4];

    (void)state;
    assert_int_equal(mailsso_strlcpy(buf, "abcdef", sizeof(buf)), 6);
    assert_string_equal(buf, "abc");
    assert_int_equal(mailsso_strlcpy(buf, "ab", sizeof(buf)), 2);
    assert_string_equal(buf, "ab");
}

static void
caseless_compare_is_ascii_only(void **state)
{
    char s[] = "Alice@Example.TEST";

    (void)state;
    assert_true(mailsso_streq_ci("ALICE", "alice"));
    assert_false(mailsso_streq_ci("alice", "alice2"));
    assert_false(mailsso_streq_ci("\xc3\x89", "\xc3\xa9")); /* É vs é: not folded */
    assert_string_equal(mailsso_ascii_lower(s), "alice@example.test");
    assert_string_equal(mailsso_ascii_upper(s), "ALICE@EXAMPLE.TEST");
}

static void
zero_wipes_secrets(void **state)
{
    unsigned char key[16];

    (void)state;
    memset(key, 0xab, sizeof(key));
    mailsso_zero(key, sizeof(key));
    for (size_t i = 0; i < sizeof(key); i++)
        assert_int_equal(key[i], 0);
    mailsso_zfree(NULL, 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_error_wins_so_the_deepest_cause_survives),
        cmocka_unit_test(null_error_record_is_accepted),
        cmocka_unit_test(long_messages_are_truncated_not_overflowed),
        cmocka_unit_test(code_names_are_distinct),
        cmocka_unit_test(strlcpy_always_terminates),
        cmocka_unit_test(caseless_compare_is_ascii_only),
        cmocka_unit_test(zero_wipes_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
