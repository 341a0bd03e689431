/* Unit tests for lib/identity.c: realms, principal -> mailbox, authzid forms,
 * and the rule that no two principals share a mailbox unless "==" says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mailsso/config.h>
#include <mailsso/identity.h>
#include <mailsso/util.h>

#define REALM "EXAMPLE.TEST"
/* SET(s, map, "a", "b") sets s.map and s.n_map to a static list. */
#define SET(st, field, ...) do { \
        static const char *const list_[] = { __VA_ARGS__ }; \
        (st).field = list_; \
        (st).n_##field = sizeof(list_) / sizeof(list_[0]); \
    } while (0)

static const char *const domain_example[] = { "example.test = EXAMPLE.TEST" };

/* strip_realm, default realm EXAMPLE.TEST, example.test mapped to it. */
static mailsso_identity_settings
base_settings(void)
{
    mailsso_identity_settings s;

    memset(&s, 0, sizeof(s));
    s.default_realm = REALM;
    s.strip_realm = 1;
    s.mail_domains = domain_example;
    s.n_mail_domains = 1;
    return s;
}

static mailsso_identity_rules *
rules_ok(const mailsso_identity_settings *s)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_identity_rules *r = NULL;

    if (mailsso_identity_rules_new(s, &r, &err) != 0)
        fail_msg("expected valid rules, got: %s", err.message);
    assert_non_null(r);
    return r;
}

/* rules_new must fail with MAILSSO_E_CONFIG mentioning both words. */
static void
rules_fail(const mailsso_identity_settings *s, const char *word1, const char *word2)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_identity_rules *r = (mailsso_identity_rules *)&err; /* must stay untouched */
    int rc = mailsso_identity_rules_new(s, &r, &err);

    if (rc == 0)
        fail_msg("expected a config error mentioning '%s', got valid rules", word1);
    assert_int_equal(rc, MAILSSO_E_CONFIG);
    assert_int_equal(err.code, MAILSSO_E_CONFIG);
    assert_ptr_equal(r, (mailsso_identity_rules *)&err);
    if (word1 != NULL && strstr(err.message, word1) == NULL)
        fail_msg("expected '%s' in the message, got '%s'", word1, err.message);
    if (word2 != NULL && strstr(err.message, word2) == NULL)
        fail_msg("expected '%s' in the message, got '%s'", word2, err.message);
}

static void
maps_to(const mailsso_identity_rules *r, const char *principal, const char *expected)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    char *mb = NULL;

    if (mailsso_identity_map(r, principal, &mb, &err) != 0)
        fail_msg("'%s': expected mailbox '%s', got refusal: %s", principal, expected, err.message);
    if (strcmp(mb, expected) != 0)
        fail_msg("'%s': expected mailbox '%s', got '%s'", principal, expected, mb);
    free(mb);
}

static void
refused(const mailsso_identity_rules *r, const char *principal, const char *word)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    char *mb = (char *)"untouched";
    int rc = mailsso_identity_map(r, principal, &mb, &err);

    if (rc == 0)
        fail_msg("'%s': expected a refusal, got mailbox '%s'", principal, mb);
    assert_int_equal(rc, MAILSSO_E_POLICY);
    assert_string_equal(mb, "untouched");
    if (word != NULL && strstr(err.message, word) == NULL)
        fail_msg("'%s': expected '%s' in the message, got '%s'", principal, word, err.message);
}

/* check_authzid for principal (mapped first); want_self 1/0; word in message when not self. */
static void
authzid_is(const mailsso_identity_rules *r, const char *principal, const char *authzid,
           int want_self, const char *word)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    char *mb = NULL;
    int self = -1;

    if (mailsso_identity_map(r, principal, &mb, &err) != 0)
        fail_msg("'%s' refused: %s", principal, err.message);
    assert_int_equal(mailsso_identity_check_authzid(r, principal, mb, authzid, &self, &err), 0);
    if (self != want_self)
        fail_msg("principal %s, authzid '%s': expected %s, got %s (%s)", principal,
                 authzid != NULL ? authzid : "(null)", want_self ? "self" : "not self",
                 self ? "self" : "not self", err.message);
    if (!want_self) {
        assert_int_equal(err.code, MAILSSO_E_POLICY);
        assert_non_null(strstr(err.message, principal));
        if (authzid != NULL && strstr(err.message, authzid) == NULL)
            fail_msg("expected the authzid '%s' in '%s'", authzid, err.message);
        if (word != NULL && strstr(err.message, word) == NULL)
            fail_msg("expected '%s' in '%s'", word, err.message);
    }
    free(mb);
}

