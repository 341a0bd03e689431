/*
 * NAME
 *   plugin_sasl_driver - run real SASL logins: stock Cyrus client plugin
 *   against the mailsso server plugin, in two processes over a socketpair
 *
 * SYNOPSIS
 *   plugin_sasl_driver --plugin-dir DIR --service imap --host mail.example.test
 *       [--server-fqdn mx1.example.test]   (the server's own name; default --host)
 *       [--mech GSSAPI|GSS-SPNEGO] [--authzid NAME] [--opt KEY=VALUE]...
 *       [--min-ssf N] [--max-ssf N] [--client-max-ssf N] [--maxbuf N]
 *       [--count N] [--data] [--replay] [--client-time-offset SECS]
 *       [--allow-proxy AUTHID=AUTHZID] [--log FILE] [--server-krb5-config FILE]
 *
 * DESCRIPTION
 *   The parent is the server: libsasl2 with SASL_CB_GETPATH naming DIR (which
 *   holds only the plugin under test), options from --opt (SASL_CB_GETOPT),
 *   log lines appended to --log (or stderr) as "LEVEL: message". The child is
 *   the client: libsasl2 with the system plugin directory, i.e. the stock
 *   libgssapiv2.so client, Kerberos credentials from $KRB5CCNAME. Frames on
 *   the socketpair: 1 type byte + 4-byte length + data.
 *
 *   --data        after the login, send protected data both ways (a short
 *                 message and a 100 KB one, the latter fed to sasl_decode in
 *                 odd-sized pieces) and compare.
 *   --replay      after a successful login, feed the client's first token to
 *                 a new server connection (must fail as a replay).
 *   --raw-token FILE  no client: feed FILE's bytes (any bytes, hostile input)
 *                 to one server connection as the initial token (and, while
 *                 the mechanism asks for more, as the next tokens: at most 3
 *                 "RAW continue" steps); prints "RAW refused code=N" (exit 0)
 *                 or "RAW accepted code=N" (exit 2: the plugin took garbage).
 *   --save-token FILE  write the client's initial token of the first login
 *                 to FILE (material for --raw-token).
 *   --client-time-offset S  the client process sees the clock shifted by S
 *                 seconds (gettimeofday/clock_gettime/time are interposed).
 *   --count N     N logins in sequence in the same server process.
 *   --seconds S   logins in sequence for S seconds (--pause-ms between them).
 *   --threads N   no second process: N threads in one process each run client
 *                 (stock plugin) and server (ours) in memory, --count logins
 *                 each (or for --seconds); prints "THREADS ok=X fail=Y".
 *
 *   Prints one line per login to stdout:
 *     RESULT ok mech=GSSAPI user=alice authid=alice ssf=256
 *     RESULT fail code=-13 detail=...
 *   and "DATA ok" / "DATA fail ..." for --data, and "ENV unchanged" (or
 *   "ENV changed ...", exit 4) comparing the server process's environment
 *   before sasl_server_init and after sasl_server_done. Exit status: 0 if
 *   every login (and data check) succeeded, 2 if a login failed, 1 on harness
 *   errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sasl/sasl.h>

#define MAX_OPTS 64
/* libsasl stores callbacks as int (*)(void); go through void (*)(void). */
#define CB(f) ((int (*)(void))(void (*)(void))(f))

static const char *plugin_dir;
static const char *service = "imap";
static const char *host = "mail.example.test";
static const char *server_fqdn;     /* serverFQDN of the server side; default: host */
static const char *mech = "GSSAPI";
static const char *authzid;
static const char *log_path;
static const char *opt_keys[MAX_OPTS];
static const char *opt_vals[MAX_OPTS];
static int n_opts;
static unsigned min_ssf = 0, max_ssf = 256, client_max_ssf = 256, maxbuf = 65536;
static int count = 1, do_data, do_replay, seconds, pause_ms, threads;
static const char *allow_proxy;
static const char *server_krb5_config;
static const char *raw_token_path;
static const char *save_token_path;
static long client_time_offset;
static int time_shift_active;

