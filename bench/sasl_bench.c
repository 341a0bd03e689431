/*
 * NAME
 *   sasl_bench - server-side GSSAPI login throughput and cost: a SASL plugin
 *   (ours or the stock Cyrus libgssapiv2.so) versus the bare GSS-API floor
 *
 * SYNOPSIS
 *   sasl_bench sasl  --plugin-dir DIR [--opt KEY=VALUE]... [COMMON]
 *   sasl_bench floor --keytab FILE [COMMON]
 *   COMMON: [--service imap] [--host mail.example.test] [-n LOGINS]
 *           [-w WARMUP] [-c CONCURRENCY]
 *
 * DESCRIPTION
 *   Every login needs a fresh AP-REQ, so each server worker execs its own
 *   client process ("sasl_bench client", internal) which, before timing
 *   starts, calls gss_init_sec_context W+N times with the cached service
 *   ticket in $KRB5CCNAME (mutual, sequence, integrity and confidentiality
 *   flags, like the Cyrus client) and keeps the N half-open contexts. During
 *   the run the client only answers: it processes the AP-REP, unwraps the
 *   server's security-layer offer and wraps its choice (no layer, as
 *   Thunderbird and every client behind TLS choose). The client runs outside
 *   valgrind (exec, no --trace-children), so callgrind counts the server.
 *
 *   sasl   one login = sasl_server_new + sasl_server_start + sasl_server_step
 *          until SASL_OK + sasl_dispose, through libsasl2 with SASL_CB_GETPATH
 *          naming DIR (which holds only the plugin under test). The same
 *          binary therefore measures any plugin.
 *   floor  one login = gss_accept_sec_context with a credential acquired
 *          once (keytab credential store), gss_display_name of the client,
 *          gss_wrap of the 4-byte RFC 4752 offer, gss_unwrap of the reply,
 *          gss_delete_sec_context: what any GSSAPI login must do.
 *   The replay cache is whatever krb5 uses by default (KRB5RCACHEDIR): on.
 *
 *   W warm-up logins (plugin load, credential acquisition, first rcache
 *   write) run before the clock starts. With -c C > 1, C workers (each with
 *   its own client) start together and the rate is C*N / wall time.
 *   The measured logins run inside the function measured_logins(), so
 *   valgrind --tool=callgrind --toggle-collect=measured_logins counts only
 *   them (use -c 1).
 *
 *   Output (stdout): "logins=N concurrency=C seconds=S rate=R" where R is
 *   logins per second. Exit 0 iff every login succeeded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>
#include <sasl/sasl.h>

#define MAX_OPTS 32
#define CB(f) ((int (*)(void))(void (*)(void))(f))

static const char *mode;
static const char *plugin_dir;
static const char *keytab;
static const char *service = "imap";
static const char *host = "mail.example.test";
static const char *opt_keys[MAX_OPTS], *opt_vals[MAX_OPTS];
static int n_opts;
static long n_logins = 1000, n_warmup = 5;
static int concurrency = 1;
static char self_path[4096];

static gss_OID_desc krb5_oid = { 9, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02" };

/* ------------------------------------------------------------ framing */
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

