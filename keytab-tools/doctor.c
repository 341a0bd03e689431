/*
 * NAME
 *   doctor.c - mailsso-keytab doctor: what breaks mail SSO in the field
 *
 * DESCRIPTION
 *   Runs every check it can and prints one line per finding, each failure
 *   with a fix:
 *     keytab      the file exists and parses
 *     access      the mail daemon's user (--user postfix|cyrus|dovecot|NAME)
 *                 can read it (mode, owner, group, directories); nobody else can
 *     service     a key exists for each configured service (SERVICE/HOST@REALM)
 *     enctypes    keys the enctype policy or krb5.conf permitted_enctypes refuse,
 *                 broken DES keys, principals left with no usable key
 *     kvno        the keytab's newest kvno versus the KDC's current kvno
 *     clock       clock offset against the KDC (from an AS exchange)
 *     dns         forward and reverse DNS of each service host name
 *   Exit status 1 if any check failed (warnings alone give 0).
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mailsso/config.h>
#include <mailsso/util.h>

#include "ktool.h"

typedef struct doctor {
    int json;
    int n_fail, n_warn, n_ok, first;
} doctor;

static void
report(doctor *d, const char *status, const char *check, const char *fix, const char *fmt, ...)
    MAILSSO_PRINTF(5, 6);

static void
report(doctor *d, const char *status, const char *check, const char *fix, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (strcmp(status, "fail") == 0)
        d->n_fail++;
    else if (strcmp(status, "warn") == 0)
        d->n_warn++;
    else
        d->n_ok++;
    if (d->json) {
        printf("%s{\"check\":", d->first ? "" : ",");
        ktool_json_str(stdout, check);
        printf(",\"status\":");
        ktool_json_str(stdout, status);
        printf(",\"message\":");
        ktool_json_str(stdout, msg);
        if (fix != NULL) {
            printf(",\"fix\":");
            ktool_json_str(stdout, fix);
        }
        printf("}");
        d->first = 0;
        return;
    }
    printf("[%s] %-8s %s\n", strcmp(status, "fail") == 0 ? "FAIL"
                             : strcmp(status, "warn") == 0 ? "WARN" : " OK ", check, msg);
    if (fix != NULL && strcmp(status, "ok") != 0)
        printf("                fix: %s\n", fix);
}

static void
help(void)
{
    printf("usage: %s doctor [options] [KEYTAB]\n"
           "Check everything that breaks mail SSO, each problem with a fix:\n"
           "file access for the mail daemon's user, keys for the configured services,\n"
           "enctypes the policy or krb5.conf refuse, kvno behind the KDC's, clock skew,\n"
           "forward/reverse DNS of the service host names. Exit 1 if any check failed.\n"
           "  -u, --user NAME        the user the daemon reads the keytab as (postfix, cyrus,\n"
           "                         dovecot, ...; repeatable)\n"
           "  -s, --service NAME     a service that must have a key (smtp, imap, pop, ...;\n"
           "                         repeatable; default: the service groups of mailsso.conf)\n"
           "  -H, --hostname HOST    the service host name (default: mailsso.conf, else\n"
           "                         this host's name)\n"
           "      --policy SPEC      enctype policy (default: mailsso.conf 'enctypes')\n"
           "      --offline          skip the checks that talk to the KDC\n"
           "      --max-skew SECS    clock offset that fails (default 300, krb5's limit)\n"
           "      --client P --password-file F | --client-keytab K | --ccache C\n"
           "                         credentials for the kvno check (default: the keytab's key)\n"
           "  -j, --json             JSON output\n", KTOOL_PROG);
}

/* The daemon's account, copied out of getpwnam()'s static buffer: every
 * later getpwuid()/getgrgid() call overwrites that buffer (a group name kept
 * from one getgrgid() call and printed after another once showed the
 * daemon's group instead of the file's). */
typedef struct account {
    char name[256];
    uid_t uid;
    gid_t gid;
    char group[256];      /* name of the primary group ("" if it has none) */
} account;

