/*
 * NAME
 *   config_schema - every mailsso.conf key, once (see include/mailsso/config.h)
 *
 * DESCRIPTION
 *   The table below is the only place a key is described. The parser
 *   (config.c), mailsso_config_check() and the mailsso.conf(5) man page
 *   (mailsso_config_write_manpage, at the end of this file) all read it.
 *
 *   Adding a key: add one row to the table in its scope's block. Columns:
 *     name, scope, type, default (as text), check, check_text, description.
 *   Default text: strings as they are (no quotes), integers in C syntax
 *   ("0660" is octal), booleans "true"/"false", lists in libconfig syntax
 *   ("[]", "[\"a\", \"b\"]"). The unit test loads every default through its
 *   own check, so a row whose default fails its check breaks `make check`.
 *   A check receives a pointer to the value: `const char *` for strings,
 *   `const long long *` for integers, `const int *` for booleans; for lists
 *   it is called once per item with the item (`const char *`). It fills err
 *   with a message quoting the bad value, without file or line (the parser
 *   prefixes "FILE:LINE: key 'NAME': "), and returns non-zero.
 *   Also add a commented example to conf/mailsso.conf (a test checks that
 *   the sample mentions every key).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <mailsso/config.h>
#include <mailsso/enctype.h>
#include <mailsso/log.h>
#include <mailsso/util.h>

#include "config_internal.h"

const char *const mailsso_config_builtin_services[] = {
    "smtp", "submission", "imap", "pop", "sieve", "lmtp", "http", NULL
};

/* ------------------------------------------------------------------ helpers */

static int
is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int
has_space(const char *s)
{
    for (; *s != '\0'; s++) {
        if (is_space((unsigned char)*s))
            return 1;
    }
    return 0;
}

static int
one_of(const char *v, const char *const *allowed)
{
    for (size_t i = 0; allowed[i] != NULL; i++) {
        if (strcmp(v, allowed[i]) == 0)
            return 1;
    }
    return 0;
}

static int
check_enum(const char *v, const char *const *allowed, const char *what, mailsso_error *err)
{
    char list[256] = "";

    if (one_of(v, allowed))
        return 0;
    for (size_t i = 0; allowed[i] != NULL; i++) {
        if (i > 0)
            strncat(list, ", ", sizeof(list) - strlen(list) - 1);
        strncat(list, allowed[i], sizeof(list) - strlen(list) - 1);
    }
    return mailsso_error_set(err, MAILSSO_E_CONFIG, "'%s' is not %s (use one of: %s)", v, what,
                             list);
}

/* Splits "LEFT = RIGHT" into trimmed, non-empty halves: at the first " = "
 * (so a side may itself hold '=', as a subject DN does), else the first '='. */
static int
split_rule(const char *rule, char *left, size_t left_size, char *right, size_t right_size,
           const char *form, mailsso_error *err)
{
    const char *eq = strstr(rule, " = ");
    const char *a = rule, *b;

    if (eq != NULL)
        eq++;
    else
        eq = strchr(rule, '=');
    size_t la, lb;

    if (eq == NULL)
        return mailsso_error_set(err, MAILSSO_E_CONFIG, "'%s' is not a rule of the form '%s'",
                                 rule, form);
    b = eq + 1;
    while (is_space((unsigned char)*a))
        a++;
    la = (size_t)(eq - a);
    while (la > 0 && is_space((unsigned char)a[la - 1]))
        la--;
    while (is_space((unsigned char)*b))
        b++;
    lb = strlen(b);
    while (lb > 0 && is_space((unsigned char)b[lb - 1]))
        lb--;
    if (la == 0 || lb == 0)
        return mailsso_error_set(err, MAILSSO_E_CONFIG,
                                 "'%s' has an empty side: use the form '%s'", rule, form);
    if (la >= left_size || lb >= right_size)
        return mailsso_error_set(err, MAILSSO_E_CONFIG, "'%s' is too long", rule);
    memcpy(left, a, la);
    left[la] = '\0';
    memcpy(right, b, lb);
    right[lb] = '\0';
    return 0;
}

static int
realm_ok(const char *r, mailsso_error *err)
{
    if (r[0] == '\0')
        return mailsso_error_set(err, MAILSSO_E_CONFIG, "empty realm name");
    for (const char *p = r; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (is_space(c) || c == '@' || c == '/' || c == '\\' || c < 0x20 || c >= 0x7f)
            return mailsso_error_set(err, MAILSSO_E_CONFIG,
                                     "'%s' is not a realm name (no spaces, '@', '/' or '\\')", r);
        if (c >= 'a' && c <= 'z')
            return mailsso_error_set(err, MAILSSO_E_CONFIG,
                                     "realm '%s' is not upper case: realms are case-sensitive "
                                     "and written in upper case (e.g. EXAMPLE.COM)", r);
    }
    return 0;
}

