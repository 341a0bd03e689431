/*
 * NAME
 *   mailsso/util.h - small helpers every module needs
 *
 * DESCRIPTION
 *   mailsso_zero() wipes secrets in a way the compiler may not elide;
 *   mailsso_zfree() wipes then frees. Use them for keys, passwords and tokens.
 *   mailsso_strlcpy() never overflows and always terminates (size > 0).
 *   mailsso_streq_ci() is ASCII-only case-insensitive equality (locale-free).
 */
#ifndef MAILSSO_UTIL_H
#define MAILSSO_UTIL_H

#include <stddef.h>

void mailsso_zero(void *p, size_t len);
void mailsso_zfree(void *p, size_t len);     /* accepts NULL */
size_t mailsso_strlcpy(char *dst, const char *src, size_t size);
int mailsso_streq_ci(const char *a, const char *b);
char *mailsso_ascii_lower(char *s);           /* in place; returns s */
char *mailsso_ascii_upper(char *s);           /* in place; returns s */

#define MAILSSO_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