/* ---------------------------------------------------------------- clock shim */
/* Interposed for the client process only (time_shift_active), so that its
 * Kerberos authenticator carries a skewed time. Built with --export-dynamic. */
int gettimeofday(struct timeval *tv, void *tz);
int clock_gettime(clockid_t clk, struct timespec *ts);
time_t time(time_t *t);

int
gettimeofday(struct timeval *tv, void *tz)
{
    int r = (int)syscall(SYS_gettimeofday, tv, tz);
    if (r == 0 && time_shift_active)
        tv->tv_sec += client_time_offset;
    return r;
}

int
clock_gettime(clockid_t clk, struct timespec *ts)
{
    int r = (int)syscall(SYS_clock_gettime, clk, ts);
    if (r == 0 && time_shift_active &&
        (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE))
        ts->tv_sec += client_time_offset;
    return r;
}

time_t
time(time_t *t)
{
    struct timespec ts;
    time_t v;
    clock_gettime(CLOCK_REALTIME, &ts);
    v = ts.tv_sec;
    if (t != NULL)
        *t = v;
    return v;
}

/* ---------------------------------------------------------------- framing */
static int
write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
send_frame(int fd, char type, const void *data, size_t len)
{
    unsigned char h[5];
    h[0] = (unsigned char)type;
    h[1] = (unsigned char)(len >> 24);
    h[2] = (unsigned char)(len >> 16);
    h[3] = (unsigned char)(len >> 8);
    h[4] = (unsigned char)len;
    if (write_all(fd, h, 5) != 0)
        return -1;
    return len ? write_all(fd, data, len) : 0;
}

/* *data is malloc'ed (NUL-terminated for convenience). */
static int
recv_frame(int fd, char *type, char **data, size_t *len)
{
    unsigned char h[5];
    if (read_all(fd, h, 5) != 0)
        return -1;
    *type = (char)h[0];
    *len = ((size_t)h[1] << 24) | ((size_t)h[2] << 16) | ((size_t)h[3] << 8) | h[4];
    *data = malloc(*len + 1);
    if (*data == NULL)
        return -1;
    if (*len && read_all(fd, *data, *len) != 0) {
        free(*data);
        return -1;
    }
    (*data)[*len] = '\0';
    return 0;
}

/* ---------------------------------------------------------------- callbacks */
static int
cb_getpath(void *ctx, const char **path)
{
    *path = ctx;
    return SASL_OK;
}

static int
cb_getconfpath(void *ctx, char **path)
{
    *path = ctx;
    return SASL_OK;
}

static int
cb_getopt(void *ctx, const char *plugin, const char *option, const char **result, unsigned *len)
{
    (void)ctx;
    (void)plugin;
    for (int i = 0; i < n_opts; i++) {
        if (strcmp(opt_keys[i], option) == 0) {
            *result = opt_vals[i];
            if (len != NULL)
                *len = (unsigned)strlen(opt_vals[i]);
            return SASL_OK;
        }
    }
    return SASL_FAIL;
}

static int
cb_log(void *ctx, int level, const char *message)
{
    static const char *names[] = { "NONE", "ERR", "FAIL", "WARN", "NOTE", "DEBUG", "TRACE",
                                   "PASS" };
    FILE *f = log_path ? fopen(log_path, "a") : NULL;
    (void)ctx;
    fprintf(f ? f : stderr, "%s: %s\n", (level >= 0 && level < 8) ? names[level] : "?", message);
    if (f)
        fclose(f);
    return SASL_OK;
}

static int
cb_proxy(sasl_conn_t *conn, void *ctx, const char *requested, unsigned rlen, const char *auth,
         unsigned alen, const char *realm, unsigned urlen, struct propctx *props)
{
    char pair[600];
    (void)ctx; (void)realm; (void)urlen; (void)props;
    if (rlen == alen && memcmp(requested, auth, alen) == 0)
        return SASL_OK;
    snprintf(pair, sizeof(pair), "%.*s=%.*s", (int)alen, auth, (int)rlen, requested);
    if (allow_proxy != NULL && strcmp(pair, allow_proxy) == 0)
        return SASL_OK;
    sasl_seterror(conn, 0, "Requested identity not authenticated identity");
    return SASL_BADAUTH;
}

