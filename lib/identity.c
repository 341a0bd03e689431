/*
 * NAME
 *   identity - who logged in: realm rules, principal -> mailbox, authzid
 *   (include/mailsso/identity.h)
 *
 * DESCRIPTION
 *   Principals are parsed from gss_display_name() form into unescaped
 *   components and a realm. Anything odd is refused before any rule looks at
 *   it: control characters or NUL (raw or escaped), invalid UTF-8, empty
 *   components, an unescaped '@' before the realm, a realm not in the allowed
 *   list (compared exactly: Kerberos realms are case-sensitive).
 *
 *   A mailbox comes from the first matching map rule, else from the realm's
 *   default (strip_realm: the first component; otherwise "name@REALM"), then
 *   is folded to lower case when configured. Names differing only in letter
 *   case are then treated as the same user (right for AD, the admin's choice
 *   for MIT realms).
 *
 *   No two principals get one mailbox unless a "==" rule says so:
 *   - Every allowed realm has one "family" template that single-component
 *     principals of that realm go through (its "*@REALM" rule or the
 *     default). rules_new() decides exactly whether two realms' families can
 *     produce the same string (intersection of two regular languages
 *     PREFIX N SUFFIX, where N is a non-empty name without '@', '/', '\' or
 *     control characters, because such names are refused), and fails with
 *     an example pair of principals when they can.
 *   - Two explicit principal rules giving one mailbox fail in rules_new().
 *   - A mailbox given by an explicit principal rule is reserved: another
 *     principal whose family template happens to produce it is refused at
 *     map time (the rule cannot be checked statically without knowing which
 *     principals exist).
 *   - A rule written "==" takes part in none of these checks.
 *
 * DIAGNOSTICS
 *   MAILSSO_E_CONFIG from rules_new() naming the rule/realms and a fix;
 *   MAILSSO_E_POLICY from map() naming the principal and the rule.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsso/identity.h>
#include <mailsso/log.h>
#include <mailsso/util.h>

#define PRINCIPAL_MAX 1024
#define MAX_COMPS 8
#define TEMPLATE_MAX 512
#define SAFE_MAX 256
#define FAMILY_MAX 300             /* longest mailbox template after %r/%d expansion */

#define FORM_PRINCIPAL  0x1u
#define FORM_MAILDOMAIN 0x2u
#define FORM_CASELESS   0x4u

/* A parsed display-form principal. */
typedef struct pname {
    char buf[PRINCIPAL_MAX + 1];   /* unescaped components and realm, NUL-separated */
    const char *comp[MAX_COMPS];
    size_t ncomp;
    const char *realm;
    int odd;                       /* a component holds '@', '/' or '\' (was escaped) */
} pname;

typedef struct map_rule {
    char *text;                    /* the rule as written, for messages */
    int wildcard;                  /* FROM is "*@REALM" */
    int shared;                    /* written "==" */
    int active;                    /* its realm is allowed */
    pname *from;                   /* exact rules only */
    char *realm;
    char *tmpl;
    char *fixed;                   /* exact rules: the mailbox they give */
} map_rule;

typedef struct domain_map {
    char *domain;                  /* lower case */
    char *realm;
} domain_map;

struct mailsso_identity_rules {
    char **realms;
    size_t n_realms;
    int strip_realm;
    int lowercase;
    unsigned forms;
    map_rule *rules;
    size_t n_rules;
    domain_map *domains;
    size_t n_domains;
};

/* ------------------------------------------------------------ small helpers */

static void
sanitize(const char *s, char *out, size_t outsz)
{
    if (s == NULL)
        s = "(null)";
    mailsso_log_sanitize(s, strlen(s), out, outsz);
}

static char *
dupstr(const char *s, size_t len)
{
    char *p = malloc(len + 1);

    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

static int
is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static int
ci_equal_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];

        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Copy of s[0..len) without leading/trailing blanks. */
static char *
trimdup(const char *s, size_t len)
{
    while (len > 0 && is_space(*s)) {
        s++;
        len--;
    }
    while (len > 0 && is_space(s[len - 1]))
        len--;
    return dupstr(s, len);
}

static int
valid_utf8(const unsigned char *s)
{
    while (*s != '\0') {
        unsigned char c = *s;
        size_t n;
        uint32_t cp;

        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += n + 1;
    }
    return 1;
}

/* Growable string; remembers its own failure. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int fail;
} sbuf;

static void
sb_addn(sbuf *b, const char *s, size_t n)
{
    if (b->fail)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *np;

        while (b->len + n + 1 > cap)
            cap *= 2;
        np = realloc(b->p, cap);
        if (np == NULL) {
            b->fail = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_add(sbuf *b, const char *s)
{
    sb_addn(b, s, strlen(s));
}

/* ------------------------------------------------------ principal parsing */

