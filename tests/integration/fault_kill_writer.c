/*
 * NAME
 *   fault_kill_writer - SIGKILL a keytab writer at random points, check the
 *   target is always byte-identical to the old or the new file
 *
 * SYNOPSIS
 *   fault_kill_writer TRIALS TARGET OLD -- CMD [ARGS...]
 *
 * DESCRIPTION
 *   OLD is a copy of the keytab before the write. First CMD runs to
 *   completion (5 times, timed) from TARGET = OLD; its result is NEW. Then,
 *   TRIALS times: TARGET is reset to OLD (temp file + rename), CMD is started
 *   (fork + exec, output to /dev/null) and killed with SIGKILL after a random
 *   delay, uniform in [0, 1.2 x the median timed run]; TARGET is then read
 *   and compared with OLD and NEW. Temp files a killed writer left behind
 *   (".NAME.mailsso-tmp.*") are counted and removed.
 *
 *   Prints "RUN us=N" (the median complete run) and
 *   "TRIALS n=N old=A new=B partial=C killed=K finished=F leftovers=L",
 *   plus one "PARTIAL trial=I size=S" line per bad outcome. Exit 0 iff no
 *   trial left a partial or unreadable TARGET; 1 otherwise; 2 on usage or
 *   harness errors.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned char *
slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        if (len == cap) {
            unsigned char *nb = realloc(buf, cap ? cap * 2 : 4096);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = cap ? cap * 2 : 4096;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    *len_out = len;
    return buf;
}

/* TARGET := data, atomically (the reset must not itself be a partial file). */
static int
reset_target(const char *target, const unsigned char *data, size_t len)
{
    char tmp[4096];
    int fd;

    snprintf(tmp, sizeof(tmp), "%s.fault-reset", target);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) != 0)
        return -1;
    return rename(tmp, target);
}

static long long
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static pid_t
start(char **cmd)
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execvp(cmd[0], cmd);
        _exit(127);
    }
    return pid;
}

/* Removes the temp files a killed writer left next to target; returns how many. */
static int
sweep_leftovers(const char *target)
{
    char dcopy[4096], bcopy[4096], prefix[4200], path[8400];
    DIR *d;
    struct dirent *e;
    int n = 0;

    snprintf(dcopy, sizeof(dcopy), "%s", target);
    snprintf(bcopy, sizeof(bcopy), "%s", target);
    snprintf(prefix, sizeof(prefix), ".%s.mailsso-tmp.", basename(bcopy));
    d = opendir(dirname(dcopy));
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(path, sizeof(path), "%s/%s", dcopy, e->d_name);
            if (unlink(path) == 0)
                n++;
        }
    }
    closedir(d);
    return n;
}

int
main(int argc, char **argv)
{
    int trials, n_old = 0, n_new = 0, n_partial = 0, n_killed = 0, n_finished = 0, leftovers = 0;
    const char *target, *oldpath;
    unsigned char *old = NULL, *new = NULL;
    size_t old_len = 0, new_len = 0;
    long long median = 0, runs[5];
    char **cmd;

    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: fault_kill_writer TRIALS TARGET OLD -- CMD [ARGS...]\n");
        return 2;
    }
    trials = atoi(argv[1]);
    target = argv[2];
    oldpath = argv[3];
    cmd = argv + 5;
    old = slurp(oldpath, &old_len);
    if (old == NULL) {
        fprintf(stderr, "cannot read %s: %s\n", oldpath, strerror(errno));
        return 2;
    }
    /* The complete runs: NEW, and how long a write takes. */
    for (int i = 0; i < 5; i++) {
        int st;
        long long t0;
        pid_t pid;
        size_t len = 0;
        unsigned char *got;

        if (reset_target(target, old, old_len) != 0) {
            fprintf(stderr, "cannot reset %s: %s\n", target, strerror(errno));
            return 2;
        }
        t0 = now_us();
        pid = start(cmd);
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "the writer failed when not killed (status %d)\n", st);
            return 2;
        }
        runs[i] = now_us() - t0;
        got = slurp(target, &len);
        if (got == NULL) {
            fprintf(stderr, "cannot read %s after a complete run\n", target);
            return 2;
        }
        if (new == NULL) {
            new = got;
            new_len = len;
        } else {
            int same = len == new_len && memcmp(got, new, len) == 0;
            free(got);
            if (!same) {
                fprintf(stderr, "the writer is not deterministic: two complete runs differ\n");
                return 2;
            }
        }
    }
    if (new_len == old_len && memcmp(new, old, old_len) == 0) {
        fprintf(stderr, "the writer does not change %s: nothing to test\n", target);
        return 2;
    }
    /* the median: robust against one slow run on a loaded machine */
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (runs[j] < runs[i]) {
                long long t = runs[i];
                runs[i] = runs[j];
                runs[j] = t;
            }
    median = runs[2];
    printf("RUN us=%lld old_bytes=%zu new_bytes=%zu\n", median, old_len, new_len);
    srandom((unsigned)(now_us() ^ getpid()));
    for (int i = 0; i < trials; i++) {
        long long delay = random() % (median * 6 / 5 + 1);
        struct timespec ts = { (time_t)(delay / 1000000), (long)(delay % 1000000) * 1000 };
        unsigned char *got;
        size_t len = 0;
        int st;
        pid_t pid;

        if (reset_target(target, old, old_len) != 0) {
            fprintf(stderr, "cannot reset %s: %s\n", target, strerror(errno));
            return 2;
        }
        pid = start(cmd);
        if (pid < 0)
            return 2;
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        if (waitpid(pid, &st, 0) != pid)
            return 2;
        if (WIFSIGNALED(st))
            n_killed++;
        else
            n_finished++;
        got = slurp(target, &len);
        if (got != NULL && len == old_len && memcmp(got, old, len) == 0)
            n_old++;
        else if (got != NULL && len == new_len && memcmp(got, new, len) == 0)
            n_new++;
        else {
            n_partial++;
            printf("PARTIAL trial=%d size=%zu delay_us=%lld\n", i, got ? len : 0, delay);
        }
        free(got);
        leftovers += sweep_leftovers(target);
    }
    printf("TRIALS n=%d old=%d new=%d partial=%d killed=%d finished=%d leftovers=%d\n", trials,
           n_old, n_new, n_partial, n_killed, n_finished, leftovers);
    free(old);
    free(new);
    return n_partial ? 1 : 0;
}