/* Frames are at most 64 KiB here; buf must hold that. */
static int
recv_frame(int fd, char *type, unsigned char *buf, size_t *len)
{
    unsigned char h[5];
    if (read_all(fd, h, 5) != 0)
        return -1;
    *type = (char)h[0];
    *len = ((size_t)h[1] << 24) | ((size_t)h[2] << 16) | ((size_t)h[3] << 8) | h[4];
    if (*len > 65536)
        return -1;
    return *len ? read_all(fd, buf, *len) : 0;
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
gss_fail(const char *what, OM_uint32 major, OM_uint32 minor)
{
    OM_uint32 m, ctx = 0;
    gss_buffer_desc b;
    fprintf(stderr, "sasl_bench: %s failed:", what);
    do {
        if (GSS_ERROR(gss_display_status(&m, major, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &b)))
            break;
        fprintf(stderr, " %.*s;", (int)b.length, (char *)b.value);
        gss_release_buffer(&m, &b);
    } while (ctx != 0);
    ctx = 0;
    do {
        if (GSS_ERROR(gss_display_status(&m, minor, GSS_C_MECH_CODE, &krb5_oid, &ctx, &b)))
            break;
        fprintf(stderr, " %.*s;", (int)b.length, (char *)b.value);
        gss_release_buffer(&m, &b);
    } while (ctx != 0);
    fprintf(stderr, "\n");
}

/* ------------------------------------------------------------ client */
static int
client_main(int fd, long total)
{
    gss_ctx_id_t *ctx = calloc((size_t)total, sizeof(*ctx));
    gss_buffer_desc *tok = calloc((size_t)total, sizeof(*tok));
    gss_buffer_desc nb;
    gss_name_t target = GSS_C_NO_NAME;
    OM_uint32 major, minor;
    char name[512];
    unsigned char buf[65536];
    long i = 0;

    if (ctx == NULL || tok == NULL)
        return 1;
    snprintf(name, sizeof(name), "%s@%s", service, host);
    nb.value = name;
    nb.length = strlen(name);
    major = gss_import_name(&minor, &nb, GSS_C_NT_HOSTBASED_SERVICE, &target);
    if (GSS_ERROR(major)) {
        gss_fail("client gss_import_name", major, minor);
        return 1;
    }
    for (long k = 0; k < total; k++) {
        ctx[k] = GSS_C_NO_CONTEXT;
        major = gss_init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &ctx[k], target, &krb5_oid,
                                     GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_INTEG_FLAG |
                                         GSS_C_CONF_FLAG,
                                     0, GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL,
                                     &tok[k], NULL, NULL);
        if (major != GSS_S_CONTINUE_NEEDED) {
            gss_fail("client gss_init_sec_context (is a service ticket cached?)", major, minor);
            return 1;
        }
    }
    send_frame(fd, 'R', NULL, 0);
    for (;;) {
        char type;
        size_t len;
        if (recv_frame(fd, &type, buf, &len) != 0)
            return 1;
        if (type == 'Q')
            break;
        if (i >= total)
            return 1;
        if (type == 'N') {                 /* next login: the AP-REQ */
            send_frame(fd, 'C', tok[i].value, tok[i].length);
            gss_release_buffer(&minor, &tok[i]);
        } else if (type == 'S') {          /* a server challenge */
            gss_buffer_desc in = { len, buf }, out = GSS_C_EMPTY_BUFFER;
            int open = 0;
            gss_inquire_context(&minor, ctx[i], NULL, NULL, NULL, NULL, NULL, NULL, &open);
            if (!open) {
                major = gss_init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &ctx[i], target,
                                             &krb5_oid, GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG |
                                                 GSS_C_INTEG_FLAG | GSS_C_CONF_FLAG,
                                             0, GSS_C_NO_CHANNEL_BINDINGS, &in, NULL, &out, NULL,
                                             NULL);
                if (major != GSS_S_COMPLETE) {
                    gss_fail("client: processing the AP-REP", major, minor);
                    return 1;
                }
                send_frame(fd, 'C', out.value, out.length);
                gss_release_buffer(&minor, &out);
            } else {
                gss_buffer_desc plain = GSS_C_EMPTY_BUFFER, wrapped = GSS_C_EMPTY_BUFFER;
                unsigned char reply[4] = { 1, 0, 0, 0 };   /* no layer, maxbuf 0 */
                gss_buffer_desc rb = { 4, reply };
                major = gss_unwrap(&minor, ctx[i], &in, &plain, NULL, NULL);
                if (GSS_ERROR(major) || plain.length != 4 || !(((unsigned char *)plain.value)[0] & 1)) {
                    gss_fail("client: unwrapping the security layer offer", major, minor);
                    return 1;
                }
                gss_release_buffer(&minor, &plain);
                major = gss_wrap(&minor, ctx[i], 0, GSS_C_QOP_DEFAULT, &rb, NULL, &wrapped);
                if (GSS_ERROR(major)) {
                    gss_fail("client gss_wrap", major, minor);
                    return 1;
                }
                send_frame(fd, 'C', wrapped.value, wrapped.length);
                gss_release_buffer(&minor, &wrapped);
            }
        } else if (type == 'D') {          /* login over */
            gss_delete_sec_context(&minor, &ctx[i], GSS_C_NO_BUFFER);
            i++;
        }
    }
    gss_release_name(&minor, &target);
    free(ctx);
    free(tok);
    return 0;
}