/* 0, or -1 with a reason in why. */
static int
parse_principal(const char *s, pname *out, const char **why)
{
    size_t len, at = (size_t)-1, o = 0;
    int escaped = 0;

    memset(out, 0, sizeof(*out));
    len = strlen(s);
    if (len == 0) {
        *why = "it is empty";
        return -1;
    }
    if (len > PRINCIPAL_MAX) {
        *why = "it is too long";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (is_ctl((unsigned char)s[i])) {
            *why = "it contains a control character";
            return -1;
        }
    }
    if (!valid_utf8((const unsigned char *)s)) {
        *why = "it is not valid UTF-8";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (escaped) {
            escaped = 0;
        } else if (s[i] == '\\') {
            escaped = 1;
        } else if (s[i] == '@') {
            at = i;
        }
    }
    if (escaped) {
        *why = "it ends in a lone backslash";
        return -1;
    }
    if (at == (size_t)-1) {
        *why = "it has no realm";
        return -1;
    }

    out->comp[out->ncomp++] = out->buf;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int in_realm = i > at;

        if (i == at) {
            if (o == 0 || out->buf[o - 1] == '\0' || out->ncomp == 0) {
                *why = "it has an empty name component";
                return -1;
            }
            out->buf[o++] = '\0';
            out->realm = out->buf + o;
            continue;
        }
        if (c == '\\') {
            c = s[++i];
            if (c == 'n' || c == 't' || c == 'b' || c == '0') {
                *why = "it contains an escaped control character or NUL";
                return -1;
            }
            if (in_realm && (c == '@' || c == '/' || c == '\\')) {
                *why = "its realm contains '@', '/' or '\\'";
                return -1;
            }
            if (c == '@' || c == '/' || c == '\\')
                out->odd = 1;
        } else if (!in_realm && c == '/') {
            if (o == 0 || out->buf[o - 1] == '\0') {
                *why = "it has an empty name component";
                return -1;
            }
            if (out->ncomp == MAX_COMPS) {
                *why = "it has too many components";
                return -1;
            }
            out->buf[o++] = '\0';
            out->comp[out->ncomp++] = out->buf + o;
            continue;
        } else if (!in_realm && c == '@') {
            *why = "it contains an unescaped '@' before the realm";
            return -1;
        } else if (in_realm && c == '/') {
            *why = "its realm contains '/'";
            return -1;
        }
        out->buf[o++] = c;
    }
    out->buf[o] = '\0';
    if (*out->realm == '\0') {
        *why = "it has an empty realm";
        return -1;
    }
    return 0;
}

static int
pname_equal(const pname *a, const pname *b)
{
    if (a->ncomp != b->ncomp || strcmp(a->realm, b->realm) != 0)
        return 0;
    for (size_t i = 0; i < a->ncomp; i++) {
        if (strcmp(a->comp[i], b->comp[i]) != 0)
            return 0;
    }
    return 1;
}

int
mailsso_identity_realm_of(const char *principal, char *buf, size_t bufsize)
{
    pname *p = NULL;
    const char *why = NULL;
    int ret = MAILSSO_E_PARSE;

    if (principal == NULL || buf == NULL || bufsize == 0)
        return MAILSSO_E_PARSE;
    p = malloc(sizeof(*p));
    if (p == NULL)
        return MAILSSO_E_NOMEM;
    if (parse_principal(principal, p, &why) != 0)
        goto cleanup;
    if (strlen(p->realm) >= bufsize)
        goto cleanup;
    memcpy(buf, p->realm, strlen(p->realm) + 1);
    ret = 0;
cleanup:
    free(p);
    return ret;
}

/* ------------------------------------------------------------ rule lookup */

static int
realm_allowed(const mailsso_identity_rules *r, const char *realm)
{
    for (size_t i = 0; i < r->n_realms; i++) {
        if (strcmp(r->realms[i], realm) == 0)
            return 1;
    }
    return 0;
}

int
mailsso_identity_realm_allowed(const mailsso_identity_rules *rules, const char *realm)
{
    if (rules == NULL || realm == NULL)
        return 0;
    return realm_allowed(rules, realm);
}

/* The first mail domain mapped to realm, or NULL. */
static const char *
domain_of(const mailsso_identity_rules *r, const char *realm)
{
    for (size_t i = 0; i < r->n_domains; i++) {
        if (strcmp(r->domains[i].realm, realm) == 0)
            return r->domains[i].domain;
    }
    return NULL;
}

static const char *
realm_of_domain(const mailsso_identity_rules *r, const char *domain)
{
    for (size_t i = 0; i < r->n_domains; i++) {
        if (mailsso_streq_ci(r->domains[i].domain, domain))
            return r->domains[i].realm;
    }
    return NULL;
}

/* Expands a validated template; NULL only on out-of-memory. */
static char *
expand(const char *tmpl, const char *user, const char *realm, const char *domain, int lower)
{
    sbuf b = { NULL, 0, 0, 0 };

    sb_add(&b, "");
    for (const char *t = tmpl; *t != '\0'; t++) {
        if (*t != '%') {
            sb_addn(&b, t, 1);
            continue;
        }
        t++;
        if (*t == '\0')
            break;              /* not reached: templates are checked at load */
        if (*t == 'u')
            sb_add(&b, user);
        else if (*t == 'r')
            sb_add(&b, realm);
        else if (*t == 'd')
            sb_add(&b, domain != NULL ? domain : "");
        else
            sb_addn(&b, "%", 1);
    }
    if (b.fail) {
        free(b.p);
        return NULL;
    }
    if (lower)
        mailsso_ascii_lower(b.p);
    return b.p;
}

/* ---------------------------------------------------- rule construction */

void
mailsso_identity_rules_free(mailsso_identity_rules *rules)
{
    if (rules == NULL)
        return;
    for (size_t i = 0; i < rules->n_realms; i++)
        free(rules->realms[i]);
    free(rules->realms);
    for (size_t i = 0; i < rules->n_rules; i++) {
        free(rules->rules[i].text);
        free(rules->rules[i].from);
        free(rules->rules[i].realm);
        free(rules->rules[i].tmpl);
        free(rules->rules[i].fixed);
    }
    free(rules->rules);
    for (size_t i = 0; i < rules->n_domains; i++) {
        free(rules->domains[i].domain);
        free(rules->domains[i].realm);
    }
    free(rules->domains);
    free(rules);
}

static int
nomem(mailsso_error *err)
{
    return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory building identity rules");
}

/* A realm name as configured: non-empty, printable, no '@', '/', '\', blanks. */
static int
check_realm_name(const char *realm, const char *where, mailsso_error *err)
{
    char safe[SAFE_MAX];

    sanitize(realm, safe, sizeof(safe));
    if (*realm == '\0' || strlen(realm) > 255 || strpbrk(realm, "@/\\ \t*") != NULL)
        goto bad;
    for (const char *p = realm; *p != '\0'; p++) {
        if (is_ctl((unsigned char)*p))
            goto bad;
    }
    return 0;
bad:
    mailsso_error_set(err, MAILSSO_E_CONFIG, "%s: '%s' is not a realm name", where, safe);
    mailsso_error_set_fix(err, "write the realm exactly as Kerberos spells it, e.g. EXAMPLE.COM");
    return MAILSSO_E_CONFIG;
}