static int
cb_user(void *ctx, int id, const char **result, unsigned *len)
{
    (void)ctx;
    if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)
        return SASL_BADPARAM;
    *result = (id == SASL_CB_USER && authzid != NULL) ? authzid : "";
    if (len != NULL)
        *len = (unsigned)strlen(*result);
    return SASL_OK;
}

/* ---------------------------------------------------------------- data check */
static char *
pattern(size_t n, unsigned seed)
{
    char *p = malloc(n + 1);
    if (p == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + (i * 7 + seed) % 26);
    p[n] = '\0';
    return p;
}

/* Send msg protected; returns 0 on success. */
static int
send_protected(int fd, sasl_conn_t *conn, const char *msg, size_t len)
{
    const char *out;
    unsigned outlen;
    const unsigned *maxout;
    size_t off = 0;
    if (sasl_getprop(conn, SASL_MAXOUTBUF, (const void **)&maxout) != SASL_OK)
        return -1;
    while (off < len) {
        size_t chunk = len - off < *maxout ? len - off : *maxout;
        if (sasl_encode(conn, msg + off, (unsigned)chunk, &out, &outlen) != SASL_OK)
            return -1;
        if (send_frame(fd, 'D', out, outlen) != 0)
            return -1;
        off += chunk;
    }
    return send_frame(fd, 'E', NULL, 0);
}

/* Receive until 'E'; decode in pieces of `piece` bytes; compare with expect. */
static int
recv_protected(int fd, sasl_conn_t *conn, const char *expect, size_t len, size_t piece,
               const char *who)
{
    char *got = malloc(len + 1);
    size_t have = 0;
    int ret = -1;
    if (got == NULL)
        return -1;
    for (;;) {
        char type, *data;
        size_t dlen;
        if (recv_frame(fd, &type, &data, &dlen) != 0)
            goto out;
        if (type == 'E') {
            free(data);
            break;
        }
        for (size_t off = 0; off < dlen;) {
            size_t n = dlen - off < piece ? dlen - off : piece;
            const char *o;
            unsigned olen;
            if (sasl_decode(conn, data + off, (unsigned)n, &o, &olen) != SASL_OK) {
                printf("DATA fail %s: sasl_decode: %s\n", who, sasl_errdetail(conn));
                free(data);
                goto out;
            }
            if (have + olen > len) {
                printf("DATA fail %s: more data than sent\n", who);
                free(data);
                goto out;
            }
            if (olen > 0)
                memcpy(got + have, o, olen);
            have += olen;
            off += n;
        }
        free(data);
    }
    if (have != len || memcmp(got, expect, len) != 0)
        printf("DATA fail %s: expected %zu bytes, got %zu (or different content)\n", who, len, have);
    else
        ret = 0;
out:
    free(got);
    return ret;
}

