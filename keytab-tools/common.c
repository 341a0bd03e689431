/*
 * NAME
 *   common.c - helpers shared by the mailsso-keytab subcommands
 *
 * DESCRIPTION
 *   Messages, keytab path resolution, write options, passwords, salts,
 *   string-to-key, and small parsers. See ktool.h.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <mailsso/diag.h>
#include <mailsso/util.h>

#include "ktool.h"

const char *ktool_config_path = NULL;

/* ---------------------------------------------------------------- messages */

void
ktool_print_error(const mailsso_error *err)
{
    fprintf(stderr, "%s: %s\n", KTOOL_PROG,
            err != NULL && err->message[0] != '\0' ? err->message : "unknown error");
    if (err != NULL && err->fix[0] != '\0')
        fprintf(stderr, "  fix: %s\n", err->fix);
}

void
ktool_errorf(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", KTOOL_PROG);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int
ktool_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s %s: ", KTOOL_PROG, cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry '%s %s --help'\n", KTOOL_PROG, cmd);
    return KTOOL_EXIT_USAGE;
}

/* ---------------------------------------------------------------- paths */

int
ktool_keytab_path(const char *arg, char **path_out, mailsso_error *err)
{
    char buf[PATH_MAX + 16];
    const char *name = arg;
    char *p = NULL;

    if (name == NULL || *name == '\0') {
        krb5_context ctx = NULL;
        krb5_error_code code;

        if (krb5_init_context(&ctx) != 0)
            return mailsso_error_set(err, MAILSSO_E_KRB5,
                                     "cannot initialise Kerberos to find the default keytab");
        code = krb5_kt_default_name(ctx, buf, sizeof(buf));
        krb5_free_context(ctx);
        if (code != 0)
            return mailsso_error_set(err, MAILSSO_E_KRB5, "cannot find the default keytab name");
        name = buf;
    }
    if (strncmp(name, "FILE:", 5) == 0)
        name += 5;
    else if (strncmp(name, "WRFILE:", 7) == 0)
        name += 7;
    else if (name[0] != '/' && strchr(name, ':') != NULL && strchr(name, '/') == NULL) {
        mailsso_error_set(err, MAILSSO_E_UNSUPPORTED,
                          "keytab '%s': only FILE: keytabs are supported", name);
        mailsso_error_set_fix(err, "name a keytab file (a path, or FILE:/path)");
        return MAILSSO_E_UNSUPPORTED;
    }
    if (*name == '\0')
        return mailsso_error_set(err, MAILSSO_E_INVALID, "empty keytab path");
    p = strdup(name);
    if (p == NULL)
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
    *path_out = p;
    return 0;
}

int
ktool_read(const char *path, int allow_missing, mailsso_keytab **kt_out, mailsso_error *err)
{
    struct stat st;

    if (allow_missing && stat(path, &st) != 0 && errno == ENOENT) {
        mailsso_keytab *kt = mailsso_keytab_new();
        if (kt == NULL)
            return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
        *kt_out = kt;
        return 0;
    }
    return mailsso_keytab_read(path, kt_out, err);
}

/* ---------------------------------------------------------------- writes */

void
ktool_write_opts_init(ktool_write_opts *o)
{
    mailsso_keytab_write_options init = MAILSSO_KEYTAB_WRITE_OPTIONS_INIT;

    memset(o, 0, sizeof(*o));
    o->w = init;
}

int
ktool_parse_mode(const char *s, ktool_write_opts *o)
{
    char *end = NULL;
    unsigned long m;

    errno = 0;
    m = strtoul(s, &end, 8);
    if (errno != 0 || end == s || *end != '\0' || m > 07777 || m == 0) {
        ktool_errorf("--mode '%s': expected an octal file mode such as 0600 or 0640", s);
        return -1;
    }
    if (m & 0002) {
        ktool_errorf("--mode '%s': refusing a world-writable keytab", s);
        return -1;
    }
    o->w.mode = (mode_t)m;
    o->have_mode = 1;
    return 0;
}