static int
user_in_group(const account *a, gid_t gid)
{
    gid_t groups[256];
    int n = (int)MAILSSO_ARRAY_LEN(groups), i;

    if (a->gid == gid)
        return 1;
    if (getgrouplist(a->name, a->gid, groups, &n) < 0)
        return 0;
    for (i = 0; i < n; i++)
        if (groups[i] == gid)
            return 1;
    return 0;
}

/* bit: 4 read, 1 search. */
static int
user_may(const account *a, const struct stat *st, int bit)
{
    if (a->uid == 0)
        return bit == 4 ? 1 : (st->st_mode & 0111) != 0;
    if (a->uid == st->st_uid)
        return (st->st_mode & (mode_t)(bit << 6)) != 0;
    if (user_in_group(a, st->st_gid))
        return (st->st_mode & (mode_t)(bit << 3)) != 0;
    return (st->st_mode & (mode_t)bit) != 0;
}

/* "owner:group" of a file as names (numbers when a name is unknown), as
 * `stat -c %U:%G` prints them. Each name is copied before the next lookup. */
static const char *
owner_group(const struct stat *st, char *buf, size_t size)
{
    char user[256], group[256];
    struct passwd *pw = getpwuid(st->st_uid);
    struct group *gr;

    if (pw != NULL)
        mailsso_strlcpy(user, pw->pw_name, sizeof(user));
    else
        snprintf(user, sizeof(user), "%u", (unsigned)st->st_uid);
    gr = getgrgid(st->st_gid);
    if (gr != NULL)
        mailsso_strlcpy(group, gr->gr_name, sizeof(group));
    else
        snprintf(group, sizeof(group), "%u", (unsigned)st->st_gid);
    ktool_fmt(buf, size, "%s:%s", user, group);
    return buf;
}

static void
check_access(doctor *d, const char *path, const char *user)
{
    struct passwd *pw = getpwnam(user);
    struct group *gr;
    struct stat st;
    account a;
    char dir[PATH_MAX], fix[1024], og[600];
    char *slash;

    if (pw == NULL) {
        report(d, "fail", "access", "name the account the mail daemon runs as (postconf "
               "mail_owner, cyrus.conf, dovecot's default_internal_user)",
               "user '%s' does not exist on this host", user);
        return;
    }
    memset(&a, 0, sizeof(a));
    mailsso_strlcpy(a.name, pw->pw_name, sizeof(a.name));
    a.uid = pw->pw_uid;
    a.gid = pw->pw_gid;
    pw = NULL;            /* the next lookup reuses its buffer */
    gr = getgrgid(a.gid);
    mailsso_strlcpy(a.group, gr != NULL ? gr->gr_name : "", sizeof(a.group));
    gr = NULL;
    if (stat(path, &st) != 0)
        return;
    /* every directory on the way must be searchable */
    mailsso_strlcpy(dir, path, sizeof(dir));
    while ((slash = strrchr(dir, '/')) != NULL) {
        struct stat ds;
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (stat(dir, &ds) == 0 && !user_may(&a, &ds, 1)) {
            ktool_fmt(fix, sizeof(fix), "chmod o+x %s (or g+x with group %s), or move the "
                      "keytab to a directory %s can enter", dir,
                      a.group[0] ? a.group : user, user);
            report(d, "fail", "access", fix, "%s cannot enter directory %s (owned by %s, mode "
                   "%04o), so it cannot open %s", user, dir, owner_group(&ds, og, sizeof(og)),
                   (unsigned)(ds.st_mode & 07777), path);
            return;
        }
        if (slash == dir)
            break;
    }
    owner_group(&st, og, sizeof(og));
    if (!user_may(&a, &st, 4)) {
        const char *g = a.group[0] ? a.group : user;
        ktool_fmt(fix, sizeof(fix), "%s merge --replace -o %s %s --owner root:%s --mode 0640 "
                  "(or: chgrp %s %s && chmod 0640 %s)", KTOOL_PROG, path, path, g, g, path,
                  path);
        report(d, "fail", "access", fix, "%s (uid %u) cannot read %s: owned by %s, mode "
               "%04o -- the daemon will log 'Permission denied' / 'No key table entry found'",
               user, (unsigned)a.uid, path, og, (unsigned)(st.st_mode & 07777));
        return;
    }
    report(d, "ok", "access", NULL, "%s can read %s (owned by %s, mode %04o)", user, path, og,
           (unsigned)(st.st_mode & 07777));
}

