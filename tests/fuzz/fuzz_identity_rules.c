/*
 * fuzz_identity_rules.c - libFuzzer harness for the identity rule checker
 *
 * The rules themselves are fuzzed here (fuzz_identity uses fixed ones).
 * Input, one item per line:
 *   line 1   flags: 's' strip_realm, 'l' lowercase
 *   line 2   allowed realms, space separated (at most 4)
 *   "m RULE"     a map rule ("bob@A = robert", "*@B = %u.b", "x@A == shared")
 *   "d DOMAIN = REALM"   a mail_domains entry
 *   "p PRINCIPAL"        a principal to map (at most 6)
 * When mailsso_identity_rules_new() accepts the rules, the promise of
 * identity.h must hold for every pair of principals: no two different
 * principals get one mailbox (compared after unescaping; letter case of
 * the name ignored when lowercase is on) unless a "==" rule exists (then
 * the pair check is skipped). Every mapped principal's realm is an allowed
 * realm, and no mailbox is empty or holds a control character. Rejected
 * rules must come with a message.
 */
#include <ctype.h>

#include <mailsso/error.h>
#include <mailsso/identity.h>

#include "fuzz_common.h"

#define MAX_REALMS 4
#define MAX_MAP 6
#define MAX_DOM 3
#define MAX_PRINC 6

/* Canonical form: escapes removed, separators kept apart; realm returned. */
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *line, *next;
    const char *realms[MAX_REALMS], *map[MAX_MAP], *dom[MAX_DOM], *princ[MAX_PRINC];
    size_t n_realms = 0, n_map = 0, n_dom = 0, n_princ = 0, lineno = 0;
    char *mailbox[MAX_PRINC] = { NULL };
    int strip = 0, lower = 0, shared = 0;
    mailsso_identity_settings s;
    mailsso_identity_rules *rules = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    int rc;

    if (size > 2048)
        return 0;
    buf = fuzz_strdup(data, size);
    for (line = buf; line != NULL; line = next, lineno++) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (lineno == 0) {
            strip = strchr(line, 's') != NULL;
            lower = strchr(line, 'l') != NULL;
        } else if (lineno == 1) {
            for (char *tok = strtok(line, " "); tok != NULL && n_realms < MAX_REALMS;
                 tok = strtok(NULL, " "))
                realms[n_realms++] = tok;
        } else if (line[0] == 'm' && line[1] == ' ' && n_map < MAX_MAP) {
            map[n_map++] = line + 2;
            if (strstr(line, "==") != NULL)
                shared = 1;
        } else if (line[0] == 'd' && line[1] == ' ' && n_dom < MAX_DOM) {
            dom[n_dom++] = line + 2;
        } else if (line[0] == 'p' && line[1] == ' ' && n_princ < MAX_PRINC) {
            princ[n_princ++] = line + 2;
        }
    }
    memset(&s, 0, sizeof(s));
    s.default_realm = "EXAMPLE.TEST";
    s.realms = realms;
    s.n_realms = n_realms;
    s.strip_realm = strip;
    s.lowercase = lower;
    s.map = map;
    s.n_map = n_map;
    s.mail_domains = dom;
    s.n_mail_domains = n_dom;
    rc = mailsso_identity_rules_new(&s, &rules, &err);
    if (rc != 0) {
        FUZZ_ASSERT(rules == NULL, "rejected rules but rules_out set");
        FUZZ_ASSERT(err.code == rc && err.message[0] != '\0', "rejected rules without message");
        free(buf);
        return 0;
    }
    for (size_t i = 0; i < n_princ; i++) {
        char c[2100], realm[2100];
        mailsso_error e2 = MAILSSO_ERROR_INIT;
        int ok = 0;

        if (mailsso_identity_map(rules, princ[i], &mailbox[i], &e2) != 0) {
            FUZZ_ASSERT(mailbox[i] == NULL && e2.message[0] != '\0', "bad refusal");
            continue;
        }
        FUZZ_ASSERT(canon(princ[i], c, sizeof(c), realm, sizeof(realm), 0) == 0,
                    "mapped '%s' has no realm", princ[i]);
        for (size_t k = 0; k < n_realms; k++)
            ok |= strcmp(realms[k], realm) == 0;
        if (n_realms == 0)
            ok = strcmp(realm, "EXAMPLE.TEST") == 0;
        FUZZ_ASSERT(ok, "'%s' of realm '%s' (not allowed) mapped to '%s'", princ[i], realm,
                    mailbox[i]);
        FUZZ_ASSERT(mailbox[i][0] != '\0' && !fuzz_has_ctl(mailbox[i]),
                    "'%s' mapped to an empty mailbox or one with a control character", princ[i]);
    }
    for (size_t i = 0; i < n_princ && !shared; i++) {
        for (size_t j = i + 1; j < n_princ; j++) {
            char ci[2100], cj[2100], ri[2100], rj[2100];

            if (mailbox[i] == NULL || mailbox[j] == NULL || strcmp(mailbox[i], mailbox[j]) != 0)
                continue;
            canon(princ[i], ci, sizeof(ci), ri, sizeof(ri), lower);
            canon(princ[j], cj, sizeof(cj), rj, sizeof(rj), lower);
            FUZZ_ASSERT(strcmp(ci, cj) == 0,
                        "accepted rules map different principals '%s' and '%s' to mailbox '%s'",
                        princ[i], princ[j], mailbox[i]);
        }
    }
    for (size_t i = 0; i < n_princ; i++)
        free(mailbox[i]);
    mailsso_identity_rules_free(rules);
    free(buf);
    return 0;
}