/* Starts the client process (exec: it runs outside valgrind); returns our fd. */
static int
spawn_client(long total, pid_t *pid_out)
{
    int sv[2];
    pid_t pid;
    char fdtxt[16], ntxt[32];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(sv[0]);
        snprintf(fdtxt, sizeof(fdtxt), "%d", sv[1]);
        snprintf(ntxt, sizeof(ntxt), "%ld", total);
        execl(self_path, self_path, "client", fdtxt, ntxt, service, host, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    *pid_out = pid;
    return sv[0];
}

/* ------------------------------------------------------------ SASL server */
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

static unsigned long log_lines;
static int
cb_log(void *ctx, int level, const char *message)
{
    (void)ctx;
    log_lines++;
    if (level <= SASL_LOG_ERR)
        fprintf(stderr, "sasl_bench: server log: %s\n", message);
    return SASL_OK;
}

static int
sasl_login(int fd)
{
    sasl_conn_t *conn = NULL;
    sasl_security_properties_t sp;
    static unsigned char buf[65536];
    const char *out = NULL;
    unsigned outlen = 0;
    size_t len;
    char type;
    int r;

    if (sasl_server_new(service, host, NULL, "127.0.0.1;143", "127.0.0.1;40000", NULL, 0,
                        &conn) != SASL_OK)
        return -1;
    memset(&sp, 0, sizeof(sp));
    sp.min_ssf = 0;
    sp.max_ssf = 256;
    sp.maxbufsize = 65536;
    sasl_setprop(conn, SASL_SEC_PROPS, &sp);
    if (send_frame(fd, 'N', NULL, 0) != 0 || recv_frame(fd, &type, buf, &len) != 0)
        goto fail;
    r = sasl_server_start(conn, "GSSAPI", (const char *)buf, (unsigned)len, &out, &outlen);
    while (r == SASL_CONTINUE) {
        if (send_frame(fd, 'S', out, outlen) != 0 || recv_frame(fd, &type, buf, &len) != 0)
            goto fail;
        r = sasl_server_step(conn, (const char *)buf, (unsigned)len, &out, &outlen);
    }
    if (r != SASL_OK) {
        fprintf(stderr, "sasl_bench: login failed: %s\n", sasl_errdetail(conn));
        goto fail;
    }
    send_frame(fd, 'D', NULL, 0);
    sasl_dispose(&conn);
    return 0;
fail:
    sasl_dispose(&conn);
    return -1;
}

/* ------------------------------------------------------------ floor */
static gss_cred_id_t floor_cred = GSS_C_NO_CREDENTIAL;
/* SASL_BENCH_FLOOR_TARGET=1: also inquire, display and release the ticket's
 * target name (an experiment to price the plugin's accept_names check);
 * SASL_BENCH_FLOOR_DELETE_FIRST=1: delete the context before releasing the
 * client name (the plugin's dispose order);
 * SASL_BENCH_HOLD_KRB5=1: keep one krb5_context open for the process's life
 * (MIT then keeps krb5.conf parsed between the contexts GSS creates inside). */
static int floor_target_check, floor_delete_first;

static int
floor_init(void)
{
    gss_key_value_element_desc el = { "keytab", keytab };
    gss_key_value_set_desc store = { 1, &el };
    gss_OID_set_desc mechs = { 1, &krb5_oid };
    OM_uint32 major, minor;

    major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT,
                                  &store, &floor_cred, NULL, NULL);
    if (GSS_ERROR(major)) {
        gss_fail("gss_acquire_cred_from", major, minor);
        return -1;
    }
    return 0;
}