/* ---------------------------------------------------------------- client */
static int
client_main(int fd)
{
    static sasl_callback_t cbs[] = {
        { SASL_CB_USER, CB(cb_user), NULL },
        { SASL_CB_AUTHNAME, CB(cb_user), NULL },
        { SASL_CB_LIST_END, NULL, NULL },
    };
    int r;

    if (client_time_offset != 0)
        time_shift_active = 1;
    r = sasl_client_init(cbs);
    if (r != SASL_OK) {
        fprintf(stderr, "client: sasl_client_init: %d\n", r);
        return 1;
    }
    for (;;) {
        sasl_conn_t *conn = NULL;
        sasl_security_properties_t sp;
        const char *out = NULL, *chosen = NULL;
        unsigned outlen = 0;
        char *frame = NULL;
        char type;
        size_t flen;
        int done = 0, client_done = 0;

        {   /* the server says whether another login follows */
            char t, *d = NULL;
            size_t l;
            if (recv_frame(fd, &t, &d, &l) != 0)
                return 1;
            free(d);
            if (t != 'R')
                break;
        }
        r = sasl_client_new(service, host, NULL, NULL, NULL, 0, &conn);
        if (r != SASL_OK) {
            fprintf(stderr, "client: sasl_client_new: %d\n", r);
            return 1;
        }
        memset(&sp, 0, sizeof(sp));
        sp.min_ssf = 0;
        sp.max_ssf = client_max_ssf;
        sp.maxbufsize = maxbuf;
        sasl_setprop(conn, SASL_SEC_PROPS, &sp);
        r = sasl_client_start(conn, mech, NULL, &out, &outlen, &chosen);
        if (r != SASL_OK && r != SASL_CONTINUE) {
            fprintf(stderr, "client: sasl_client_start: %s\n", sasl_errdetail(conn));
            send_frame(fd, 'F', "client start failed", 19);
            sasl_dispose(&conn);
            return 1;
        }
        {
            size_t ml = strlen(chosen);
            char *m = malloc(ml + 1 + outlen);
            memcpy(m, chosen, ml + 1);
            if (outlen)
                memcpy(m + ml + 1, out, outlen);
            send_frame(fd, 'M', m, ml + 1 + outlen);
            free(m);
        }
        while (!done) {
            if (recv_frame(fd, &type, &frame, &flen) != 0) {
                sasl_dispose(&conn);
                return 1;
            }
            if (type == 'S') {
                r = sasl_client_step(conn, frame, (unsigned)flen, NULL, &out, &outlen);
                client_done = r == SASL_OK;
                if (r != SASL_OK && r != SASL_CONTINUE) {
                    fprintf(stderr, "client: step: %s\n", sasl_errdetail(conn));
                    send_frame(fd, 'F', "client step failed", 18);
                    done = 2;
                } else {
                    send_frame(fd, 'C', out, outlen);
                }
            } else if (type == 'O') {
                if (flen > 0 && !client_done) {
                    r = sasl_client_step(conn, frame, (unsigned)flen, NULL, &out, &outlen);
                    if (r != SASL_OK)
                        fprintf(stderr, "client: final step: %s\n", sasl_errdetail(conn));
                }
                done = 1;
            } else {
                done = 2;       /* 'F': the server refused */
            }
            free(frame);
        }
        if (done == 1 && do_data) {
            char *big = pattern(100000, 3);
            const char *small = "client says hello through the security layer";
            if (send_protected(fd, conn, small, strlen(small)) != 0 ||
                send_protected(fd, conn, big, 100000) != 0)
                fprintf(stderr, "client: send_protected failed\n");
            free(big);
            small = "server says hello back";
            big = pattern(100000, 11);
            if (recv_protected(fd, conn, small, strlen(small), 1000000, "client") != 0 ||
                recv_protected(fd, conn, big, 100000, 777, "client") != 0)
                send_frame(fd, 'X', NULL, 0);
            else
                send_frame(fd, 'Y', NULL, 0);
            free(big);
        }
        sasl_dispose(&conn);
    }
    sasl_client_done();
    return 0;
}

