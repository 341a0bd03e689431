/*
 * NAME
 *   error - the library's error record (see include/mailsso/error.h)
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mailsso/error.h>

int
mailsso_error_set(mailsso_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err->code != MAILSSO_OK)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    if (err->message[0] == '\0')
        snprintf(err->message, sizeof(err->message), "%s error", mailsso_error_code_name(code));
    return code;
}

void
mailsso_error_set_fix(mailsso_error *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->fix, sizeof(err->fix), fmt, ap);
    va_end(ap);
}

void
mailsso_error_clear(mailsso_error *err)
{
    if (err == NULL)
        return;
    err->code = MAILSSO_OK;
    err->message[0] = '\0';
    err->fix[0] = '\0';
}

const char *
mailsso_error_code_name(int code)
{
    switch (code) {
    case MAILSSO_OK: return "ok";
    case MAILSSO_E_NOMEM: return "nomem";
    case MAILSSO_E_IO: return "io";
    case MAILSSO_E_PARSE: return "parse";
    case MAILSSO_E_CONFIG: return "config";
    case MAILSSO_E_POLICY: return "policy";
    case MAILSSO_E_NOTFOUND: return "notfound";
    case MAILSSO_E_CONFLICT: return "conflict";
    case MAILSSO_E_KRB5: return "krb5";
    case MAILSSO_E_GSS: return "gss";
    case MAILSSO_E_INVALID: return "invalid";
    case MAILSSO_E_UNSUPPORTED: return "unsupported";
    case MAILSSO_E_BUSY: return "busy";
    case MAILSSO_E_TLS: return "tls";
    default: return "unknown";
    }
}
