/*
 * fuzz_plugin_step.c - libFuzzer harness for the SASL plugin's server steps,
 * driven through the real mechanism code by libsasl2's public API
 *
 * At start-up: a private directory with a krb5.conf (default_realm
 * EXAMPLE.TEST, a KDC address nothing listens on), a replay-cache dir, a
 * keytab written with mailsso_keytab_write holding random keys for
 * imap/mail.example.test@EXAMPLE.TEST, a mailsso.conf naming it, and a
 * plugin directory holding only our built plugin (a symlink to
 * $MAILSSO_FUZZ_PLUGIN, else FUZZ_PLUGIN = the build tree's
 * plugin/.libs/libmailsso_gssapi.so); sasl_server_init() with
 * SASL_CB_GETPATH pointing there and SASL_CB_GETOPT giving mailsso_config.
 * No KDC is needed: a fuzzed token can never decrypt with the random key.
 *
 * Input: byte 0 = flags (bit 0: mechanism GSS-SPNEGO instead of GSSAPI;
 * bit 1: sasl_server_start without an initial response), then the client's
 * messages separated by the 8 bytes "FUZZSTEP": the first is the initial
 * token given to sasl_server_start, each next one goes to sasl_server_step
 * while the server answers SASL_CONTINUE.
 * Invariants (beyond no crash, leak or UB in the plugin, libsasl2 or krb5):
 *   - no step ever returns SASL_OK: nobody logs in without a valid ticket;
 *   - after a failure the connection has no SASL_USERNAME;
 *   - every line the plugin logs is one line without control characters.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sasl/sasl.h>

#include <mailsso/error.h>
#include <mailsso/keytab.h>

#include "fuzz_common.h"

#ifndef FUZZ_PLUGIN
#define FUZZ_PLUGIN "plugin/.libs/libmailsso_gssapi.so"
#endif

#define SEP "FUZZSTEP"
#define SEP_LEN 8
#define PRINC "imap/mail.example.test@EXAMPLE.TEST"

static char dir[256], plugdir[300], confpath[300];
static int log_lines;

static void
die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_plugin_step set-up: %s: %s\n", what, detail ? detail : "");
    abort();
}

static void
write_file(const char *name, const char *text, char *path, size_t size)
{
    FILE *f;

    snprintf(path, size, "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0)
        die("cannot write", path);
}

static int
cb_getpath(void *context, const char **path)
{
    (void)context;
    *path = plugdir;
    return SASL_OK;
}

static int
cb_getconfpath(void *context, char **path)
{
    (void)context;
    *path = dir;
    return SASL_OK;
}

static int
cb_getopt(void *context, const char *plugin, const char *option, const char **result,
          unsigned *len)
{
    (void)context;
    (void)plugin;
    if (strcmp(option, "mailsso_config") == 0) {
        *result = confpath;
        if (len != NULL)
            *len = (unsigned)strlen(confpath);
        return SASL_OK;
    }
    return SASL_FAIL;
}

static int
cb_log(void *context, int level, const char *message)
{
    (void)context;
    (void)level;
    log_lines++;
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "  log %d: %s\n", level, message);
    if (message != NULL && strncmp(message, "mailsso", 7) == 0)
        FUZZ_ASSERT(!fuzz_has_ctl(message), "plugin log line with a control character: %s",
                    message);
    return SASL_OK;
}

/* libsasl2 takes every callback as int (*)(void). */
#define CB(f) ((int (*)(void))(void (*)(void))(f))

static sasl_callback_t callbacks[] = {
    { SASL_CB_GETPATH, CB(cb_getpath), NULL },
    { SASL_CB_GETCONFPATH, CB(cb_getconfpath), NULL },
    { SASL_CB_GETOPT, CB(cb_getopt), NULL },
    { SASL_CB_LOG, CB(cb_log), NULL },
    { SASL_CB_LIST_END, NULL, NULL },
};

static void
make_keytab(void)
{
    mailsso_keytab *kt = mailsso_keytab_new();
    mailsso_keytab_write_options o = MAILSSO_KEYTAB_WRITE_OPTIONS_INIT;
    mailsso_error err = MAILSSO_ERROR_INIT;
    static const struct { uint32_t kvno; int32_t enctype; size_t len; } keys[] = {
        { 2, 18, 32 }, { 2, 17, 16 }, { 4, 19, 16 }, { 3, 26, 32 },
    };
    unsigned char key[32];
    char path[300];
    FILE *r = fopen("/dev/urandom", "rb");

    if (kt == NULL || r == NULL)
        die("keytab", "out of memory or no /dev/urandom");
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        mailsso_keytab_entry e;
        if (fread(key, 1, keys[i].len, r) != keys[i].len)
            die("keytab", "short read from /dev/urandom");
        if (mailsso_keytab_entry_init(&e, PRINC, keys[i].kvno, keys[i].enctype,
                                      (uint32_t)time(NULL), key, keys[i].len, &err) != 0 ||
            mailsso_keytab_add(kt, &e, &err) != 0)
            die("keytab entry", err.message);
        mailsso_keytab_entry_clear(&e);
    }
    fclose(r);
    snprintf(path, sizeof(path), "%s/imap.keytab", dir);
    o.mode = 0600;
    if (mailsso_keytab_write(path, kt, &o, &err) != 0)
        die("mailsso_keytab_write", err.message);
    mailsso_keytab_free(kt);
}