int
ktool_parse_group(const char *s, ktool_write_opts *o)
{
    struct group *gr;
    uint32_t id;

    if (ktool_parse_u32(s, &id) == 0) {
        o->w.group = (gid_t)id;
        return 0;
    }
    gr = getgrnam(s);
    if (gr == NULL) {
        ktool_errorf("--group '%s': no such group", s);
        return -1;
    }
    o->w.group = gr->gr_gid;
    return 0;
}

int
ktool_parse_owner(const char *s, ktool_write_opts *o)
{
    char user[256];
    const char *colon = strchr(s, ':');
    struct passwd *pw;
    uint32_t id;
    size_t n = colon != NULL ? (size_t)(colon - s) : strlen(s);

    if (n == 0 || n >= sizeof(user)) {
        ktool_errorf("--owner '%s': expected USER or USER:GROUP", s);
        return -1;
    }
    memcpy(user, s, n);
    user[n] = '\0';
    if (ktool_parse_u32(user, &id) == 0) {
        o->w.owner = (uid_t)id;
    } else {
        pw = getpwnam(user);
        if (pw == NULL) {
            ktool_errorf("--owner '%s': no such user '%s'", s, user);
            return -1;
        }
        o->w.owner = pw->pw_uid;
    }
    if (colon != NULL && colon[1] != '\0')
        return ktool_parse_group(colon + 1, o);
    return 0;
}

int
ktool_write(const char *path, const mailsso_keytab *kt, const ktool_write_opts *o, int quiet)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab_write_options probe = o->w;

    /* validate first (directory writable, target a regular file): its
     * messages are the most precise, and nothing is created yet */
    probe.dry_run = 1;
    if (!o->w.dry_run && mailsso_keytab_write(path, kt, &probe, &err) != 0) {
        ktool_print_error(&err);
        return KTOOL_EXIT_FAIL;
    }
    if (mailsso_keytab_write(path, kt, &o->w, &err) != 0) {
        ktool_print_error(&err);
        return KTOOL_EXIT_FAIL;
    }
    if (!quiet) {
        if (o->w.dry_run)
            printf("dry run: would write %zu entr%s to %s (nothing written)\n", kt->n_entries,
                   kt->n_entries == 1 ? "y" : "ies", path);
        else
            printf("wrote %zu entr%s to %s\n", kt->n_entries, kt->n_entries == 1 ? "y" : "ies",
                   path);
    }
    return KTOOL_EXIT_OK;
}

/* ---------------------------------------------------------------- text */

void
ktool_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* Replaces every "from" in buf (NUL-terminated, capacity size) by "to";
 * text that would not fit is cut at the end. */
static void
replace_all(char *buf, size_t size, const char *from, const char *to)
{
    char out[4096];
    size_t fl = strlen(from), ol = 0;
    const char *p = buf, *hit;

    if (fl == 0 || strstr(buf, from) == NULL)
        return;
    while ((hit = strstr(p, from)) != NULL && ol < sizeof(out)) {
        ol += (size_t)snprintf(out + ol, sizeof(out) - ol, "%.*s%s", (int)(hit - p), p, to);
        p = hit + fl;
    }
    if (ol < sizeof(out))
        snprintf(out + ol, sizeof(out) - ol, "%s", p);
    mailsso_strlcpy(buf, out, size);
}

void
ktool_name_principal(char *text, size_t size, const char *principal, const char *keytab)
{
    char ktadd[PATH_MAX + 16];

    if (keytab != NULL) {
        ktool_fmt(ktadd, sizeof(ktadd), "ktadd -k %s ", keytab);
        replace_all(text, size, "ktadd -k FILE ", ktadd);
        replace_all(text, size, "ktadd -k KEYTAB ", ktadd);
    }
    if (principal != NULL) {
        replace_all(text, size, "SERVICE/HOST@REALM", principal);
        replace_all(text, size, "SERVICE/HOST", principal);
    }
}

