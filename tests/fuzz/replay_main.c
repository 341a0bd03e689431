/*
 * replay_main.c - run a fuzz harness over files without libFuzzer
 *
 * Usage: fuzz_X_replay [FILE|DIR]...
 * Without arguments, replays FUZZ_SRCDIR/corpus/FUZZ_NAME and
 * FUZZ_SRCDIR/regressions/FUZZ_NAME (compiled in), so that `make check`
 * (with or without --enable-sanitizers, or under valgrind) proves that every
 * seed and every input that once crashed still runs clean.
 * Exit 0 when every file ran (a broken invariant aborts), 1 on an I/O problem,
 * 99 when no input was found (an empty corpus is a packaging bug).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int n_run;

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    for (;;) {
        if (cap - len < 4096) {
            unsigned char *nb = realloc(buf, cap + 65536);
            if (nb == NULL) {
                fclose(f);
                free(buf);
                return 1;
            }
            buf = nb;
            cap += 65536;
        }
        n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    /* Exact-size copy so that ASan/valgrind catch reads past the input. */
    {
        unsigned char *exact = malloc(len > 0 ? len : 1);
        if (exact == NULL) {
            free(buf);
            return 1;
        }
        memcpy(exact, buf, len);
        free(buf);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    n_run++;
    return 0;
}

static int
run_path(const char *path, int missing_ok)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0;
    int rc = 0;

    if (stat(path, &st) != 0) {
        if (missing_ok && errno == ENOENT)
            return 0;
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "replay: cannot list %s: %s\n", path, strerror(errno));
        return 1;
    }
    while ((de = readdir(d)) != NULL) {
        char **nn;
        if (de->d_name[0] == '.')
            continue;
        nn = realloc(names, (n + 1) * sizeof(*names));
        if (nn == NULL)
            break;
        names = nn;
        names[n] = malloc(strlen(path) + strlen(de->d_name) + 2);
        if (names[n] == NULL)
            break;
        sprintf(names[n], "%s/%s", path, de->d_name);
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (run_path(names[i], 0) != 0)
            rc = 1;
        free(names[i]);
    }
    free(names);
    return rc;
}

int
main(int argc, char **argv)
{
    int rc = 0;

    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            rc |= run_path(argv[i], 0);
    } else {
        rc |= run_path(FUZZ_SRCDIR "/corpus/" FUZZ_NAME, 0);
        rc |= run_path(FUZZ_SRCDIR "/regressions/" FUZZ_NAME, 1);
    }
    printf("%s: %d input%s replayed%s\n", FUZZ_NAME, n_run, n_run == 1 ? "" : "s",
           rc ? " (with I/O errors)" : "");
    if (rc == 0 && n_run == 0) {
        fprintf(stderr, "%s: no input found (expected seeds in %s/corpus/%s)\n", FUZZ_NAME,
                FUZZ_SRCDIR, FUZZ_NAME);
        return 99;
    }
    return rc;
}