static void
cleanup(void)
{
    const char *names[] = { "krb5.conf", "mailsso.conf", "imap.keytab", "imap.keytab.lock",
                            "plugins/libmailsso_gssapi.so" };
    char path[400];
    DIR *d;

    sasl_server_done();
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(plugdir);
    snprintf(path, sizeof(path), "%s/rcache", dir);
    d = opendir(path);
    if (d != NULL) {
        struct dirent *de;
        char f[700];
        while ((de = readdir(d)) != NULL) {
            snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
            if (de->d_name[0] != '.')
                unlink(f);
        }
        closedir(d);
        rmdir(path);
    }
    rmdir(dir);
}

static void
init(void)
{
    static int done;
    const char *tmp = getenv("TMPDIR"), *plugin = getenv("MAILSSO_FUZZ_PLUGIN");
    char path[400], text[2048];
    int rc;

    if (done)
        return;
    done = 1;
    if (plugin == NULL || plugin[0] == '\0')
        plugin = FUZZ_PLUGIN;
    if (access(plugin, R_OK) != 0)
        die("the plugin to fuzz is missing (build plugin/ first, or set MAILSSO_FUZZ_PLUGIN)",
            plugin);
    snprintf(dir, sizeof(dir), "%s/mailsso-fuzz-plugin.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", strerror(errno));
    snprintf(plugdir, sizeof(plugdir), "%s/plugins", dir);
    snprintf(path, sizeof(path), "%s/rcache", dir);
    if (mkdir(plugdir, 0700) != 0 || mkdir(path, 0700) != 0)
        die("mkdir", strerror(errno));
    setenv("KRB5RCACHEDIR", path, 1);
    snprintf(path, sizeof(path), "%s/libmailsso_gssapi.so", plugdir);
    if (plugin[0] == '/') {
        if (symlink(plugin, path) != 0)
            die("symlink", strerror(errno));
    } else {
        char cwd[4096], abs[4400];
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            die("getcwd", strerror(errno));
        snprintf(abs, sizeof(abs), "%s/%s", cwd, plugin);
        if (symlink(abs, path) != 0)
            die("symlink", strerror(errno));
    }
    write_file("krb5.conf",
               "[libdefaults]\n"
               " default_realm = EXAMPLE.TEST\n"
               " dns_lookup_kdc = false\n"
               " dns_lookup_realm = false\n"
               " rdns = false\n"
               "[realms]\n"
               " EXAMPLE.TEST = {\n  kdc = 127.0.0.1:9\n }\n",
               path, sizeof(path));
    setenv("KRB5_CONFIG", path, 1);
    setenv("KRB5CCNAME", "MEMORY:fuzz_plugin_step", 1);
    make_keytab();
    snprintf(path, sizeof(path), "%s/imap.keytab", dir);
    setenv("KRB5_KTNAME", path, 1);
    snprintf(text, sizeof(text), "keytab = \"%s\";\nlog_level = \"debug\";\n", path);
    write_file("mailsso.conf", text, confpath, sizeof(confpath));
    rc = sasl_server_init(callbacks, "mailsso-fuzz");
    if (rc != SASL_OK)
        die("sasl_server_init", sasl_errstring(rc, NULL, NULL));
    atexit(cleanup);
}

/* Next message: data up to the next separator. */
static int
next_piece(const uint8_t **p, const uint8_t *end, const uint8_t **piece, size_t *len)
{
    const uint8_t *s;

    if (*p == NULL)
        return 0;
    *piece = *p;
    s = memmem(*p, (size_t)(end - *p), SEP, SEP_LEN);
    if (s == NULL) {
        *len = (size_t)(end - *p);
        *p = NULL;
    } else {
        *len = (size_t)(s - *p);
        *p = s + SEP_LEN;
    }
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sasl_conn_t *conn = NULL;
    const char *mech, *out = NULL;
    unsigned outlen = 0;
    const uint8_t *p, *end, *piece = NULL;
    size_t len = 0;
    int rc, steps = 0;
    const void *user = NULL;

    if (size < 1 || size > 65536)
        return 0;
    init();
    mech = (data[0] & 1) ? "GSS-SPNEGO" : "GSSAPI";
    p = data + 1;
    end = data + size;
    rc = sasl_server_new("imap", "mail.example.test", NULL, "127.0.0.1;143", "127.0.0.2;50000",
                         NULL, 0, &conn);
    FUZZ_ASSERT(rc == SASL_OK, "sasl_server_new: %s", sasl_errstring(rc, NULL, NULL));
    if (data[0] & 2) {
        rc = sasl_server_start(conn, mech, NULL, 0, &out, &outlen);
    } else {
        next_piece(&p, end, &piece, &len);
        rc = sasl_server_start(conn, mech, (const char *)piece, (unsigned)len, &out, &outlen);
    }
    FUZZ_ASSERT(rc != SASL_OK, "%s: sasl_server_start returned SASL_OK for a fuzzed token", mech);
    while (rc == SASL_CONTINUE && steps++ < 16 && next_piece(&p, end, &piece, &len)) {
        rc = sasl_server_step(conn, (const char *)piece, (unsigned)len, &out, &outlen);
        FUZZ_ASSERT(rc != SASL_OK, "%s: sasl_server_step %d returned SASL_OK for fuzzed input",
                    mech, steps);
    }
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "fuzz_plugin_step: %s: %d steps, %s\n", mech, steps,
                sasl_errstring(rc, NULL, NULL));
    if (rc != SASL_CONTINUE)
        FUZZ_ASSERT(sasl_getprop(conn, SASL_USERNAME, &user) != SASL_OK || user == NULL,
                    "%s: failed exchange left SASL_USERNAME '%s'", mech, (const char *)user);
    sasl_dispose(&conn);
    return 0;
}