void
ktool_json_str(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

    fputc('"', out);
    for (; *p != '\0'; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

const char *
ktool_time_str(uint32_t t, char *buf, size_t size)
{
    /* UTC by arithmetic (list prints one per key: gmtime_r + strftime cost
     * more than the rest of the line). Every uint32_t falls in 1970..2106,
     * so the year has four digits, as with strftime's %Y. */
    uint32_t days = t / 86400u, secs = t % 86400u;
    uint32_t z = days + 719468u, era = z / 146097u, doe = z - era * 146097u;
    uint32_t yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
    uint32_t doy = doe - (365u * yoe + yoe / 4u - yoe / 100u), mp = (5u * doy + 2u) / 153u;
    uint32_t day = doy - (153u * mp + 2u) / 5u + 1u, month = mp < 10u ? mp + 3u : mp - 9u;
    uint32_t year = yoe + era * 400u + (month <= 2u ? 1u : 0u);
    char s[21];

    s[0] = (char)('0' + year / 1000u);
    s[1] = (char)('0' + year / 100u % 10u);
    s[2] = (char)('0' + year / 10u % 10u);
    s[3] = (char)('0' + year % 10u);
    s[4] = '-';
    s[5] = (char)('0' + month / 10u);
    s[6] = (char)('0' + month % 10u);
    s[7] = '-';
    s[8] = (char)('0' + day / 10u);
    s[9] = (char)('0' + day % 10u);
    s[10] = 'T';
    s[11] = (char)('0' + secs / 36000u);
    s[12] = (char)('0' + secs / 3600u % 10u);
    s[13] = ':';
    s[14] = (char)('0' + secs % 3600u / 600u);
    s[15] = (char)('0' + secs % 3600u / 60u % 10u);
    s[16] = ':';
    s[17] = (char)('0' + secs % 60u / 10u);
    s[18] = (char)('0' + secs % 10u);
    s[19] = 'Z';
    s[20] = '\0';
    if (size >= sizeof(s))
        memcpy(buf, s, sizeof(s));
    else
        snprintf(buf, size, "%u", t);   /* as before: too small for the date */
    return buf;
}

long long
ktool_parse_age(const char *s)
{
    char *end = NULL;
    long long v, mult = 1;

    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || v < 0)
        return -1;
    if (*end != '\0') {
        switch (*end) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = 86400; break;
        case 'w': mult = 7 * 86400; break;
        default: return -1;
        }
        if (end[1] != '\0')
            return -1;
    }
    if (v > LLONG_MAX / mult)
        return -1;
    return v * mult;
}