static int
hostname_ok(const char *h, int allow_wildcard)
{
    size_t n = strlen(h);

    if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-')
        return 0;
    if (allow_wildcard && strcmp(h, "*") == 0)
        return 1;
    if (allow_wildcard && strncmp(h, "*.", 2) == 0)
        return hostname_ok(h + 2, 0);
    for (const char *p = h; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(isalnum(c) || c == '-' || c == '.' || c == '_'))
            return 0;
    }
    return 1;
}

/* "svc/host", "svc/host@REALM", "user@REALM": no spaces, non-empty parts. */
static int
principal_ok(const char *p, int need_slash)
{
    const char *at = strrchr(p, '@');
    const char *slash = strchr(p, '/');

    if (p[0] == '\0' || has_space(p) || p[0] == '/' || p[0] == '@')
        return 0;
    if (need_slash && (slash == NULL || (at != NULL && slash > at)))
        return 0;
    if (slash != NULL && (slash[1] == '\0' || slash[1] == '@'))
        return 0;
    if (at != NULL && at[1] == '\0')
        return 0;
    return 1;
}

/* ------------------------------------------------------------------ checks */

static int
check_log_level(const void *value, mailsso_error *err)
{
    static const char *const levels[] = { "err", "warn", "notice", "info", "debug", NULL };
    mailsso_log_level lvl;

    if (mailsso_log_level_from_name((const char *)value, &lvl) == 0)
        return 0;
    return check_enum((const char *)value, levels, "a log level", err);
}

static int
check_service_name(const void *value, mailsso_error *err)
{
    const char *v = value;

    if (!(v[0] >= 'a' && v[0] <= 'z'))
        return mailsso_error_set(err, MAILSSO_E_CONFIG,
                                 "'%s' is not a service name (lower case letters, digits, '-' "
                                 "and '_', starting with a letter)", v);
    for (const char *p = v; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return mailsso_error_set(err, MAILSSO_E_CONFIG,
                                     "'%s' is not a service name (lower case letters, digits, "
                                     "'-' and '_', starting with a letter)", v);
    }
    if (strcmp(v, MAILSSO_CONFIG_KCD_GROUP) == 0 ||
        mailsso_config_find_key(v, MAILSSO_SCOPE_GLOBAL) != NULL ||
        mailsso_config_find_key(v, MAILSSO_SCOPE_SERVICE) != NULL)
        return mailsso_error_set(err, MAILSSO_E_CONFIG,
                                 "'%s' cannot be a service name: it is already a key or group "
                                 "of mailsso.conf", v);
    return 0;
}

static int
check_enctype_policy(const void *value, mailsso_error *err)
{
    mailsso_enctype_policy *policy = NULL;
    int rc = mailsso_enctype_policy_parse((const char *)value, &policy, err);

    mailsso_enctype_policy_free(policy);
    return rc;
}

static int
check_realm(const void *value, mailsso_error *err)
{
    return realm_ok((const char *)value, err);
}

static int
check_realm_enctypes(const void *value, mailsso_error *err)
{
    char realm[256], policy[512];
    int rc;

    rc = split_rule((const char *)value, realm, sizeof(realm), policy, sizeof(policy),
                    "REALM = POLICY", err);
    if (rc == 0)
        rc = realm_ok(realm, err);
    if (rc == 0)
        rc = check_enctype_policy(policy, err);
    return rc;
}

/* "" (system default), an absolute path, or a krb5 keytab name TYPE:RESIDUAL. */
static int
check_keytab_name(const void *value, mailsso_error *err)
{
    const char *v = value;
    const char *p = v;

    if (v[0] == '\0' || v[0] == '/')
        return 0;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
        p++;
    if (p != v && *p == ':' && p[1] != '\0')
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG,
                             "'%s' is not an absolute path or a keytab name such as "
                             "FILE:/etc/krb5.keytab", v);
}

static int
check_hostname(const void *value, mailsso_error *err)
{
    const char *v = value;

    if (v[0] == '\0' || hostname_ok(v, 0))
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG,
                             "'%s' is not a host name (letters, digits, '-' and '.')", v);
}

