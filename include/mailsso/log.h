/*
 * NAME
 *   mailsso/log.h - one logging front for plugin, tools and helper
 *
 * SYNOPSIS
 *   mailsso_logger lg = mailsso_logger_stderr("mailsso-keytab", MAILSSO_LOG_INFO);
 *   mailsso_log(&lg, MAILSSO_LOG_WARN, "keytab %s holds only RC4 keys", path);
 *
 * DESCRIPTION
 *   A logger is a plain value: a sink function, its context and a threshold.
 *   There is no process-wide logger: the plugin builds one that calls SASL's
 *   utils->log(utils->conn, ...), the tools one that writes to stderr, the
 *   helper one that writes to syslog (or stderr in the foreground).
 *   mailsso_log() with a NULL logger, or below the threshold, does nothing.
 *   Messages are formatted into a bounded buffer (MAILSSO_LOG_LINE_MAX) and
 *   truncated, never overflowed.
 *
 *   mailsso_log_sanitize() makes untrusted bytes (names from tickets, HTTP
 *   headers, certificate fields) safe to log: printable ASCII is kept,
 *   everything else (control characters, NUL, bytes >= 0x80, backslash)
 *   becomes \xHH, and the result is truncated to fit out_size with "..."
 *   marking the cut. It always terminates out (out_size > 0).
 */
#ifndef MAILSSO_LOG_H
#define MAILSSO_LOG_H

#include <stddef.h>
#include <mailsso/error.h>

typedef enum mailsso_log_level {
    MAILSSO_LOG_ERR = 0,
    MAILSSO_LOG_WARN = 1,
    MAILSSO_LOG_NOTICE = 2,
    MAILSSO_LOG_INFO = 3,
    MAILSSO_LOG_DEBUG = 4
} mailsso_log_level;

#define MAILSSO_LOG_LINE_MAX 2048

typedef void (*mailsso_log_sink)(void *sink_ctx, mailsso_log_level level, const char *line);

typedef struct mailsso_logger {
    mailsso_log_sink sink;
    void *sink_ctx;
    mailsso_log_level threshold;   /* messages more verbose than this are dropped */
    const char *ident;             /* program name prefixed by the stderr sink */
} mailsso_logger;

void mailsso_log(const mailsso_logger *lg, mailsso_log_level level, const char *fmt, ...)
    MAILSSO_PRINTF(3, 4);

/* Logs err->message and, when set, " (fix: ...)" at the given level. */
void mailsso_log_error(const mailsso_logger *lg, mailsso_log_level level, const mailsso_error *err);

mailsso_logger mailsso_logger_stderr(const char *ident, mailsso_log_level threshold);
/* openlog() is the caller's business (the daemon calls it once at start). */
mailsso_logger mailsso_logger_syslog(const char *ident, mailsso_log_level threshold);

const char *mailsso_log_level_name(mailsso_log_level level);
/* "err", "warn"/"warning", "notice", "info", "debug" -> 0, or -1 if unknown. */
int mailsso_log_level_from_name(const char *name, mailsso_log_level *level_out);

size_t mailsso_log_sanitize(const void *in, size_t in_len, char *out, size_t out_size);

#endif