static void
check_mode(doctor *d, const char *path)
{
    struct stat st;
    char fix[1024];

    if (stat(path, &st) != 0)
        return;
    if (st.st_mode & 0022) {
        ktool_fmt(fix, sizeof(fix), "chmod go-w %s", path);
        report(d, "fail", "access", fix, "%s is writable by %s (mode %04o): anyone could "
               "replace the service keys", path, st.st_mode & 0002 ? "everyone" : "its group",
               (unsigned)(st.st_mode & 07777));
    }
    if (st.st_mode & 0004) {
        ktool_fmt(fix, sizeof(fix), "chmod o-r %s, and give the daemon's group read access "
                  "(--owner root:postfix --mode 0640)", path);
        report(d, "warn", "access", fix, "%s is readable by every local user (mode %04o): "
               "whoever reads it can impersonate the mail service", path,
               (unsigned)(st.st_mode & 07777));
    }
}

static const char *
service_component(const char *service)
{
    static const struct { const char *svc, *comp; } map[] = {
        { "smtp", "smtp" }, { "submission", "smtp" }, { "lmtp", "lmtp" }, { "imap", "imap" },
        { "pop", "pop" }, { "pop3", "pop" }, { "sieve", "sieve" }, { "http", "HTTP" },
    };
    size_t i;

    for (i = 0; i < MAILSSO_ARRAY_LEN(map); i++)
        if (mailsso_streq_ci(service, map[i].svc))
            return map[i].comp;
    return service;
}

static void
check_dns(doctor *d, const char *host)
{
    struct addrinfo hints, *res = NULL, *ai;
    int rc, any = 0;
    char fix[1024];

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        ktool_fmt(fix, sizeof(fix), "add an A/AAAA record for %s (mail clients build the "
                  "service principal from the name they connect to)", host);
        report(d, "fail", "dns", fix, "forward lookup of %s failed: %s", host, gai_strerror(rc));
        return;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        char addr[NI_MAXHOST], name[NI_MAXHOST];

        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0,
                        NI_NUMERICHOST) != 0)
            continue;
        if (any++ > 0 && ai->ai_family == AF_INET6)
            continue;
        rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, name, sizeof(name), NULL, 0, NI_NAMEREQD);
        if (rc != 0) {
            ktool_fmt(fix, sizeof(fix), "add a PTR record %s -> %s, or set rdns = false in the "
                      "clients' krb5.conf", addr, host);
            report(d, "warn", "dns", fix, "%s resolves to %s, which has no reverse DNS name: "
                   "clients with rdns = true (the MIT default) may fail", host, addr);
        } else if (!mailsso_streq_ci(name, host)) {
            ktool_fmt(fix, sizeof(fix), "make the PTR record of %s point to %s, or set "
                      "rdns = false in the clients' krb5.conf", addr, host);
            report(d, "warn", "dns", fix, "%s resolves to %s, whose reverse name is %s: clients "
                   "with rdns = true ask for a ticket for SERVICE/%s instead", host, addr, name,
                   name);
        } else {
            report(d, "ok", "dns", NULL, "%s -> %s -> %s", host, addr, name);
        }
    }
    freeaddrinfo(res);
}