static int
check_accept_name(const void *value, mailsso_error *err)
{
    const char *v = value;

    if (v[0] == '@') {
        if (strcmp(v, "@hostbased") == 0 || strcmp(v, "@any") == 0)
            return 0;
        return mailsso_error_set(err, MAILSSO_E_CONFIG,
                                 "'%s' is not a keyword (use @hostbased, @any, or a principal "
                                 "such as imap/mail.example.com@EXAMPLE.COM)", v);
    }
    if (principal_ok(v, 1)) {
        const char *at = strrchr(v, '@');
        if (at == NULL)
            return 0;
        return realm_ok(at + 1, err);
    }
    return mailsso_error_set(err, MAILSSO_E_CONFIG,
                             "'%s' is not @hostbased, @any, SERVICE/HOST@REALM or "
                             "SERVICE/*@REALM", v);
}

static int
check_rule(const void *value, mailsso_error *err)
{
    char a[512], b[512];

    return split_rule((const char *)value, a, sizeof(a), b, sizeof(b), "FROM = TO", err);
}

static int
check_authzid_form(const void *value, mailsso_error *err)
{
    static const char *const forms[] = { "principal", "maildomain", "caseless", NULL };

    return check_enum((const char *)value, forms, "an authorization identity form", err);
}

/* "example.com = EXAMPLE.COM" */
static int
check_domain_realm(const void *value, mailsso_error *err)
{
    char domain[256], realm[256];
    int rc;

    rc = split_rule((const char *)value, domain, sizeof(domain), realm, sizeof(realm),
                    "example.com = EXAMPLE.COM", err);
    if (rc != 0)
        return rc;
    if (!hostname_ok(domain, 0))
        return mailsso_error_set(err, MAILSSO_E_CONFIG,
                                 "'%s' in '%s' is not a domain name", domain,
                                 (const char *)value);
    return realm_ok(realm, err);
}

/* "" or an MIT replay cache name TYPE:RESIDUAL (dfl:, none:, file2:/path). */
static int
check_replay_cache(const void *value, mailsso_error *err)
{
    const char *v = value;
    const char *colon = strchr(v, ':');

    if (v[0] == '\0')
        return 0;
    if (colon != NULL && colon != v && !has_space(v))
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG,
                             "'%s' is not a replay cache name such as dfl:, none: or "
                             "file2:/var/tmp/imap.rcache2", v);
}

static int
check_socket_path(const void *value, mailsso_error *err)
{
    const char *v = value;

    if (v[0] != '/')
        return mailsso_error_set(err, MAILSSO_E_CONFIG,
                                 "'%s' is not an absolute path of a Unix socket", v);
    if (strlen(v) >= 108)
        return mailsso_error_set(err, MAILSSO_E_CONFIG,
                                 "'%s' is too long for a Unix socket path (at most 107 bytes)",
                                 v);
    return 0;
}

int
mailsso_config_check_mode(const void *value, mailsso_error *err)
{
    long long v = *(const long long *)value;

    if (v < 0 || v > 07777)
        return mailsso_error_set(err, MAILSSO_E_CONFIG,
                                 "%llo is not a file mode between 0000 and 7777 (octal)", v);
    return 0;
}

static int
account_ok(const char *v)
{
    if (v[0] == '\0' || v[0] == '-')
        return 0;
    for (const char *p = v; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(isalnum(c) || c == '_' || c == '-' || c == '.' || (c == '$' && p[1] == '\0')))
            return 0;
    }
    return 1;
}

static int
check_account(const void *value, mailsso_error *err)
{
    if (account_ok((const char *)value))
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG, "'%s' is not a user/group name or number",
                             (const char *)value);
}

static int
check_account_opt(const void *value, mailsso_error *err)
{
    if (((const char *)value)[0] == '\0')
        return 0;
    return check_account(value, err);
}

static int
check_abs_path_opt(const void *value, mailsso_error *err)
{
    const char *v = value;

    if (v[0] == '\0' || v[0] == '/')
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG, "'%s' is not an absolute path", v);
}

static int
check_principal_opt(const void *value, mailsso_error *err)
{
    const char *v = value;

    if (v[0] == '\0' || principal_ok(v, 0))
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG,
                             "'%s' is not a principal name such as HTTP/gw.example.com@EXAMPLE.COM",
                             v);
}

static int
check_crl_url(const void *value, mailsso_error *err)
{
    const char *v = value;

    if (!has_space(v) && (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0 ||
                          strncmp(v, "file:///", 8) == 0 || v[0] == '/'))
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG,
                             "'%s' is not an http://, https:// or file:// URL or an absolute "
                             "path", v);
}

static int
check_positive(const void *value, mailsso_error *err)
{
    long long v = *(const long long *)value;

    if (v > 0)
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG, "%lld is not a positive number", v);
}

static int
check_nonnegative(const void *value, mailsso_error *err)
{
    long long v = *(const long long *)value;

    if (v >= 0)
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG, "%lld is negative", v);
}

static int
check_workers(const void *value, mailsso_error *err)
{
    long long v = *(const long long *)value;

    if (v >= 1 && v <= 1024)
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG, "%lld is not between 1 and 1024", v);
}