int
ktool_parse_u32(const char *s, uint32_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int
ktool_parse_enctypes(const char *spec, int32_t **list_out, size_t *n_out, mailsso_error *err)
{
    char *copy = NULL, *tok, *save = NULL;
    int32_t *list = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    copy = strdup(spec);
    if (copy == NULL)
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
    for (tok = strtok_r(copy, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
        int32_t e;
        char *colon = strchr(tok, ':');   /* accept kadmin's "aes256-cts:normal" */
        size_t i;

        if (colon != NULL)
            *colon = '\0';
        rc = mailsso_enctype_from_name(tok, &e, err);
        if (rc != 0) {
            mailsso_error_set_fix(err, "use a name klist -e prints, e.g. aes256-cts-hmac-sha1-96, "
                                       "aes128-cts-hmac-sha1-96, arcfour-hmac");
            goto cleanup;
        }
        if (mailsso_enctype_classify(e) == MAILSSO_ENCTYPE_BROKEN) {
            rc = mailsso_error_set(err, MAILSSO_E_POLICY,
                                   "enctype '%s' is broken (DES/3DES) and never written", tok);
            mailsso_error_set_fix(err, "use aes256-cts-hmac-sha1-96 / aes128-cts-hmac-sha1-96");
            goto cleanup;
        }
        for (i = 0; i < n; i++)
            if (list[i] == e)
                break;
        if (i < n)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            int32_t *nl = realloc(list, ncap * sizeof(*nl));
            if (nl == NULL) {
                rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
                goto cleanup;
            }
            list = nl;
            cap = ncap;
        }
        list[n++] = e;
    }
    if (n == 0) {
        rc = mailsso_error_set(err, MAILSSO_E_INVALID, "empty enctype list '%s'", spec);
        goto cleanup;
    }
    *list_out = list;
    *n_out = n;
    list = NULL;
cleanup:
    free(list);
    free(copy);
    return rc;
}

const char *
ktool_enctype_str(int32_t e, char *buf, size_t size)
{
    return mailsso_enctype_describe(e, buf, size);
}

/* ---------------------------------------------------------------- passwords */

void
ktool_password_free(char *pw)
{
    if (pw != NULL)
        mailsso_zfree(pw, strlen(pw));
}

static int
read_line_fd(int fd, char *buf, size_t size)
{
    size_t n = 0;

    while (n + 1 < size) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (c == '\n')
            break;
        buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return (int)n;
}

static int
prompt_tty(const char *prompt, char *buf, size_t size, mailsso_error *err)
{
    struct termios old, noecho;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    int restored = 0;

    if (fd < 0) {
        mailsso_error_set(err, MAILSSO_E_IO, "no terminal to prompt for the password");
        mailsso_error_set_fix(err, "give --password-file FILE (mode 0600), or '-' to read stdin");
        return MAILSSO_E_IO;
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        close(fd);
        return mailsso_error_set(err, MAILSSO_E_IO, "cannot write the password prompt");
    }
    if (tcgetattr(fd, &old) == 0) {
        noecho = old;
        noecho.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &noecho);
        restored = 1;
    }
    read_line_fd(fd, buf, size);
    if (restored)
        tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
        /* nothing sensible to do */
    }
    close(fd);
    return 0;
}

int
ktool_read_password(const char *file, const char *prompt, int confirm, char **pw_out,
                    mailsso_error *err)
{
    char buf[1024], again[1024];
    char *pw = NULL;
    int rc = 0;

    buf[0] = again[0] = '\0';
    if (file != NULL) {
        int fd = strcmp(file, "-") == 0 ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            mailsso_diag d;
            mailsso_diag_file(errno, file, &d);
            rc = mailsso_error_set(err, MAILSSO_E_IO, "password file %s: %s", file, d.cause);
            mailsso_error_set_fix(err, "%s", d.fix);
            goto cleanup;
        }
        read_line_fd(fd, buf, sizeof(buf));
        if (fd != STDIN_FILENO)
            close(fd);
    } else {
        rc = prompt_tty(prompt, buf, sizeof(buf), err);
        if (rc != 0)
            goto cleanup;
        if (confirm) {
            rc = prompt_tty("Verify password: ", again, sizeof(again), err);
            if (rc != 0)
                goto cleanup;
            if (strcmp(buf, again) != 0) {
                rc = mailsso_error_set(err, MAILSSO_E_INVALID, "the passwords do not match");
                goto cleanup;
            }
        }
    }
    if (buf[0] == '\0') {
        rc = mailsso_error_set(err, MAILSSO_E_INVALID, "empty password%s%s",
                               file ? " in " : "", file ? file : "");
        goto cleanup;
    }
    pw = strdup(buf);
    if (pw == NULL) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
        goto cleanup;
    }
    *pw_out = pw;
cleanup:
    mailsso_zero(buf, sizeof(buf));
    mailsso_zero(again, sizeof(again));
    return rc;
}