/* ------------------------------------------------------------ Thunderbird */

static void
thunderbird_authzids_without_extra_forms_only_the_mailbox_is_self(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r = rules_ok(&s);

    (void)state;
    authzid_is(r, "alice@EXAMPLE.TEST", NULL, 1, NULL);
    authzid_is(r, "alice@EXAMPLE.TEST", "", 1, NULL);
    authzid_is(r, "alice@EXAMPLE.TEST", "alice", 1, NULL);
    authzid_is(r, "alice@EXAMPLE.TEST", "alice@EXAMPLE.TEST", 0, "\"principal\"");
    authzid_is(r, "alice@EXAMPLE.TEST", "alice@example.test", 0, "\"maildomain\"");
    authzid_is(r, "alice@EXAMPLE.TEST", "ALICE", 0, "\"caseless\"");
    mailsso_identity_rules_free(r);
}

static void
thunderbird_principal_form_accepts_alice_at_realm_only(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    SET(s, authzid_forms, "principal");
    r = rules_ok(&s);
    authzid_is(r, "alice@EXAMPLE.TEST", "alice@EXAMPLE.TEST", 1, NULL);
    authzid_is(r, "alice@EXAMPLE.TEST", "alice", 1, NULL);
    authzid_is(r, "alice@EXAMPLE.TEST", "alice@example.test", 0, "maildomain");
    authzid_is(r, "alice@EXAMPLE.TEST", "ALICE@EXAMPLE.TEST", 0, NULL);
    authzid_is(r, "alice@EXAMPLE.TEST", "bob@EXAMPLE.TEST", 0, "different user");
    mailsso_identity_rules_free(r);
}

static void
thunderbird_maildomain_form_accepts_the_mail_address(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    SET(s, authzid_forms, "maildomain");
    r = rules_ok(&s);
    authzid_is(r, "alice@EXAMPLE.TEST", "alice@example.test", 1, NULL);
    authzid_is(r, "alice@EXAMPLE.TEST", "alice@EXAMPLE.test", 1, NULL);  /* DNS is caseless */
    authzid_is(r, "alice@EXAMPLE.TEST", "ALICE@example.test", 0, NULL);
    /* the realm spelled like the mail domain is, as an address, the same address */
    authzid_is(r, "alice@EXAMPLE.TEST", "alice@EXAMPLE.TEST", 1, NULL);
    authzid_is(r, "alice@EXAMPLE.TEST", "bob@example.test", 0, "different user");
    authzid_is(r, "alice@EXAMPLE.TEST", "alice@other.test", 0, NULL);
    mailsso_identity_rules_free(r);
}

static void
thunderbird_caseless_form_accepts_another_letter_case(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    SET(s, authzid_forms, "caseless", "maildomain");
    r = rules_ok(&s);
    authzid_is(r, "alice@EXAMPLE.TEST", "ALICE", 1, NULL);
    authzid_is(r, "alice@EXAMPLE.TEST", "Alice", 1, NULL);
    authzid_is(r, "alice@EXAMPLE.TEST", "ALICE@example.test", 1, NULL);
    authzid_is(r, "alice@EXAMPLE.TEST", "ALICEX", 0, NULL);
    mailsso_identity_rules_free(r);
}

static void
unknown_authzid_form_is_a_config_error(void **state)
{
    mailsso_identity_settings s = base_settings();

    (void)state;
    SET(s, authzid_forms, "principal", "anything");
    rules_fail(&s, "anything", "authzid_forms");
}

static void
authzid_for_another_user_is_not_self_and_names_both(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;
    mailsso_error err = MAILSSO_ERROR_INIT;
    int self = -1;

    (void)state;
    SET(s, authzid_forms, "principal", "maildomain", "caseless");
    r = rules_ok(&s);
    assert_int_equal(mailsso_identity_check_authzid(r, "alice@EXAMPLE.TEST", "alice", "bob",
                                                    &self, &err), 0);
    assert_int_equal(self, 0);
    assert_non_null(strstr(err.message, "'bob'"));
    assert_non_null(strstr(err.message, "alice@EXAMPLE.TEST"));
    assert_non_null(strstr(err.message, "'alice'"));
    mailsso_identity_rules_free(r);
}

