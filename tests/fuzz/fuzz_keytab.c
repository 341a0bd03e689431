/*
 * fuzz_keytab.c - libFuzzer harness for the keytab reader and writer
 *
 * Input: the bytes of a keytab file. mailsso_keytab_parse() must never trust
 * a length field (ASan) and must either fail with a message or give a
 * keytab that round-trips:
 *   kt1 = parse(x); y = serialize(kt1); kt2 = parse(y)   => kt2 equals kt1
 * (same version, entries, principals, components, realm, name type,
 * timestamp, kvno, enctype, key bytes), and serialize(kt2) == y byte for byte.
 * Also: every entry matches a filter naming its own principal, kvno and
 * enctype; diff(kt1, kt2) is empty; max_kvno(principal) >= the entry's kvno;
 * merging kt2 into kt1 adds nothing; removing a principal leaves no entry
 * matching it.
 */
#include <mailsso/error.h>
#include <mailsso/keytab.h>
#include <mailsso/util.h>

#include "fuzz_common.h"

static void
same_entry(const mailsso_keytab_entry *a, const mailsso_keytab_entry *b, size_t i)
{
    FUZZ_ASSERT(strcmp(a->principal, b->principal) == 0, "entry %zu: principal '%s' vs '%s'", i,
                a->principal, b->principal);
    FUZZ_ASSERT(strcmp(a->realm, b->realm) == 0, "entry %zu: realm differs", i);
    FUZZ_ASSERT(a->n_components == b->n_components, "entry %zu: %zu vs %zu components", i,
                a->n_components, b->n_components);
    for (size_t c = 0; c < a->n_components; c++)
        FUZZ_ASSERT(strcmp(a->components[c], b->components[c]) == 0,
                    "entry %zu: component %zu differs", i, c);
    FUZZ_ASSERT(a->name_type == b->name_type, "entry %zu: name type %d vs %d", i,
                (int)a->name_type, (int)b->name_type);
    FUZZ_ASSERT(a->timestamp == b->timestamp, "entry %zu: timestamp differs", i);
    FUZZ_ASSERT(a->kvno == b->kvno, "entry %zu: kvno %u vs %u", i, a->kvno, b->kvno);
    FUZZ_ASSERT(a->enctype == b->enctype, "entry %zu: enctype %d vs %d", i, (int)a->enctype,
                (int)b->enctype);
    FUZZ_ASSERT(a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0,
                "entry %zu: key differs", i);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mailsso_keytab *kt1 = NULL, *kt2 = NULL;
    mailsso_keytab_diff *diff = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    unsigned char *y = NULL, *y2 = NULL;
    size_t ylen = 0, y2len = 0;
    int rc;

    rc = mailsso_keytab_parse(data, size, "fuzz.keytab", &kt1, &err);
    if (rc != 0) {
        FUZZ_ASSERT(kt1 == NULL, "failed parse set kt_out");
        FUZZ_ASSERT(err.code == rc && err.message[0] != '\0', "failed parse (%d) without message",
                    rc);
        return 0;
    }
    FUZZ_ASSERT(kt1 != NULL, "parse returned 0 without a keytab");
    for (size_t i = 0; i < kt1->n_entries; i++) {
        const mailsso_keytab_entry *e = &kt1->entries[i];
        mailsso_keytab_filter f = { e->principal, e->kvno, e->enctype };

        FUZZ_ASSERT(e->principal != NULL && e->realm != NULL && e->key != NULL && e->key_len > 0,
                    "entry %zu incomplete", i);
        FUZZ_ASSERT(mailsso_keytab_entry_matches(e, &f), "entry %zu ('%s') does not match itself",
                    i, e->principal);
        FUZZ_ASSERT(mailsso_keytab_max_kvno(kt1, e->principal) >= e->kvno,
                    "max_kvno('%s') below entry %zu's kvno %u", e->principal, i, e->kvno);
    }

    rc = mailsso_keytab_serialize(kt1, &y, &ylen, &err);
    FUZZ_ASSERT(rc == 0, "a parsed keytab does not serialise: %s", err.message);
    rc = mailsso_keytab_parse(y, ylen, "fuzz.keytab (rewritten)", &kt2, &err);
    FUZZ_ASSERT(rc == 0, "a serialised keytab does not parse back: %s", err.message);
    FUZZ_ASSERT(kt1->version == kt2->version, "version 0x%04x vs 0x%04x", kt1->version,
                kt2->version);
    FUZZ_ASSERT(kt1->n_entries == kt2->n_entries, "%zu entries became %zu", kt1->n_entries,
                kt2->n_entries);
    for (size_t i = 0; i < kt1->n_entries; i++)
        same_entry(&kt1->entries[i], &kt2->entries[i], i);

    rc = mailsso_keytab_serialize(kt2, &y2, &y2len, &err);
    FUZZ_ASSERT(rc == 0 && y2len == ylen && memcmp(y, y2, ylen) == 0,
                "serialise is not stable (%zu vs %zu bytes)", ylen, y2len);

    rc = mailsso_keytab_diff_compute(kt1, kt2, &diff, &err);
    FUZZ_ASSERT(rc == 0, "diff failed: %s", err.message);
    FUZZ_ASSERT(diff->n_only_a == 0 && diff->n_only_b == 0 && diff->n_changed == 0,
                "a keytab differs from its own round trip (%zu/%zu/%zu)", diff->n_only_a,
                diff->n_only_b, diff->n_changed);

    /* Merging a keytab's own round trip into it adds nothing. */
    {
        size_t added = 99, dupes = 0;
        rc = mailsso_keytab_merge(kt1, kt2, MAILSSO_MERGE_KEEP_FIRST, &added, &dupes, &err);
        FUZZ_ASSERT(rc == 0 && added == 0, "merging a keytab with its round trip: rc %d, added %zu",
                    rc, added);
    }
    /* Removing the first entry's principal leaves no entry matching it. */
    if (kt2->n_entries > 0) {
        char *p = strdup(kt2->entries[0].principal);
        mailsso_keytab_filter f = { p, 0, 0 };
        size_t removed = 0;

        FUZZ_ASSERT(p != NULL, "out of memory");
        rc = mailsso_keytab_remove(kt2, &f, &removed);
        FUZZ_ASSERT(rc == 0 && removed >= 1, "remove '%s': rc %d, removed %zu", p, rc, removed);
        for (size_t i = 0; i < kt2->n_entries; i++)
            FUZZ_ASSERT(!mailsso_keytab_entry_matches(&kt2->entries[i], &f),
                        "entry %zu still matches removed principal '%s'", i, p);
        free(p);
    }

    mailsso_keytab_diff_free(diff);
    mailsso_zfree(y, ylen);
    mailsso_zfree(y2, y2len);
    mailsso_keytab_free(kt1);
    mailsso_keytab_free(kt2);
    return 0;
}