/* ---------------------------------------------------------------- server */
static int
server_login(int fd, char **first_token, size_t *first_len)
{
    sasl_conn_t *conn = NULL;
    sasl_security_properties_t sp;
    char *frame = NULL;
    char type;
    size_t flen;
    const char *out;
    unsigned outlen;
    int r, ret = 2;
    const char *chosen, *data;
    size_t dlen;

    r = sasl_server_new(service, server_fqdn, NULL, "127.0.0.1;25", "127.0.0.1;40000", NULL, 0,
                        &conn);
    if (r != SASL_OK) {
        fprintf(stderr, "server: sasl_server_new: %d\n", r);
        return 1;
    }
    memset(&sp, 0, sizeof(sp));
    sp.min_ssf = min_ssf;
    sp.max_ssf = max_ssf;
    sp.maxbufsize = maxbuf;
    sasl_setprop(conn, SASL_SEC_PROPS, &sp);

    if (recv_frame(fd, &type, &frame, &flen) != 0 || type != 'M') {
        fprintf(stderr, "server: expected the client's mechanism\n");
        free(frame);
        sasl_dispose(&conn);
        return 1;
    }
    chosen = frame;
    data = frame + strlen(frame) + 1;
    dlen = flen - strlen(frame) - 1;
    if (save_token_path != NULL) {
        FILE *f = fopen(save_token_path, "wb");
        if (f != NULL) {
            fwrite(data, 1, dlen, f);
            fclose(f);
        }
        save_token_path = NULL;
    }
    if (first_token != NULL) {
        *first_token = malloc(dlen ? dlen : 1);
        memcpy(*first_token, data, dlen);
        *first_len = dlen;
    }
    r = sasl_server_start(conn, chosen, dlen ? data : NULL, (unsigned)dlen, &out, &outlen);
    free(frame);
    frame = NULL;
    while (r == SASL_CONTINUE) {
        send_frame(fd, 'S', out, outlen);
        if (recv_frame(fd, &type, &frame, &flen) != 0) {
            sasl_dispose(&conn);
            return 1;
        }
        if (type != 'C') {
            printf("RESULT fail code=client detail=client gave up\n");
            free(frame);
            sasl_dispose(&conn);
            return 2;
        }
        r = sasl_server_step(conn, frame, (unsigned)flen, &out, &outlen);
        free(frame);
        frame = NULL;
    }
    if (r == SASL_OK) {
        const char *user = NULL, *authid = NULL;
        const int *ssf = NULL;
        sasl_getprop(conn, SASL_USERNAME, (const void **)&user);
        sasl_getprop(conn, SASL_AUTHUSER, (const void **)&authid);
        sasl_getprop(conn, SASL_SSF, (const void **)&ssf);
        send_frame(fd, 'O', out, out ? outlen : 0);
        printf("RESULT ok mech=%s user=%s authid=%s ssf=%d\n", mech, user ? user : "?",
               authid ? authid : "?", ssf ? *ssf : -1);
        ret = 0;
        if (do_data) {
            char *big = pattern(100000, 3);
            const char *small = "client says hello through the security layer";
            int bad = 0;
            if (*ssf == 0) {
                printf("DATA fail server: no security layer was negotiated (ssf 0)\n");
                bad = 1;
            }
            if (!bad && (recv_protected(fd, conn, small, strlen(small), 1000000, "server") != 0 ||
                         recv_protected(fd, conn, big, 100000, 1000, "server") != 0))
                bad = 1;
            free(big);
            small = "server says hello back";
            big = pattern(100000, 11);
            if (!bad && (send_protected(fd, conn, small, strlen(small)) != 0 ||
                         send_protected(fd, conn, big, 100000) != 0))
                bad = 1;
            free(big);
            if (!bad) {
                if (recv_frame(fd, &type, &frame, &flen) != 0 || type != 'Y')
                    bad = 1;
                free(frame);
                frame = NULL;
            }
            printf(bad ? "DATA fail\n" : "DATA ok ssf=%d\n", *ssf);
            if (bad)
                ret = 3;
        }
    } else {
        printf("RESULT fail code=%d detail=%s\n", r, sasl_errdetail(conn));
        send_frame(fd, 'F', NULL, 0);
    }
    sasl_dispose(&conn);
    return ret;
}