static int
check_request_bytes(const void *value, mailsso_error *err)
{
    long long v = *(const long long *)value;

    if (v >= 1024 && v <= 16 * 1024 * 1024)
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG,
                             "%lld is not between 1024 and 16777216 bytes", v);
}

static int
check_crl_fail_mode(const void *value, mailsso_error *err)
{
    static const char *const modes[] = { "closed", "open", NULL };

    return check_enum((const char *)value, modes, "a CRL failure mode", err);
}

/* A dotted OID with at least three arcs: 1.3.6.1.5.5.7.3.2 */
static int
oid_ok(const char *v)
{
    int arcs = 0, digits = 0;

    for (const char *p = v;; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
        } else if (*p == '.' || *p == '\0') {
            if (digits == 0)
                return 0;
            arcs++;
            digits = 0;
            if (*p == '\0')
                break;
        } else {
            return 0;
        }
    }
    return arcs >= 3;
}

/* An EKU short name (clientAuth) or a dotted OID (1.3.6.1.5.5.7.3.2). */
static int
check_eku(const void *value, mailsso_error *err)
{
    const char *v = value;
    int ok = isalpha((unsigned char)v[0]);

    for (const char *p = v; *p != '\0' && ok; p++)
        ok = isalnum((unsigned char)*p);
    if (ok || oid_ok(v))
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG,
                             "'%s' is not an extended key usage name (clientAuth, "
                             "msSmartcardLogin) or a dotted OID", v);
}

/* SHA-256 of the DER certificate: 64 hex digits, ':' separators allowed. */
static int
check_thumbprint(const void *value, mailsso_error *err)
{
    const char *v = value;
    size_t digits = 0;
    int ok = 1;

    for (const char *p = v; *p != '\0' && ok; p++) {
        if (isxdigit((unsigned char)*p))
            digits++;
        else
            ok = *p == ':';
    }
    if (ok && digits == 64)
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG,
                             "'%s' is not a SHA-256 certificate fingerprint (64 hex digits, "
                             "as printed by openssl x509 -noout -fingerprint -sha256)", v);
}

/* "" or a GSS host-based name (HTTP@mail.example.com) or a principal. */
static int
check_target_opt(const void *value, mailsso_error *err)
{
    const char *v = value;

    if (v[0] == '\0' || (principal_ok(v, 0) && (strchr(v, '@') != NULL || strchr(v, '/') != NULL)))
        return 0;
    return mailsso_error_set(err, MAILSSO_E_CONFIG,
                             "'%s' is not a service name such as HTTP@mail.example.com or "
                             "HTTP/mail.example.com@EXAMPLE.COM", v);
}

/* "hostname = HTTP@backend" */
static int
check_target_rule(const void *value, mailsso_error *err)
{
    char host[256], target[512];
    int rc;

    rc = split_rule((const char *)value, host, sizeof(host), target, sizeof(target),
                    "HOSTNAME = HTTP@BACKEND", err);
    if (rc != 0)
        return rc;
    if (!hostname_ok(host, 1))
        return mailsso_error_set(err, MAILSSO_E_CONFIG, "'%s' in '%s' is not a host name",
                                 host, (const char *)value);
    return check_target_opt(target, err);
}

static int
check_mechanism(const void *value, mailsso_error *err)
{
    static const char *const mechs[] = { "spnego", "krb5", NULL };

    return check_enum((const char *)value, mechs, "a GSS mechanism", err);
}

/* ------------------------------------------------------------------ the table */

#define GLOBAL MAILSSO_SCOPE_GLOBAL
#define SERVICE MAILSSO_SCOPE_SERVICE
#define KCD MAILSSO_SCOPE_KCD
#define STRING MAILSSO_CFG_STRING
#define INT MAILSSO_CFG_INT
#define BOOL MAILSSO_CFG_BOOL
#define LIST MAILSSO_CFG_LIST

