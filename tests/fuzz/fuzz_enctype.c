/*
 * fuzz_enctype.c - libFuzzer harness for enctype names and the policy parser
 *
 * Input: a policy string ("aes rc4 -aes128", ...). Invariants:
 *   - a parsed policy never allows a BROKEN enctype (DES, 3DES, RC4-exp);
 *   - describe(policy) parses back to a policy allowing exactly the same set;
 *   - an enctype name that resolves maps back to a name resolving to the same
 *     number (names <-> numbers agree);
 *   - a failed parse always has a message and leaves policy_out untouched.
 */
#include <mailsso/enctype.h>
#include <mailsso/error.h>

#include "fuzz_common.h"

/* Every number MIT knows lies in -200..200; probe a bit wider. */
#define PROBE_MIN (-300)
#define PROBE_MAX 300

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec;
    mailsso_enctype_policy *p = NULL, *p2 = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    int32_t e = 0;
    int rc;

    if (size > 4096)
        return 0;
    spec = fuzz_strdup(data, size);

    rc = mailsso_enctype_from_name(spec, &e, NULL);
    if (rc == 0) {
        const char *name = mailsso_enctype_name(e);
        char buf[64];
        if (name != NULL) {
            int32_t back = 0;
            FUZZ_ASSERT(mailsso_enctype_from_name(name, &back, NULL) == 0 && back == e,
                        "'%s' -> %d -> '%s' -> %d", spec, (int)e, name, (int)back);
        }
        mailsso_enctype_describe(e, buf, sizeof(buf));
        FUZZ_ASSERT(memchr(buf, '\0', sizeof(buf)) != NULL, "describe did not terminate");
        (void)mailsso_enctype_class_name(mailsso_enctype_classify(e));
    }

    p = (mailsso_enctype_policy *)(uintptr_t)0x1;   /* must stay untouched on failure */
    rc = mailsso_enctype_policy_parse(spec, &p, &err);
    if (rc != 0) {
        FUZZ_ASSERT(p == (mailsso_enctype_policy *)(uintptr_t)0x1, "failed parse set policy_out");
        FUZZ_ASSERT(err.code == rc && err.message[0] != '\0', "failed parse without message");
        p = NULL;
    } else {
        char desc[4096];
        int any = 0;

        FUZZ_ASSERT(p != NULL, "parse returned 0 without a policy");
        for (int32_t x = PROBE_MIN; x <= PROBE_MAX; x++) {
            int allowed = mailsso_enctype_policy_allows(p, x);
            if (allowed)
                any = 1;
            FUZZ_ASSERT(!(allowed && mailsso_enctype_classify(x) == MAILSSO_ENCTYPE_BROKEN),
                        "policy '%s' allows broken enctype %d", spec, (int)x);
        }
        mailsso_enctype_policy_describe(p, desc, sizeof(desc));
        FUZZ_ASSERT(memchr(desc, '\0', sizeof(desc)) != NULL, "describe did not terminate");
        if (any) {
            mailsso_error err2 = MAILSSO_ERROR_INIT;
            rc = mailsso_enctype_policy_parse(desc, &p2, &err2);
            FUZZ_ASSERT(rc == 0, "describe of '%s' gave '%s', which does not parse: %s", spec,
                        desc, err2.message);
            for (int32_t x = PROBE_MIN; x <= PROBE_MAX; x++)
                FUZZ_ASSERT(mailsso_enctype_policy_allows(p, x) ==
                            mailsso_enctype_policy_allows(p2, x),
                            "policy '%s' and its description '%s' differ on enctype %d", spec,
                            desc, (int)x);
        }
    }
    mailsso_enctype_policy_free(p);
    mailsso_enctype_policy_free(p2);
    free(spec);
    return 0;
}