static int
floor_login(int fd)
{
    static unsigned char buf[65536];
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_name_t client = GSS_C_NO_NAME;
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER, dn = GSS_C_EMPTY_BUFFER;
    gss_buffer_desc plain = GSS_C_EMPTY_BUFFER;
    unsigned char offer[4] = { 7, 0, 0x10, 0 };
    OM_uint32 major, minor;
    size_t len;
    char type;
    int ret = -1;

    if (send_frame(fd, 'N', NULL, 0) != 0 || recv_frame(fd, &type, buf, &len) != 0)
        return -1;
    in.value = buf;
    in.length = len;
    major = gss_accept_sec_context(&minor, &ctx, floor_cred, &in, GSS_C_NO_CHANNEL_BINDINGS,
                                   &client, NULL, &out, NULL, NULL, NULL);
    if (major != GSS_S_COMPLETE) {
        gss_fail("gss_accept_sec_context", major, minor);
        goto cleanup;
    }
    major = gss_display_name(&minor, client, &dn, NULL);
    if (GSS_ERROR(major))
        goto cleanup;
    if (floor_target_check) {              /* experiment: what the plugin's accept_names check costs */
        gss_name_t target = GSS_C_NO_NAME;
        gss_buffer_desc tn = GSS_C_EMPTY_BUFFER;
        major = gss_inquire_context(&minor, ctx, NULL, &target, NULL, NULL, NULL, NULL, NULL);
        if (!GSS_ERROR(major) && target != GSS_C_NO_NAME) {
            gss_display_name(&minor, target, &tn, NULL);
            gss_release_buffer(&minor, &tn);
            gss_release_name(&minor, &target);
        }
    }
    if (out.length > 0) {                     /* AP-REP, then an empty reply */
        if (send_frame(fd, 'S', out.value, out.length) != 0 ||
            recv_frame(fd, &type, buf, &len) != 0 || len != 0)
            goto cleanup;
    }
    gss_release_buffer(&minor, &out);
    in.value = offer;
    in.length = 4;
    major = gss_wrap(&minor, ctx, 0, GSS_C_QOP_DEFAULT, &in, NULL, &out);
    if (GSS_ERROR(major))
        goto cleanup;
    if (send_frame(fd, 'S', out.value, out.length) != 0 || recv_frame(fd, &type, buf, &len) != 0)
        goto cleanup;
    in.value = buf;
    in.length = len;
    major = gss_unwrap(&minor, ctx, &in, &plain, NULL, NULL);
    if (GSS_ERROR(major) || plain.length < 4) {
        gss_fail("gss_unwrap", major, minor);
        goto cleanup;
    }
    send_frame(fd, 'D', NULL, 0);
    ret = 0;
cleanup:
    gss_release_buffer(&minor, &plain);
    gss_release_buffer(&minor, &out);
    gss_release_buffer(&minor, &dn);
    if (floor_delete_first && ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&minor, &ctx, GSS_C_NO_BUFFER);
    if (client != GSS_C_NO_NAME)
        gss_release_name(&minor, &client);
    if (ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&minor, &ctx, GSS_C_NO_BUFFER);
    return ret;
}

/* ------------------------------------------------------------ workers */
static int
one_login(int fd)
{
    return strcmp(mode, "floor") == 0 ? floor_login(fd) : sasl_login(fd);
}

__attribute__((noinline)) long
measured_logins(int fd, long n)
{
    long ok = 0;
    for (long i = 0; i < n; i++) {
        if (one_login(fd) != 0)
            break;
        ok++;
    }
    return ok;
}

static krb5_context held_krb5;

static int
server_init(void)
{
    if (getenv("SASL_BENCH_HOLD_KRB5") != NULL && krb5_init_context(&held_krb5) != 0)
        return -1;
    static char confdir[] = "/nonexistent-sasl-bench-conf";
    static sasl_callback_t cbs[5];

    if (strcmp(mode, "floor") == 0) {
        floor_target_check = getenv("SASL_BENCH_FLOOR_TARGET") != NULL;
        floor_delete_first = getenv("SASL_BENCH_FLOOR_DELETE_FIRST") != NULL;
        return floor_init();
    }
    cbs[0] = (sasl_callback_t){ SASL_CB_GETPATH, CB(cb_getpath), (void *)plugin_dir };
    cbs[1] = (sasl_callback_t){ SASL_CB_GETCONFPATH, CB(cb_getconfpath), confdir };
    cbs[2] = (sasl_callback_t){ SASL_CB_GETOPT, CB(cb_getopt), NULL };
    cbs[3] = (sasl_callback_t){ SASL_CB_LOG, CB(cb_log), NULL };
    cbs[4] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
    if (sasl_server_init(cbs, "sasl-bench") != SASL_OK) {
        fprintf(stderr, "sasl_bench: sasl_server_init failed\n");
        return -1;
    }
    return 0;
}

/* One worker: its client, warm-up, then (after "go" on go_fd if >= 0) n logins.
 * Writes "ok SECONDS\n" or "fail\n" to report_fd. */