static int
add_realm(mailsso_identity_rules *r, const char *realm, const char *where, mailsso_error *err)
{
    char **nr;
    int ret = check_realm_name(realm, where, err);

    if (ret != 0)
        return ret;
    if (realm_allowed(r, realm))
        return 0;
    nr = realloc(r->realms, (r->n_realms + 1) * sizeof(*nr));
    if (nr == NULL)
        return nomem(err);
    r->realms = nr;
    if ((r->realms[r->n_realms] = dupstr(realm, strlen(realm))) == NULL)
        return nomem(err);
    r->n_realms++;
    return 0;
}

static int
parse_forms(mailsso_identity_rules *r, const mailsso_identity_settings *s, mailsso_error *err)
{
    for (size_t i = 0; i < s->n_authzid_forms; i++) {
        const char *f = s->authzid_forms[i];
        char safe[SAFE_MAX];

        if (f != NULL && mailsso_streq_ci(f, "principal")) {
            r->forms |= FORM_PRINCIPAL;
        } else if (f != NULL && mailsso_streq_ci(f, "maildomain")) {
            r->forms |= FORM_MAILDOMAIN;
        } else if (f != NULL && mailsso_streq_ci(f, "caseless")) {
            r->forms |= FORM_CASELESS;
        } else {
            sanitize(f, safe, sizeof(safe));
            mailsso_error_set(err, MAILSSO_E_CONFIG, "authzid_forms: unknown form '%s'", safe);
            mailsso_error_set_fix(err, "use any of \"principal\", \"maildomain\", \"caseless\"");
            return MAILSSO_E_CONFIG;
        }
    }
    return 0;
}

static int
parse_domains(mailsso_identity_rules *r, const mailsso_identity_settings *s, mailsso_error *err)
{
    if (s->n_mail_domains == 0)
        return 0;
    r->domains = calloc(s->n_mail_domains, sizeof(*r->domains));
    if (r->domains == NULL)
        return nomem(err);
    for (size_t i = 0; i < s->n_mail_domains; i++) {
        const char *text = s->mail_domains[i] != NULL ? s->mail_domains[i] : "";
        const char *eq = strchr(text, '=');
        char safe[SAFE_MAX], where[SAFE_MAX + 32];
        domain_map *d = &r->domains[r->n_domains];
        const char *other;
        int ret;

        sanitize(text, safe, sizeof(safe));
        if (eq == NULL || strchr(eq + 1, '=') != NULL) {
            mailsso_error_set(err, MAILSSO_E_CONFIG,
                              "mail_domains: '%s' is not of the form \"DOMAIN = REALM\"", safe);
            mailsso_error_set_fix(err, "write e.g. \"example.com = EXAMPLE.COM\"");
            return MAILSSO_E_CONFIG;
        }
        d->domain = trimdup(text, (size_t)(eq - text));
        d->realm = trimdup(eq + 1, strlen(eq + 1));
        r->n_domains++;
        if (d->domain == NULL || d->realm == NULL)
            return nomem(err);
        mailsso_ascii_lower(d->domain);
        if (*d->domain == '\0' || strpbrk(d->domain, "@/\\ \t%") != NULL ||
            !valid_utf8((const unsigned char *)d->domain)) {
            mailsso_error_set(err, MAILSSO_E_CONFIG, "mail_domains: '%s': bad domain name", safe);
            mailsso_error_set_fix(err, "write e.g. \"example.com = EXAMPLE.COM\"");
            return MAILSSO_E_CONFIG;
        }
        for (const char *p = d->domain; *p != '\0'; p++) {
            if (is_ctl((unsigned char)*p)) {
                mailsso_error_set(err, MAILSSO_E_CONFIG, "mail_domains: '%s': bad domain name",
                                  safe);
                return MAILSSO_E_CONFIG;
            }
        }
        snprintf(where, sizeof(where), "mail_domains '%s'", safe);
        if ((ret = check_realm_name(d->realm, where, err)) != 0)
            return ret;
        /* Earlier entries win; a domain naming two realms is a contradiction. */
        for (size_t j = 0; j + 1 < r->n_domains; j++) {
            if (mailsso_streq_ci(r->domains[j].domain, d->domain)) {
                other = r->domains[j].realm;
                if (strcmp(other, d->realm) != 0) {
                    mailsso_error_set(err, MAILSSO_E_CONFIG,
                                      "mail_domains: domain '%s' is mapped to both %s and %s",
                                      d->domain, other, d->realm);
                    mailsso_error_set_fix(err, "map each mail domain to one realm");
                    return MAILSSO_E_CONFIG;
                }
            }
        }
    }
    return 0;
}

