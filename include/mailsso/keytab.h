/*
 * NAME
 *   mailsso/keytab.h - read, filter, diff and atomically write keytab files
 *
 * SYNOPSIS
 *   mailsso_keytab *kt = NULL;
 *   if (mailsso_keytab_read("/etc/krb5.keytab", &kt, &err) != 0) ...
 *   for (size_t i = 0; i < kt->n_entries; i++) ... kt->entries[i].principal ...
 *   mailsso_keytab_write_options o = MAILSSO_KEYTAB_WRITE_OPTIONS_INIT;
 *   mailsso_keytab_write(path, kt, &o, &err);
 *   mailsso_keytab_free(kt);
 *
 * DESCRIPTION
 *   Reads and writes the MIT keytab file format (versions 0x0501 and 0x0502)
 *   directly, so that every defect gets a precise message: "keytab X:
 *   truncated in entry 7 at offset 1234", "unknown keytab version 0x0503",
 *   "entry 3: principal component length 60000 exceeds entry size". Reading
 *   never trusts a length field. Entry slots with a negative size (holes
 *   left by deletion) are skipped. "FILE:" prefixes are accepted; other
 *   keytab types are MAILSSO_E_UNSUPPORTED. The 32-bit kvno extension is
 *   honoured when present.
 *
 *   mailsso_keytab_write() is atomic: it writes a temp file in the same
 *   directory, fsyncs it, renames it over the target and fsyncs the
 *   directory. A crash at any point leaves either the old file or the new
 *   one, never a mixture. It keeps the old file's mode and owner unless the
 *   options say otherwise (new files: mode 0600 unless set). It holds an
 *   exclusive lock (flock on "<path>.lock") for the duration; another
 *   writer gets MAILSSO_E_BUSY after lock_timeout_ms.
 *
 *   Keys are secrets: mailsso_keytab_free() and entry removal zero them.
 *   Principals are stored parsed (realm, components, name type) and in the
 *   unparsed display form (MIT escaping) used for printing and matching.
 */
#ifndef MAILSSO_KEYTAB_H
#define MAILSSO_KEYTAB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <mailsso/error.h>

typedef struct mailsso_keytab_entry {
    char *principal;        /* display form, "imap/mail.example.com@EXAMPLE.COM" */
    char *realm;
    char **components;      /* n_components strings */
    size_t n_components;
    int32_t name_type;      /* KRB5_NT_PRINCIPAL (1), KRB5_NT_SRV_HST (3), ... */
    uint32_t timestamp;     /* seconds since the epoch */
    uint32_t kvno;
    int32_t enctype;
    unsigned char *key;     /* secret */
    size_t key_len;
} mailsso_keytab_entry;

typedef struct mailsso_keytab {
    mailsso_keytab_entry *entries;
    size_t n_entries;
    size_t capacity;
    uint16_t version;       /* 0x0502 unless read from a 0x0501 file */
} mailsso_keytab;

typedef struct mailsso_keytab_write_options {
    mode_t mode;            /* 0: keep existing, else 0600 for new files */
    uid_t owner;            /* (uid_t)-1: keep existing / current user */
    gid_t group;            /* (gid_t)-1: keep existing / current group */
    int lock_timeout_ms;    /* how long to wait for the lock; 0: fail at once */
    int dry_run;            /* validate and report, write nothing */
} mailsso_keytab_write_options;

#define MAILSSO_KEYTAB_WRITE_OPTIONS_INIT { 0, (uid_t)-1, (gid_t)-1, 5000, 0 }

/* An empty keytab (version 0x0502). NULL on out-of-memory. */
mailsso_keytab *mailsso_keytab_new(void);
int mailsso_keytab_read(const char *path, mailsso_keytab **kt_out, mailsso_error *err);
/* Parse from memory (used by fuzzers and by read). name appears in messages. */
int mailsso_keytab_parse(const unsigned char *data, size_t len, const char *name,
                         mailsso_keytab **kt_out, mailsso_error *err);
/* Serialise to memory; *data_out must be freed with mailsso_zfree(data, len). */
int mailsso_keytab_serialize(const mailsso_keytab *kt, unsigned char **data_out, size_t *len_out,
                             mailsso_error *err);
int mailsso_keytab_write(const char *path, const mailsso_keytab *kt,
                         const mailsso_keytab_write_options *opts, mailsso_error *err);
void mailsso_keytab_free(mailsso_keytab *kt);

/* Appends a deep copy of entry. principal must parse ("a/b@R"). */
int mailsso_keytab_add(mailsso_keytab *kt, const mailsso_keytab_entry *entry, mailsso_error *err);
/* Builds an entry from parts (copies everything). */
int mailsso_keytab_entry_init(mailsso_keytab_entry *entry, const char *principal, uint32_t kvno,
                              int32_t enctype, uint32_t timestamp, const unsigned char *key,
                              size_t key_len, mailsso_error *err);
void mailsso_keytab_entry_clear(mailsso_keytab_entry *entry);   /* zeroes the key */

/* Filter: NULL principal / 0 kvno / 0 enctype match anything. principal
 * may end in "@*" to match any realm, or be "*@REALM". */
typedef struct mailsso_keytab_filter {
    const char *principal;
    uint32_t kvno;
    int32_t enctype;
} mailsso_keytab_filter;

int mailsso_keytab_entry_matches(const mailsso_keytab_entry *e, const mailsso_keytab_filter *f);
/* Removes matching entries; *removed_out (may be NULL) gets the count. */
int mailsso_keytab_remove(mailsso_keytab *kt, const mailsso_keytab_filter *f, size_t *removed_out);
/* Highest kvno held for principal (0 if none). */
uint32_t mailsso_keytab_max_kvno(const mailsso_keytab *kt, const char *principal);

/* Same principal + kvno + enctype: same key -> duplicate; other key -> conflict. */
typedef enum mailsso_keytab_merge_policy {
    MAILSSO_MERGE_FAIL_ON_CONFLICT,
    MAILSSO_MERGE_KEEP_FIRST,
    MAILSSO_MERGE_KEEP_LAST
} mailsso_keytab_merge_policy;

/* Merges src into dst, skipping exact duplicates. On conflict with
 * FAIL_ON_CONFLICT returns MAILSSO_E_CONFLICT naming principal/kvno/enctype
 * and leaves dst unchanged. *added_out / *dupes_out may be NULL. */
int mailsso_keytab_merge(mailsso_keytab *dst, const mailsso_keytab *src,
                         mailsso_keytab_merge_policy policy, size_t *added_out,
                         size_t *dupes_out, mailsso_error *err);

/* Diff: entries only in a, only in b, and in both with a different key. */
typedef struct mailsso_keytab_diff {
    size_t *only_a; size_t n_only_a;     /* indexes into a */
    size_t *only_b; size_t n_only_b;     /* indexes into b */
    size_t *changed_a; size_t n_changed; /* indexes into a whose key differs in b */
} mailsso_keytab_diff;
int mailsso_keytab_diff_compute(const mailsso_keytab *a, const mailsso_keytab *b,
                                mailsso_keytab_diff **diff_out, mailsso_error *err);
void mailsso_keytab_diff_free(mailsso_keytab_diff *diff);

#endif