/* ------------------------------------------------------------------ realms */

static void
foreign_realm_is_refused_whatever_the_authzid(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;
    mailsso_error err = MAILSSO_ERROR_INIT;
    int self = 7;

    (void)state;
    SET(s, authzid_forms, "principal", "maildomain", "caseless");
    r = rules_ok(&s);
    refused(r, "alice@OTHER.TEST", "OTHER.TEST");
    assert_int_equal(mailsso_identity_check_authzid(r, "alice@OTHER.TEST", "alice", NULL, &self,
                                                    &err), MAILSSO_E_POLICY);
    assert_int_equal(self, 7);
    assert_non_null(strstr(err.message, "OTHER.TEST"));
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_identity_check_authzid(r, "alice@OTHER.TEST", "alice",
                                                    "alice@OTHER.TEST", &self, &err),
                     MAILSSO_E_POLICY);
    assert_false(mailsso_identity_realm_allowed(r, "OTHER.TEST"));
    assert_true(mailsso_identity_realm_allowed(r, REALM));
    mailsso_identity_rules_free(r);
}

static void
realm_case_trick_is_refused(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    s.mail_domains = NULL;
    s.n_mail_domains = 0;
    SET(s, authzid_forms, "principal");
    r = rules_ok(&s);
    /* a principal of a realm spelled in lower case is another realm */
    refused(r, "alice@example.test", "example.test");
    refused(r, "alice@Example.Test", NULL);
    assert_false(mailsso_identity_realm_allowed(r, "example.test"));
    /* and as an authzid it is not the principal either */
    authzid_is(r, "alice@EXAMPLE.TEST", "alice@example.test", 0, "case-sensitive");
    mailsso_identity_rules_free(r);
}

static void
realms_list_replaces_the_default_realm(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    s.strip_realm = 0;
    SET(s, realms, "PARTNER.TEST");
    r = rules_ok(&s);
    refused(r, "alice@EXAMPLE.TEST", "EXAMPLE.TEST");
    maps_to(r, "alice@PARTNER.TEST", "alice@PARTNER.TEST");
    mailsso_identity_rules_free(r);

    s.realms = NULL;
    s.n_realms = 0;
    s.default_realm = NULL;
    rules_fail(&s, "realm", NULL);
    SET(s, realms, "BAD REALM");
    rules_fail(&s, "BAD REALM", NULL);
}