/* Checks a TO template; counts %u occurrences. */
static int
check_template(const char *tmpl, const char *rule_safe, const char *realm,
               const mailsso_identity_rules *r, int *n_user_out, mailsso_error *err)
{
    int n_user = 0;

    if (*tmpl == '\0') {
        mailsso_error_set(err, MAILSSO_E_CONFIG, "map rule '%s': empty mailbox template",
                          rule_safe);
        mailsso_error_set_fix(err, "write e.g. \"bob@EXAMPLE.COM = robert\" or \"*@EXAMPLE.COM = %%u\"");
        return MAILSSO_E_CONFIG;
    }
    if (strlen(tmpl) > TEMPLATE_MAX || !valid_utf8((const unsigned char *)tmpl)) {
        mailsso_error_set(err, MAILSSO_E_CONFIG, "map rule '%s': bad mailbox template",
                          rule_safe);
        return MAILSSO_E_CONFIG;
    }
    for (const char *t = tmpl; *t != '\0'; t++) {
        if (is_ctl((unsigned char)*t)) {
            mailsso_error_set(err, MAILSSO_E_CONFIG,
                              "map rule '%s': control character in the mailbox template", rule_safe);
            return MAILSSO_E_CONFIG;
        }
        if (*t != '%')
            continue;
        t++;
        if (*t == 'u') {
            n_user++;
        } else if (*t == 'd') {
            if (domain_of(r, realm) == NULL) {
                mailsso_error_set(err, MAILSSO_E_CONFIG,
                                  "map rule '%s': %%d needs a mail domain for realm %s, and "
                                  "mail_domains maps none to it", rule_safe, realm);
                mailsso_error_set_fix(err, "add mail_domains = [\"%s = %s\"] (your mail domain)",
                                      "example.com", realm);
                return MAILSSO_E_CONFIG;
            }
        } else if (*t != 'r' && *t != '%') {
            mailsso_error_set(err, MAILSSO_E_CONFIG,
                              "map rule '%s': unknown escape '%%%c' in the mailbox template",
                              rule_safe, *t != '\0' ? *t : ' ');
            mailsso_error_set_fix(err, "use %%u (name), %%r (realm), %%d (mail domain) or %%%% (a '%%')");
            return MAILSSO_E_CONFIG;
        }
        if (*t == '\0')
            break;
    }
    *n_user_out = n_user;
    return 0;
}

static int
parse_rule(mailsso_identity_rules *r, const char *text, map_rule *m, mailsso_error *err)
{
    const char *eq = strchr(text, '=');
    const char *to;
    char safe[SAFE_MAX];
    char *from = NULL;
    const char *why = NULL;
    int n_user = 0, ret;

    sanitize(text, safe, sizeof(safe));
    if ((m->text = dupstr(text, strlen(text))) == NULL)
        return nomem(err);
    if (eq == NULL) {
        mailsso_error_set(err, MAILSSO_E_CONFIG,
                          "map rule '%s' is not of the form \"FROM = TO\" or \"FROM == TO\"", safe);
        mailsso_error_set_fix(err, "write e.g. \"bob@EXAMPLE.COM = robert\" or \"*@OTHER.COM = %%u@other.com\"");
        return MAILSSO_E_CONFIG;
    }
    to = eq + 1;
    if (*to == '=') {
        m->shared = 1;
        to++;
    }
    from = trimdup(text, (size_t)(eq - text));
    m->tmpl = trimdup(to, strlen(to));
    if (from == NULL || m->tmpl == NULL) {
        ret = nomem(err);
        goto cleanup;
    }
    if (strncmp(from, "*@", 2) == 0) {
        m->wildcard = 1;
        if ((ret = check_realm_name(from + 2, "map rule FROM", err)) != 0)
            goto cleanup;
        m->realm = dupstr(from + 2, strlen(from + 2));
    } else {
        m->from = malloc(sizeof(*m->from));
        if (m->from == NULL) {
            ret = nomem(err);
            goto cleanup;
        }
        if (parse_principal(from, m->from, &why) != 0) {
            mailsso_error_set(err, MAILSSO_E_CONFIG, "map rule '%s': FROM is not a principal: %s",
                              safe, why);
            mailsso_error_set_fix(err, "write a full principal with its realm (bob@EXAMPLE.COM) "
                                  "or *@REALM");
            ret = MAILSSO_E_CONFIG;
            goto cleanup;
        }
        m->realm = dupstr(m->from->realm, strlen(m->from->realm));
    }
    if (m->realm == NULL) {
        ret = nomem(err);
        goto cleanup;
    }
    m->active = realm_allowed(r, m->realm);
    if ((ret = check_template(m->tmpl, safe, m->realm, r, &n_user, err)) != 0)
        goto cleanup;
    if (m->wildcard && n_user > 1) {
        mailsso_error_set(err, MAILSSO_E_CONFIG,
                          "map rule '%s': %%u may appear only once in a \"*@REALM\" rule", safe);
        ret = MAILSSO_E_CONFIG;
        goto cleanup;
    }
    if (m->wildcard && n_user == 0 && !m->shared && m->active) {
        mailsso_error_set(err, MAILSSO_E_CONFIG,
                          "map rule '%s' gives every principal of realm %s the same mailbox",
                          safe, m->realm);
        mailsso_error_set_fix(err, "use %%u in the mailbox, or write \"==\" if one shared "
                              "mailbox for the whole realm is really meant");
        ret = MAILSSO_E_CONFIG;
        goto cleanup;
    }
    if (!m->wildcard) {
        m->fixed = expand(m->tmpl, m->from->comp[0], m->realm, domain_of(r, m->realm),
                          r->lowercase);
        if (m->fixed == NULL) {
            ret = nomem(err);
            goto cleanup;
        }
    }
    ret = 0;
cleanup:
    free(from);
    return ret;
}

/* Rules that can never apply, and two principal rules sharing a mailbox. */
static int
check_rule_pairs(const mailsso_identity_rules *r, mailsso_error *err)
{
    for (size_t j = 0; j < r->n_rules; j++) {
        const map_rule *b = &r->rules[j];
        char sb[SAFE_MAX], sa[SAFE_MAX];

        sanitize(b->text, sb, sizeof(sb));
        for (size_t i = 0; i < j; i++) {
            const map_rule *a = &r->rules[i];
            const char *problem = NULL;

            sanitize(a->text, sa, sizeof(sa));
            if (a->wildcard && b->wildcard && strcmp(a->realm, b->realm) == 0)
                problem = "never applies: the earlier rule already matches every name of its realm";
            else if (a->wildcard && !b->wildcard && strcmp(a->realm, b->realm) == 0 &&
                     b->from->ncomp == 1 && !b->from->odd)
                problem = "never applies: the earlier wildcard rule matches that principal first";
            else if (!a->wildcard && !b->wildcard && pname_equal(a->from, b->from))
                problem = "names the same principal as an earlier rule";
            if (problem != NULL) {
                mailsso_error_set(err, MAILSSO_E_CONFIG, "map rule '%s' %s ('%s')", sb, problem, sa);
                mailsso_error_set_fix(err, "rules are tried in order, first match wins: put "
                                      "principal rules before \"*@REALM\" rules, drop duplicates");
                return MAILSSO_E_CONFIG;
            }
            if (!a->wildcard && !b->wildcard && a->active && b->active && !a->shared &&
                !b->shared && strcmp(a->fixed, b->fixed) == 0) {
                char sm[SAFE_MAX];

                sanitize(a->fixed, sm, sizeof(sm));
                mailsso_error_set(err, MAILSSO_E_CONFIG,
                                  "identity rules are ambiguous: map rules '%s' and '%s' give "
                                  "two different principals the same mailbox '%s'", sa, sb, sm);
                mailsso_error_set_fix(err, "give each principal its own mailbox, or write \"==\" "
                                      "in the rules if the mailbox is meant to be shared");
                return MAILSSO_E_CONFIG;
            }
        }
    }
    return 0;
}

