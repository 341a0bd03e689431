/*
 * fuzz_identity.c - libFuzzer harness for principal -> mailbox mapping and
 * the authorization-identity rules
 *
 * Input: byte 0 picks one of the fixed rule sets below; the rest is
 * "PRINCIPAL_A \0 PRINCIPAL_B \0 AUTHZID" (missing parts are empty).
 * Invariants, checked against an independent reading of the display form
 * (realm = text after the last unescaped '@', '\' escapes one byte):
 *   - a principal whose realm is not in the rule set's allowed list is never
 *     mapped, and check_authzid refuses it whatever the authzid;
 *   - a mapped mailbox is not empty and holds no control character;
 *   - two principals that differ (after unescaping; letter case ignored only
 *     where the rule set lowercases) never get the same mailbox, except the
 *     mailbox of an explicit "==" (shared) rule;
 *   - check_authzid says "self" only for an empty authzid, the mailbox, or a
 *     form the rule set enables (principal / maildomain / caseless).
 */
#include <ctype.h>

#include <mailsso/error.h>
#include <mailsso/identity.h>

#include "fuzz_common.h"

typedef struct ruleset {
    const char *realms[3];
    size_t n_realms;
    int strip_realm, lowercase;
    const char *map[4];
    size_t n_map;
    const char *forms[3];
    size_t n_forms;
    const char *domains[2];
    size_t n_domains;
    const char *shared_mailbox;    /* the mailbox of "==" rules, or NULL */
    const char *mail_domain;       /* the domain of the default realm, or NULL */
} ruleset;

static const ruleset sets[] = {
    /* 0: the default: one realm, strip it, nothing else. */
    { { "EXAMPLE.TEST" }, 1, 1, 0, { NULL }, 0, { NULL }, 0, { NULL }, 0, NULL, NULL },
    /* 1: two realms, full principal as mailbox, a wildcard and an explicit rule. */
    { { "EXAMPLE.TEST", "OTHER.TEST" }, 2, 0, 0,
      { "*@OTHER.TEST = %u.other", "bob/admin@EXAMPLE.TEST = bobadmin" }, 2,
      { NULL }, 0, { NULL }, 0, NULL, NULL },
    /* 2: lowercase, AD realm to addresses, reserved mailbox, every authzid form. */
    { { "EXAMPLE.TEST", "AD.EXAMPLE.TEST" }, 2, 1, 1,
      { "*@AD.EXAMPLE.TEST = %u@ad.example.test", "root/admin@EXAMPLE.TEST = postmaster" }, 2,
      { "principal", "maildomain", "caseless" }, 3, { "example.test = EXAMPLE.TEST" }, 1,
      NULL, "example.test" },
    /* 3: a shared mailbox by "==" rules. */
    { { "EXAMPLE.TEST" }, 1, 1, 0,
      { "a@EXAMPLE.TEST == shared", "b/x@EXAMPLE.TEST == shared" }, 2,
      { NULL }, 0, { NULL }, 0, "shared", NULL },
};
#define N_SETS (sizeof(sets) / sizeof(sets[0]))

static mailsso_identity_rules *rules[N_SETS];

static void
init_rules(void)
{
    static int done;

    if (done)
        return;
    done = 1;
    for (size_t i = 0; i < N_SETS; i++) {
        const ruleset *r = &sets[i];
        mailsso_identity_settings s;
        mailsso_error err = MAILSSO_ERROR_INIT;

        memset(&s, 0, sizeof(s));
        s.default_realm = r->realms[0];
        s.realms = r->realms;
        s.n_realms = r->n_realms;
        s.strip_realm = r->strip_realm;
        s.lowercase = r->lowercase;
        s.map = r->map;
        s.n_map = r->n_map;
        s.authzid_forms = r->forms;
        s.n_authzid_forms = r->n_forms;
        s.mail_domains = r->domains;
        s.n_mail_domains = r->n_domains;
        if (mailsso_identity_rules_new(&s, &rules[i], &err) != 0) {
            fprintf(stderr, "fuzz_identity: rule set %zu refused: %s\n", i, err.message);
            abort();
        }
    }
}

/* Independent reading: canonical "comp/comp@realm" with escapes removed and
 * '/' '@' kept distinct ('\1' and '\2' stand for the separators), realm
 * separately. 0 if it parses, -1 if not (no '@', trailing '\'). */
static int
canon(const char *s, char *out, size_t outsz, char *realm, size_t realmsz, int fold)
{
    size_t len = strlen(s), at = (size_t)-1, o = 0, ro = 0;
    int esc = 0;

    for (size_t i = 0; i < len; i++) {
        if (esc)
            esc = 0;
        else if (s[i] == '\\')
            esc = 1;
        else if (s[i] == '@')
            at = i;
    }
    if (esc || at == (size_t)-1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int sep = 0;

        if (c == '\\')
            c = s[++i];
        else if (c == '/' || i == at)
            sep = c == '/' ? 1 : 2;
        if (i > at && !sep) {
            if (ro + 1 >= realmsz)
                return -1;
            realm[ro++] = c;
        }
        if (o + 1 >= outsz)
            return -1;
        out[o++] = sep ? (char)sep : (fold && i < at ? (char)tolower((unsigned char)c) : c);
    }
    out[o] = '\0';
    realm[ro] = '\0';
    return 0;
}

