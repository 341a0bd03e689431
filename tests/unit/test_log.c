/* Unit tests for lib/log.c: thresholds, sinks, sanitising untrusted text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <mailsso/log.h>

struct capture {
    int calls;
    mailsso_log_level level;
    char line[MAILSSO_LOG_LINE_MAX];
};

static void
capture_sink(void *ctx, mailsso_log_level level, const char *line)
{
    struct capture *c = ctx;

    c->calls++;
    c->level = level;
    strncpy(c->line, line, sizeof(c->line) - 1);
}

static void
messages_below_threshold_are_dropped(void **state)
{
    struct capture c = { 0 };
    mailsso_logger lg = { capture_sink, &c, MAILSSO_LOG_NOTICE, "t" };

    (void)state;
    mailsso_log(&lg, MAILSSO_LOG_DEBUG, "hidden");
    mailsso_log(&lg, MAILSSO_LOG_INFO, "hidden");
    assert_int_equal(c.calls, 0);
    mailsso_log(&lg, MAILSSO_LOG_WARN, "kvno %d", 3);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.level, MAILSSO_LOG_WARN);
    assert_string_equal(c.line, "kvno 3");
    mailsso_log(NULL, MAILSSO_LOG_ERR, "no logger is fine");
}

static void
error_records_are_logged_with_their_fix(void **state)
{
    struct capture c = { 0 };
    mailsso_logger lg = { capture_sink, &c, MAILSSO_LOG_DEBUG, "t" };
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    mailsso_log_error(&lg, MAILSSO_LOG_ERR, &err);
    assert_int_equal(c.calls, 0);
    mailsso_error_set(&err, MAILSSO_E_IO, "keytab /k unreadable");
    mailsso_error_set_fix(&err, "chgrp postfix /k");
    mailsso_log_error(&lg, MAILSSO_LOG_ERR, &err);
    assert_string_equal(c.line, "keytab /k unreadable (fix: chgrp postfix /k)");
}

static void
level_names_round_trip(void **state)
{
    mailsso_log_level l;

    (void)state;
    for (int i = MAILSSO_LOG_ERR; i <= MAILSSO_LOG_DEBUG; i++) {
        assert_int_equal(mailsso_log_level_from_name(mailsso_log_level_name(i), &l), 0);
        assert_int_equal(l, i);
    }
    assert_int_equal(mailsso_log_level_from_name("warning", &l), 0);
    assert_int_equal(l, MAILSSO_LOG_WARN);
    assert_int_equal(mailsso_log_level_from_name("loud", &l), -1);
}

static void
sanitize_escapes_control_bytes_and_nul(void **state)
{
    char out[64];
    const char in[] = "al\nice\0@\x1b[31m\xff\\";

    (void)state;
    mailsso_log_sanitize(in, sizeof(in) - 1, out, sizeof(out));
    assert_string_equal(out, "al\\x0aice\\x00@\\x1b[31m\\xff\\x5c");
}

static void
sanitize_truncates_with_marker_and_terminates(void **state)
{
    char out[10];
    char in[100];

    (void)state;
    memset(in, 'x', sizeof(in));
    size_t n = mailsso_log_sanitize(in, sizeof(in), out, sizeof(out));
    assert_int_equal(n, strlen(out));
    assert_true(n <= sizeof(out) - 1);
    assert_non_null(strstr(out, "..."));
    mailsso_log_sanitize("abc", 3, out, 4);
    assert_string_equal(out, "abc");
    mailsso_log_sanitize("\n", 1, out, 3); /* escape does not fit */
    assert_true(strlen(out) <= 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(messages_below_threshold_are_dropped),
        cmocka_unit_test(error_records_are_logged_with_their_fix),
        cmocka_unit_test(level_names_round_trip),
        cmocka_unit_test(sanitize_escapes_control_bytes_and_nul),
        cmocka_unit_test(sanitize_truncates_with_marker_and_terminates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