int
ktool_random_password(size_t len, char **pw_out, mailsso_error *err)
{
    static const char *const classes[] = {
        "ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "-_.,:+=%!"
    };
    static const char all[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.,:+=%!";
    unsigned char *rnd = NULL;
    char *pw = NULL;
    size_t i;
    int rc = 0;

    if (len < 8)
        len = 8;
    rnd = malloc(len);
    pw = malloc(len + 1);
    if (rnd == NULL || pw == NULL) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
        goto cleanup;
    }
    if (RAND_bytes(rnd, (int)len) != 1) {
        rc = mailsso_error_set(err, MAILSSO_E_TLS, "OpenSSL RAND_bytes failed");
        goto cleanup;
    }
    for (i = 0; i < len; i++) {
        /* first four characters: one of each class, so every policy is met */
        const char *set = i < 4 ? classes[i] : all;
        pw[i] = set[rnd[i] % strlen(set)];
    }
    pw[len] = '\0';
    *pw_out = pw;
    pw = NULL;
cleanup:
    if (rnd != NULL)
        mailsso_zfree(rnd, len);
    if (pw != NULL)
        mailsso_zfree(pw, len + 1);
    return rc;
}

/* ---------------------------------------------------------------- salts */

int
ktool_parse_salt_type(const char *s, ktool_salt_type *out)
{
    if (strcmp(s, "mit") == 0 || strcmp(s, "normal") == 0 || strcmp(s, "default") == 0)
        *out = KTOOL_SALT_MIT;
    else if (strcmp(s, "ad-user") == 0)
        *out = KTOOL_SALT_AD_USER;
    else if (strcmp(s, "ad-computer") == 0)
        *out = KTOOL_SALT_AD_COMPUTER;
    else if (strcmp(s, "kdc") == 0)
        *out = KTOOL_SALT_KDC;
    else
        return -1;
    return 0;
}

const char *
ktool_salt_type_name(ktool_salt_type t)
{
    switch (t) {
    case KTOOL_SALT_MIT: return "mit";
    case KTOOL_SALT_AD_USER: return "ad-user";
    case KTOOL_SALT_AD_COMPUTER: return "ad-computer";
    case KTOOL_SALT_EXPLICIT: return "explicit";
    case KTOOL_SALT_KDC: return "kdc";
    }
    return "?";
}

static int
salt_from_kdc(krb5_context ctx, krb5_principal princ, const char *principal, char **salt_out,
              size_t *len_out, mailsso_error *err)
{
    krb5_enctype et = 0;
    krb5_data salt = { 0, 0, NULL }, params = { 0, 0, NULL };
    krb5_error_code code;
    char *s;

    code = krb5_get_etype_info(ctx, princ, NULL, &et, &salt, &params);
    if (code != 0) {
        ktool_krb5_error(ctx, code, err, "asking the KDC for the salt of");
        return MAILSSO_E_KRB5;
    }
    krb5_free_data_contents(ctx, &params);
    if (et == ENCTYPE_NULL) {
        /* no etype-info from the KDC: it uses the default salt */
        krb5_free_data_contents(ctx, &salt);
        code = krb5_principal2salt(ctx, princ, &salt);
        if (code != 0)
            return ktool_krb5_error(ctx, code, err, "computing the default salt of");
    }
    s = malloc(salt.length + 1);
    if (s == NULL) {
        krb5_free_data_contents(ctx, &salt);
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
    }
    memcpy(s, salt.data, salt.length);
    s[salt.length] = '\0';
    *len_out = salt.length;
    *salt_out = s;
    krb5_free_data_contents(ctx, &salt);
    return 0;
}

