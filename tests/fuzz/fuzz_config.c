/*
 * fuzz_config.c - libFuzzer harness for the config loader
 *
 * Input: the text of a mailsso.conf. Loads it with mailsso_config_load_string();
 * when it loads, reads every schema key through its getter in the global
 * scope, every service section the file declares, and the kcd group.
 * Invariants: an error always has a message; a loaded config answers every
 * getter without crashing; list getters return NULL-terminated arrays whose
 * count matches; strings are NUL-terminated (ASan checks the reads).
 * Inputs naming an @include are skipped: they read other files, which is the
 * admin's feature, not parser input.
 */
#include <ctype.h>

#include <mailsso/config.h>
#include <mailsso/error.h>

#include "fuzz_common.h"

static int
mentions_include(const char *s)
{
    for (const char *p = strchr(s, '@'); p != NULL; p = strchr(p + 1, '@')) {
        static const char word[] = "include";
        size_t i = 0;
        while (word[i] != '\0' && tolower((unsigned char)p[1 + i]) == word[i])
            i++;
        if (word[i] == '\0')
            return 1;
    }
    return 0;
}

static void
read_section(const mailsso_config *cfg, const char *section, mailsso_config_scope want)
{
    size_t n = 0;
    const mailsso_config_key *keys = mailsso_config_schema(&n);

    for (size_t i = 0; i < n; i++) {
        const mailsso_config_key *k = &keys[i];
        const char *const *items = NULL;
        size_t count, j;

        if (k->scope != want && !(want == MAILSSO_SCOPE_SERVICE && k->scope == MAILSSO_SCOPE_GLOBAL
                                  && section == NULL))
            continue;
        (void)mailsso_config_is_set(cfg, section, k->name);
        switch (k->type) {
        case MAILSSO_CFG_STRING: {
            const char *s = mailsso_config_get_string(cfg, section, k->name);
            if (s != NULL)
                (void)strlen(s);
            break;
        }
        case MAILSSO_CFG_INT:
            (void)mailsso_config_get_int(cfg, section, k->name);
            break;
        case MAILSSO_CFG_BOOL: {
            int b = mailsso_config_get_bool(cfg, section, k->name);
            FUZZ_ASSERT(b == 0 || b == 1, "bool key %s gave %d", k->name, b);
            break;
        }
        case MAILSSO_CFG_LIST:
            count = mailsso_config_get_list(cfg, section, k->name, &items);
            if (count > 0)
                FUZZ_ASSERT(items != NULL, "list key %s: %zu items but NULL array", k->name, count);
            for (j = 0; items != NULL && j < count; j++) {
                FUZZ_ASSERT(items[j] != NULL, "list key %s: item %zu of %zu is NULL", k->name, j,
                            count);
                (void)strlen(items[j]);
            }
            if (items != NULL)
                FUZZ_ASSERT(items[count] == NULL, "list key %s: array not NULL-terminated",
                            k->name);
            break;
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    mailsso_config *cfg = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    int rc;

    if (size > 65536)
        return 0;
    text = fuzz_strdup(data, size);
    if (mentions_include(text)) {
        free(text);
        return 0;
    }
    rc = mailsso_config_load_string(text, "fuzz.conf", &cfg, &err);
    if (rc != 0) {
        FUZZ_ASSERT(cfg == NULL, "failed load (%d) set cfg_out", rc);
        FUZZ_ASSERT(err.code == rc && err.message[0] != '\0',
                    "failed load: rc %d, err.code %d, message '%s'", rc, err.code, err.message);
    } else {
        const char *const *services = NULL;
        size_t n;

        FUZZ_ASSERT(cfg != NULL, "load returned 0 without a config");
        FUZZ_ASSERT(strcmp(mailsso_config_origin(cfg), "fuzz.conf") == 0, "origin '%s'",
                    mailsso_config_origin(cfg));
        read_section(cfg, NULL, MAILSSO_SCOPE_SERVICE);
        n = mailsso_config_services(cfg, &services);
        for (size_t i = 0; i < n; i++) {
            FUZZ_ASSERT(services != NULL && services[i] != NULL, "service %zu of %zu is NULL", i,
                        n);
            read_section(cfg, services[i], MAILSSO_SCOPE_SERVICE);
        }
        read_section(cfg, "kcd", MAILSSO_SCOPE_KCD);
        /* An undeclared section falls back to the global values. */
        read_section(cfg, "no-such-service", MAILSSO_SCOPE_SERVICE);
    }
    mailsso_config_free(cfg);
    free(text);
    return 0;
}