int
ktool_cmd_doctor(int argc, char **argv)
{
    static const struct option opts[] = {
        { "user", required_argument, NULL, 'u' },
        { "service", required_argument, NULL, 's' },
        { "hostname", required_argument, NULL, 'H' },
        { "policy", required_argument, NULL, 'P' },
        { "offline", no_argument, NULL, 'O' },
        { "max-skew", required_argument, NULL, 'S' },
        { "client", required_argument, NULL, 'C' },
        { "password-file", required_argument, NULL, 'F' },
        { "client-keytab", required_argument, NULL, 'K' },
        { "ccache", required_argument, NULL, 'c' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_config *cfg = NULL;
    mailsso_keytab *kt = NULL;
    mailsso_enctype_policy *policy = NULL;
    krb5_context ctx = NULL;
    krb5_enctype *permitted = NULL;
    ktool_client client;
    doctor d;
    const char *users[16], *services[32], *hostname = NULL, *policy_spec = NULL;
    ktool_groups *groups = NULL;
    const char **princs = NULL;     /* groups->principal */
    size_t n_users = 0, n_services = 0, np = 0, i, j;
    char *client_pw = NULL, *path = NULL, *realm = NULL, host[256], fix[1024];
    uint32_t max_skew = 300;
    int c, offline = 0, rc = KTOOL_EXIT_FAIL, status, use_ccache = 0;

    memset(&client, 0, sizeof(client));
    memset(&d, 0, sizeof(d));
    d.first = 1;
    while ((c = getopt_long(argc, argv, "u:s:H:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            if (n_users == MAILSSO_ARRAY_LEN(users))
                return ktool_usage_error("doctor", "too many --user options");
            users[n_users++] = optarg;
            break;
        case 's':
            if (n_services == MAILSSO_ARRAY_LEN(services))
                return ktool_usage_error("doctor", "too many --service options");
            services[n_services++] = optarg;
            break;
        case 'H': hostname = optarg; break;
        case 'P': policy_spec = optarg; break;
        case 'O': offline = 1; break;
        case 'S':
            if (ktool_parse_u32(optarg, &max_skew) != 0)
                return ktool_usage_error("doctor", "--max-skew '%s' is not a number", optarg);
            break;
        case 'C': client.principal = optarg; break;
        case 'F': client.password_file = optarg; break;
        case 'K': client.client_keytab = optarg; break;
        case 'c': client.ccache = optarg; use_ccache = 1; break;
        case 'j': d.json = 1; break;
        case 'h': help(); return KTOOL_EXIT_OK;
        default: return ktool_usage_error("doctor", "bad option");
        }
    }
    if (argc - optind > 1)
        return ktool_usage_error("doctor", "at most one KEYTAB");
    status = ktool_client_resolve("doctor", &client, use_ccache, &client_pw);
    if (status >= 0)
        return status;

    /* configuration: optional unless --config was given */
    if (ktool_config_path != NULL || access(MAILSSO_DEFAULT_CONFIG, R_OK) == 0) {
        if (mailsso_config_load_file(ktool_config_path, &cfg, &err) != 0) {
            ktool_print_error(&err);
            goto cleanup;
        }
    }
    if (n_services == 0 && cfg != NULL) {
        const char *const *names = NULL;
        size_t n = mailsso_config_services(cfg, &names);
        for (i = 0; i < n && n_services < MAILSSO_ARRAY_LEN(services); i++)
            services[n_services++] = names[i];
    }
    if (hostname == NULL && cfg != NULL) {
        const char *h = mailsso_config_get_string(cfg, n_services ? services[0] : NULL,
                                                  "hostname");
        if (h != NULL && *h != '\0')
            hostname = h;
    }
    if (hostname == NULL) {
        if (gethostname(host, sizeof(host)) != 0)
            mailsso_strlcpy(host, "localhost", sizeof(host));
        host[sizeof(host) - 1] = '\0';
        hostname = host;
    }
    {
        const char *arg = optind < argc ? argv[optind] : NULL;
        if (arg == NULL && cfg != NULL) {
            const char *k = mailsso_config_get_string(cfg, n_services ? services[0] : NULL,
                                                      "keytab");
            if (k != NULL && *k != '\0')
                arg = k;
        }
        if (ktool_keytab_path(arg, &path, &err) != 0) {
            ktool_print_error(&err);
            goto cleanup;
        }
    }
    client.self_keytab = path;
    if (d.json) {
        printf("{\"keytab\":");
        ktool_json_str(stdout, path);
        printf(",\"checks\":[");
    } else {
        printf("mailsso-keytab doctor: %s (host %s)\n", path, hostname);
    }

    /* keytab */
    if (mailsso_keytab_read(path, &kt, &err) != 0) {
        report(&d, "fail", "keytab", err.fix[0] ? err.fix : "export the service keys again "
               "(ktpass / kadmin ktadd) and merge them with mailsso-keytab merge",
               "%s", err.message);
    } else if (ktool_groups_build(kt, &groups) != 0) {
        report(&d, "fail", "keytab", NULL, "%s: out of memory grouping %zu keys", path,
               kt->n_entries);
        goto done;
    } else {
        princs = groups->principal;
        np = groups->n;
        report(&d, kt->n_entries ? "ok" : "fail", "keytab",
               kt->n_entries ? NULL : "add the service keys (mailsso-keytab merge / add)",
               "%s: %zu keys, %zu principals", path, kt->n_entries, np);
    }
    /* access */
    check_mode(&d, path);
    for (i = 0; i < n_users; i++)
        check_access(&d, path, users[i]);
    if (kt == NULL)
        goto done;

    if (ktool_krb5_init(&ctx, &err) != 0 || krb5_get_default_realm(ctx, &realm) != 0) {
        report(&d, "warn", "service", "set default_realm in krb5.conf",
               "no default realm: cannot name the service principals");
    }
    /* services */
    for (i = 0; i < n_services && realm != NULL; i++) {
        char want[600];
        size_t k;
        int found = 0;

        ktool_fmt(want, sizeof(want), "%s/%s@%s", service_component(services[i]), hostname,
                  realm);
        for (k = 0; k < np; k++)
            if (strcasecmp(princs[k], want) == 0)
                found = 1;
        if (found) {
            report(&d, "ok", "service", NULL, "%s: key for %s present", services[i], want);
        } else {
            ktool_fmt(fix, sizeof(fix), "create the SPN and export its keys (AD: ktpass -princ "
                      "%s -mapuser ACCOUNT -ptype KRB5_NT_PRINCIPAL -crypto AES256-SHA1 -out "
                      "%s.keytab; MIT: kadmin ktadd), then mailsso-keytab merge -o %s %s.keytab",
                      want, services[i], path, services[i]);
            report(&d, "fail", "service", fix, "%s: no key for %s in %s", services[i], want, path);
        }
    }

    /* enctypes */
    if (ktool_load_policy(policy_spec, n_services == 1 ? services[0] : NULL, &policy, &err) != 0) {
        report(&d, "fail", "enctypes", err.fix[0] ? err.fix : NULL, "%s", err.message);
    } else {
        char pdesc[256];
        if (ctx != NULL && krb5_get_permitted_enctypes(ctx, &permitted) != 0)
            permitted = NULL;
        mailsso_enctype_policy_describe(policy, pdesc, sizeof(pdesc));
        for (j = 0; j < np; j++) {
            uint32_t newest = groups->newest[j];
            char refused[512], usable[512], eb[64];
            size_t rl = 0, ul = 0;
            int broken = 0;

            refused[0] = usable[0] = '\0';
            for (i = groups->start[j]; i < groups->start[j + 1]; i++) {
                const mailsso_keytab_entry *e = &kt->entries[groups->entry[i]];
                int ok_policy, ok_krb5 = 1;
                size_t k;

                if (mailsso_enctype_classify(e->enctype) == MAILSSO_ENCTYPE_BROKEN)
                    broken = 1;
                if (e->kvno != newest)
                    continue;
                ok_policy = mailsso_enctype_policy_allows(policy, e->enctype);
                if (permitted != NULL) {
                    ok_krb5 = 0;
                    for (k = 0; permitted[k] != 0; k++)
                        if (permitted[k] == e->enctype)
                            ok_krb5 = 1;
                }
                ktool_enctype_str(e->enctype, eb, sizeof(eb));
                if (ok_policy && ok_krb5) {
                    if (ul + strlen(eb) + 2 < sizeof(usable))
                        ul += (size_t)snprintf(usable + ul, sizeof(usable) - ul, "%s%s",
                                               ul ? " " : "", eb);
                } else if (rl + strlen(eb) + 40 < sizeof(refused)) {
                    rl += (size_t)snprintf(refused + rl, sizeof(refused) - rl, "%s%s (%s)",
                                           rl ? ", " : "", eb,
                                           !ok_policy ? "mailsso policy" : "permitted_enctypes");
                }
            }
            if (ul == 0) {
                ktool_fmt(fix, sizeof(fix), "enable AES for the account (AD: "
                          "msDS-SupportedEncryptionTypes = 0x18, then a new ktpass with "
                          "-crypto AES256-SHA1), or allow the enctype: enctypes = \"%s rc4\" "
                          "in mailsso.conf", pdesc);
                report(&d, "fail", "enctypes", fix, "%s kvno %u: no key the policy accepts "
                       "(refused: %s; policy allows: %s)", princs[j], newest, refused, pdesc);
            } else if (rl > 0) {
                report(&d, "warn", "enctypes", "tickets with these enctypes will be refused; "
                       "remove the keys (mailsso-keytab remove -e ENCTYPE) if the KDC never "
                       "uses them", "%s kvno %u: usable %s; refused %s", princs[j], newest,
                       usable, refused);
            } else {
                report(&d, "ok", "enctypes", NULL, "%s kvno %u: %s", princs[j], newest, usable);
            }
            if (broken) {
                ktool_fmt(fix, sizeof(fix), "%s remove -p %s -e des-cbc-crc (and every other "
                          "DES/3DES enctype)", KTOOL_PROG, princs[j]);
                report(&d, "warn", "enctypes", fix, "%s has broken DES/3DES keys, which are never "
                       "accepted", princs[j]);
            }
        }
    }

    /* kvno + clock */
    if (offline) {
        report(&d, "ok", "kvno", NULL, "skipped (--offline)");
    } else {
        long skew = LONG_MIN;
        for (j = 0; j < np; j++) {
            uint32_t newest = groups->newest[j], kdc = 0;
            long s = LONG_MIN;
            mailsso_error kerr = MAILSSO_ERROR_INIT;

            if (ktool_kdc_kvno(&client, princs[j], &kdc, &s, &kerr) != 0) {
                ktool_fmt(fix, sizeof(fix), "%s%sif the keytab is stale, export a fresh one "
                          "or run mailsso-keytab rotate; to see the KDC's kvno use "
                          "--client/--ccache credentials",
                          kerr.fix[0] ? kerr.fix : "", kerr.fix[0] ? "; " : "");
                ktool_name_principal(fix, sizeof(fix), princs[j], path);
                report(&d, "fail", "kvno", fix, "%s: cannot learn the KDC's kvno: %s",
                       princs[j], kerr.message);
                continue;
            }
            if (s != LONG_MIN)
                skew = s;
            if (kdc > newest) {
                ktool_fmt(fix, sizeof(fix), "the account's password changed after the keytab "
                          "was made: export a fresh keytab (ktpass / kadmin ktadd) and "
                          "merge it, or add the keys with mailsso-keytab add -V %u", kdc);
                report(&d, "fail", "kvno", fix, "%s: the KDC is at kvno %u, the keytab's newest "
                       "is %u -- tickets will fail with 'Key version is not available'",
                       princs[j], kdc, newest);
            } else if (kdc < newest) {
                int have = 0;
                for (i = groups->start[j]; i < groups->start[j + 1]; i++)
                    if (kt->entries[groups->entry[i]].kvno == kdc)
                        have = 1;
                report(&d, have ? "warn" : "fail", "kvno",
                       "check the kvno given to 'add' or ktpass (-kvno), or finish the rotation",
                       "%s: the keytab's newest kvno %u is ahead of the KDC's %u%s", princs[j],
                       newest, kdc, have ? " (the KDC's kvno is present too)" : "");
            } else {
                report(&d, "ok", "kvno", NULL, "%s: kvno %u matches the KDC", princs[j], kdc);
            }
        }
        if (skew == LONG_MIN) {
            report(&d, "warn", "clock", "run doctor with the keytab's own key or --client "
                   "credentials so an AS exchange can measure the offset",
                   "clock offset against the KDC not measured");
        } else {
            long a = skew < 0 ? -skew : skew;
            if (a > (long)max_skew)
                report(&d, "fail", "clock", "synchronise the clock with NTP (chrony, "
                       "systemd-timesyncd) against the same source as the KDCs",
                       "this host's clock is %ld s %s the KDC's (krb5 refuses more than %u s)",
                       a, skew > 0 ? "behind" : "ahead of", max_skew);
            else if (a > 60)
                report(&d, "warn", "clock", "synchronise the clock with NTP",
                       "this host's clock is %ld s %s the KDC's", a,
                       skew > 0 ? "behind" : "ahead of");
            else
                report(&d, "ok", "clock", NULL, "clock within %ld s of the KDC", a);
        }
    }

    /* dns: the service host name, and hosts named by the keytab's principals */
    {
        const char *hosts[64];
        size_t nh = 0, k;
        char *copies[64];
        size_t nc = 0;

        if (n_services > 0)
            hosts[nh++] = hostname;
        for (j = 0; j < np && nh < MAILSSO_ARRAY_LEN(hosts); j++) {
            const char *slash = strchr(princs[j], '/'), *at = strrchr(princs[j], '@');
            char *h;
            if (slash == NULL || at == NULL || at < slash || strchr(slash + 1, '/') != NULL)
                continue;
            h = strndup(slash + 1, (size_t)(at - slash - 1));
            if (h == NULL || strchr(h, '.') == NULL || nc == MAILSSO_ARRAY_LEN(copies)) {
                free(h);
                continue;
            }
            for (k = 0; k < nh; k++)
                if (mailsso_streq_ci(hosts[k], h))
                    break;
            if (k < nh) {
                free(h);
                continue;
            }
            copies[nc++] = h;
            hosts[nh++] = h;
        }
        if (offline)
            report(&d, "ok", "dns", NULL, "skipped (--offline)");
        else
            for (k = 0; k < nh; k++)
                check_dns(&d, hosts[k]);
        for (k = 0; k < nc; k++)
            free(copies[k]);
    }

done:
    if (d.json)
        printf("],\"failed\":%d,\"warnings\":%d,\"ok\":%s}\n", d.n_fail, d.n_warn,
               d.n_fail == 0 ? "true" : "false");
    else
        printf("%d check%s failed, %d warning%s\n", d.n_fail, d.n_fail == 1 ? "" : "s", d.n_warn,
               d.n_warn == 1 ? "" : "s");
    rc = d.n_fail == 0 ? KTOOL_EXIT_OK : KTOOL_EXIT_FAIL;
cleanup:
    if (ctx != NULL) {
        krb5_free_default_realm(ctx, realm);
        if (permitted != NULL)
            krb5_free_enctypes(ctx, permitted);
        krb5_free_context(ctx);
    }
    mailsso_enctype_policy_free(policy);
    mailsso_config_free(cfg);
    ktool_groups_free(groups);
    ktool_password_free(client_pw);
    free(path);
    mailsso_keytab_free(kt);
    return rc;
}