static void
realm_of_parses_the_display_form(void **state)
{
    char buf[64];
    char tiny[4];

    (void)state;
    assert_int_equal(mailsso_identity_realm_of("alice@EXAMPLE.TEST", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "EXAMPLE.TEST");
    assert_int_equal(mailsso_identity_realm_of("imap/mail.example.test@EXAMPLE.TEST", buf,
                                               sizeof(buf)), 0);
    assert_string_equal(buf, "EXAMPLE.TEST");
    assert_int_equal(mailsso_identity_realm_of("a\\@b@R.TEST", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "R.TEST");
    assert_int_equal(mailsso_identity_realm_of("alice", buf, sizeof(buf)), MAILSSO_E_PARSE);
    assert_int_equal(mailsso_identity_realm_of("alice@", buf, sizeof(buf)), MAILSSO_E_PARSE);
    assert_int_equal(mailsso_identity_realm_of("a\\@R", buf, sizeof(buf)), MAILSSO_E_PARSE);
    assert_int_equal(mailsso_identity_realm_of("alice@EXAMPLE.TEST", tiny, sizeof(tiny)),
                     MAILSSO_E_PARSE);
}

/* --------------------------------------------------------- odd principals */

static void
multi_component_principal_is_refused_unless_a_rule_names_it(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    r = rules_ok(&s);
    refused(r, "alice/admin@EXAMPLE.TEST", "alice/admin@EXAMPLE.TEST");
    refused(r, "imap/mail.example.test@EXAMPLE.TEST", "components");
    mailsso_identity_rules_free(r);

    SET(s, map, "alice/admin@EXAMPLE.TEST = %u-admin");
    SET(s, authzid_forms, "maildomain", "principal");
    r = rules_ok(&s);
    maps_to(r, "alice/admin@EXAMPLE.TEST", "alice-admin");
    refused(r, "alice/root@EXAMPLE.TEST", NULL);
    maps_to(r, "alice@EXAMPLE.TEST", "alice");
    /* alice/admin is not alice: alice's mail address is not its own identity */
    authzid_is(r, "alice/admin@EXAMPLE.TEST", "alice@example.test", 0, NULL);
    authzid_is(r, "alice/admin@EXAMPLE.TEST", "alice", 0, NULL);
    authzid_is(r, "alice/admin@EXAMPLE.TEST", "alice/admin@EXAMPLE.TEST", 1, NULL);
    mailsso_identity_rules_free(r);
}

static void
odd_characters_are_refused_or_mapped_distinctly(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    r = rules_ok(&s);
    refused(r, "al\\@ice@EXAMPLE.TEST", "escaped");   /* would be mailbox "al@ice" */
    refused(r, "al\\/ice@EXAMPLE.TEST", "escaped");   /* would look like alice/... */
    refused(r, "al\\\\ice@EXAMPLE.TEST", "escaped");
    refused(r, "al@ice@EXAMPLE.TEST", "unescaped");
    refused(r, "ali\\nce@EXAMPLE.TEST", "control");
    refused(r, "ali\\0ce@EXAMPLE.TEST", "NUL");
    refused(r, "ali\x01" "ce@EXAMPLE.TEST", "control");
    refused(r, "alice\t@EXAMPLE.TEST", "control");
    refused(r, "ali\x7f" "ce@EXAMPLE.TEST", "control");
    refused(r, "ali\xc3" "ce@EXAMPLE.TEST", "UTF-8");
    refused(r, "ali\xc0\xae" "ce@EXAMPLE.TEST", "UTF-8");   /* overlong '.' */
    refused(r, "@EXAMPLE.TEST", "empty");
    refused(r, "/admin@EXAMPLE.TEST", "empty");
    refused(r, "alice/@EXAMPLE.TEST", "empty");
    refused(r, "alice@", "realm");
    refused(r, "alice", "realm");
    refused(r, "", "empty");
    refused(r, "alice\\", NULL);
    maps_to(r, "j\xc3\xbcrgen@EXAMPLE.TEST", "j\xc3\xbcrgen");
    maps_to(r, "o'brien@EXAMPLE.TEST", "o'brien");
    mailsso_identity_rules_free(r);

    /* an explicit rule may admit the odd one, under its own mailbox */
    SET(s, map, "al\\@ice@EXAMPLE.TEST = al-at-ice");
    r = rules_ok(&s);
    maps_to(r, "al\\@ice@EXAMPLE.TEST", "al-at-ice");
    maps_to(r, "alice@EXAMPLE.TEST", "alice");
    refused(r, "al\\/ice@EXAMPLE.TEST", NULL);
    mailsso_identity_rules_free(r);
}

/* ------------------------------------------------------------- ambiguity */

static void
strip_realm_with_two_realms_is_ambiguous(void **state)
{
    mailsso_identity_settings s = base_settings();

    (void)state;
    SET(s, realms, "EXAMPLE.TEST", "PARTNER.TEST");
    rules_fail(&s, "EXAMPLE.TEST", "PARTNER.TEST");
    rules_fail(&s, "ambiguous", "strip_realm");
}

static void
full_names_of_two_realms_are_distinct_unless_lowercase_folds_them(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    s.strip_realm = 0;
    SET(s, realms, "EXAMPLE.TEST", "PARTNER.TEST");
    r = rules_ok(&s);
    maps_to(r, "alice@EXAMPLE.TEST", "alice@EXAMPLE.TEST");
    maps_to(r, "alice@PARTNER.TEST", "alice@PARTNER.TEST");
    mailsso_identity_rules_free(r);

    /* two realms differing only in case, folded to one: ambiguous */
    SET(s, realms, "EXAMPLE.TEST", "example.test");
    r = rules_ok(&s);
    maps_to(r, "alice@example.test", "alice@example.test");
    mailsso_identity_rules_free(r);
    s.lowercase = 1;
    rules_fail(&s, "EXAMPLE.TEST", "example.test");
}

static void
map_rules_that_make_realms_distinct_resolve_the_ambiguity(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;
    static const char *const domains[] = { "example.test = EXAMPLE.TEST",
                                           "partner.test = PARTNER.TEST" };

    (void)state;
    SET(s, realms, "EXAMPLE.TEST", "PARTNER.TEST");
    SET(s, map, "*@PARTNER.TEST = %u@partner.test");
    r = rules_ok(&s);
    maps_to(r, "alice@EXAMPLE.TEST", "alice");
    maps_to(r, "alice@PARTNER.TEST", "alice@partner.test");
    mailsso_identity_rules_free(r);

    SET(s, map, "*@EXAMPLE.TEST = %u", "*@PARTNER.TEST = %u@%d");
    s.mail_domains = domains;
    s.n_mail_domains = 2;
    r = rules_ok(&s);
    maps_to(r, "alice@PARTNER.TEST", "alice@partner.test");
    maps_to(r, "alice@EXAMPLE.TEST", "alice");
    mailsso_identity_rules_free(r);

    /* a suffix without '@' does not help: alice.partner@EXAMPLE.TEST exists too */
    SET(s, map, "*@PARTNER.TEST = %u.partner");
    rules_fail(&s, "alice", NULL);
    rules_fail(&s, "PARTNER.TEST", "EXAMPLE.TEST");
    rules_fail(&s, "*@PARTNER.TEST = %u.partner", NULL);
    /* a prefix with '/' does */
    SET(s, map, "*@PARTNER.TEST = partner/%u");
    r = rules_ok(&s);
    maps_to(r, "bob@PARTNER.TEST", "partner/bob");
    mailsso_identity_rules_free(r);
}

static void
explicit_double_equals_makes_a_shared_mailbox_legal(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    /* same people in two realms */
    SET(s, realms, "EXAMPLE.TEST", "PARTNER.TEST");
    SET(s, map, "*@PARTNER.TEST == %u");
    r = rules_ok(&s);
    maps_to(r, "alice@EXAMPLE.TEST", "alice");
    maps_to(r, "alice@PARTNER.TEST", "alice");
    mailsso_identity_rules_free(r);

    /* two principals, one mailbox */
    s.realms = NULL;
    s.n_realms = 0;
    SET(s, map, "bob@EXAMPLE.TEST = team", "carol@EXAMPLE.TEST = team");
    rules_fail(&s, "bob@EXAMPLE.TEST = team", "carol@EXAMPLE.TEST = team");
    SET(s, map, "bob@EXAMPLE.TEST == team", "carol@EXAMPLE.TEST == team");
    r = rules_ok(&s);
    maps_to(r, "bob@EXAMPLE.TEST", "team");
    maps_to(r, "carol@EXAMPLE.TEST", "team");
    mailsso_identity_rules_free(r);

    /* a whole realm in one mailbox */
    SET(s, realms, "EXAMPLE.TEST", "GUEST.TEST");
    SET(s, map, "*@GUEST.TEST = guest");
    rules_fail(&s, "GUEST.TEST", "same mailbox");
    SET(s, map, "*@GUEST.TEST == guest");
    r = rules_ok(&s);
    maps_to(r, "x@GUEST.TEST", "guest");
    maps_to(r, "y@GUEST.TEST", "guest");
    mailsso_identity_rules_free(r);
}

static void
mailbox_of_an_explicit_rule_is_reserved_for_its_principal(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    SET(s, map, "bob@EXAMPLE.TEST = robert");
    r = rules_ok(&s);
    maps_to(r, "bob@EXAMPLE.TEST", "robert");
    refused(r, "robert@EXAMPLE.TEST", "bob@EXAMPLE.TEST = robert");
    maps_to(r, "carol@EXAMPLE.TEST", "carol");
    mailsso_identity_rules_free(r);

    SET(s, map, "bob@EXAMPLE.TEST == robert");
    r = rules_ok(&s);
    maps_to(r, "robert@EXAMPLE.TEST", "robert");
    maps_to(r, "bob@EXAMPLE.TEST", "robert");
    mailsso_identity_rules_free(r);
}

static void
rules_that_never_apply_or_repeat_are_config_errors(void **state)
{
    mailsso_identity_settings s = base_settings();

    (void)state;
    SET(s, map, "*@EXAMPLE.TEST = %u", "bob@EXAMPLE.TEST = robert");
    rules_fail(&s, "bob@EXAMPLE.TEST = robert", "never applies");
    SET(s, map, "bob@EXAMPLE.TEST = robert", "bob@EXAMPLE.TEST = bobby");
    rules_fail(&s, "bob@EXAMPLE.TEST = bobby", "same principal");
    SET(s, map, "*@EXAMPLE.TEST = %u", "*@EXAMPLE.TEST = x%u");
    rules_fail(&s, "never applies", NULL);
    SET(s, map, "bob = robert");
    rules_fail(&s, "bob = robert", "realm");
    SET(s, map, "bob@EXAMPLE.TEST robert");
    rules_fail(&s, "FROM = TO", NULL);
    SET(s, map, "bob@EXAMPLE.TEST = ");
    rules_fail(&s, "empty", NULL);
    SET(s, map, "*@EXAMPLE.TEST = %u%u");
    rules_fail(&s, "once", NULL);
}

static void
lowercase_folds_the_mailbox(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    r = rules_ok(&s);
    maps_to(r, "Alice@EXAMPLE.TEST", "Alice");
    mailsso_identity_rules_free(r);

    s.lowercase = 1;
    SET(s, map, "Bob@EXAMPLE.TEST = Robert");
    r = rules_ok(&s);
    maps_to(r, "Alice@EXAMPLE.TEST", "alice");
    maps_to(r, "ALICE@EXAMPLE.TEST", "alice");
    maps_to(r, "Bob@EXAMPLE.TEST", "robert");
    refused(r, "ROBERT@EXAMPLE.TEST", "robert");
    mailsso_identity_rules_free(r);

    s.strip_realm = 0;
    s.map = NULL;
    s.n_map = 0;
    r = rules_ok(&s);
    maps_to(r, "Alice@EXAMPLE.TEST", "alice@example.test");
    mailsso_identity_rules_free(r);

    /* two explicit rules colliding only after folding */
    SET(s, map, "bob@EXAMPLE.TEST = Team", "carol@EXAMPLE.TEST = team");
    rules_fail(&s, "team", "ambiguous");
}

static void
rewrite_templates_expand_user_realm_domain_and_percent(void **state)
{
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    SET(s, map, "bob@EXAMPLE.TEST = %u-%r-%d-100%%", "*@EXAMPLE.TEST = user.%u@%d");
    r = rules_ok(&s);
    maps_to(r, "bob@EXAMPLE.TEST", "bob-EXAMPLE.TEST-example.test-100%");
    maps_to(r, "carol@EXAMPLE.TEST", "user.carol@example.test");
    mailsso_identity_rules_free(r);

    SET(s, map, "*@EXAMPLE.TEST = %x%u");
    rules_fail(&s, "%x", NULL);
    SET(s, map, "*@EXAMPLE.TEST = %u%");
    rules_fail(&s, "escape", NULL);
    SET(s, map, "*@EXAMPLE.TEST = %u@%d");
    s.mail_domains = NULL;
    s.n_mail_domains = 0;
    rules_fail(&s, "%d", "EXAMPLE.TEST");
}

static void
mail_domains_must_be_well_formed(void **state)
{
    mailsso_identity_settings s = base_settings();

    (void)state;
    SET(s, mail_domains, "example.test");
    rules_fail(&s, "example.test", "DOMAIN = REALM");
    SET(s, mail_domains, "example.test = EXAMPLE.TEST", "EXAMPLE.test = OTHER.TEST");
    rules_fail(&s, "EXAMPLE.TEST", "OTHER.TEST");
    SET(s, mail_domains, "bad domain = EXAMPLE.TEST");
    rules_fail(&s, "bad domain", NULL);
}

/* ------------------------------------------------------------- from config */

static mailsso_config *
load(const char *text)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_config *cfg = NULL;

    if (mailsso_config_load_string(text, "test.conf", &cfg, &err) != 0)
        fail_msg("config did not load: %s", err.message);
    return cfg;
}

static void
rules_from_config_read_the_service_section(void **state)
{
    mailsso_config *cfg;
    mailsso_identity_rules *r = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    int self = -1;

    (void)state;
    cfg = load("imap = {\n"
               "  realms = [\"EXAMPLE.TEST\", \"PARTNER.TEST\"];\n"
               "  strip_realm = true;\n"
               "  lowercase = true;\n"
               "  map = [\"*@PARTNER.TEST = %u@%d\", \"admin/root@EXAMPLE.TEST = postmaster\"];\n"
               "  authzid_forms = [\"maildomain\"];\n"
               "  mail_domains = [\"example.test = EXAMPLE.TEST\", \"partner.test = PARTNER.TEST\"];\n"
               "};\n"
               "pop = {\n"
               "  realms = [\"EXAMPLE.TEST\", \"PARTNER.TEST\"];\n"
               "};\n");
    if (mailsso_identity_rules_from_config(cfg, "imap", REALM, &r, &err) != 0)
        fail_msg("expected valid rules, got: %s", err.message);
    maps_to(r, "Alice@PARTNER.TEST", "alice@partner.test");
    maps_to(r, "Alice@EXAMPLE.TEST", "alice");
    maps_to(r, "admin/root@EXAMPLE.TEST", "postmaster");
    assert_int_equal(mailsso_identity_check_authzid(r, "alice@EXAMPLE.TEST", "alice",
                                                    "alice@example.test", &self, &err), 0);
    assert_int_equal(self, 1);
    mailsso_identity_rules_free(r);
    r = NULL;

    /* the pop section: two realms, strip_realm by default, no rules: ambiguous */
    assert_int_equal(mailsso_identity_rules_from_config(cfg, "pop", REALM, &r, &err),
                     MAILSSO_E_CONFIG);
    assert_null(r);
    if (strstr(err.message, "test.conf") == NULL || strstr(err.message, "pop") == NULL ||
        strstr(err.message, "PARTNER.TEST") == NULL)
        fail_msg("expected origin, section and realm in '%s'", err.message);

    /* no section at all: the default realm only */
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_identity_rules_from_config(cfg, "smtp", REALM, &r, &err), 0);
    maps_to(r, "alice@EXAMPLE.TEST", "alice");
    refused(r, "alice@PARTNER.TEST", "PARTNER.TEST");
    mailsso_identity_rules_free(r);
    mailsso_config_free(cfg);
}