int
ktool_compute_salt(krb5_context ctx, const char *principal, const ktool_salt_spec *spec,
                   char **salt_out, size_t *salt_len_out, mailsso_error *err)
{
    krb5_principal princ = NULL, upn = NULL;
    krb5_data salt = { 0, 0, NULL };
    char *realm_up = NULL, *realm_low = NULL, *name = NULL, *s = NULL;
    size_t len = 0;
    krb5_error_code code;
    int rc = 0;

    code = krb5_parse_name(ctx, principal, &princ);
    if (code != 0) {
        rc = ktool_krb5_error(ctx, code, err, "principal does not parse:");
        goto cleanup;
    }
    realm_up = strndup(princ->realm.data, princ->realm.length);
    realm_low = strndup(princ->realm.data, princ->realm.length);
    if (realm_up == NULL || realm_low == NULL) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
        goto cleanup;
    }
    mailsso_ascii_upper(realm_up);
    mailsso_ascii_lower(realm_low);

    switch (spec->type) {
    case KTOOL_SALT_MIT:
        code = krb5_principal2salt(ctx, princ, &salt);
        if (code != 0) {
            rc = ktool_krb5_error(ctx, code, err, "computing the salt of");
            goto cleanup;
        }
        len = salt.length;
        s = malloc(len + 1);
        if (s == NULL)
            break;
        memcpy(s, salt.data, len);
        s[len] = '\0';
        break;
    case KTOOL_SALT_AD_USER:
        if (spec->upn != NULL) {
            /* AD: a user account with a userPrincipalName is salted with the
             * upper-case realm followed by the UPN's name components (its own
             * realm part replaced). ktpass -mapuser sets the UPN to -princ. */
            krb5_data upn_salt = { 0, 0, NULL };
            code = krb5_parse_name_flags(ctx, spec->upn, KRB5_PRINCIPAL_PARSE_NO_REALM, &upn);
            if (code != 0)
                code = krb5_parse_name(ctx, spec->upn, &upn);
            if (code != 0) {
                rc = ktool_krb5_error(ctx, code, err, "--upn does not parse:");
                goto cleanup;
            }
            code = krb5_set_principal_realm(ctx, upn, realm_up);
            if (code == 0)
                code = krb5_principal2salt(ctx, upn, &upn_salt);
            if (code != 0) {
                rc = ktool_krb5_error(ctx, code, err, "computing the UPN salt of");
                goto cleanup;
            }
            len = upn_salt.length;
            s = malloc(len + 1);
            if (s != NULL) {
                memcpy(s, upn_salt.data, len);
                s[len] = '\0';
            }
            krb5_free_data_contents(ctx, &upn_salt);
            break;
        }
        if (spec->account != NULL) {
            name = strdup(spec->account);
        } else if (princ->length == 1) {
            name = strndup(princ->data[0].data, princ->data[0].length);
        } else {
            rc = mailsso_error_set(err, MAILSSO_E_INVALID,
                                   "--salt-type ad-user for %s needs the account's "
                                   "sAMAccountName", principal);
            mailsso_error_set_fix(err, "add --account mail_imap (the account ktpass -mapuser "
                                       "named), or --upn if the account has a UPN");
            goto cleanup;
        }
        if (name == NULL)
            break;
        /* REALM + sAMAccountName, the account name case-sensitive as given */
        if (asprintf(&s, "%s%s", realm_up, name) < 0)
            s = NULL;
        else
            len = strlen(s);
        break;
    case KTOOL_SALT_AD_COMPUTER: {
        size_t n;
        char *dot;

        if (spec->account != NULL) {
            name = strdup(spec->account);
        } else if (princ->length == 2) {
            /* host/mail.example.com -> first DNS label of the instance */
            name = strndup(princ->data[1].data, princ->data[1].length);
            if (name != NULL && (dot = strchr(name, '.')) != NULL)
                *dot = '\0';
        } else {
            rc = mailsso_error_set(err, MAILSSO_E_INVALID,
                                   "--salt-type ad-computer for %s needs the computer account "
                                   "name", principal);
            mailsso_error_set_fix(err, "add --account MAILSRV$ (the computer's sAMAccountName)");
            goto cleanup;
        }
        if (name == NULL)
            break;
        n = strlen(name);
        if (n > 0 && name[n - 1] == '$')
            name[n - 1] = '\0';
        if (name[0] == '\0') {
            rc = mailsso_error_set(err, MAILSSO_E_INVALID, "empty computer account name");
            goto cleanup;
        }
        mailsso_ascii_lower(name);
        /* REALM + "host" + lower(name without $) + "." + lower(realm) */
        if (asprintf(&s, "%shost%s.%s", realm_up, name, realm_low) < 0)
            s = NULL;
        else
            len = strlen(s);
        break;
    }
    case KTOOL_SALT_EXPLICIT:
        if (spec->salt == NULL) {
            rc = mailsso_error_set(err, MAILSSO_E_INVALID, "--salt needs a value");
            goto cleanup;
        }
        s = strdup(spec->salt);
        len = s != NULL ? strlen(s) : 0;
        break;
    case KTOOL_SALT_KDC:
        rc = salt_from_kdc(ctx, princ, principal, &s, &len, err);
        if (rc != 0)
            goto cleanup;
        break;
    }
    if (s == NULL) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
        goto cleanup;
    }
    *salt_out = s;
    *salt_len_out = len;
    s = NULL;
