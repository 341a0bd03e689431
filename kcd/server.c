/*
 * NAME
 *   server.c - the auth-request endpoint: libmicrohttpd on a Unix socket
 *
 * DESCRIPTION
 *   We create, bind and chmod the Unix socket ourselves (kcd.socket,
 *   socket_mode, socket_group) and hand it to libmicrohttpd with
 *   MHD_OPTION_LISTEN_SOCKET; HTTP parsing is libmicrohttpd's. A pool of
 *   kcd.threads threads serves requests; a request waiting for the KDC
 *   is suspended (not holding a pool thread) while a worker thread of the
 *   credential cache does S4U, so a slow or hung KDC never stalls cached
 *   users. Each request:
 *     - peer check: SO_PEERCRED uid must be in kcd.allowed_peers (names or
 *       numbers) -> else 403 "peer_denied";
 *     - size limits: the connection memory limit (max_request_bytes) bounds
 *       headers, a request body is refused (413);
 *     - GET /health -> 200 + JSON counters;
 *     - anything else is an authorization request: X-Client-Cert
 *       ($ssl_client_escaped_cert) and X-Kcd-Target (optional) ->
 *       200 + "Authorization: Negotiate ..." + X-Kcd-User, or 403 / 502 /
 *       503 (+ Retry-After) with X-Kcd-Reason.
 *   Signals are handled synchronously in the main thread (sigwait): SIGHUP
 *   reloads the configuration (new CRLs, new credential cache; requests in
 *   flight finish on the old one), SIGTERM/SIGINT stop.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <microhttpd.h>

#include <mailsso/util.h>
#include "kcd.h"

static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static kcd_runtime *current;
static uid_t *peer_uids;
static size_t n_peer_uids;

static kcd_runtime *
rt_get(void)
{
    kcd_runtime *rt;
    pthread_mutex_lock(&rt_lock);
    rt = current;
    rt->refs++;
    pthread_mutex_unlock(&rt_lock);
    return rt;
}

static void
rt_put(kcd_runtime *rt)
{
    int gone;
    pthread_mutex_lock(&rt_lock);
    rt->refs--;
    gone = rt != current && rt->refs == 0;
    pthread_mutex_unlock(&rt_lock);
    if (gone)
        kcd_runtime_free(rt);
}

/* ------------------------------------------------------------ peers */
static int
resolve_peers(const kcd_settings *s, uid_t **out, size_t *n_out, mailsso_error *err)
{
    uid_t *u = calloc(s->n_allowed_peers + 1, sizeof(*u));
    if (u == NULL)
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n_allowed_peers; i++) {
        const char *p = s->allowed_peers[i];
        char *end = NULL;
        long v = strtol(p, &end, 10);
        if (*p && end && *end == '\0' && v >= 0) {
            u[i] = (uid_t)v;
            continue;
        }
        struct passwd *pw = getpwnam(p);
        if (pw == NULL) {
            free(u);
            mailsso_error_set(err, MAILSSO_E_CONFIG,
                              "%s: kcd.allowed_peers: no such user '%s'", s->config_path, p);
            mailsso_error_set_fix(err, "name the user nginx's worker processes run as "
                                  "(nginx.conf 'user'), or give a numeric uid");
            return MAILSSO_E_CONFIG;
        }
        u[i] = pw->pw_uid;
    }
    *out = u;
    *n_out = s->n_allowed_peers;
    return 0;
}

static int
peer_allowed(struct MHD_Connection *conn, char *desc, size_t dsize)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int ok = 0;

    snprintf(desc, dsize, "unknown");
    if (ci == NULL || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return 0;
    snprintf(desc, dsize, "uid %u pid %ld", (unsigned)cred.uid, (long)cred.pid);
    pthread_mutex_lock(&rt_lock);
    for (size_t i = 0; i < n_peer_uids && !ok; i++)
        ok = peer_uids[i] == cred.uid;
    pthread_mutex_unlock(&rt_lock);
    return ok;
}