/* A second server connection fed with a token already used. */
static int
server_replay(const char *token, size_t len)
{
    sasl_conn_t *conn = NULL;
    const char *out;
    unsigned outlen;
    int r;

    if (sasl_server_new(service, server_fqdn, NULL, "127.0.0.1;25", "127.0.0.1;40001", NULL, 0,
                        &conn) != SASL_OK)
        return 1;
    r = sasl_server_start(conn, mech, token, (unsigned)len, &out, &outlen);
    if (r == SASL_OK || r == SASL_CONTINUE)
        printf("REPLAY accepted (code %d)\n", r);
    else
        printf("REPLAY refused code=%d\n", r);
    sasl_dispose(&conn);
    return (r == SASL_OK || r == SASL_CONTINUE) ? 2 : 0;
}

/* --raw-token: FILE's bytes as the initial token of one server connection. */
static int
server_raw(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    sasl_conn_t *conn = NULL;
    const char *out;
    unsigned outlen;
    int r;

    if (f == NULL)
        return 1;
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    rewind(f);
    buf = malloc(len ? len : 1);
    if (buf == NULL || fread(buf, 1, len, f) != len) {
        fclose(f);
        free(buf);
        return 1;
    }
    fclose(f);
    if (sasl_server_new(service, server_fqdn, NULL, "127.0.0.1;25", "127.0.0.1;40002", NULL, 0,
                        &conn) != SASL_OK) {
        free(buf);
        return 1;
    }
    r = sasl_server_start(conn, mech, len ? buf : NULL, (unsigned)len, &out, &outlen);
    /* The mechanism asked for more: play on with the same bytes (a client
     * that only has garbage); it must refuse within a few steps. */
    for (int step = 0; step < 3 && r == SASL_CONTINUE; step++) {
        printf("RAW continue step=%d out_bytes=%u\n", step, outlen);
        r = sasl_server_step(conn, len ? buf : NULL, (unsigned)len, &out, &outlen);
    }
    printf("RAW %s code=%d bytes=%zu detail=%s\n",
           (r == SASL_OK || r == SASL_CONTINUE) ? "accepted" : "refused", r, len,
           r == SASL_OK || r == SASL_CONTINUE ? "" : sasl_errdetail(conn));
    sasl_dispose(&conn);
    free(buf);
    return (r == SASL_OK || r == SASL_CONTINUE) ? 2 : 0;
}

/* ---------------------------------------------------------------- threads */
static void *mutex_alloc(void)
{
    pthread_mutex_t *m = malloc(sizeof(*m));
    if (m != NULL)
        pthread_mutex_init(m, NULL);
    return m;
}
static int mutex_lock(void *m) { return pthread_mutex_lock(m); }
static int mutex_unlock(void *m) { return pthread_mutex_unlock(m); }
static void mutex_free(void *m) { pthread_mutex_destroy(m); free(m); }

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static int n_ok, n_fail;

/* One login with client and server in this thread; 0 on success. */
static int
inproc_login(void)
{
    sasl_conn_t *cc = NULL, *sc = NULL;
    sasl_security_properties_t sp;
    const char *cout = NULL, *sout = NULL, *chosen = NULL;
    unsigned coutlen = 0, soutlen = 0;
    int cr, sr, ret = -1;

    if (sasl_client_new(service, host, NULL, NULL, NULL, 0, &cc) != SASL_OK ||
        sasl_server_new(service, server_fqdn, NULL, "127.0.0.1;25", "127.0.0.1;40000", NULL, 0,
                        &sc) != SASL_OK)
        goto out;
    memset(&sp, 0, sizeof(sp));
    sp.max_ssf = client_max_ssf;
    sp.maxbufsize = maxbuf;
    sasl_setprop(cc, SASL_SEC_PROPS, &sp);
    sp.min_ssf = min_ssf;
    sp.max_ssf = max_ssf;
    sasl_setprop(sc, SASL_SEC_PROPS, &sp);
    cr = sasl_client_start(cc, mech, NULL, &cout, &coutlen, &chosen);
    if (cr != SASL_OK && cr != SASL_CONTINUE) {
        fprintf(stderr, "client start: %s\n", sasl_errdetail(cc));
        goto out;
    }
    sr = sasl_server_start(sc, chosen, cout, coutlen, &sout, &soutlen);
    while (sr == SASL_CONTINUE) {
        cr = sasl_client_step(cc, sout, soutlen, NULL, &cout, &coutlen);
        if (cr != SASL_OK && cr != SASL_CONTINUE)
            goto out;
        sr = sasl_server_step(sc, cout, coutlen, &sout, &soutlen);
    }
    if (sr != SASL_OK) {
        fprintf(stderr, "server: %s\n", sasl_errdetail(sc));
        goto out;
    }
    if (do_data) {
        const char *msg = "threaded hello", *enc, *dec;
        unsigned enclen, declen;
        if (sasl_encode(cc, msg, (unsigned)strlen(msg), &enc, &enclen) != SASL_OK ||
            sasl_decode(sc, enc, enclen, &dec, &declen) != SASL_OK || declen != strlen(msg) ||
            memcmp(dec, msg, declen) != 0)
            goto out;
    }
    ret = 0;
out:
    sasl_dispose(&cc);
    sasl_dispose(&sc);
    return ret;
}