static const mailsso_config_key schema[] = {
    /* ---- global: top level only */
    { "services", GLOBAL, LIST, "[]", check_service_name,
      "lower-case names (letters, digits, - and _)",
      "Extra service names that may have their own group, besides smtp, submission, imap, "
      "pop, sieve, lmtp and http (the SASL service name the server passes)." },
    { "log_level", GLOBAL, STRING, "info", check_log_level,
      "one of err, warn, notice, info, debug",
      "Messages more verbose than this level are not logged." },
    { "audit_level", GLOBAL, STRING, "notice", check_log_level,
      "one of err, warn, notice, info, debug",
      "Level of the SASL plugin's audit line per successful login. Postfix logs SASL "
      "notices only with smtpd -v: use warn there." },

    /* ---- service: top level (default for all services) or in a service group */
    { "keytab", SERVICE, STRING, "", check_keytab_name,
      "empty, an absolute path, or TYPE:RESIDUAL",
      "Keytab holding the service keys; empty means the system default keytab "
      "(KRB5_KTNAME, else default_keytab_name of krb5.conf)." },
    { "hostname", SERVICE, STRING, "", check_hostname, "empty or a host name",
      "Host name used for @hostbased acceptor names; empty means the name the mail server "
      "passes to SASL (Postfix myhostname, Cyrus servername; libsasl: gethostname())." },
    { "accept_names", SERVICE, LIST, "[\"@hostbased\"]", check_accept_name,
      "@hostbased, @any, SERVICE/HOST@REALM or SERVICE/*@REALM",
      "Which keytab keys may accept a client's ticket: @hostbased is SERVICE/HOSTNAME, "
      "@any is any key in the keytab, a principal names one key, * stands for any host." },
    { "enctypes", SERVICE, STRING, "aes", check_enctype_policy,
      "an enctype policy (aes, camellia, rc4, strong, legacy, names, -WORD); DES and 3DES refused",
      "Ticket session and service key encryption types that are accepted." },
    { "realm_enctypes", SERVICE, LIST, "[]", check_realm_enctypes, "\"REALM = POLICY\" items",
      "Per-realm enctype policies that replace enctypes for clients of that realm "
      "(e.g. \"AD.EXAMPLE.COM = aes rc4\")." },
    { "realms", SERVICE, LIST, "[]", check_realm, "upper-case realm names",
      "Client realms that may log in; empty means only the default realm of krb5.conf." },
    { "strip_realm", SERVICE, BOOL, "true", NULL, NULL,
      "Map alice@EXAMPLE.COM to the mailbox name alice (only for realms allowed by realms)." },
    { "lowercase", SERVICE, BOOL, "false", NULL, NULL,
      "Lower-case the mailbox name derived from the principal." },
    { "map", SERVICE, LIST, "[]", check_rule, "\"FROM = TO\" items",
      "Explicit principal to mailbox rules, applied before strip_realm "
      "(e.g. \"admin/root@EXAMPLE.COM = postmaster\")." },
    { "authzid_forms", SERVICE, LIST, "[\"principal\"]", check_authzid_form,
      "items from principal, maildomain, caseless",
      "Forms of a client-supplied authorization identity accepted as the client itself: "
      "principal (alice@EXAMPLE.COM), maildomain (alice@example.com, see mail_domains), "
      "caseless (case differences ignored)." },
    { "mail_domains", SERVICE, LIST, "[]", check_domain_realm,
      "\"example.com = EXAMPLE.COM\" items",
      "Mail domain to realm pairs used by the maildomain authorization form." },
    { "warn_rc4", SERVICE, BOOL, "true", NULL, NULL,
      "Log a warning whenever a client authenticates with an RC4 ticket." },
    { "replay_cache", SERVICE, STRING, "", check_replay_cache,
      "empty or a replay cache name (dfl:, none:, file2:PATH)",
      "Kerberos replay cache for this service; empty means the krb5 default." },

    /* ---- kcd: inside the "kcd" group */
    { "listen", KCD, STRING, "/run/mailsso-kcd/kcd.sock", check_socket_path,
      "an absolute path, at most 107 bytes",
      "Unix socket on which mailsso-kcd answers nginx auth requests." },
    { "socket_mode", KCD, INT, "0660", mailsso_config_check_mode, "an octal mode 0000 to 7777",
      "Permissions of the socket, read as octal digits as with chmod (0660)." },
    { "socket_group", KCD, STRING, "", check_account_opt, "empty, a group name or number",
      "Group owning the socket; empty keeps the helper's group." },
    { "allowed_peers", KCD, LIST, "[\"www-data\"]", check_account, "user names or uids",
      "Users whose processes may connect to the socket (checked with SO_PEERCRED)." },
    { "user", KCD, STRING, "", check_account_opt, "empty, a user name or number",
      "User to run as once the keytab is read. Started as root, the helper refuses to serve "
      "while this is empty; \"root\" keeps root deliberately." },
    { "keytab", KCD, STRING, "/etc/mailsso/kcd.keytab", check_keytab_name,
      "an absolute path or TYPE:RESIDUAL",
      "Keytab of the gateway principal, read only by the helper." },
    { "principal", KCD, STRING, "", check_principal_opt, "empty or a principal name",
      "Gateway principal doing S4U2Self and S4U2Proxy; empty means the first principal in "
      "the keytab." },
    { "trust_anchors", KCD, STRING, "", check_abs_path_opt, "an absolute path",
      "PEM file of the CA certificates that issue user certificates (required by mailsso-kcd)." },
    { "intermediates", KCD, STRING, "", check_abs_path_opt, "empty or an absolute path",
      "PEM file of intermediate CA certificates used to build chains; empty means none." },
    { "crl_urls", KCD, LIST, "[]", check_crl_url, "http://, https://, file:// URLs or paths",
      "CRLs to fetch and check besides those named in the certificates' CRL distribution "
      "points." },
    { "crl_refresh", KCD, INT, "3600", check_positive, "seconds, > 0",
      "How often CRLs are downloaded again." },
    { "crl_fail_mode", KCD, STRING, "closed", check_crl_fail_mode, "closed or open",
      "When a CRL cannot be fetched or has expired: closed refuses every certificate of that "
      "CA, open accepts them and logs a warning." },
    { "crl_required_at_start", KCD, BOOL, "true", NULL, NULL,
      "Refuse to start unless every CRL could be loaded." },
    { "require_eku", KCD, LIST, "[\"clientAuth\"]", check_eku,
      "EKU names or dotted OIDs",
      "Extended key usages a user certificate must carry (all of them); empty means none." },
    { "thumbprints_allow", KCD, LIST, "[]", check_thumbprint,
      "SHA-256 fingerprints (64 hex digits, colons allowed)",
      "If not empty, only these certificates are accepted." },
    { "thumbprints_deny", KCD, LIST, "[]", check_thumbprint,
      "SHA-256 fingerprints (64 hex digits, colons allowed)",
      "Certificates refused even when valid." },
    { "upn_realms", KCD, LIST, "[]", check_domain_realm, "\"example.com = EXAMPLE.COM\" items",
      "UPN suffix to realm pairs: alice@example.com in the certificate becomes "
      "alice@EXAMPLE.COM; UPNs of other suffixes are refused." },
    { "subject_rules", KCD, LIST, "[]", check_rule, "\"FROM = TO\" items",
      "Rules mapping certificate subject names (\"CN=...,O=... = user@REALM\") or the e-mail "
      "SAN (\"email:*@example.com = %u@EXAMPLE.COM\") to principals, for certificates without "
      "a UPN." },
    { "default_target", KCD, STRING, "", check_target_opt,
      "empty, SERVICE@HOST or SERVICE/HOST@REALM",
      "Service the Negotiate token is made for when no targets rule matches "
      "(e.g. HTTP@mail.example.com); empty means such requests are refused." },
    { "targets", KCD, LIST, "[]", check_target_rule,
      "\"HOSTNAME = SERVICE@HOST\" items (HOSTNAME may be * or *.DOMAIN)",
      "Requested host name to backend service pairs (e.g. \"mail.example.com = "
      "HTTP@backend.example.com\")." },
    { "mechanism", KCD, STRING, "spnego", check_mechanism, "spnego or krb5",
      "Mechanism of the token given to the backend: spnego (Negotiate) or raw krb5." },
    { "cache_max_entries", KCD, INT, "10000", check_positive, "> 0",
      "Most delegated credentials kept in memory." },
    { "cache_margin", KCD, INT, "300", check_nonnegative, "seconds, >= 0",
      "A cached credential is renewed this long before it expires." },
    { "cache_max_lifetime", KCD, INT, "36000", check_positive, "seconds, > 0",
      "A cached credential is never used longer than this." },
    { "negative_cache_ttl", KCD, INT, "30", check_nonnegative, "seconds, >= 0 (0: off)",
      "How long a refused certificate or failed S4U request is remembered." },
    { "verify_cache_ttl", KCD, INT, "300", check_nonnegative, "seconds, >= 0 (0: off)",
      "How long a verified certificate (chain, CRLs, mapped principal) is remembered; a "
      "CRL reload, a SIGHUP or the certificate's notAfter ends it sooner." },
    { "workers", KCD, INT, "4", check_workers, "1 to 1024", "Worker threads." },
    { "max_request_bytes", KCD, INT, "65536", check_request_bytes, "1024 to 16777216",
      "Largest auth request accepted on the socket (headers and certificate)." },
    { "max_token_bytes", KCD, INT, "16384", check_positive, "> 0",
      "Largest Authorization header value (base64 Negotiate token) handed to nginx; a bigger "
      "token (a user in very many groups) is refused with a clear log line." },
    { "retry_after", KCD, INT, "30", check_positive, "seconds, > 0",
      "Retry-After sent with 503 answers (KDC or CRL server unavailable)." },
    { "kdc_timeout", KCD, INT, "5", check_positive, "seconds, > 0",
      "Longest a request waits for the KDC (S4U2Self + S4U2Proxy of a user not cached); then "
      "it gets 503 with Retry-After while the KDC request goes on in the background." },
    { "crl_timeout", KCD, INT, "5", check_positive, "seconds, > 0",
      "Connect and transfer timeout of one CRL download." },
    { "crl_retry", KCD, INT, "30", check_nonnegative, "seconds, >= 0",
      "After a failed CRL download, wait this long before trying that URL again." },
};