/* ------------------------------------ family templates and their overlap */

/* A family: how single-component names of one realm become mailboxes,
 * as tokens: a byte (0..255) or VAR (the name). Exactly one VAR. */
#define TOK_VAR 256
#define SYM_FRESH 257

typedef struct family {
    const char *realm;
    const map_rule *rule;          /* NULL: the default (strip_realm / full name) */
    int *tok;
    size_t n;
} family;

static int
in_sigma(int sym, int lower)
{
    if (sym == SYM_FRESH)
        return 1;
    if (sym < 0 || sym > 255 || is_ctl((unsigned char)sym) || sym == '@' || sym == '/' ||
        sym == '\\')
        return 0;
    return !(lower && sym >= 'A' && sym <= 'Z');
}

static int
build_family(const mailsso_identity_rules *r, const char *realm, family *f)
{
    char *lit = NULL;
    const char *tmpl;

    memset(f, 0, sizeof(*f));
    f->realm = realm;
    for (size_t i = 0; i < r->n_rules; i++) {
        if (r->rules[i].wildcard && strcmp(r->rules[i].realm, realm) == 0) {
            f->rule = &r->rules[i];
            break;
        }
    }
    tmpl = f->rule != NULL ? f->rule->tmpl : (r->strip_realm ? "%u" : "%u@%r");
    /* Expanding with a marker byte for %u: NUL cannot occur otherwise. */
    lit = expand(tmpl, "\x01", realm, domain_of(r, realm), 0);
    if (lit == NULL)
        return -1;
    f->tok = calloc(strlen(lit) + 1, sizeof(int));
    if (f->tok == NULL) {
        free(lit);
        return -1;
    }
    /* Only %u can yield \x01: templates and realms have no control chars. */
    for (const char *p = lit; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;

        if (c == 0x01)
            f->tok[f->n++] = TOK_VAR;
        else
            f->tok[f->n++] = r->lowercase && c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
    }
    free(lit);
    return 0;
}

/* NFA state of a family: 2*i + inside (inside: within VAR token i, >= 1 consumed). */
static int
step(const family *f, int st, int sym, int lower)
{
    size_t i = (size_t)st / 2;
    int inside = st % 2;

    if (inside)
        return in_sigma(sym, lower) ? st : -1;
    if (i >= f->n)
        return -1;
    if (f->tok[i] == TOK_VAR)
        return in_sigma(sym, lower) ? (int)(2 * i + 1) : -1;
    return f->tok[i] == sym ? (int)(2 * (i + 1)) : -1;
}

/* Finds a string both families produce. 1 and witness in *out (malloc'd),
 * 0 when none exists, -1 on out-of-memory. */
static int
families_overlap(const family *a, const family *b, int lower, char **out)
{
    size_t na = 2 * (a->n + 1), nb = 2 * (b->n + 1), total = na * nb;
    long *parent = NULL;
    int *via = NULL;
    size_t *queue = NULL, qh = 0, qt = 0;
    int syms[258], nsyms = 0, found = -1, ret = -1;
    unsigned char used[256] = { 0 };

    parent = malloc(total * sizeof(*parent));
    via = malloc(total * sizeof(*via));
    queue = malloc(total * sizeof(*queue));
    if (parent == NULL || via == NULL || queue == NULL)
        goto cleanup;
    for (size_t i = 0; i < total; i++)
        parent[i] = -2;
    for (size_t i = 0; i < a->n; i++)
        if (a->tok[i] != TOK_VAR)
            used[a->tok[i]] = 1;
    for (size_t i = 0; i < b->n; i++)
        if (b->tok[i] != TOK_VAR)
            used[b->tok[i]] = 1;
    syms[nsyms++] = SYM_FRESH;      /* first: readable names in the example */
    for (int c = 0; c < 256; c++)
        if (used[c])
            syms[nsyms++] = c;

    parent[0] = -1;
    via[0] = -1;
    queue[qt++] = 0;
    while (qh < qt) {
        size_t cur = queue[qh++];
        int sa = (int)(cur / nb), sbb = (int)(cur % nb);
        size_t next[2];
        int nnext = 0;

        if ((size_t)sa == 2 * a->n && (size_t)sbb == 2 * b->n) {
            found = (int)cur;
            break;
        }
        /* epsilon: leave a VAR token after >= 1 name byte */
        if (sa % 2)
            next[nnext++] = (size_t)(sa + 1) * nb + (size_t)sbb;
        if (sbb % 2)
            next[nnext++] = (size_t)sa * nb + (size_t)(sbb + 1);
        for (int k = 0; k < nnext; k++) {
            if (parent[next[k]] == -2) {
                parent[next[k]] = (long)cur;
                via[next[k]] = -1;
                queue[qt++] = next[k];
            }
        }
        for (int k = 0; k < nsyms; k++) {
            int ta = step(a, sa, syms[k], lower), tb = step(b, sbb, syms[k], lower);
            size_t n;

            if (ta < 0 || tb < 0)
                continue;
            n = (size_t)ta * nb + (size_t)tb;
            if (parent[n] == -2) {
                parent[n] = (long)cur;
                via[n] = syms[k];
                queue[qt++] = n;
            }
        }
    }
    if (found < 0) {
        ret = 0;
        goto cleanup;
    }
    /* FRESH is consumed only where both sides are inside a name, so any
     * name-like string may stand for it: show a readable one. */
    {
        static const char fresh[] = "alice";
        size_t len = 0, k;
        char *w;

        for (long s = found; parent[s] != -1; s = parent[s])
            if (via[s] >= 0)
                len += via[s] == SYM_FRESH ? sizeof(fresh) - 1 : 1;
        w = malloc(len + 1);
        if (w == NULL)
            goto cleanup;
        w[len] = '\0';
        k = len;
        for (long s = found; parent[s] != -1; s = parent[s]) {
            if (via[s] == SYM_FRESH) {
                k -= sizeof(fresh) - 1;
                memcpy(w + k, fresh, sizeof(fresh) - 1);
            } else if (via[s] >= 0) {
                w[--k] = (char)via[s];
            }
        }
        *out = w;
    }
    ret = 1;
cleanup:
    free(parent);
    free(via);
    free(queue);
    return ret;
}

