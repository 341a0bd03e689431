/* Unit tests for lib/config.c and lib/config_schema.c. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <mailsso/config.h>
#include <mailsso/error.h>

#define SAMPLE_CONF TEST_SRCDIR "/../../conf/mailsso.conf"

/* ------------------------------------------------------------------ helpers */

typedef struct tmpdir {
    char path[256];
    char files[8][300];
    int n;
} tmpdir;

static int
setup_tmpdir(void **state)
{
    tmpdir *t = calloc(1, sizeof(*t));
    const char *base = getenv("TMPDIR");

    if (t == NULL)
        return -1;
    snprintf(t->path, sizeof(t->path), "%s/test_config.XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    if (mkdtemp(t->path) == NULL) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int
teardown_tmpdir(void **state)
{
    tmpdir *t = *state;

    for (int i = 0; i < t->n; i++)
        unlink(t->files[i]);
    rmdir(t->path);
    free(t);
    return 0;
}

/* Writes text to DIR/name; returns the path (owned by t). */
static const char *
write_file(tmpdir *t, const char *name, const char *text)
{
    char dir[sizeof(t->path)];
    char *path;
    FILE *f;

    assert_true(t->n < 8);
    memcpy(dir, t->path, sizeof(dir));
    path = t->files[t->n++];
    snprintf(path, sizeof(t->files[0]), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* Loads text as a file; expects failure with message PATH + expected_after_path. */
static void
expect_file_error(tmpdir *t, const char *text, const char *expected_after_path)
{
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    const char *path = write_file(t, "bad.conf", text);
    char expected[1200];

    snprintf(expected, sizeof(expected), "%s%s", path, expected_after_path);
    assert_int_not_equal(mailsso_config_load_file(path, &cfg, &err), 0);
    assert_null(cfg);
    assert_string_equal(err.message, expected);
}

static char *
read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = calloc((size_t)n + 1, 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

/* ------------------------------------------------------------------ defaults */

static void
defaults_come_from_the_schema(void **state)
{
    mailsso_config *cfg = mailsso_config_defaults();
    const char *const *items = NULL;

    (void)state;
    assert_non_null(cfg);
    assert_string_equal(mailsso_config_get_string(cfg, NULL, "log_level"), "info");
    assert_string_equal(mailsso_config_get_string(cfg, "imap", "enctypes"), "aes");
    assert_string_equal(mailsso_config_get_string(cfg, "imap", "keytab"), "");
    assert_int_equal(mailsso_config_get_bool(cfg, "smtp", "strip_realm"), 1);
    assert_int_equal(mailsso_config_get_bool(cfg, "smtp", "lowercase"), 0);
    assert_int_equal(mailsso_config_get_list(cfg, "imap", "accept_names", &items), 1);
    assert_string_equal(items[0], "@hostbased");
    assert_null(items[1]);
    assert_int_equal(mailsso_config_get_list(cfg, NULL, "realms", &items), 0);
    assert_non_null(items);
    assert_null(items[0]);
    assert_string_equal(mailsso_config_get_string(cfg, "kcd", "keytab"), "/etc/mailsso/kcd.keytab");
    assert_string_equal(mailsso_config_get_string(cfg, "kcd", "listen"),
                        "/run/mailsso-kcd/kcd.sock");
    assert_int_equal(mailsso_config_get_int(cfg, "kcd", "socket_mode"), 0660);
    assert_int_equal(mailsso_config_get_int(cfg, "kcd", "workers"), 4);
    assert_int_equal(mailsso_config_get_int(cfg, "kcd", "max_request_bytes"), 65536);
    assert_int_equal(mailsso_config_get_list(cfg, "kcd", "allowed_peers", &items), 1);
    assert_string_equal(items[0], "www-data");
    assert_int_equal(mailsso_config_is_set(cfg, NULL, "log_level"), 0);
    assert_string_equal(mailsso_config_origin(cfg), "<defaults>");
    mailsso_config_free(cfg);
    mailsso_config_free(NULL);
}

/* Writes key = <default> in the key's place and loads it: every default must
 * pass the key's own check, or the schema contradicts itself. */
static void
every_schema_default_passes_its_own_check(void **state)
{
    size_t n = 0;
    const mailsso_config_key *keys = mailsso_config_schema(&n);

    (void)state;
    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        const mailsso_config_key *k = &keys[i];
        char text[1024], value[600];
        mailsso_config *cfg = NULL;
        mailsso_error err = MAILSSO_ERROR_INIT;

        assert_non_null(k->name);
        assert_non_null(k->default_value);
        assert_non_null(k->description);
        assert_true(k->check == NULL || k->check_text != NULL);
        if (k->type == MAILSSO_CFG_STRING)
            snprintf(value, sizeof(value), "\"%s\"", k->default_value);
        else
            snprintf(value, sizeof(value), "%s", k->default_value);
        if (k->scope == MAILSSO_SCOPE_KCD)
            snprintf(text, sizeof(text), "kcd = { %s = %s; };\n", k->name, value);
        else
            snprintf(text, sizeof(text), "%s = %s;\n", k->name, value);
        if (mailsso_config_load_string(text, "default", &cfg, &err) != 0)
            fail_msg("default of key '%s' fails its check: %s", k->name, err.message);
        mailsso_config_free(cfg);
        assert_ptr_equal(mailsso_config_find_key(k->name, k->scope), k);
    }
    assert_null(mailsso_config_find_key("no_such_key", MAILSSO_SCOPE_SERVICE));
    assert_null(mailsso_config_find_key("listen", MAILSSO_SCOPE_SERVICE));
}

/* ------------------------------------------------------------------ precedence */

static void
service_group_overrides_top_level_which_overrides_default(void **state)
{
    static const char text[] =
        "log_level = \"debug\";\n"
        "keytab = \"/etc/mailsso/all.keytab\";\n"
        "lowercase = true;\n"
        "imap = {\n"
        "  keytab = \"/etc/mailsso/imap.keytab\";\n"
        "  enctypes = \"aes rc4\";\n"
        "};\n"
        "smtp = { lowercase = false; };\n"
        "kcd = { keytab = \"/etc/mailsso/gw.keytab\"; workers = 8; };\n";
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    const char *const *names = NULL;

    (void)state;
    assert_int_equal(mailsso_config_load_string(text, "prec", &cfg, &err), 0);
    /* group value */
    assert_string_equal(mailsso_config_get_string(cfg, "imap", "keytab"),
                        "/etc/mailsso/imap.keytab");
    assert_string_equal(mailsso_config_get_string(cfg, "imap", "enctypes"), "aes rc4");
    assert_int_equal(mailsso_config_get_bool(cfg, "smtp", "lowercase"), 0);
    /* top level value */
    assert_string_equal(mailsso_config_get_string(cfg, "pop", "keytab"), "/etc/mailsso/all.keytab");
    assert_string_equal(mailsso_config_get_string(cfg, NULL, "keytab"), "/etc/mailsso/all.keytab");
    assert_string_equal(mailsso_config_get_string(cfg, "smtp", "keytab"),
                        "/etc/mailsso/all.keytab");
    assert_int_equal(mailsso_config_get_bool(cfg, "imap", "lowercase"), 1);
    /* default */
    assert_string_equal(mailsso_config_get_string(cfg, "smtp", "enctypes"), "aes");
    /* global keys read from any section */
    assert_string_equal(mailsso_config_get_string(cfg, "imap", "log_level"), "debug");
    assert_string_equal(mailsso_config_get_string(cfg, "kcd", "log_level"), "debug");
    /* the kcd group has its own keytab; services do not see it */
    assert_string_equal(mailsso_config_get_string(cfg, "kcd", "keytab"), "/etc/mailsso/gw.keytab");
    assert_int_equal(mailsso_config_get_int(cfg, "kcd", "workers"), 8);
    assert_int_equal(mailsso_config_get_int(cfg, NULL, "workers"), 0);   /* kcd key, no section */
    /* is_set: only where it was written */
    assert_int_equal(mailsso_config_is_set(cfg, "imap", "keytab"), 1);
    assert_int_equal(mailsso_config_is_set(cfg, "pop", "keytab"), 0);
    assert_int_equal(mailsso_config_is_set(cfg, NULL, "keytab"), 1);
    assert_int_equal(mailsso_config_is_set(cfg, "imap", "lowercase"), 0);
    assert_int_equal(mailsso_config_is_set(cfg, "kcd", "workers"), 1);
    assert_int_equal(mailsso_config_is_set(cfg, "kcd", "cache_margin"), 0);
    /* service groups present, in file order; kcd is not a service */
    assert_int_equal(mailsso_config_services(cfg, &names), 2);
    assert_string_equal(names[0], "imap");
    assert_string_equal(names[1], "smtp");
    assert_null(names[2]);
    mailsso_config_free(cfg);
}

static void
list_getters_and_wrong_type_getters(void **state)
{
    static const char text[] =
        "realms = [\"EXAMPLE.COM\", \"AD.EXAMPLE.COM\"];\n"
        "map = (\"admin/root@EXAMPLE.COM = postmaster\");\n"
        "pop = { realms = []; };\n";
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    const char *const *items = NULL;

    (void)state;
    assert_int_equal(mailsso_config_load_string(text, NULL, &cfg, &err), 0);
    assert_string_equal(mailsso_config_origin(cfg), "<string>");
    assert_int_equal(mailsso_config_get_list(cfg, "imap", "realms", &items), 2);
    assert_string_equal(items[0], "EXAMPLE.COM");
    assert_string_equal(items[1], "AD.EXAMPLE.COM");
    assert_null(items[2]);
    /* an explicit empty list in a group overrides the top level */
    assert_int_equal(mailsso_config_get_list(cfg, "pop", "realms", &items), 0);
    assert_null(items[0]);
    /* libconfig's ( ) lists are accepted too */
    assert_int_equal(mailsso_config_get_list(cfg, NULL, "map", &items), 1);
    assert_string_equal(items[0], "admin/root@EXAMPLE.COM = postmaster");
    assert_int_equal(mailsso_config_get_list(cfg, NULL, "map", NULL), 1);
    /* programming errors give the zero value */
    assert_null(mailsso_config_get_string(cfg, "imap", "realms"));
    assert_null(mailsso_config_get_string(cfg, "imap", "no_such_key"));
    assert_int_equal(mailsso_config_get_int(cfg, "imap", "keytab"), 0);
    assert_int_equal(mailsso_config_get_bool(cfg, "imap", "keytab"), 0);
    assert_int_equal(mailsso_config_get_list(cfg, "imap", "keytab", &items), 0);
    assert_non_null(items);
    assert_null(items[0]);
    assert_null(mailsso_config_get_string(NULL, "imap", "keytab"));
    mailsso_config_free(cfg);
}

/* ------------------------------------------------------------------ errors */

static void
unknown_key_error_names_file_line_and_key(void **state)
{
    expect_file_error(*state,
                      "# comment\n"
                      "log_level = \"info\";\n"
                      "keytabb = \"/etc/krb5.keytab\";\n",
                      ":3: key 'keytabb': unknown key (did you mean 'keytab'?)");
    expect_file_error(*state,
                      "imap = {\n"
                      "  enctypes = \"aes\";\n"
                      "  frobnicate = 1;\n"
                      "};\n",
                      ":3: key 'imap.frobnicate': unknown key");
}

static void
wrong_type_error_names_line_and_key(void **state)
{
    expect_file_error(*state,
                      "log_level = \"info\";\n"
                      "strip_realm = \"yes\";\n",
                      ":2: key 'strip_realm': wrong type: expected a boolean (true or false), "
                      "got a string");
    expect_file_error(*state,
                      "kcd = {\n"
                      "  workers = \"4\";\n"
                      "};\n",
                      ":2: key 'kcd.workers': wrong type: expected an integer, got a string");
    expect_file_error(*state,
                      "realms = \"EXAMPLE.COM\";\n",
                      ":1: key 'realms': wrong type: expected a list of strings, got a string");
    expect_file_error(*state,
                      "map = (\"a = b\", 3);\n",
                      ":1: key 'map': wrong type: item 2 is an integer, expected a string in "
                      "double quotes");
    expect_file_error(*state, "imap = \"x\";\n",
                      ":1: key 'imap': wrong type: expected a group, got a string");
}

static void
bad_values_are_refused_with_the_reason(void **state)
{
    expect_file_error(*state,
                      "\n"
                      "log_level = \"verbose\";\n",
                      ":2: key 'log_level': 'verbose' is not a log level (use one of: err, "
                      "warn, notice, info, debug)");
    expect_file_error(*state,
                      "kcd = {\n"
                      "  crl_fail_mode = \"maybe\";\n"
                      "};\n",
                      ":2: key 'kcd.crl_fail_mode': 'maybe' is not a CRL failure mode (use "
                      "one of: closed, open)");
    expect_file_error(*state, "realms = [\"EXAMPLE.COM\", \"example.com\"];\n",
                      ":1: key 'realms': item 2: realm 'example.com' is not upper case: "
                      "realms are case-sensitive and written in upper case (e.g. EXAMPLE.COM)");
    expect_file_error(*state, "map = [\"alice\"];\n",
                      ":1: key 'map': item 1: 'alice' is not a rule of the form 'FROM = TO'");
    expect_file_error(*state, "kcd = { workers = 0; };\n",
                      ":1: key 'kcd.workers': 0 is not between 1 and 1024");
    expect_file_error(*state, "kcd = { cache_max_entries = -5; };\n",
                      ":1: key 'kcd.cache_max_entries': -5 is not a positive number");
    expect_file_error(*state, "authzid_forms = [\"principal\", \"anything\"];\n",
                      ":1: key 'authzid_forms': item 2: 'anything' is not an authorization "
                      "identity form (use one of: principal, maildomain, caseless)");
}

/* Each text must fail with a message containing the fragment. */
static void
more_checks_refuse_bad_values(void **state)
{
    static const struct {
        const char *text, *fragment;
    } cases[] = {
        { "accept_names = [\"@bogus\"];", "key 'accept_names': item 1: '@bogus' is not a keyword" },
        { "accept_names = [\"imap\"];", "key 'accept_names': item 1: 'imap' is not @hostbased" },
        { "accept_names = [\"imap/*@example.com\"];", "realm 'example.com' is not upper case" },
        { "keytab = \"relative.keytab\";", "key 'keytab': 'relative.keytab' is not an absolute" },
        { "hostname = \"mail example\";", "key 'hostname': 'mail example' is not a host name" },
        { "mail_domains = [\"example.com = example.com\"];", "is not upper case" },
        { "replay_cache = \"bogus\";", "key 'replay_cache': 'bogus' is not a replay cache" },
        { "services = [\"Imap2\"];", "key 'services': item 1: 'Imap2' is not a service name" },
        { "services = [\"keytab\"];", "'keytab' cannot be a service name" },
        { "kcd = { listen = \"kcd.sock\"; };", "key 'kcd.listen': 'kcd.sock' is not an absolute" },
        { "kcd = { require_eku = [\"1.2\"]; };", "'1.2' is not an extended key usage" },
        { "kcd = { thumbprints_deny = [\"AB:CD\"]; };", "'AB:CD' is not a SHA-256" },
        { "kcd = { targets = [\"web = mail\"]; };", "'mail' is not a service name such as" },
        { "kcd = { targets = [\"we b = HTTP@mail\"]; };",
          "'we b' in 'we b = HTTP@mail' is not a host" },
        { "kcd = { upn_realms = [\"example.com\"]; };", "is not a rule of the form" },
        { "kcd = { mechanism = \"ntlm\"; };", "'ntlm' is not a GSS mechanism" },
        { "kcd = { max_request_bytes = 10; };", "10 is not between 1024 and 16777216" },
        { "kcd = { allowed_peers = [\"bad user\"]; };", "'bad user' is not a user/group name" },
        { "kcd = { crl_urls = [\"ldap://x\"]; };", "'ldap://x' is not an http://" },
        { "kcd = { trust_anchors = \"ca.pem\"; };", "'ca.pem' is not an absolute path" },
        { "kcd = { principal = \"HTTP/\"; };", "'HTTP/' is not a principal name" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mailsso_config *cfg = NULL;
        mailsso_error err = MAILSSO_ERROR_INIT;

        if (mailsso_config_load_string(cases[i].text, "t", &cfg, &err) == 0)
            fail_msg("'%s' was accepted, expected an error containing \"%s\"", cases[i].text,
                     cases[i].fragment);
        if (strstr(err.message, cases[i].fragment) == NULL || strncmp(err.message, "t:1: ", 5) != 0)
            fail_msg("'%s': expected \"t:1: ...%s...\", got \"%s\"", cases[i].text,
                     cases[i].fragment, err.message);
    }
}

/* Values that look unusual but are valid. */
static void
checks_accept_valid_unusual_values(void **state)
{
    static const char text[] =
        "keytab = \"FILE:/etc/krb5.keytab\";\n"
        "accept_names = [\"@any\", \"imap/*@EXAMPLE.COM\", \"smtp/mx1.example.com\"];\n"
        "replay_cache = \"none:\";\n"
        "log_level = \"warning\";\n"
        "kcd = {\n"
        "  require_eku = [\"clientAuth\", \"1.3.6.1.4.1.311.20.2.2\"];\n"
        "  thumbprints_allow = [\"0123456789abcdef0123456789ABCDEF"
        "0123456789abcdef0123456789abcdef\"];\n"
        "  subject_rules = [\"CN=svc,O=Example = svc@EXAMPLE.COM\"];\n"
        "  targets = [\"*.example.com = HTTP/backend.example.com@EXAMPLE.COM\"];\n"
        "  allowed_peers = [\"33\", \"www-data\"];\n"
        "  socket_group = \"www-data\";\n"
        "  crl_urls = [\"/var/lib/mailsso/ca.crl\", \"https://pki.example.com/ca.crl\"];\n"
        "};\n";
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    if (mailsso_config_load_string(text, "t", &cfg, &err) != 0)
        fail_msg("%s", err.message);
    mailsso_config_free(cfg);
}

static void
enctype_policy_is_checked_by_the_enctype_module(void **state)
{
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    assert_int_not_equal(mailsso_config_load_string("imap = {\n enctypes = \"des\";\n};\n",
                                                    "t.conf", &cfg, &err), 0);
    assert_null(cfg);
    assert_non_null(strstr(err.message, "t.conf:2: key 'imap.enctypes': "));
    mailsso_error_clear(&err);
    assert_int_not_equal(mailsso_config_load_string(
                             "realm_enctypes = [\"AD.EXAMPLE.COM = des3\"];\n", "t.conf", &cfg,
                             &err), 0);
    assert_non_null(strstr(err.message, "t.conf:1: key 'realm_enctypes': item 1: "));
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_config_load_string(
                         "enctypes = \"aes\";\nrealm_enctypes = [\"AD.EXAMPLE.COM = aes rc4\"];\n",
                         "t.conf", &cfg, &err), 0);
    mailsso_config_free(cfg);
}

static void
syntax_error_names_the_line(void **state)
{
    expect_file_error(*state,
                      "log_level = \"info\";\n"
                      "keytab = ;\n",
                      ":2: syntax error: malformed setting (expected name = value; with "
                      "strings in double quotes, lists in [ ] and a ';' after each setting)");
    expect_file_error(*state,
                      "log_level = \"info\";\n"
                      "log_level = \"debug\";\n",
                      ":2: syntax error: duplicate setting name");
}

static void
unknown_group_is_an_error_unless_listed_in_services(void **state)
{
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    const char *const *names = NULL;

    expect_file_error(*state,
                      "imapd = {\n"
                      "  keytab = \"/etc/krb5.keytab\";\n"
                      "};\n",
                      ":1: group 'imapd': unknown group (not a service group, not kcd)");
    expect_file_error(*state,
                      "imap = {\n"
                      "  sub = { a = 1; };\n"
                      "};\n",
                      ":2: group 'imap.sub': unknown group: groups cannot be nested");
    /* listed in services: a valid service group, wherever services is written */
    assert_int_equal(mailsso_config_load_string("nntp = { lowercase = true; };\n"
                                                "services = [\"nntp\"];\n",
                                                "t", &cfg, &err), 0);
    assert_int_equal(mailsso_config_get_bool(cfg, "nntp", "lowercase"), 1);
    assert_int_equal(mailsso_config_services(cfg, &names), 1);
    assert_string_equal(names[0], "nntp");
    mailsso_config_free(cfg);
    cfg = NULL;
    assert_int_not_equal(mailsso_config_load_string("services = [\"kcd\"];\n", "t", &cfg, &err),
                         0);
    assert_non_null(strstr(err.message, "t:1: key 'services': item 1: 'kcd' cannot be a service"));
}

static void
keys_in_the_wrong_place_are_errors(void **state)
{
    expect_file_error(*state, "listen = \"/run/kcd.sock\";\n",
                      ":1: key 'listen': not valid here: 'listen' is a setting of the group "
                      "'kcd'");
    expect_file_error(*state, "smtp = {\n  log_level = \"debug\";\n};\n",
                      ":2: key 'smtp.log_level': not valid inside a group: 'log_level' is a "
                      "global setting");
    expect_file_error(*state, "kcd = {\n  realms = [];\n};\n",
                      ":2: key 'kcd.realms': not valid in the group 'kcd': 'realms' is a "
                      "service setting");
}

static void
socket_mode_digits_are_octal_like_chmod(void **state)
{
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;

    assert_int_equal(mailsso_config_load_string("kcd = { socket_mode = 0640; };", "t", &cfg, &err),
                     0);
    assert_int_equal(mailsso_config_get_int(cfg, "kcd", "socket_mode"), 0640);
    mailsso_config_free(cfg);
    cfg = NULL;
    assert_int_equal(mailsso_config_load_string("kcd = { socket_mode = 600; };", "t", &cfg, &err),
                     0);
    assert_int_equal(mailsso_config_get_int(cfg, "kcd", "socket_mode"), 0600);
    mailsso_config_free(cfg);
    cfg = NULL;
    assert_int_equal(mailsso_config_load_string("kcd = { socket_mode = 0x1b0; };", "t", &cfg,
                                                &err), 0);
    assert_int_equal(mailsso_config_get_int(cfg, "kcd", "socket_mode"), 0x1b0);
    mailsso_config_free(cfg);
    cfg = NULL;
    expect_file_error(*state, "kcd = { socket_mode = 0690; };\n",
                      ":1: key 'kcd.socket_mode': 690 is not an octal file mode (digits 0 to 7 "
                      "only)");
    expect_file_error(*state, "kcd = { socket_mode = 17777; };\n",
                      ":1: key 'kcd.socket_mode': 17777 is not a file mode between 0000 and "
                      "7777 (octal)");
}

static void
missing_file_is_an_io_error_naming_it(void **state)
{
    tmpdir *t = *state;
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    char path[400], expected[600];

    snprintf(path, sizeof(path), "%s/absent.conf", t->path);
    assert_int_equal(mailsso_config_load_file(path, &cfg, &err), MAILSSO_E_IO);
    assert_null(cfg);
    snprintf(expected, sizeof(expected),
             "%s: cannot read the configuration file: No such file or directory", path);
    assert_string_equal(err.message, expected);
    assert_string_not_equal(err.fix, "");
}

static void
included_files_are_read_relative_and_named_in_errors(void **state)
{
    tmpdir *t = *state;
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    const char *inc = write_file(t, "inc.conf", "\nkcd = { workers = 2; };\n");
    const char *main_conf = write_file(t, "main.conf", "log_level = \"warn\";\n"
                                                       "@include \"inc.conf\"\n");
    char expected[800];

    assert_int_equal(mailsso_config_load_file(main_conf, &cfg, &err), 0);
    assert_int_equal(mailsso_config_get_int(cfg, "kcd", "workers"), 2);
    assert_string_equal(mailsso_config_origin(cfg), main_conf);
    mailsso_config_free(cfg);
    cfg = NULL;
    write_file(t, "inc.conf", "\nkcd = { workers = -1; };\n");
    t->n--;   /* same path as before */
    assert_int_not_equal(mailsso_config_load_file(main_conf, &cfg, &err), 0);
    snprintf(expected, sizeof(expected), "%s:2: key 'kcd.workers': -1 is not between 1 and 1024",
             inc);
    assert_string_equal(err.message, expected);
}

/* ------------------------------------------------------------------ check() */

static void
check_reports_every_problem_at_once(void **state)
{
    tmpdir *t = *state;
    const char *path = write_file(t, "many.conf",
                                  "log_level = \"loud\";\n"
                                  "strip_realm = 1;\n"
                                  "imap = {\n"
                                  "  keytabb = \"/x\";\n"
                                  "};\n"
                                  "kcd = {\n"
                                  "  mechanism = \"ntlm\";\n"
                                  "};\n");
    const char *good = write_file(t, "good.conf", "imap = { lowercase = true; };\n");
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    char out_path[400], *out, *line;
    FILE *f;
    int lines = 0;
    static const char *const want[] = { ":1: key 'log_level': ", ":2: key 'strip_realm': ",
                                        ":4: key 'imap.keytabb': ", ":7: key 'kcd.mechanism': " };

    snprintf(out_path, sizeof(out_path), "%s/out.txt", t->path);
    f = fopen(out_path, "w");
    assert_non_null(f);
    assert_int_not_equal(mailsso_config_check(path, f), 0);
    fclose(f);
    out = read_all(out_path);
    for (line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        assert_true(lines < 4);
        assert_true(strncmp(line, path, strlen(path)) == 0);
        if (strstr(line, want[lines]) == NULL)
            fail_msg("problem %d: expected '%s', got '%s'", lines + 1, want[lines], line);
        lines++;
    }
    assert_int_equal(lines, 4);
    free(out);
    /* the loader reports the first and counts the rest */
    assert_int_not_equal(mailsso_config_load_file(path, &cfg, &err), 0);
    assert_non_null(strstr(err.message, ":1: key 'log_level': "));
    assert_non_null(strstr(err.message, "(and 3 more problems)"));

    f = fopen(out_path, "w");
    assert_non_null(f);
    assert_int_equal(mailsso_config_check(good, f), 0);
    fclose(f);
    out = read_all(out_path);
    assert_string_equal(out, "");
    free(out);
    unlink(out_path);
}

/* ------------------------------------------------------------------ man page */

static void
manpage_documents_every_schema_key(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    size_t n = 0;
    const mailsso_config_key *keys = mailsso_config_schema(&n);
    static const char *const sections[] = {
        ".SH NAME\n", ".SH SYNOPSIS\n", ".SH DESCRIPTION\n", ".SH GLOBAL SETTINGS\n",
        ".SH SERVICE SETTINGS\n", ".SH KCD SETTINGS\n", ".SH FILES\n", ".SH EXAMPLES\n",
        ".SH SEE ALSO\n"
    };
    const char *prev = NULL;

    (void)state;
    assert_non_null(f);
    assert_int_equal(mailsso_config_write_manpage(f), 0);
    fclose(f);
    assert_true(strncmp(buf, ".\\\"", 3) == 0);
    assert_non_null(strstr(buf, ".TH MAILSSO.CONF 5 "));
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        const char *at = strstr(buf, sections[i]);
        if (at == NULL || (prev != NULL && at < prev))
            fail_msg("section %s missing or out of order", sections[i]);
        prev = at;
    }
    for (size_t i = 0; i < n; i++) {
        char entry[200];
        const char *scope_start = strstr(buf, keys[i].scope == MAILSSO_SCOPE_GLOBAL
                                                   ? ".SH GLOBAL SETTINGS"
                                                   : keys[i].scope == MAILSSO_SCOPE_SERVICE
                                                         ? ".SH SERVICE SETTINGS"
                                                         : ".SH KCD SETTINGS");
        snprintf(entry, sizeof(entry), ".TP\n\\fB%s\\fR (", keys[i].name);
        if (strstr(scope_start, entry) == NULL)
            fail_msg("man page has no entry for key '%s' in its scope", keys[i].name);
    }
    assert_non_null(strstr(buf, "/mailsso/mailsso.conf\n"));
    free(buf);
}

/* The EXAMPLES section of the man page is a valid file. */
static void
manpage_example_loads(void **state)
{
    char *buf = NULL, *start, *end, *text, *q;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    assert_non_null(f);
    assert_int_equal(mailsso_config_write_manpage(f), 0);
    fclose(f);
    start = strstr(buf, ".SH EXAMPLES\n");
    assert_non_null(start);
    start = strstr(start, ".nf\n.RS\n");
    assert_non_null(start);
    start += strlen(".nf\n.RS\n");
    end = strstr(start, ".RE\n.fi\n");
    assert_non_null(end);
    text = calloc((size_t)(end - start) + 1, 1);
    assert_non_null(text);
    q = text;
    for (const char *p = start; p < end; p++) {
        if (p[0] == '\\' && p[1] == '-')
            continue;             /* man(7) "\-" is a plain '-' */
        *q++ = *p;
    }
    if (mailsso_config_load_string(text, "mailsso.conf(5) EXAMPLES", &cfg, &err) != 0)
        fail_msg("%s", err.message);
    assert_string_equal(mailsso_config_get_string(cfg, "kcd", "trust_anchors"),
                        "/etc/mailsso/user-ca.pem");
    mailsso_config_free(cfg);
    free(text);
    free(buf);
}

/* ------------------------------------------------------------------ sample */

static void
sample_conf_loads_without_error(void **state)
{
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    if (mailsso_config_load_file(SAMPLE_CONF, &cfg, &err) != 0)
        fail_msg("conf/mailsso.conf: %s", err.message);
    mailsso_config_free(cfg);
}

/* The sample shows every key as a commented-out line starting with "//".
 * With those lines uncommented it must still load, and set every key. */
static void
sample_conf_examples_are_valid_and_cover_every_key(void **state)
{
    char *text = read_all(SAMPLE_CONF);
    char *out = calloc(strlen(text) + 1, 1);
    const char *p = text;
    char *q = out;
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    size_t n = 0;
    const mailsso_config_key *keys = mailsso_config_schema(&n);

    (void)state;
    assert_non_null(out);
    while (*p != '\0') {
        if (p[0] == '/' && p[1] == '/' && (p == text || p[-1] == '\n'))
            p += 2;
        *q++ = *p++;
    }
    if (mailsso_config_load_string(out, "conf/mailsso.conf (uncommented)", &cfg, &err) != 0)
        fail_msg("%s", err.message);
    for (size_t i = 0; i < n; i++) {
        const char *sec = keys[i].scope == MAILSSO_SCOPE_KCD ? "kcd" : NULL;
        if (!mailsso_config_is_set(cfg, sec, keys[i].name))
            fail_msg("key '%s' is in the schema but conf/mailsso.conf has no example for it: "
                     "add a commented line '//%s = ...;'", keys[i].name, keys[i].name);
    }
    mailsso_config_free(cfg);
    free(out);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_come_from_the_schema),
        cmocka_unit_test(every_schema_default_passes_its_own_check),
        cmocka_unit_test(service_group_overrides_top_level_which_overrides_default),
        cmocka_unit_test(list_getters_and_wrong_type_getters),
        cmocka_unit_test_setup_teardown(unknown_key_error_names_file_line_and_key, setup_tmpdir,
                                        teardown_tmpdir),
        cmocka_unit_test_setup_teardown(wrong_type_error_names_line_and_key, setup_tmpdir,
                                        teardown_tmpdir),
        cmocka_unit_test_setup_teardown(bad_values_are_refused_with_the_reason, setup_tmpdir,
                                        teardown_tmpdir),
        cmocka_unit_test(more_checks_refuse_bad_values),
        cmocka_unit_test(checks_accept_valid_unusual_values),
        cmocka_unit_test(enctype_policy_is_checked_by_the_enctype_module),
        cmocka_unit_test_setup_teardown(syntax_error_names_the_line, setup_tmpdir,
                                        teardown_tmpdir),
        cmocka_unit_test_setup_teardown(unknown_group_is_an_error_unless_listed_in_services,
                                        setup_tmpdir, teardown_tmpdir),
        cmocka_unit_test_setup_teardown(keys_in_the_wrong_place_are_errors, setup_tmpdir,
                                        teardown_tmpdir),
        cmocka_unit_test_setup_teardown(socket_mode_digits_are_octal_like_chmod, setup_tmpdir,
                                        teardown_tmpdir),
        cmocka_unit_test_setup_teardown(missing_file_is_an_io_error_naming_it, setup_tmpdir,
                                        teardown_tmpdir),
        cmocka_unit_test_setup_teardown(included_files_are_read_relative_and_named_in_errors,
                                        setup_tmpdir, teardown_tmpdir),
        cmocka_unit_test_setup_teardown(check_reports_every_problem_at_once, setup_tmpdir,
                                        teardown_tmpdir),
        cmocka_unit_test(manpage_documents_every_schema_key),
        cmocka_unit_test(manpage_example_loads),
        cmocka_unit_test(sample_conf_loads_without_error),
        cmocka_unit_test(sample_conf_examples_are_valid_and_cover_every_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