static void
rules_are_usable_from_many_threads_because_they_are_read_only(void **state)
{
    /* Not a race test: proves map() does not modify shared state observable
     * through results, by interleaving many calls on one rules object. */
    mailsso_identity_settings s = base_settings();
    mailsso_identity_rules *r;

    (void)state;
    SET(s, map, "bob@EXAMPLE.TEST = robert");
    r = rules_ok(&s);
    for (int i = 0; i < 100; i++) {
        maps_to(r, "bob@EXAMPLE.TEST", "robert");
        refused(r, "robert@EXAMPLE.TEST", NULL);
        maps_to(r, "alice@EXAMPLE.TEST", "alice");
    }
    mailsso_identity_rules_free(r);
    mailsso_identity_rules_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thunderbird_authzids_without_extra_forms_only_the_mailbox_is_self),
        cmocka_unit_test(thunderbird_principal_form_accepts_alice_at_realm_only),
        cmocka_unit_test(thunderbird_maildomain_form_accepts_the_mail_address),
        cmocka_unit_test(thunderbird_caseless_form_accepts_another_letter_case),
        cmocka_unit_test(unknown_authzid_form_is_a_config_error),
        cmocka_unit_test(authzid_for_another_user_is_not_self_and_names_both),
        cmocka_unit_test(foreign_realm_is_refused_whatever_the_authzid),
        cmocka_unit_test(realm_case_trick_is_refused),
        cmocka_unit_test(realms_list_replaces_the_default_realm),
        cmocka_unit_test(realm_of_parses_the_display_form),
        cmocka_unit_test(multi_component_principal_is_refused_unless_a_rule_names_it),
        cmocka_unit_test(odd_characters_are_refused_or_mapped_distinctly),
        cmocka_unit_test(strip_realm_with_two_realms_is_ambiguous),
        cmocka_unit_test(full_names_of_two_realms_are_distinct_unless_lowercase_folds_them),
        cmocka_unit_test(map_rules_that_make_realms_distinct_resolve_the_ambiguity),
        cmocka_unit_test(explicit_double_equals_makes_a_shared_mailbox_legal),
        cmocka_unit_test(mailbox_of_an_explicit_rule_is_reserved_for_its_principal),
        cmocka_unit_test(rules_that_never_apply_or_repeat_are_config_errors),
        cmocka_unit_test(lowercase_folds_the_mailbox),
        cmocka_unit_test(rewrite_templates_expand_user_realm_domain_and_percent),
        cmocka_unit_test(mail_domains_must_be_well_formed),
        cmocka_unit_test(rules_from_config_read_the_service_section),
        cmocka_unit_test(rules_are_usable_from_many_threads_because_they_are_read_only),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