/* The name that family f turns into mailbox w (f has exactly one VAR). */
static void
family_preimage(const family *f, const char *w, char *out, size_t outsz)
{
    size_t pre = 0, suf, wl = strlen(w), ul;

    while (pre < f->n && f->tok[pre] != TOK_VAR)
        pre++;
    suf = f->n - pre - 1;
    ul = wl - pre - suf;
    if (pre + suf >= wl || ul >= outsz) {
        mailsso_strlcpy(out, "?", outsz);
        return;
    }
    memcpy(out, w + pre, ul);
    out[ul] = '\0';
}

static void
family_describe(const mailsso_identity_rules *r, const family *f, char *out, size_t outsz)
{
    char safe[SAFE_MAX];

    if (f->rule != NULL) {
        sanitize(f->rule->text, safe, sizeof(safe));
        snprintf(out, outsz, "map rule '%s'", safe);
    } else {
        snprintf(out, outsz, "%s for realm %s",
                 r->strip_realm ? "strip_realm" : "the full principal name", f->realm);
    }
}

static int
check_families(const mailsso_identity_rules *r, mailsso_error *err)
{
    family *fam = NULL;
    char *w = NULL;
    int ret = 0;

    fam = calloc(r->n_realms, sizeof(*fam));
    if (fam == NULL)
        return nomem(err);
    for (size_t i = 0; i < r->n_realms; i++) {
        if (build_family(r, r->realms[i], &fam[i]) != 0) {
            ret = nomem(err);
            goto cleanup;
        }
        if (fam[i].n > FAMILY_MAX) {
            char st[SAFE_MAX];

            sanitize(fam[i].rule != NULL ? fam[i].rule->text : "", st, sizeof(st));
            ret = mailsso_error_set(err, MAILSSO_E_CONFIG,
                                    "map rule '%s': the mailbox template is longer than %d bytes",
                                    st, FAMILY_MAX);
            goto cleanup;
        }
    }
    for (size_t i = 0; i < r->n_realms && ret == 0; i++) {
        for (size_t j = i + 1; j < r->n_realms && ret == 0; j++) {
            char ui[SAFE_MAX], uj[SAFE_MAX], di[SAFE_MAX + 64], dj[SAFE_MAX + 64];
            char sw[SAFE_MAX], lowrealm[300];
            int o;

            if ((fam[i].rule != NULL && fam[i].rule->shared) ||
                (fam[j].rule != NULL && fam[j].rule->shared))
                continue;
            o = families_overlap(&fam[i], &fam[j], r->lowercase, &w);
            if (o < 0) {
                ret = nomem(err);
                break;
            }
            if (o == 0)
                continue;
            family_preimage(&fam[i], w, ui, sizeof(ui));
            family_preimage(&fam[j], w, uj, sizeof(uj));
            family_describe(r, &fam[i], di, sizeof(di));
            family_describe(r, &fam[j], dj, sizeof(dj));
            sanitize(w, sw, sizeof(sw));
            mailsso_error_set(err, MAILSSO_E_CONFIG,
                              "identity rules are ambiguous between realms %s and %s: principals "
                              "%s@%s and %s@%s would both get mailbox '%s' (%s; %s)",
                              fam[i].realm, fam[j].realm, ui, fam[i].realm, uj, fam[j].realm, sw,
                              di, dj);
            mailsso_strlcpy(lowrealm, fam[j].realm, sizeof(lowrealm));
            mailsso_ascii_lower(lowrealm);
            mailsso_error_set_fix(err, "make each realm's mailboxes distinct with a map rule such "
                                  "as \"*@%s = %%u@%s\", or write \"*@%s == %%u\" if the same "
                                  "names in both realms are the same people",
                                  fam[j].realm, lowrealm, fam[j].realm);
            ret = MAILSSO_E_CONFIG;
        }
    }
cleanup:
    free(w);
    for (size_t i = 0; i < r->n_realms; i++)
        free(fam[i].tok);
    free(fam);
    return ret;
}