static int
realm_listed(const ruleset *r, const char *realm)
{
    for (size_t i = 0; i < r->n_realms; i++) {
        if (strcmp(r->realms[i], realm) == 0)
            return 1;
    }
    return 0;
}

static char *
map_checked(const ruleset *r, const mailsso_identity_rules *rl, const char *princ)
{
    char *mb = NULL, c[2100], realm[2100];
    mailsso_error err = MAILSSO_ERROR_INIT;
    int rc = mailsso_identity_map(rl, princ, &mb, &err);
    int parses = canon(princ, c, sizeof(c), realm, sizeof(realm), 0) == 0;

    if (rc != 0) {
        FUZZ_ASSERT(mb == NULL, "failed map set mailbox_out");
        FUZZ_ASSERT(err.code == rc && err.message[0] != '\0', "failed map without message");
        FUZZ_ASSERT(!fuzz_has_ctl(err.message), "error message has a control character: %s",
                    err.message);
        return NULL;
    }
    FUZZ_ASSERT(mb != NULL, "map returned 0 without a mailbox");
    FUZZ_ASSERT(parses, "mapped '%s' (to '%s') has no realm by the display-form rules", princ, mb);
    FUZZ_ASSERT(realm_listed(r, realm), "principal '%s' of realm '%s' (not allowed) mapped to '%s'",
                princ, realm, mb);
    FUZZ_ASSERT(mb[0] != '\0', "'%s' mapped to an empty mailbox", princ);
    FUZZ_ASSERT(!fuzz_has_ctl(mb), "'%s' mapped to a mailbox with a control character", princ);
    return mb;
}

static int
ci_eq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    }
    return *a == *b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ruleset *r;
    const mailsso_identity_rules *rl;
    char *buf, *a, *b, *authz, *end;
    char *mba = NULL, *mbb = NULL;
    char ca[2100], cb[2100], ra[2100], rb[2100];

    if (size < 1 || size > 3000)
        return 0;
    init_rules();
    r = &sets[data[0] % N_SETS];
    rl = rules[data[0] % N_SETS];
    buf = fuzz_strdup(data + 1, size - 1);
    end = buf + (size - 1);
    a = buf;
    b = a + strlen(a) < end ? a + strlen(a) + 1 : end;
    authz = b + strlen(b) < end ? b + strlen(b) + 1 : end;

    {
        char lr[300];
        if (mailsso_identity_realm_of(a, lr, sizeof(lr)) == 0) {
            FUZZ_ASSERT(canon(a, ca, sizeof(ca), ra, sizeof(ra), 0) == 0 && strcmp(lr, ra) == 0,
                        "realm_of('%s') = '%s', display-form rules say '%s'", a, lr, ra);
            FUZZ_ASSERT(mailsso_identity_realm_allowed(rl, lr) == realm_listed(r, lr),
                        "realm_allowed('%s') disagrees with the rule set's list", lr);
        }
    }
    mba = map_checked(r, rl, a);
    mbb = map_checked(r, rl, b);
    if (mba != NULL && mbb != NULL && strcmp(mba, mbb) == 0 &&
        (r->shared_mailbox == NULL || strcmp(mba, r->shared_mailbox) != 0)) {
        canon(a, ca, sizeof(ca), ra, sizeof(ra), r->lowercase);
        canon(b, cb, sizeof(cb), rb, sizeof(rb), r->lowercase);
        FUZZ_ASSERT(strcmp(ca, cb) == 0, "different principals '%s' and '%s' share mailbox '%s'",
                    a, b, mba);
    }

    {
        mailsso_error err = MAILSSO_ERROR_INIT;
        int self = -1, rc;
        const char *mailbox = mba != NULL ? mba : a;
        int parses = canon(a, ca, sizeof(ca), ra, sizeof(ra), 0) == 0;

        rc = mailsso_identity_check_authzid(rl, a, mailbox, authz, &self, &err);
        if (rc == 0) {
            FUZZ_ASSERT(parses && realm_listed(r, ra),
                        "authzid check accepted principal '%s' of a realm not allowed", a);
            FUZZ_ASSERT(self == 0 || self == 1, "is_self %d", self);
            if (self == 0)
                FUZZ_ASSERT(err.message[0] != '\0', "not self without an explanation");
        }
        if (rc == 0 && self == 1 && mba != NULL && authz[0] != '\0' && strcmp(authz, mba) != 0) {
            int ok = 0;
            if (r->n_forms > 0) {
                const char *at = strrchr(authz, '@');
                if (strcmp(authz, a) == 0 || ci_eq(authz, mba))
                    ok = 1;
                else if (at != NULL && r->mail_domain != NULL && ci_eq(at + 1, r->mail_domain))
                    ok = 1;   /* maildomain form: local part checked by unit tests */
            }
            FUZZ_ASSERT(ok, "authzid '%s' accepted as self for '%s' (mailbox '%s') by rule set %d",
                        authz, a, mba, data[0] % (int)N_SETS);
        }
    }
    free(mba);
    free(mbb);
    free(buf);
    return 0;
}
