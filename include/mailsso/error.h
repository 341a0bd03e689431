/*
 * NAME
 *   mailsso/error.h - one error record for the whole library
 *
 * SYNOPSIS
 *   mailsso_error err = MAILSSO_ERROR_INIT;
 *   if (mailsso_keytab_read(path, &kt, &err) != 0)
 *       fprintf(stderr, "%s\n", err.message);   // err.fix may say how to repair it
 *
 * DESCRIPTION
 *   Every fallible library function returns 0 on success or a negative
 *   MAILSSO_E* code, and, when given a non-NULL mailsso_error, fills it with a
 *   precise message (what failed, naming the file/key/principal concerned) and,
 *   where one is known, a fix. The record is a plain value: no allocation, safe
 *   to keep on the stack, safe to pass NULL where the caller does not care.
 *   The first error set wins: later calls of mailsso_error_set() on an error
 *   that already holds a code are ignored, so the deepest cause survives.
 *   Messages never contain secrets; text that came from the network is
 *   sanitised (mailsso_log_sanitize) before it is put in a message.
 */
#ifndef MAILSSO_ERROR_H
#define MAILSSO_ERROR_H

#include <stddef.h>

#define MAILSSO_OK             0
#define MAILSSO_E_NOMEM       -1  /* out of memory */
#define MAILSSO_E_IO          -2  /* file system / system call failure */
#define MAILSSO_E_PARSE       -3  /* malformed input (file, token, name) */
#define MAILSSO_E_CONFIG      -4  /* configuration invalid */
#define MAILSSO_E_POLICY      -5  /* refused by policy (enctype, realm, identity) */
#define MAILSSO_E_NOTFOUND    -6  /* no such entry / key / principal */
#define MAILSSO_E_CONFLICT    -7  /* contradicting data (e.g. same kvno, other key) */
#define MAILSSO_E_KRB5        -8  /* a krb5 library call failed */
#define MAILSSO_E_GSS         -9  /* a GSS-API call failed */
#define MAILSSO_E_INVALID    -10  /* bad argument (a bug in the caller) */
#define MAILSSO_E_UNSUPPORTED -11 /* valid, but not something we handle */
#define MAILSSO_E_BUSY       -12  /* a lock is held by someone else */
#define MAILSSO_E_TLS        -13  /* an OpenSSL / X.509 check failed */

#define MAILSSO_ERROR_MESSAGE_MAX 1024
#define MAILSSO_ERROR_FIX_MAX 512

typedef struct mailsso_error {
    int code;                                  /* MAILSSO_OK or MAILSSO_E_* */
    char message[MAILSSO_ERROR_MESSAGE_MAX];   /* what failed, never empty when code != 0 */
    char fix[MAILSSO_ERROR_FIX_MAX];           /* how to repair it, may be "" */
} mailsso_error;

#define MAILSSO_ERROR_INIT { 0, "", "" }

#if defined(__GNUC__)
#define MAILSSO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MAILSSO_PRINTF(f, a)
#endif

/* Sets code and message (printf-style) unless err is NULL or already set.
 * Returns code, so callers can write `return mailsso_error_set(err, ...)`. */
int mailsso_error_set(mailsso_error *err, int code, const char *fmt, ...) MAILSSO_PRINTF(3, 4);

/* Sets the fix text (printf-style); overwrites an earlier fix. NULL err: no-op. */
void mailsso_error_set_fix(mailsso_error *err, const char *fmt, ...) MAILSSO_PRINTF(2, 3);

/* Back to MAILSSO_ERROR_INIT. */
void mailsso_error_clear(mailsso_error *err);

/* A short constant name for a code ("io", "parse", ...), for logs and JSON. */
const char *mailsso_error_code_name(int code);

#endif
