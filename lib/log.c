/*
 * NAME
 *   log - one logging front: a value holding a sink (include/mailsso/log.h)
 *
 * DESCRIPTION
 *   No global state: the plugin, the tools and the helper each build the
 *   logger they need and pass it down.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <mailsso/log.h>
#include <mailsso/util.h>

static const char *const level_names[] = { "err", "warn", "notice", "info", "debug" };

void
mailsso_log(const mailsso_logger *lg, mailsso_log_level level, const char *fmt, ...)
{
    char line[MAILSSO_LOG_LINE_MAX];
    va_list ap;

    if (lg == NULL || lg->sink == NULL || level > lg->threshold)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    lg->sink(lg->sink_ctx, level, line);
}

void
mailsso_log_error(const mailsso_logger *lg, mailsso_log_level level, const mailsso_error *err)
{
    if (err == NULL || err->code == MAILSSO_OK)
        return;
    if (err->fix[0] != '\0')
        mailsso_log(lg, level, "%s (fix: %s)", err->message, err->fix);
    else
        mailsso_log(lg, level, "%s", err->message);
}

static void
stderr_sink(void *ctx, mailsso_log_level level, const char *line)
{
    const char *ident = ctx;

    if (level <= MAILSSO_LOG_WARN)
        fprintf(stderr, "%s: %s: %s\n", ident != NULL ? ident : "mailsso",
                level == MAILSSO_LOG_ERR ? "error" : "warning", line);
    else
        fprintf(stderr, "%s: %s\n", ident != NULL ? ident : "mailsso", line);
}

mailsso_logger
mailsso_logger_stderr(const char *ident, mailsso_log_level threshold)
{
    mailsso_logger lg = { stderr_sink, (void *)ident, threshold, ident };
    return lg;
}

static void
syslog_sink(void *ctx, mailsso_log_level level, const char *line)
{
    static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

    (void)ctx;
    syslog(prio[level <= MAILSSO_LOG_DEBUG ? level : MAILSSO_LOG_DEBUG], "%s", line);
}

mailsso_logger
mailsso_logger_syslog(const char *ident, mailsso_log_level threshold)
{
    mailsso_logger lg = { syslog_sink, NULL, threshold, ident };
    return lg;
}

const char *
mailsso_log_level_name(mailsso_log_level level)
{
    if ((unsigned)level < MAILSSO_ARRAY_LEN(level_names))
        return level_names[level];
    return "unknown";
}

int
mailsso_log_level_from_name(const char *name, mailsso_log_level *level_out)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(level_names); i++) {
        if (mailsso_streq_ci(name, level_names[i])) {
            *level_out = (mailsso_log_level)i;
            return 0;
        }
    }
    if (mailsso_streq_ci(name, "warning")) {
        *level_out = MAILSSO_LOG_WARN;
        return 0;
    }
    if (mailsso_streq_ci(name, "error")) {
        *level_out = MAILSSO_LOG_ERR;
        return 0;
    }
    return -1;
}

static size_t
escaped_len(unsigned char c)
{
    return (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;
}

size_t
mailsso_log_sanitize(const void *in, size_t in_len, char *out, size_t out_size)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = in;
    size_t total = 0, limit, o = 0;

    if (out_size == 0)
        return 0;
    for (size_t i = 0; i < in_len; i++)
        total += escaped_len(p[i]);
    /* When everything does not fit, keep room for the "..." cut marker. */
    limit = total <= out_size - 1 ? out_size - 1 : (out_size - 1 > 3 ? out_size - 4 : 0);
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = p[i];

        if (o + escaped_len(c) > limit)
            break;
        if (escaped_len(c) == 1) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xf];
        }
    }
    if (total > out_size - 1) {
        size_t dots = out_size - 1 - o < 3 ? out_size - 1 - o : 3;
        memcpy(out + o, "...", dots);
        o += dots;
    }
    out[o] = '\0';
    return o;
}
