/*
 * fuzz_common.h - shared helpers of the libFuzzer harnesses (tests/fuzz)
 *
 * Each harness defines LLVMFuzzerTestOneInput(). Built with --enable-fuzzing
 * (clang, -fsanitize=fuzzer) it is a libFuzzer target; built without, it is
 * linked with replay_main.c and replays the seed corpus and the regression
 * inputs as an ordinary `make check` test.
 *
 * FUZZ_ASSERT(cond, fmt, ...) reports a broken invariant and abort()s, so
 * that libFuzzer saves the input as a crash artifact.
 */
#ifndef MAILSSO_FUZZ_COMMON_H
#define MAILSSO_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond, ...)                                                       \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n  ", __FILE__,      \
                    __LINE__, #cond);                                                \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* A NUL-terminated heap copy of data (embedded NULs stay: C APIs see a prefix). */
static inline char *
fuzz_strdup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* 1 if s holds a byte < 0x20 or 0x7f. */
static inline int
fuzz_has_ctl(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return 1;
    }
    return 0;
}

#endif