static void *
thread_main(void *arg)
{
    time_t end = time(NULL) + seconds;
    (void)arg;
    for (int i = 0; seconds > 0 ? time(NULL) < end : i < count; i++) {
        int r = inproc_login();
        pthread_mutex_lock(&count_lock);
        if (r == 0)
            n_ok++;
        else
            n_fail++;
        pthread_mutex_unlock(&count_lock);
    }
    return NULL;
}

static int
threads_main(sasl_callback_t *scbs)
{
    static sasl_callback_t ccbs[] = {
        { SASL_CB_USER, CB(cb_user), NULL },
        { SASL_CB_AUTHNAME, CB(cb_user), NULL },
        { SASL_CB_LIST_END, NULL, NULL },
    };
    pthread_t *tids = calloc((size_t)threads, sizeof(pthread_t));

    if (tids == NULL)
        return 1;
    sasl_set_mutex(mutex_alloc, mutex_lock, mutex_unlock, mutex_free);
    if (sasl_server_init(scbs, "mailsso-test") != SASL_OK || sasl_client_init(ccbs) != SASL_OK) {
        fprintf(stderr, "sasl init failed\n");
        free(tids);
        return 1;
    }
    for (int i = 0; i < threads; i++)
        pthread_create(&tids[i], NULL, thread_main, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    printf("THREADS ok=%d fail=%d\n", n_ok, n_fail);
    sasl_server_done();
    sasl_client_done();
    return n_fail ? 2 : 0;
}

/* A digest of the whole environment: the plugin must never change it. */
extern char **environ;
static unsigned long
env_digest(void)
{
    unsigned long h = 5381;
    for (char **e = environ; e != NULL && *e != NULL; e++)
        for (const char *p = *e; *p; p++)
            h = h * 33 + (unsigned char)*p;
    return h;
}

static void
usage(void)
{
    fprintf(stderr, "usage: plugin_sasl_driver --plugin-dir DIR [--service S] [--host H] "
                    "[--mech M] [--authzid A] [--opt K=V]... [--min-ssf N] [--max-ssf N] "
                    "[--client-max-ssf N] [--maxbuf N] [--count N] [--data] [--replay] "
                    "[--client-time-offset S] [--allow-proxy A=B] [--log FILE]\n");
    exit(1);
}

int
main(int argc, char **argv)
{
    int sv[2];
    pid_t pid;
    int status, worst = 0;
    char confdir[] = "/nonexistent-mailsso-sasl-conf";
    sasl_callback_t scbs[6];
    char *first = NULL;
    size_t first_len = 0;
    unsigned long env_before;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v != NULL && (i++, 1))
        if (ARG("--plugin-dir")) plugin_dir = v;
        else if (ARG("--service")) service = v;
        else if (ARG("--host")) host = v;
        else if (ARG("--server-fqdn")) server_fqdn = v;
        else if (ARG("--mech")) mech = v;
        else if (ARG("--authzid")) authzid = v;
        else if (ARG("--log")) log_path = v;
        else if (ARG("--min-ssf")) min_ssf = (unsigned)atoi(v);
        else if (ARG("--max-ssf")) max_ssf = (unsigned)atoi(v);
        else if (ARG("--client-max-ssf")) client_max_ssf = (unsigned)atoi(v);
        else if (ARG("--maxbuf")) maxbuf = (unsigned)atoi(v);
        else if (ARG("--count")) count = atoi(v);
        else if (ARG("--seconds")) seconds = atoi(v);
        else if (ARG("--threads")) threads = atoi(v);
        else if (ARG("--pause-ms")) pause_ms = atoi(v);
        else if (ARG("--client-time-offset")) client_time_offset = atol(v);
        else if (ARG("--allow-proxy")) allow_proxy = v;
        else if (ARG("--server-krb5-config")) server_krb5_config = v;
        else if (ARG("--raw-token")) raw_token_path = v;
        else if (ARG("--save-token")) save_token_path = v;
        else if (ARG("--opt")) {
            char *eq = strchr(v, '=');
            if (eq == NULL || n_opts >= MAX_OPTS)
                usage();
            *eq = '\0';
            opt_keys[n_opts] = v;
            opt_vals[n_opts++] = eq + 1;
        } else if (strcmp(a, "--data") == 0) do_data = 1;
        else if (strcmp(a, "--replay") == 0) do_replay = 1;
        else usage();
#undef ARG
    }
    if (plugin_dir == NULL)
        usage();
    if (server_fqdn == NULL)
        server_fqdn = host;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    scbs[0] = (sasl_callback_t){ SASL_CB_GETPATH, CB(cb_getpath), (void *)plugin_dir };
    scbs[1] = (sasl_callback_t){ SASL_CB_GETCONFPATH, CB(cb_getconfpath), confdir };
    scbs[2] = (sasl_callback_t){ SASL_CB_GETOPT, CB(cb_getopt), NULL };
    scbs[3] = (sasl_callback_t){ SASL_CB_LOG, CB(cb_log), NULL };
    scbs[4] = (sasl_callback_t){ SASL_CB_PROXY_POLICY, CB(cb_proxy), NULL };
    scbs[5] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
    if (threads > 0)
        return threads_main(scbs);
    if (raw_token_path != NULL) {
        int r;
        if (sasl_server_init(scbs, "mailsso-test") != SASL_OK)
            return 1;
        r = server_raw(raw_token_path);
        sasl_server_done();
        return r;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 1;
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        close(sv[0]);
        _exit(client_main(sv[1]));
    }
    close(sv[1]);
    /* the server side alone may see another krb5.conf (host crypto policy tests) */
    if (server_krb5_config != NULL)
        setenv("KRB5_CONFIG", server_krb5_config, 1);

    env_before = env_digest();
    if (sasl_server_init(scbs, "mailsso-test") != SASL_OK) {
        fprintf(stderr, "server: sasl_server_init failed\n");
        return 1;
    }
    {
        time_t end = time(NULL) + seconds;
        for (int round = 0; seconds > 0 ? time(NULL) < end : round < count; round++) {
            int r;
            send_frame(sv[0], 'R', NULL, 0);
            r = server_login(sv[0], do_replay && round == 0 ? &first : NULL, &first_len);
            if (r > worst)
                worst = r;
            if (r == 1)
                break;
            if (seconds > 0 && pause_ms > 0)
                usleep((useconds_t)pause_ms * 1000);
        }
        send_frame(sv[0], 'Q', NULL, 0);
    }
    close(sv[0]);
    waitpid(pid, &status, 0);
    if (do_replay && first != NULL && worst == 0) {
        int r = server_replay(first, first_len);
        if (r > worst)
            worst = r;
    }
    free(first);
    sasl_server_done();
    if (env_digest() != env_before) {
        printf("ENV changed by the server side (plugin)\n");
        return 4;
    }
    printf("ENV unchanged\n");
    return worst;
}