/* ------------------------------------------------------------ responses */
static enum MHD_Result
send_simple(struct MHD_Connection *conn, unsigned status, const char *body, const char *ctype,
            const kcd_result *r, long long retry_after)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char num[32];

    resp = MHD_create_response_from_buffer(body ? strlen(body) : 0, (void *)(body ? body : ""),
                                           MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (r != NULL) {
        if (r->status == KCD_OK && r->header != NULL) {
            MHD_add_response_header(resp, "Authorization", r->header);
            MHD_add_response_header(resp, "X-Kcd-User", r->principal);
        } else if (r->cause_name != NULL) {
            MHD_add_response_header(resp, "X-Kcd-Reason", r->cause_name);
        }
        if (r->status == KCD_UNAVAILABLE && retry_after > 0) {
            snprintf(num, sizeof(num), "%lld", retry_after);
            MHD_add_response_header(resp, "Retry-After", num);
            MHD_add_response_header(resp, "X-Kcd-Retry-After", num);
        }
    }
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * A request whose user is not cached waits for the KDC without holding a
 * pool thread: the connection is suspended (MHD_suspend_connection) and
 * resumed from the cache's worker or timer thread (wake()), after which
 * libmicrohttpd calls the handler again and it collects the outcome.
 * wake() may run before the handler got to suspend: suspend_lock orders
 * the two (a per-request mutex would not do: the request may be freed right
 * after the resume).
 */
typedef struct req_state {
    int started;
    int body;
    struct MHD_Connection *conn;
    kcd_runtime *rt;                     /* held while a request waits */
    kcd_request *q;
    kcd_result r;
    int suspended;
    int woken;
} req_state;

static pthread_mutex_t suspend_lock = PTHREAD_MUTEX_INITIALIZER;

static void
wake(void *arg)
{
    req_state *st = arg;
    pthread_mutex_lock(&suspend_lock);
    if (st->suspended) {
        st->suspended = 0;
        MHD_resume_connection(st->conn);
    } else {
        st->woken = 1;
    }
    pthread_mutex_unlock(&suspend_lock);
}

/* After kcd_authorize_start/resume said "waiting": 1 suspended (return to
 * libmicrohttpd), 0 already woken (collect now). */
static int
suspend_or_go_on(req_state *st)
{
    int suspended = 0;
    pthread_mutex_lock(&suspend_lock);
    if (!st->woken) {
        MHD_suspend_connection(st->conn);
        st->suspended = 1;
        suspended = 1;
    }
    st->woken = 0;
    pthread_mutex_unlock(&suspend_lock);
    return suspended;
}

static void
request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    req_state *st = *con_cls;
    if (st != NULL) {
        kcd_request_free(st->q);
        kcd_result_clear(&st->r);
        if (st->rt != NULL)
            rt_put(st->rt);
        free(st);
    }
    *con_cls = NULL;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    req_state *st = *con_cls;
    char peer[64];
    kcd_runtime *rt;
    kcd_result r;
    enum MHD_Result ret;

    if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL)
            return MHD_NO;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        st->body = 1;          /* ignore (never buffer) a body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    kcd_result_init(&r);
    if (!peer_allowed(conn, peer, sizeof(peer))) {
        rt = rt_get();
        kcd_count(&kcd_stats.requests);
        kcd_count_failure("peer_denied");
        mailsso_log(&rt->lg, MAILSSO_LOG_WARN,
                    "refused [403 peer_denied] connection from %s on %s: cause: peer not in "
                    "kcd.allowed_peers; fix: add nginx's worker user to allowed_peers",
                    peer, rt->s->socket_path);
        rt_put(rt);
        r.status = KCD_FORBIDDEN;
        r.cause_name = "peer_denied";
        return send_simple(conn, MHD_HTTP_FORBIDDEN, NULL, NULL, &r, 0);
    }
    if (st->body) {
        r.status = 413;
        r.cause_name = "request_body";
        return send_simple(conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL, NULL, &r, 0);
    }
    if (strcmp(url, "/health") == 0) {
        char *json = kcd_stats_json();
        ret = send_simple(conn, MHD_HTTP_OK, json ? json : "{}\n", "application/json", NULL, 0);
        free(json);
        return ret;
    }
    if (st->q == NULL) {
        const char *cert = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Client-Cert");
        const char *target = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Kcd-Target");
        const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Kcd-Host");
        rt = rt_get();
        st->conn = conn;
        if (kcd_authorize_start(rt, cert ? cert : "", cert ? strlen(cert) : 0, target, host,
                                peer, wake, st, &st->q, &st->r) == 1) {
            st->rt = rt;
            if (suspend_or_go_on(st))
                return MHD_YES;
        } else {
            ret = send_simple(conn, (unsigned)st->r.status, NULL, NULL, &st->r,
                              rt->s->retry_after);
            rt_put(rt);
            kcd_result_clear(&st->r);
            return ret;
        }
    }
    /* Resumed (or woken before suspending): collect; maybe wait again. */
    while (kcd_authorize_resume(st->q, wake, st, &st->r) == 1)
        if (suspend_or_go_on(st))
            return MHD_YES;
    kcd_request_free(st->q);
    st->q = NULL;
    ret = send_simple(conn, (unsigned)st->r.status, NULL, NULL, &st->r, st->rt->s->retry_after);
    rt_put(st->rt);
    st->rt = NULL;
    kcd_result_clear(&st->r);
    return ret;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    kcd_runtime *rt;
    vsnprintf(line, sizeof(line), fmt, ap);
    for (char *p = line; *p; p++)
        if (*p == '\n')
            *p = ' ';
    rt = rt_get();
    mailsso_log(&rt->lg, MAILSSO_LOG_NOTICE, "libmicrohttpd: %s", line);
    rt_put(rt);
}