int
mailsso_identity_rules_new(const mailsso_identity_settings *settings,
                           mailsso_identity_rules **rules_out, mailsso_error *err)
{
    mailsso_identity_rules *r = NULL;
    int ret;

    if (settings == NULL || rules_out == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_identity_rules_new: NULL argument");
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return nomem(err);
    r->strip_realm = settings->strip_realm != 0;
    r->lowercase = settings->lowercase != 0;

    for (size_t i = 0; i < settings->n_realms; i++) {
        if ((ret = add_realm(r, settings->realms[i] != NULL ? settings->realms[i] : "",
                             "realms", err)) != 0)
            goto cleanup;
    }
    if (r->n_realms == 0) {
        if (settings->default_realm == NULL || *settings->default_realm == '\0') {
            ret = mailsso_error_set(err, MAILSSO_E_CONFIG,
                                    "no realm may log in: 'realms' is empty and there is no "
                                    "default realm");
            mailsso_error_set_fix(err, "set realms = [\"EXAMPLE.COM\"] or default_realm in krb5.conf");
            goto cleanup;
        }
        if ((ret = add_realm(r, settings->default_realm, "default realm", err)) != 0)
            goto cleanup;
    }
    if ((ret = parse_forms(r, settings, err)) != 0)
        goto cleanup;
    if ((ret = parse_domains(r, settings, err)) != 0)
        goto cleanup;
    if (settings->n_map > 0) {
        r->rules = calloc(settings->n_map, sizeof(*r->rules));
        if (r->rules == NULL) {
            ret = nomem(err);
            goto cleanup;
        }
    }
    for (size_t i = 0; i < settings->n_map; i++) {
        r->n_rules++;
        ret = parse_rule(r, settings->map[i] != NULL ? settings->map[i] : "", &r->rules[i], err);
        if (ret != 0)
            goto cleanup;
    }
    if ((ret = check_rule_pairs(r, err)) != 0)
        goto cleanup;
    if ((ret = check_families(r, err)) != 0)
        goto cleanup;
    *rules_out = r;
    r = NULL;
    ret = 0;
cleanup:
    mailsso_identity_rules_free(r);
    return ret;
}

int
mailsso_identity_rules_from_config(const mailsso_config *cfg, const char *service,
                                   const char *default_realm,
                                   mailsso_identity_rules **rules_out, mailsso_error *err)
{
    mailsso_identity_settings s;
    mailsso_error inner = MAILSSO_ERROR_INIT;
    const char *const *list = NULL;
    int ret;

    if (cfg == NULL || rules_out == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID,
                                 "mailsso_identity_rules_from_config: NULL argument");
    memset(&s, 0, sizeof(s));
    s.default_realm = default_realm;
    s.n_realms = mailsso_config_get_list(cfg, service, "realms", &list);
    s.realms = list;
    s.strip_realm = mailsso_config_get_bool(cfg, service, "strip_realm");
    s.lowercase = mailsso_config_get_bool(cfg, service, "lowercase");
    list = NULL;
    s.n_map = mailsso_config_get_list(cfg, service, "map", &list);
    s.map = list;
    list = NULL;
    s.n_authzid_forms = mailsso_config_get_list(cfg, service, "authzid_forms", &list);
    s.authzid_forms = list;
    list = NULL;
    s.n_mail_domains = mailsso_config_get_list(cfg, service, "mail_domains", &list);
    s.mail_domains = list;

    ret = mailsso_identity_rules_new(&s, rules_out, &inner);
    if (ret != 0) {
        const char *origin = mailsso_config_origin(cfg);

        mailsso_error_set(err, ret, "%s: %s%s%s%s", origin != NULL ? origin : "<config>",
                          service != NULL ? "section '" : "", service != NULL ? service : "",
                          service != NULL ? "': " : "", inner.message);
        if (inner.fix[0] != '\0')
            mailsso_error_set_fix(err, "%s", inner.fix);
    }
    return ret;
}

/* ------------------------------------------------------------------- map */

static int
refuse(mailsso_error *err, const char *principal, const char *fmt, ...) MAILSSO_PRINTF(3, 4);

static int
refuse(mailsso_error *err, const char *principal, const char *fmt, ...)
{
    char safe[SAFE_MAX], why[MAILSSO_ERROR_MESSAGE_MAX];
    va_list ap;

    sanitize(principal, safe, sizeof(safe));
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return mailsso_error_set(err, MAILSSO_E_POLICY, "principal '%s' refused: %s", safe, why);
}

/* Parses principal and checks its realm; refusal in err. */
static int
parse_allowed(const mailsso_identity_rules *r, const char *principal, pname *p,
              mailsso_error *err)
{
    const char *why = NULL;

    if (parse_principal(principal, p, &why) != 0) {
        refuse(err, principal, "%s", why);
        mailsso_error_set_fix(err, "no fix on the server: such names are never mapped to a mailbox");
        return MAILSSO_E_POLICY;
    }
    if (!realm_allowed(r, p->realm)) {
        char sr[SAFE_MAX], list[SAFE_MAX];
        size_t used = 0;

        sanitize(p->realm, sr, sizeof(sr));
        list[0] = '\0';
        for (size_t i = 0; i < r->n_realms && used + 1 < sizeof(list); i++) {
            int n = snprintf(list + used, sizeof(list) - used, "%s%s", i > 0 ? " " : "",
                             r->realms[i]);

            if (n < 0)
                break;
            used += (size_t)n;
        }
        refuse(err, principal, "realm %s is not allowed to log in (rule: realms; allowed: %s)",
               sr, list);
        mailsso_error_set_fix(err, "if users of %s should log in, add it to realms "
                              "(realm names are case-sensitive)", sr);
        return MAILSSO_E_POLICY;
    }
    return 0;
}

int
mailsso_identity_map(const mailsso_identity_rules *rules, const char *principal,
                     char **mailbox_out, mailsso_error *err)
{
    pname *p = NULL;
    char *mb = NULL;
    const map_rule *used = NULL;
    int ret;

    if (rules == NULL || principal == NULL || mailbox_out == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_identity_map: NULL argument");
    p = malloc(sizeof(*p));
    if (p == NULL)
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory mapping a principal");
    if ((ret = parse_allowed(rules, principal, p, err)) != 0)
        goto cleanup;

    for (size_t i = 0; i < rules->n_rules && used == NULL; i++) {
        const map_rule *m = &rules->rules[i];

        if (!m->wildcard && pname_equal(m->from, p)) {
            if ((mb = dupstr(m->fixed, strlen(m->fixed))) == NULL)
                goto oom;
            used = m;
        } else if (m->wildcard && p->ncomp == 1 && !p->odd && strcmp(m->realm, p->realm) == 0) {
            if ((mb = expand(m->tmpl, p->comp[0], p->realm, domain_of(rules, p->realm),
                             rules->lowercase)) == NULL)
                goto oom;
            used = m;
        }
    }
    if (used != NULL && !used->wildcard)
        goto done;          /* an explicit principal rule: its mailbox was checked at load */
    if (used == NULL) {
        if (p->ncomp > 1) {
            ret = refuse(err, principal, "it has %zu components (like alice/admin) and no map rule "
                         "names it", p->ncomp);
            mailsso_error_set_fix(err, "if this principal should log in, add a map rule naming "
                                  "it exactly, e.g. \"%s = mailbox\"", "name/instance@REALM");
            goto cleanup;
        }
        if (p->odd) {
            ret = refuse(err, principal, "its name contains an escaped '@', '/' or '\\' and no "
                         "map rule names it");
            mailsso_error_set_fix(err, "add a map rule naming the principal exactly if it should "
                                  "log in");
            goto cleanup;
        }
        if (rules->strip_realm) {
            mb = dupstr(p->comp[0], strlen(p->comp[0]));
        } else {
            sbuf b = { NULL, 0, 0, 0 };

            sb_add(&b, p->comp[0]);
            sb_add(&b, "@");
            sb_add(&b, p->realm);
            if (b.fail)
                free(b.p);
            mb = b.fail ? NULL : b.p;
        }
        if (mb == NULL)
            goto oom;
        if (rules->lowercase)
            mailsso_ascii_lower(mb);
    }
    /* A mailbox reserved by an explicit principal rule belongs to that principal. */
    if (used == NULL || !used->shared) {
        for (size_t i = 0; i < rules->n_rules; i++) {
            const map_rule *m = &rules->rules[i];
            char sm[SAFE_MAX], st[SAFE_MAX];

            if (m->wildcard || m->shared || !m->active || strcmp(m->fixed, mb) != 0)
                continue;
            sanitize(mb, sm, sizeof(sm));
            sanitize(m->text, st, sizeof(st));
            ret = refuse(err, principal, "its mailbox '%s' belongs to another principal by map "
                         "rule '%s'", sm, st);
            mailsso_error_set_fix(err, "add a map rule giving this principal its own mailbox, or "
                                  "write the rule with \"==\" if the mailbox is meant to be shared");
            goto cleanup;
        }
    }
done:
    *mailbox_out = mb;
    mb = NULL;
    ret = 0;
    goto cleanup;
oom:
    ret = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory mapping a principal");
cleanup:
    free(mb);
    free(p);
    return ret;
}

/* --------------------------------------------------------------- authzid */

int
mailsso_identity_check_authzid(const mailsso_identity_rules *rules, const char *principal,
                               const char *mailbox, const char *authzid, int *is_self_out,
                               mailsso_error *err)
{
    pname *p = NULL;
    char sa[SAFE_MAX], sp[SAFE_MAX], sm[SAFE_MAX];
    const char *why;
    const char *at;
    int ret, realm_case_trick = 0, mail_form = 0;

    if (rules == NULL || principal == NULL || mailbox == NULL || is_self_out == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID,
                                 "mailsso_identity_check_authzid: NULL argument");
    p = malloc(sizeof(*p));
    if (p == NULL)
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory checking an authzid");
    if ((ret = parse_allowed(rules, principal, p, err)) != 0)
        goto cleanup;

    if (authzid == NULL || *authzid == '\0' || strcmp(authzid, mailbox) == 0)
        goto self;
    if ((rules->forms & FORM_PRINCIPAL) && strcmp(authzid, principal) == 0)
        goto self;
    if ((rules->forms & FORM_CASELESS) && mailsso_streq_ci(authzid, mailbox))
        goto self;
    at = strrchr(authzid, '@');
    if (at != NULL && p->ncomp == 1 && !p->odd) {
        size_t llen = (size_t)(at - authzid);
        const char *mapped = realm_of_domain(rules, at + 1);
        int local_same = strlen(p->comp[0]) == llen &&
            (memcmp(authzid, p->comp[0], llen) == 0 ||
             ((rules->forms & FORM_CASELESS) && ci_equal_n(authzid, p->comp[0], llen)));

        if (local_same && mapped != NULL && strcmp(mapped, p->realm) == 0) {
            if (rules->forms & FORM_MAILDOMAIN)
                goto self;
            mail_form = 1;
        } else if (local_same && strcmp(at + 1, p->realm) != 0 &&
                   mailsso_streq_ci(at + 1, p->realm)) {
            realm_case_trick = 1;
        }
    }

    /* Not self: say exactly why. */
    sanitize(authzid, sa, sizeof(sa));
    sanitize(principal, sp, sizeof(sp));
    sanitize(mailbox, sm, sizeof(sm));
    if (strcmp(authzid, principal) == 0)
        why = "it is the principal name, and authzid_forms does not include \"principal\"";
    else if (mailsso_streq_ci(authzid, mailbox))
        why = "it differs from the mailbox in letter case only, and authzid_forms does not "
              "include \"caseless\"";
    else if (mail_form)
        why = "it is the user's mail address, and authzid_forms does not include \"maildomain\"";
    else if (realm_case_trick)
        why = "its realm part differs from the principal's realm in letter case, and realms are "
              "case-sensitive (map the mail domain with mail_domains and allow \"maildomain\" if "
              "it is an address)";
    else
        why = "it names a different user; SASL's proxy policy decides whether that is allowed";
    mailsso_error_set(err, MAILSSO_E_POLICY,
                      "authorization identity '%s' is not the authenticated user %s (mailbox '%s'): %s",
                      sa, sp, sm, why);
    *is_self_out = 0;
    ret = 0;
    goto cleanup;
self:
    *is_self_out = 1;
    ret = 0;
cleanup:
    free(p);
    return ret;
}