cleanup:
    free(s);
    free(name);
    free(realm_up);
    free(realm_low);
    krb5_free_data_contents(ctx, &salt);
    krb5_free_principal(ctx, princ);
    krb5_free_principal(ctx, upn);
    return rc;
}

int
ktool_add_password_keys(krb5_context ctx, mailsso_keytab *kt, const char *principal,
                        uint32_t kvno, const int32_t *enctypes, size_t n_enctypes,
                        const char *password, const char *salt, size_t salt_len,
                        mailsso_error *err)
{
    krb5_data pw, sd;
    uint32_t now = (uint32_t)time(NULL);
    size_t i;

    pw.magic = KV5M_DATA;
    pw.data = (char *)password;
    pw.length = (unsigned int)strlen(password);
    sd.magic = KV5M_DATA;
    sd.data = (char *)salt;
    sd.length = (unsigned int)salt_len;
    for (i = 0; i < n_enctypes; i++) {
        krb5_keyblock key;
        mailsso_keytab_entry e;
        krb5_error_code code;
        int rc;

        memset(&key, 0, sizeof(key));
        memset(&e, 0, sizeof(e));
        code = krb5_c_string_to_key(ctx, enctypes[i], &pw, &sd, &key);
        if (code != 0) {
            char buf[64];
            ktool_krb5_error(ctx, code, err, "string-to-key failed for");
            mailsso_error_set(err, MAILSSO_E_KRB5, "string-to-key for %s failed",
                              ktool_enctype_str(enctypes[i], buf, sizeof(buf)));
            return MAILSSO_E_KRB5;
        }
        rc = mailsso_keytab_entry_init(&e, principal, kvno, enctypes[i], now, key.contents,
                                       key.length, err);
        krb5_free_keyblock_contents(ctx, &key);
        if (rc == 0)
            rc = mailsso_keytab_add(kt, &e, err);
        mailsso_keytab_entry_clear(&e);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- grouping */

/* FNV-1a: a well-spread hash of the principal's display form. */
static uint64_t
name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

void
ktool_groups_free(ktool_groups *g)
{
    if (g == NULL)
        return;
    free(g->principal);
    free(g->newest);
    free(g->start);
    free(g->entry);
    free(g->group_of);
    free(g);
}

/* One pass over the entries: a hash table (open addressing, linear probing,
 * at most half full) maps each display form to its group, numbered in
 * first-seen order; then a counting sort lays the entry indexes out group
 * by group, keeping keytab order inside each group. O(n). */
int
ktool_groups_build(const mailsso_keytab *kt, ktool_groups **groups_out)
{
    ktool_groups *g = NULL;
    size_t *slots = NULL;       /* group index + 1; 0 = empty */
    uint64_t *hashes = NULL;    /* per group */
    size_t *fill = NULL;
    size_t n = kt->n_entries, cap = 16, i;
    int rc = -1;

    g = calloc(1, sizeof(*g));
    if (g == NULL)
        goto cleanup;
    while (cap < 2 * n)
        cap *= 2;
    g->principal = calloc(n + 1, sizeof(*g->principal));
    g->newest = calloc(n + 1, sizeof(*g->newest));
    g->start = calloc(n + 2, sizeof(*g->start));
    g->entry = calloc(n + 1, sizeof(*g->entry));
    g->group_of = calloc(n + 1, sizeof(*g->group_of));
    slots = calloc(cap, sizeof(*slots));
    hashes = calloc(n + 1, sizeof(*hashes));
    fill = calloc(n + 1, sizeof(*fill));
    if (g->principal == NULL || g->newest == NULL || g->start == NULL || g->entry == NULL ||
        g->group_of == NULL || slots == NULL || hashes == NULL || fill == NULL)
        goto cleanup;

    for (i = 0; i < n; i++) {
        const mailsso_keytab_entry *e = &kt->entries[i];
        const char *name = e->principal != NULL ? e->principal : "";
        uint64_t h = name_hash(name);
        size_t s = (size_t)h & (cap - 1), gi;

        for (;;) {
            if (slots[s] == 0) {
                gi = g->n++;
                slots[s] = gi + 1;
                g->principal[gi] = name;
                hashes[gi] = h;
                g->newest[gi] = e->kvno;
                break;
            }
            gi = slots[s] - 1;
            if (hashes[gi] == h && strcmp(g->principal[gi], name) == 0) {
                if (e->kvno > g->newest[gi])
                    g->newest[gi] = e->kvno;
                break;
            }
            s = (s + 1) & (cap - 1);
        }
        g->group_of[i] = gi;
        g->start[gi + 1]++;
    }
    for (i = 0; i < g->n; i++)
        g->start[i + 1] += g->start[i];
    for (i = 0; i < n; i++) {
        size_t gi = g->group_of[i];
        g->entry[g->start[gi] + fill[gi]++] = i;
    }
    *groups_out = g;
    g = NULL;
    rc = 0;
cleanup:
    free(fill);
    free(hashes);
    free(slots);
    ktool_groups_free(g);
    return rc;
}

size_t
ktool_principals(const mailsso_keytab *kt, const char ***list_out)
{
    ktool_groups *g = NULL;
    const char **list = NULL;
    size_t n = 0;

    *list_out = NULL;
    if (kt->n_entries == 0 || ktool_groups_build(kt, &g) != 0)
        return 0;
    /* hand over the principal array (n + 1 slots, first-seen order) */
    list = g->principal;
    g->principal = NULL;
    n = g->n;
    ktool_groups_free(g);
    *list_out = list;
    return n;
}

int
ktool_client_resolve(const char *cmd, ktool_client *client, int use_ccache, char **pw_out)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    char prompt[600];

    if (client->principal == NULL) {
        client->mode = use_ccache ? KTOOL_CLIENT_CCACHE : KTOOL_CLIENT_SELF;
        return -1;
    }
    if ((client->password_file != NULL) == (client->client_keytab != NULL))
        return ktool_usage_error(cmd, "--client needs exactly one of --password-file "
                                 "and --client-keytab");
    client->mode = client->password_file ? KTOOL_CLIENT_PASSWORD : KTOOL_CLIENT_KEYTAB;
    if (client->password_file == NULL)
        return -1;
    ktool_fmt(prompt, sizeof(prompt), "Password for %s: ", client->principal);
    if (ktool_read_password(client->password_file, prompt, 0, pw_out, &err) != 0) {
        ktool_print_error(&err);
        return KTOOL_EXIT_FAIL;
    }
    client->password = *pw_out;
    return -1;
}