/* ------------------------------------------------------------ socket */
static int
make_socket(const kcd_settings *s, mailsso_error *err)
{
    struct sockaddr_un sa;
    struct stat sb;
    int fd = -1;

    if (s->socket_path[0] == '\0' || strlen(s->socket_path) >= sizeof(sa.sun_path)) {
        mailsso_error_set(err, MAILSSO_E_CONFIG, "%s: kcd.socket '%s' is empty or longer than "
                          "%zu bytes", s->config_path, s->socket_path, sizeof(sa.sun_path) - 1);
        return -1;
    }
    if (lstat(s->socket_path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) {
            mailsso_error_set(err, MAILSSO_E_CONFIG, "%s exists and is not a socket: refusing "
                              "to replace it", s->socket_path);
            return -1;
        }
        unlink(s->socket_path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto syserr;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    mailsso_strlcpy(sa.sun_path, s->socket_path, sizeof(sa.sun_path));
    mode_t old = umask(0177);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        umask(old);
        goto syserr;
    }
    umask(old);
    if (s->socket_group[0] != '\0') {
        struct group *gr = getgrnam(s->socket_group);
        if (gr == NULL) {
            mailsso_error_set(err, MAILSSO_E_CONFIG, "%s: kcd.socket_group: no such group '%s'",
                              s->config_path, s->socket_group);
            close(fd);
            return -1;
        }
        if (chown(s->socket_path, (uid_t)-1, gr->gr_gid) != 0)
            goto syserr;
    }
    if (chmod(s->socket_path, (mode_t)s->socket_mode) != 0)
        goto syserr;
    if (listen(fd, 128) != 0)
        goto syserr;
    return fd;
syserr:
    mailsso_error_set(err, MAILSSO_E_IO, "socket %s: %s", s->socket_path, strerror(errno));
    mailsso_error_set_fix(err, "check that the directory exists and is writable by the helper");
    if (fd >= 0)
        close(fd);
    return -1;
}

static int
drop_privileges(const kcd_settings *s, int sock_owned, mailsso_error *err)
{
    struct passwd *pw;
    if (geteuid() != 0)
        return 0;
    if (s->user[0] == '\0') {
        /* The helper holds a key that can impersonate every user: staying root
         * must be a decision written in the config, never a forgotten setting. */
        mailsso_error_set(err, MAILSSO_E_CONFIG,
                          "%s: kcd.user is empty and the helper was started as root: refusing "
                          "to serve requests as root", s->config_path);
        mailsso_error_set_fix(err, "set user = \"mailsso-kcd\"; (any unprivileged account; "
                              "the keytab is read before the switch), or user = \"root\"; "
                              "to run as root deliberately");
        return MAILSSO_E_CONFIG;
    }
    if (strcmp(s->user, "root") == 0 || strcmp(s->user, "0") == 0)
        return 0;
    pw = getpwnam(s->user);
    if (pw == NULL)
        return mailsso_error_set(err, MAILSSO_E_CONFIG, "%s: kcd.user: no such user '%s'",
                                 s->config_path, s->user);
    if (sock_owned && chown(s->socket_path, pw->pw_uid, (uid_t)-1) != 0)
        return mailsso_error_set(err, MAILSSO_E_IO, "chown %s: %s", s->socket_path,
                                 strerror(errno));
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0)
        return mailsso_error_set(err, MAILSSO_E_IO, "cannot become user %s: %s", s->user,
                                 strerror(errno));
    if (setuid(0) == 0)
        return mailsso_error_set(err, MAILSSO_E_IO, "could regain root after dropping to %s",
                                 s->user);
    return 0;
}