#undef GLOBAL
#undef SERVICE
#undef KCD
#undef STRING
#undef INT
#undef BOOL
#undef LIST

const mailsso_config_key *
mailsso_config_schema(size_t *n_out)
{
    if (n_out != NULL)
        *n_out = MAILSSO_ARRAY_LEN(schema);
    return schema;
}

const mailsso_config_key *
mailsso_config_find_key(const char *name, mailsso_config_scope scope)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(schema); i++) {
        if (schema[i].scope == scope && strcmp(schema[i].name, name) == 0)
            return &schema[i];
    }
    return NULL;
}

const char *
mailsso_config_type_name(mailsso_config_type type)
{
    switch (type) {
    case MAILSSO_CFG_STRING:
        return "a string";
    case MAILSSO_CFG_INT:
        return "an integer";
    case MAILSSO_CFG_BOOL:
        return "a boolean (true or false)";
    case MAILSSO_CFG_LIST:
        return "a list of strings";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ man page */

/* Writes text escaped for man(7): backslashes, and leading '.' or '\''. */
static void
man_text(FILE *out, const char *s)
{
    if (s[0] == '.' || s[0] == '\'')
        fputs("\\&", out);
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else
            fputc(*s, out);
    }
}

static const char *
man_type(mailsso_config_type type)
{
    switch (type) {
    case MAILSSO_CFG_STRING:
        return "string";
    case MAILSSO_CFG_INT:
        return "integer";
    case MAILSSO_CFG_BOOL:
        return "boolean";
    case MAILSSO_CFG_LIST:
        return "list of strings";
    }
    return "unknown";
}

static void
man_default(FILE *out, const mailsso_config_key *k)
{
    if (k->type == MAILSSO_CFG_STRING) {
        fputs("\"", out);
        man_text(out, k->default_value);
        fputs("\"", out);
    } else {
        man_text(out, k->default_value);
    }
}

static void
man_scope(FILE *out, mailsso_config_scope scope, const char *title, const char *intro)
{
    fprintf(out, ".SH %s\n", title);
    fprintf(out, "%s\n", intro);
    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(schema); i++) {
        const mailsso_config_key *k = &schema[i];
        if (k->scope != scope)
            continue;
        fputs(".TP\n\\fB", out);
        man_text(out, k->name);
        fprintf(out, "\\fR (%s, default \\fB", man_type(k->type));
        man_default(out, k);
        fputs("\\fR)\n", out);
        man_text(out, k->description);
        fputs("\n", out);
        if (k->check_text != NULL) {
            fputs(".br\nValid values: ", out);
            man_text(out, k->check_text);
            fputs(".\n", out);
        }
    }
}

