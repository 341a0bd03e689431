/*
 * NAME
 *   util - secret wiping and locale-free string helpers (include/mailsso/util.h)
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <mailsso/util.h>

void
mailsso_zero(void *p, size_t len)
{
    if (p != NULL && len > 0)
        explicit_bzero(p, len);
}

void
mailsso_zfree(void *p, size_t len)
{
    if (p == NULL)
        return;
    mailsso_zero(p, len);
    free(p);
}

size_t
mailsso_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);

    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

static int
ascii_lower_char(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int
ascii_upper_char(int c)
{
    return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

int
mailsso_streq_ci(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (ascii_lower_char((unsigned char)*a) != ascii_lower_char((unsigned char)*b))
            return 0;
    }
    return *a == *b;
}

char *
mailsso_ascii_lower(char *s)
{
    for (char *p = s; p != NULL && *p != '\0'; p++)
        *p = (char)ascii_lower_char((unsigned char)*p);
    return s;
}

char *
mailsso_ascii_upper(char *s)
{
    for (char *p = s; p != NULL && *p != '\0'; p++)
        *p = (char)ascii_upper_char((unsigned char)*p);
    return s;
}