static void
set_threshold(mailsso_logger *lg, const kcd_settings *s)
{
    mailsso_log_level lvl;
    if (s->log_level[0] && mailsso_log_level_from_name(s->log_level, &lvl) == 0)
        lg->threshold = lvl;
}

/* ------------------------------------------------------------ serve */
int
kcd_serve(const char *config_path, int foreground, const mailsso_logger *lg_in)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_logger lg = *lg_in;
    kcd_settings *s = NULL;
    kcd_runtime *rt = NULL;
    struct MHD_Daemon *d = NULL;
    sigset_t set;
    int fd = -1, sig, rc = 1;
    const char *const *urls;
    size_t n_urls;

    if (kcd_settings_load(config_path, &s, &err) != 0)
        goto fail;
    set_threshold(&lg, s);
    if (!foreground) {
        if (daemon(0, 0) != 0) {
            mailsso_error_set(&err, MAILSSO_E_IO, "daemon(): %s", strerror(errno));
            goto fail;
        }
        openlog(KCD_PROG, LOG_PID, LOG_DAEMON);
        lg = mailsso_logger_syslog(KCD_PROG, lg.threshold);
    }
    if (resolve_peers(s, &peer_uids, &n_peer_uids, &err) != 0)
        goto fail;
    if (kcd_runtime_new(s, &lg, 0, &rt, &err) != 0)
        goto fail;
    s = NULL;
    n_urls = kcd_certcheck_crl_urls(rt->cc, &urls);
    if (n_urls > 0) {
        int bad = kcd_crl_prefetch(rt->crls, urls, n_urls);
        if (bad > 0 && rt->s->crl_required_at_start) {
            mailsso_error_set(&err, MAILSSO_E_TLS,
                              "%d of %zu CRLs could not be fetched at start-up and "
                              "kcd.crl_required_at_start is true", bad, n_urls);
            mailsso_error_set_fix(&err, "make the CRL distribution points reachable, or set "
                                  "crl_required_at_start = false");
            goto fail;
        }
    }
    fd = make_socket(rt->s, &err);
    if (fd < 0)
        goto fail;
    if (drop_privileges(rt->s, 1, &err) != 0)
        goto fail;
    current = rt;

    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                         MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
                         handler, NULL,
                         MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                         MHD_OPTION_LISTEN_SOCKET, fd,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned)rt->s->threads,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)rt->s->max_request_bytes,
                         MHD_OPTION_CONNECTION_LIMIT, 1024u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                         MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
                         MHD_OPTION_END);
    if (d == NULL) {
        mailsso_error_set(&err, MAILSSO_E_IO, "libmicrohttpd could not start on %s",
                          rt->s->socket_path);
        goto fail;
    }
    fd = -1;   /* MHD owns it now */
    mailsso_log(&lg, MAILSSO_LOG_NOTICE, "listening on %s (%lld threads, gateway %s, pid %ld)",
                current->s->socket_path, current->s->threads,
                current->gw ? kcd_gateway_name(current->gw) : "(not yet)", (long)getpid());

    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGPIPE)
            continue;
        if (sig == SIGHUP) {
            kcd_settings *ns = NULL;
            kcd_runtime *nrt = NULL, *old;
            uid_t *nu = NULL;
            size_t nn = 0;
            mailsso_error e2 = MAILSSO_ERROR_INIT;
            const char *path = current->s->config_path;
            char pathbuf[1024];
            mailsso_strlcpy(pathbuf, path ? path : "", sizeof(pathbuf));
            if (kcd_settings_load(pathbuf[0] ? pathbuf : NULL, &ns, &e2) != 0 ||
                resolve_peers(ns, &nu, &nn, &e2) != 0 ||
                kcd_runtime_new(ns, &lg, 0, &nrt, &e2) != 0) {
                if (nrt == NULL)
                    kcd_settings_free(ns);
                free(nu);
                mailsso_log(&lg, MAILSSO_LOG_ERR, "reload failed, keeping the old "
                            "configuration: %s%s%s%s", e2.message, e2.fix[0] ? " (fix: " : "",
                            e2.fix, e2.fix[0] ? ")" : "");
                continue;
            }
            if (strcmp(nrt->s->socket_path, current->s->socket_path) != 0)
                mailsso_log(&lg, MAILSSO_LOG_WARN, "kcd.socket changed: restart to move the "
                            "socket; still listening on %s", current->s->socket_path);
            n_urls = kcd_certcheck_crl_urls(nrt->cc, &urls);
            kcd_crl_prefetch(nrt->crls, urls, n_urls);
            pthread_mutex_lock(&rt_lock);
            old = current;
            current = nrt;
            free(peer_uids);
            peer_uids = nu;
            n_peer_uids = nn;
            int gone = old->refs == 0;
            pthread_mutex_unlock(&rt_lock);
            if (gone)
                kcd_runtime_free(old);
            mailsso_log(&lg, MAILSSO_LOG_NOTICE, "configuration reloaded from %s",
                        nrt->s->config_path);
            continue;
        }
        mailsso_log(&lg, MAILSSO_LOG_NOTICE, "signal %d: stopping", sig);
        break;
    }
    /* Suspended requests must be resumed before libmicrohttpd stops: they
     * are answered 503 kdc_timeout. */
    fd = MHD_quiesce_daemon(d);
    kcd_runtime_wake_all(current);
    MHD_stop_daemon(d);
    if (fd >= 0)
        close(fd);
    unlink(current->s->socket_path);
    kcd_runtime_free(current);
    current = NULL;
    free(peer_uids);
    return 0;

fail:
    mailsso_log_error(&lg, MAILSSO_LOG_ERR, &err);
    if (fd >= 0) {
        /* We bound it, so the path is ours: a stale socket would look alive to nginx. */
        close(fd);
        if (rt != NULL)
            unlink(rt->s->socket_path);
    }
    if (rt != NULL && current == NULL)
        kcd_runtime_free(rt);
    kcd_settings_free(s);
    return rc;
}