static int
worker(int ready_fd, int go_fd, int report_fd)
{
    pid_t cpid;
    int fd, status;
    char c = 0, line[64];
    double t0, t1;
    long ok;

    fd = spawn_client(n_warmup + n_logins, &cpid);
    if (fd < 0) {
        perror("sasl_bench: client");
        return 1;
    }
    {
        unsigned char b[8];
        size_t len;
        char type;
        if (recv_frame(fd, &type, b, &len) != 0 || type != 'R') {
            fprintf(stderr, "sasl_bench: the client could not prepare its tokens\n");
            return 1;
        }
    }
    if (server_init() != 0)
        return 1;
    for (long i = 0; i < n_warmup; i++) {
        if (one_login(fd) != 0) {
            fprintf(stderr, "sasl_bench: warm-up login %ld failed\n", i + 1);
            return 1;
        }
    }
    if (ready_fd >= 0) {
        if (write(ready_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 1)
            return 1;
    }
    t0 = now();
    ok = measured_logins(fd, n_logins);
    t1 = now();
    send_frame(fd, 'Q', NULL, 0);
    close(fd);
    waitpid(cpid, &status, 0);
    if (ok != n_logins) {
        fprintf(stderr, "sasl_bench: only %ld of %ld logins succeeded\n", ok, n_logins);
        snprintf(line, sizeof(line), "fail\n");
    } else {
        snprintf(line, sizeof(line), "ok %.6f\n", t1 - t0);
    }
    if (report_fd >= 0 && write(report_fd, line, strlen(line)) < 0)
        return 1;
    if (report_fd < 0 && ok == n_logins)
        printf("logins=%ld concurrency=1 seconds=%.4f rate=%.1f\n", n_logins, t1 - t0,
               (double)n_logins / (t1 - t0));
    if (strcmp(mode, "floor") != 0)
        sasl_server_done();
    return ok == n_logins ? 0 : 1;
}

static void
usage(void)
{
    fprintf(stderr, "usage: sasl_bench sasl --plugin-dir DIR [--opt K=V]... [COMMON]\n"
                    "       sasl_bench floor --keytab FILE [COMMON]\n"
                    "COMMON: [--service S] [--host H] [-n LOGINS] [-w WARMUP] [-c CONC]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    ssize_t n;

    signal(SIGPIPE, SIG_IGN);
    n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
    if (n <= 0)
        return 1;
    self_path[n] = '\0';
    if (argc < 2)
        usage();
    mode = argv[1];
    if (strcmp(mode, "client") == 0) {
        if (argc != 6)
            usage();
        service = argv[4];
        host = argv[5];
        return client_main(atoi(argv[2]), atol(argv[3]));
    }
    if (strcmp(mode, "sasl") != 0 && strcmp(mode, "floor") != 0)
        usage();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v != NULL && (i++, 1))
        if (ARG("--plugin-dir")) plugin_dir = v;
        else if (ARG("--keytab")) keytab = v;
        else if (ARG("--service")) service = v;
        else if (ARG("--host")) host = v;
        else if (ARG("-n")) n_logins = atol(v);
        else if (ARG("-w")) n_warmup = atol(v);
        else if (ARG("-c")) concurrency = atoi(v);
        else if (ARG("--opt")) {
            char *eq = strchr(v, '=');
            if (eq == NULL || n_opts >= MAX_OPTS)
                usage();
            *eq = '\0';
            opt_keys[n_opts] = v;
            opt_vals[n_opts++] = eq + 1;
        } else usage();
#undef ARG
    }
    if ((strcmp(mode, "sasl") == 0 && plugin_dir == NULL) ||
        (strcmp(mode, "floor") == 0 && keytab == NULL) || n_logins < 1 || concurrency < 1)
        usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (concurrency == 1)
        return worker(-1, -1, -1);

    {
        int ready[2], go[2], rep[2];
        pid_t pids[64];
        double t0, t1, slowest = 0;
        int bad = 0;
        FILE *rf;
        char line[64];

        if (concurrency > 64 || pipe(ready) != 0 || pipe(go) != 0 || pipe(rep) != 0)
            return 1;
        for (int k = 0; k < concurrency; k++) {
            pids[k] = fork();
            if (pids[k] == 0) {
                close(ready[0]);
                close(go[1]);
                close(rep[0]);
                _exit(worker(ready[1], go[0], rep[1]));
            }
        }
        close(ready[1]);
        close(go[0]);
        close(rep[1]);
        for (int k = 0; k < concurrency; k++) {
            char c;
            if (read(ready[0], &c, 1) != 1) {
                fprintf(stderr, "sasl_bench: a worker failed before the start\n");
                for (int j = 0; j < concurrency; j++)
                    kill(pids[j], SIGTERM);
                return 1;
            }
        }
        t0 = now();
        for (int k = 0; k < concurrency; k++)
            if (write(go[1], "g", 1) != 1)
                return 1;
        rf = fdopen(rep[0], "r");
        for (int k = 0; k < concurrency; k++) {
            double s;
            if (fgets(line, sizeof(line), rf) == NULL || sscanf(line, "ok %lf", &s) != 1)
                bad = 1;
            else if (s > slowest)
                slowest = s;
        }
        t1 = now();
        for (int k = 0; k < concurrency; k++) {
            int st;
            waitpid(pids[k], &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                bad = 1;
        }
        if (bad)
            return 1;
        printf("logins=%ld concurrency=%d seconds=%.4f rate=%.1f\n", n_logins * concurrency,
               concurrency, t1 - t0, (double)(n_logins * concurrency) / (t1 - t0));
    }
    return 0;
}
