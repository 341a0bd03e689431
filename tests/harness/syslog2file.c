/*
 * syslog2file.c - LD_PRELOAD shim: the syslog(3) lines of one daemon tree go to a file.
 *
 * CONTRACT
 *   Preload into a daemon started by a test (tests/harness/cyrus.sh does this for
 *   Cyrus master and every imapd/pop3d it forks):
 *
 *       LD_PRELOAD=.../libsyslog2file.so SYSLOG2FILE=$T/logs/cyrus-syslog.log master ...
 *
 *   Every openlog/syslog/vsyslog call of the process (and of libsasl2 and the SASL
 *   plugins it loads) appends one line
 *
 *       HH:MM:SS.mmm IDENT[PID] <PRIORITY> MESSAGE
 *
 *   to the file named by $SYSLOG2FILE (PRIORITY is the syslog level 0-7, IDENT the one
 *   given to openlog). The file is opened with O_APPEND for each message and written
 *   with one write(2), so forked children that dropped privileges keep logging as long
 *   as they may write the file (a test makes it mode 666), and lines of concurrent
 *   processes never interleave. Without $SYSLOG2FILE messages are dropped. Nothing is
 *   ever sent to the real syslog: the test machine may have no syslogd, and a shared
 *   /dev/log would mix in the messages of every other process on the machine.
 *
 *   Both the plain entry points and the _FORTIFY_SOURCE ones (__syslog_chk,
 *   __vsyslog_chk, which Debian's packages call) are replaced.
 */
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* The fortified entry points glibc's <bits/syslog.h> declares only under
 * _FORTIFY_SOURCE; we define them, so declare them here. */
void __syslog_chk(int prio, int flag, const char *fmt, ...);
void __vsyslog_chk(int prio, int flag, const char *fmt, va_list ap);

#define MAX_MESSAGE 4096

static char ident_buf[64] = "?";

void
openlog(const char *ident, int option, int facility)
{
    (void)option;
    (void)facility;
    if (ident != NULL)
        (void)snprintf(ident_buf, sizeof ident_buf, "%s", ident);
}

void
closelog(void)
{
}

int
setlogmask(int mask)
{
    (void)mask;
    return LOG_UPTO(LOG_DEBUG);
}

void
vsyslog(int prio, const char *fmt, va_list ap)
{
    const char *path = getenv("SYSLOG2FILE");
    char msg[MAX_MESSAGE];
    char line[MAX_MESSAGE + 128];
    struct timespec ts;
    struct tm tm;
    int saved_errno = errno;     /* %m in fmt and the caller both need errno intact */
    int fd;
    int n;
    size_t len;

    if (path == NULL || *path == '\0')
        return;
    errno = saved_errno;
    (void)vsnprintf(msg, sizeof msg, fmt, ap);   /* glibc expands %m itself */
    len = strlen(msg);
    while (len > 0 && msg[len - 1] == '\n')
        msg[--len] = '\0';
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    (void)localtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %s[%ld] <%d> %s\n", tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, ident_buf, (long)getpid(),
                 LOG_PRI(prio), msg);
    if (n < 0)
        goto cleanup;
    if ((size_t)n >= sizeof line) {
        n = (int)sizeof line - 1;
        line[n - 1] = '\n';
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        goto cleanup;
    if (write(fd, line, (size_t)n) < 0) {
        /* nowhere to report it: the daemon's own logging is what failed */
    }
    (void)close(fd);
cleanup:
    errno = saved_errno;
}

void
syslog(int prio, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsyslog(prio, fmt, ap);
    va_end(ap);
}

void
__vsyslog_chk(int prio, int flag, const char *fmt, va_list ap)
{
    (void)flag;
    vsyslog(prio, fmt, ap);
}

void
__syslog_chk(int prio, int flag, const char *fmt, ...)
{
    va_list ap;

    (void)flag;
    va_start(ap, fmt);
    vsyslog(prio, fmt, ap);
    va_end(ap);
}