int
mailsso_config_write_manpage(FILE *out)
{
    if (out == NULL)
        return MAILSSO_E_INVALID;
    fputs(".\\\" Generated from lib/config_schema.c by docs/gen-mailsso-conf-man; do not edit.\n",
          out);
    fprintf(out, ".TH MAILSSO.CONF 5 \"\" \"%s %s\" \"File Formats\"\n", PACKAGE_NAME,
            PACKAGE_VERSION);
    fputs(".SH NAME\n"
          "mailsso.conf \\- configuration of the mailsso SASL plugin, mailsso\\-keytab and "
          "mailsso\\-kcd\n"
          ".SH SYNOPSIS\n", out);
    man_text(out, MAILSSO_DEFAULT_CONFIG);
    fputs("\n"
          ".SH DESCRIPTION\n"
          "One file configures the three parts of mailsso: the Cyrus SASL GSSAPI plugin loaded "
          "by mail servers, the keytab tool \\fBmailsso\\-keytab\\fR(8) and the "
          "certificate\\-to\\-Kerberos helper \\fBmailsso\\-kcd\\fR(8).\n"
          ".SS Syntax\n"
          "The file uses libconfig syntax. A setting is \\fIname\\fR \\fB=\\fR \\fIvalue\\fB;\\fR. "
          "Strings are in double quotes (\"aes\"), integers are decimal or hex (0x1b0), "
          "booleans are \\fBtrue\\fR or \\fBfalse\\fR, lists of strings are written "
          "[\"a\", \"b\"]. A group is \\fIname\\fR \\fB= {\\fR settings \\fB};\\fR. "
          "Comments start with \\fB#\\fR or \\fB//\\fR, or are enclosed in /* */. "
          "\\fB@include \"\\fR\\fIfile\\fR\\fB\"\\fR reads another file (relative names "
          "are taken from the directory of this file). "
          "Rule lists such as \\fBmap\\fR hold strings of the form \"\\fILEFT\\fR = "
          "\\fIRIGHT\\fR\".\n"
          ".PP\n"
          "Every key is checked when the file is loaded. An unknown key, an unknown group, a "
          "value of the wrong type or a value that fails its check is an error, reported as\n"
          ".PP\n"
          ".RS\n"
          "\\fIFILE\\fR:\\fILINE\\fR: key '\\fINAME\\fR': \\fIwhat is wrong\\fR\n"
          ".RE\n"
          ".PP\n"
          "where \\fINAME\\fR is \\fIgroup\\fR.\\fIkey\\fR for keys inside a group; a file "
          "that libconfig cannot parse is reported as \\fIFILE\\fR:\\fILINE\\fR: syntax error: "
          "\\&... . The plugin then refuses to authenticate and the tools refuse to start. "
          "\\fBmailsso\\-keytab \\-\\-check\\-config\\fR and \\fBmailsso\\-kcd "
          "\\-\\-check\\-config\\fR list every problem of a file at once.\n"
          ".SS Services and precedence\n"
          "Settings at the top level of the file apply to every service. A group named after "
          "a SASL service overrides them for that service only. The service groups are ", out);
    for (size_t i = 0; mailsso_config_builtin_services[i] != NULL; i++)
        fprintf(out, "%s\\fB%s\\fR", i == 0 ? "" : ", ", mailsso_config_builtin_services[i]);
    fputs(", and any name listed in \\fBservices\\fR. The service name is the one the mail "
          "server gives to Cyrus SASL (Postfix: smtp; Cyrus imapd: imap, pop, sieve, lmtp).\n"
          ".PP\n"
          "A service setting is looked up in this order: the service's group, then the top "
          "level, then the built\\-in default shown below. Global settings are valid only at "
          "the top level. The helper's settings are valid only inside the group "
          "\\fBkcd\\fR.\n", out);

    man_scope(out, MAILSSO_SCOPE_GLOBAL, "GLOBAL SETTINGS",
              "Valid at the top level only.");
    man_scope(out, MAILSSO_SCOPE_SERVICE, "SERVICE SETTINGS",
              "Valid at the top level (the default for every service) and in each service "
              "group.");
    man_scope(out, MAILSSO_SCOPE_KCD, "KCD SETTINGS",
              "Valid inside the group \\fBkcd\\fR only; read by \\fBmailsso\\-kcd\\fR(8).");

    fputs(".SH FILES\n.TP\n", out);
    man_text(out, MAILSSO_DEFAULT_CONFIG);
    fputs("\nThe default configuration file; the tools accept another path with "
          "\\fB\\-\\-config\\fR.\n"
          ".SH EXAMPLES\n"
          "Accept only AES tickets for the host\\-based principals, but allow RC4 for the "
          "Active Directory realm, use a separate keytab for IMAP, and map one principal "
          "explicitly:\n"
          ".PP\n"
          ".nf\n"
          ".RS\n"
          "realms = [\"EXAMPLE.COM\", \"AD.EXAMPLE.COM\"];\n"
          "enctypes = \"aes\";\n"
          "realm_enctypes = [\"AD.EXAMPLE.COM = aes rc4\"];\n"
          "map = [\"admin/root@EXAMPLE.COM = postmaster\"];\n"
          "\n"
          "imap = {\n"
          "    keytab = \"/etc/mailsso/imap.keytab\";\n"
          "    accept_names = [\"imap/mail.example.com@EXAMPLE.COM\"];\n"
          "};\n"
          "\n"
          "kcd = {\n"
          "    trust_anchors = \"/etc/mailsso/user\\-ca.pem\";\n"
          "    upn_realms = [\"example.com = EXAMPLE.COM\"];\n"
          "    default_target = \"HTTP@mail.example.com\";\n"
          "    socket_mode = 0660;\n"
          "};\n"
          ".RE\n"
          ".fi\n"
          ".PP\n"
          "An annotated sample with every key is installed as "
          "\\fIexamples/mailsso.conf\\fR in the package's documentation directory.\n"
          ".SH SEE ALSO\n"
          "\\fBmailsso\\-keytab\\fR(8), \\fBmailsso\\-kcd\\fR(8), \\fBkrb5.conf\\fR(5), "
          "https://hyperrealm.github.io/libconfig/\n", out);
    return ferror(out) ? MAILSSO_E_IO : 0;
}
