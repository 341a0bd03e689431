/*
 * NAME
 *   keytab - MIT keytab reader/writer, filters, merge and diff (include/mailsso/keytab.h)
 *
 * DESCRIPTION
 *   File format (MIT "keytab file format", versions 0x0501 and 0x0502):
 *     uint8 0x05, uint8 version (0x01 or 0x02)
 *     entries: int32 size; size < 0 marks a hole of -size bytes (a deleted
 *              entry), size == 0 ends the list; size > 0 is followed by
 *       uint16 num_components (0x0501: counts the realm too)
 *       counted string realm, num_components counted strings (uint16 length)
 *       uint32 name_type              (absent in 0x0501)
 *       uint32 timestamp, uint8 kvno
 *       uint16 enctype, uint16 key length, key bytes
 *       uint32 kvno                   (optional: only if >= 4 bytes remain in
 *                                      the entry; used when non-zero)
 *     0x0502 is big-endian; 0x0501 is in the writer's native byte order.
 *
 *   Every length is checked against what remains of the entry and the file
 *   before use. Errors name the file, the entry (1-based, holes not counted)
 *   and the byte offset of the defect.
 *
 *   The display form (entry->principal) is the lossless, MIT-escaped form
 *   (krb5_unparse_name): it is what serialisation writes back, so names with
 *   unusual bytes survive a round trip. entry->realm and entry->components[]
 *   are convenience views as C strings (a component holding a NUL byte shows
 *   only the part before it there).
 *
 *   The writer always emits the 32-bit kvno field, as MIT 1.14 and later do,
 *   so a keytab written by MIT is reproduced byte for byte.
 *
 * DIAGNOSTICS
 *   MAILSSO_E_PARSE for malformed files and principal names,
 *   MAILSSO_E_UNSUPPORTED for unknown versions and non-FILE keytab types,
 *   MAILSSO_E_NOTFOUND for a missing file, MAILSSO_E_IO for system call
 *   failures, MAILSSO_E_BUSY when the write lock is held elsewhere,
 *   MAILSSO_E_CONFLICT for merge conflicts, MAILSSO_E_INVALID for bad
 *   arguments.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mailsso/diag.h>
#include <mailsso/error.h>
#include <mailsso/keytab.h>
#include <mailsso/util.h>

#define KT_VNO_1 0x0501
#define KT_VNO_2 0x0502
#define KT_MAX_FILE_SIZE (64u * 1024u * 1024u)   /* far above any real keytab */
#define KT_TMP_TAG ".mailsso-tmp."

/* A principal as counted byte strings (components may hold any byte). */
typedef struct bytes {
    char *data;     /* NUL-terminated copy, len bytes of payload */
    size_t len;
} bytes;

typedef struct princ {
    bytes realm;
    bytes *comps;
    size_t n_comps;
} princ;

static void
princ_clear(princ *p)
{
    if (p == NULL)
        return;
    free(p->realm.data);
    for (size_t i = 0; i < p->n_comps; i++)
        free(p->comps[i].data);
    free(p->comps);
    memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------ display form */

/* Escaped length of one component or realm (krb5_unparse_name rules). */
static size_t
quoted_len(const char *s, size_t len)
{
    size_t n = len;

    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '/': case '@': case '\\': case '\0': case '\t': case '\n': case '\b':
            n++;
            break;
        default:
            break;
        }
    }
    return n;
}

static char *
quote_into(char *q, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '/': case '@': case '\\':
            *q++ = '\\';
            *q++ = s[i];
            break;
        case '\t': *q++ = '\\'; *q++ = 't'; break;
        case '\n': *q++ = '\\'; *q++ = 'n'; break;
        case '\b': *q++ = '\\'; *q++ = 'b'; break;
        case '\0': *q++ = '\\'; *q++ = '0'; break;
        default:
            *q++ = s[i];
            break;
        }
    }
    return q;
}

/* "c1/c2@REALM" with MIT escaping; NULL on out-of-memory. */
static char *
unparse(const princ *p)
{
    size_t total = quoted_len(p->realm.data, p->realm.len) + 2;
    char *out, *q;

    for (size_t i = 0; i < p->n_comps; i++)
        total += quoted_len(p->comps[i].data, p->comps[i].len) + 1;
    out = malloc(total);
    if (out == NULL)
        return NULL;
    q = out;
    for (size_t i = 0; i < p->n_comps; i++) {
        if (i > 0)
            *q++ = '/';
        q = quote_into(q, p->comps[i].data, p->comps[i].len);
    }
    *q++ = '@';
    q = quote_into(q, p->realm.data, p->realm.len);
    *q = '\0';
    return out;
}

static int
bytes_append(bytes *b, size_t *cap, char c)
{
    if (b->len + 1 >= *cap) {
        size_t ncap = *cap < 16 ? 16 : *cap * 2;
        char *n = realloc(b->data, ncap);
        if (n == NULL)
            return -1;
        b->data = n;
        *cap = ncap;
    }
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

/* krb5_parse_name semantics, but a realm is required. */
static int
parse_name(const char *name, princ *out, mailsso_error *err)
{
    princ p = { { NULL, 0 }, NULL, 0 };
    bytes cur = { NULL, 0 };
    size_t cap = 0, comps_cap = 0;
    int in_realm = 0, rc = MAILSSO_E_NOMEM;

    if (name == NULL || *name == '\0') {
        rc = mailsso_error_set(err, MAILSSO_E_PARSE, "empty principal name");
        goto cleanup;
    }
    cur.data = calloc(1, 1);
    if (cur.data == NULL)
        goto cleanup;
    cap = 1;
    for (const char *s = name;; s++) {
        char c = *s;

        if (c == '\\') {
            s++;
            switch (*s) {
            case '\0':
                rc = mailsso_error_set(err, MAILSSO_E_PARSE,
                                       "principal \"%s\" ends in a lone backslash", name);
                goto cleanup;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'b': c = '\b'; break;
            case '0': c = '\0'; break;
            default: c = *s; break;
            }
            if (bytes_append(&cur, &cap, c) != 0)
                goto cleanup;
            continue;
        }
        if (c == '\0' || (c == '/' && !in_realm) || (c == '@' && !in_realm)) {
            if (in_realm) {
                p.realm = cur;
            } else {
                if (p.n_comps == comps_cap) {
                    size_t ncap = comps_cap ? comps_cap * 2 : 4;
                    bytes *n = realloc(p.comps, ncap * sizeof(*n));
                    if (n == NULL)
                        goto cleanup;
                    p.comps = n;
                    comps_cap = ncap;
                }
                p.comps[p.n_comps++] = cur;
            }
            cur.data = NULL;
            cur.len = 0;
            cap = 0;
            if (c == '\0')
                break;
            if (c == '@')
                in_realm = 1;
            cur.data = calloc(1, 1);
            if (cur.data == NULL)
                goto cleanup;
            cap = 1;
            continue;
        }
        if (in_realm && (c == '/' || c == '@')) {
            rc = mailsso_error_set(err, MAILSSO_E_PARSE,
                                   "principal \"%s\": unescaped '%c' in the realm", name, c);
            mailsso_error_set_fix(err, "escape it as \\%c or correct the name", c);
            goto cleanup;
        }
        if (bytes_append(&cur, &cap, c) != 0)
            goto cleanup;
    }
    if (!in_realm) {
        rc = mailsso_error_set(err, MAILSSO_E_PARSE, "principal \"%s\" has no realm", name);
        mailsso_error_set_fix(err, "write the full name, e.g. \"%s@EXAMPLE.COM\"", name);
        goto cleanup;
    }
    if (p.realm.len == 0) {
        rc = mailsso_error_set(err, MAILSSO_E_PARSE, "principal \"%s\" has an empty realm", name);
        goto cleanup;
    }
    *out = p;
    memset(&p, 0, sizeof(p));
    rc = 0;

cleanup:
    if (rc == MAILSSO_E_NOMEM)
        mailsso_error_set(err, rc, "out of memory parsing principal name");
    free(cur.data);
    princ_clear(&p);
    return rc;
}

/* MIT's k5_infer_principal_type. */
static int32_t
infer_name_type(const princ *p)
{
    if (p->n_comps == 2 && p->comps[0].len == 6 && memcmp(p->comps[0].data, "krbtgt", 6) == 0)
        return 2;   /* KRB5_NT_SRV_INST */
    if (p->n_comps >= 1 && p->comps[0].len == 9 && memcmp(p->comps[0].data, "WELLKNOWN", 9) == 0)
        return 11;  /* KRB5_NT_WELLKNOWN */
    return 1;       /* KRB5_NT_PRINCIPAL */
}

/* Fills the C-string views of e from p (takes nothing from p). */
static int
entry_set_name(mailsso_keytab_entry *e, const princ *p)
{
    char **comps = NULL;
    char *realm = NULL, *display = NULL;
    size_t n = 0;

    display = unparse(p);
    realm = strdup(p->realm.data);
    comps = calloc(p->n_comps ? p->n_comps : 1, sizeof(*comps));
    if (display == NULL || realm == NULL || comps == NULL)
        goto fail;
    for (n = 0; n < p->n_comps; n++) {
        comps[n] = strdup(p->comps[n].data);
        if (comps[n] == NULL)
            goto fail;
    }
    e->principal = display;
    e->realm = realm;
    e->components = comps;
    e->n_components = p->n_comps;
    return 0;

fail:
    for (size_t i = 0; i < n; i++)
        free(comps[i]);
    free(comps);
    free(realm);
    free(display);
    return MAILSSO_E_NOMEM;
}

/* ------------------------------------------------------------ entries */

void
mailsso_keytab_entry_clear(mailsso_keytab_entry *entry)
{
    if (entry == NULL)
        return;
    free(entry->principal);
    free(entry->realm);
    for (size_t i = 0; entry->components != NULL && i < entry->n_components; i++)
        free(entry->components[i]);
    free(entry->components);
    mailsso_zfree(entry->key, entry->key_len);
    memset(entry, 0, sizeof(*entry));
}

int
mailsso_keytab_entry_init(mailsso_keytab_entry *entry, const char *principal, uint32_t kvno,
                          int32_t enctype, uint32_t timestamp, const unsigned char *key,
                          size_t key_len, mailsso_error *err)
{
    mailsso_keytab_entry e;
    princ p = { { NULL, 0 }, NULL, 0 };
    int rc;

    memset(&e, 0, sizeof(e));
    if (entry == NULL || (key == NULL && key_len > 0))
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_keytab_entry_init: NULL argument");
    if (key_len == 0 || key_len > 0xffff)
        return mailsso_error_set(err, MAILSSO_E_INVALID,
                                 "key for %s has length %zu (must be 1..65535)",
                                 principal ? principal : "(null)", key_len);
    if (enctype < INT16_MIN || enctype > INT16_MAX)
        return mailsso_error_set(err, MAILSSO_E_INVALID,
                                 "enctype %ld for %s does not fit the keytab format",
                                 (long)enctype, principal ? principal : "(null)");
    rc = parse_name(principal, &p, err);
    if (rc != 0)
        return rc;
    rc = entry_set_name(&e, &p);
    if (rc != 0)
        goto cleanup;
    e.key = malloc(key_len);
    if (e.key == NULL) {
        rc = MAILSSO_E_NOMEM;
        goto cleanup;
    }
    memcpy(e.key, key, key_len);
    e.key_len = key_len;
    e.name_type = infer_name_type(&p);
    e.kvno = kvno;
    e.enctype = enctype;
    e.timestamp = timestamp;
    *entry = e;
    memset(&e, 0, sizeof(e));

cleanup:
    if (rc == MAILSSO_E_NOMEM)
        mailsso_error_set(err, rc, "out of memory building keytab entry for %s", principal);
    mailsso_keytab_entry_clear(&e);
    princ_clear(&p);
    return rc;
}

/* Deep copy; the name views are rebuilt from the display form. */
static int
entry_copy(mailsso_keytab_entry *dst, const mailsso_keytab_entry *src, mailsso_error *err)
{
    int rc;

    if (src->principal == NULL || src->key == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "keytab entry without principal or key");
    rc = mailsso_keytab_entry_init(dst, src->principal, src->kvno, src->enctype, src->timestamp,
                                   src->key, src->key_len, err);
    if (rc == 0)
        dst->name_type = src->name_type;
    return rc;
}

static int
kt_reserve(mailsso_keytab *kt, size_t extra)
{
    size_t need, ncap;
    mailsso_keytab_entry *n;

    if (extra > SIZE_MAX / sizeof(*n) - kt->n_entries)
        return MAILSSO_E_NOMEM;
    need = kt->n_entries + extra;
    if (need <= kt->capacity)
        return 0;
    ncap = kt->capacity ? kt->capacity : 8;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 / sizeof(*n) ? need : ncap * 2;
    n = realloc(kt->entries, ncap * sizeof(*n));
    if (n == NULL)
        return MAILSSO_E_NOMEM;
    kt->entries = n;
    kt->capacity = ncap;
    return 0;
}

mailsso_keytab *
mailsso_keytab_new(void)
{
    mailsso_keytab *kt = calloc(1, sizeof(*kt));

    if (kt != NULL)
        kt->version = KT_VNO_2;
    return kt;
}

void
mailsso_keytab_free(mailsso_keytab *kt)
{
    if (kt == NULL)
        return;
    for (size_t i = 0; i < kt->n_entries; i++)
        mailsso_keytab_entry_clear(&kt->entries[i]);
    free(kt->entries);
    free(kt);
}

int
mailsso_keytab_add(mailsso_keytab *kt, const mailsso_keytab_entry *entry, mailsso_error *err)
{
    mailsso_keytab_entry copy;
    int rc;

    if (kt == NULL || entry == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_keytab_add: NULL argument");
    if (kt_reserve(kt, 1) != 0)
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory growing keytab");
    rc = entry_copy(&copy, entry, err);
    if (rc != 0)
        return rc;
    kt->entries[kt->n_entries++] = copy;
    return 0;
}

/* ------------------------------------------------------------ parsing */

typedef struct reader {
    const unsigned char *data;
    size_t len;
    size_t off;
    int native;          /* 0x0501: native byte order */
    const char *name;
    size_t entry_no;     /* 1-based, for messages */
    size_t entry_off;    /* offset of the entry's size field */
    size_t end;          /* end of the current entry */
} reader;

static int
truncated(reader *r, mailsso_error *err, const char *what, size_t need)
{
    size_t left = r->end - r->off;

    if (r->end == r->len)
        mailsso_error_set(err, MAILSSO_E_PARSE,
                          "keytab %s: truncated in entry %zu at offset %zu: %s needs %zu bytes, "
                          "only %zu left in the file",
                          r->name, r->entry_no, r->off, what, need, left);
    else
        mailsso_error_set(err, MAILSSO_E_PARSE,
                          "keytab %s: entry %zu (at offset %zu): %s at offset %zu needs %zu "
                          "bytes, only %zu left in the entry's declared size",
                          r->name, r->entry_no, r->entry_off, what, r->off, need, left);
    mailsso_error_set_fix(err, "the keytab is damaged or not a keytab: export it again "
                               "(kadmin ktadd / ktpass) and merge it with mailsso-keytab merge");
    return MAILSSO_E_PARSE;
}

static int
rd_u16(reader *r, uint16_t *v, const char *what, mailsso_error *err)
{
    if (r->end - r->off < 2)
        return truncated(r, err, what, 2);
    if (r->native) {
        memcpy(v, r->data + r->off, 2);
    } else {
        *v = (uint16_t)((r->data[r->off] << 8) | r->data[r->off + 1]);
    }
    r->off += 2;
    return 0;
}

static int
rd_u32(reader *r, uint32_t *v, const char *what, mailsso_error *err)
{
    if (r->end - r->off < 4)
        return truncated(r, err, what, 4);
    if (r->native) {
        memcpy(v, r->data + r->off, 4);
    } else {
        const unsigned char *p = r->data + r->off;
        *v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    }
    r->off += 4;
    return 0;
}

static void
counted_name(size_t idx, char *what, size_t size)
{
    if (idx == 0)
        snprintf(what, size, "realm");
    else
        snprintf(what, size, "principal component %zu", idx);
}

static int
rd_counted(reader *r, bytes *out, size_t idx, mailsso_error *err)
{
    uint16_t n;
    char what[64], label[80];

    /* the field's name is formatted only for an error message: this runs
     * for every component of every entry */
    if (r->end - r->off < 2) {
        counted_name(idx, what, sizeof(what));
        snprintf(label, sizeof(label), "%s length", what);
        return rd_u16(r, &n, label, err);   /* truncated */
    }
    (void)rd_u16(r, &n, "length", err);
    if (n > r->end - r->off) {
        counted_name(idx, what, sizeof(what));
        mailsso_error_set(err, MAILSSO_E_PARSE,
                          "keytab %s: entry %zu (at offset %zu): %s length %u at offset %zu "
                          "exceeds the %zu bytes left in the %s",
                          r->name, r->entry_no, r->entry_off, what, (unsigned)n, r->off - 2,
                          r->end - r->off, r->end == r->len ? "file (truncated)" : "entry");
        mailsso_error_set_fix(err, "the keytab is damaged: export it again (kadmin ktadd / "
                                   "ktpass)");
        return MAILSSO_E_PARSE;
    }
    out->data = malloc((size_t)n + 1);
    if (out->data == NULL)
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory reading keytab %s", r->name);
    memcpy(out->data, r->data + r->off, n);
    out->data[n] = '\0';
    out->len = n;
    r->off += n;
    return 0;
}

static int
parse_entry(reader *r, int v1, mailsso_keytab_entry *out, mailsso_error *err)
{
    mailsso_keytab_entry e;
    princ p = { { NULL, 0 }, NULL, 0 };
    uint16_t count, enctype, keylen;
    uint32_t name_type = 0, timestamp, vno32;
    uint8_t vno8;
    int rc;

    memset(&e, 0, sizeof(e));
    rc = rd_u16(r, &count, "number of name components", err);
    if (rc != 0)
        goto cleanup;
    if (v1) {
        if (count == 0) {
            rc = mailsso_error_set(err, MAILSSO_E_PARSE,
                                   "keytab %s: entry %zu (at offset %zu): component count 0 "
                                   "(version 0x0501 counts the realm, so at least 1)",
                                   r->name, r->entry_no, r->entry_off);
            goto cleanup;
        }
        count--;
    }
    if (count == 0 || count > 0x7fff) {
        rc = mailsso_error_set(err, MAILSSO_E_PARSE,
                               "keytab %s: entry %zu (at offset %zu): invalid number of principal "
                               "name components %u",
                               r->name, r->entry_no, r->entry_off, (unsigned)count);
        goto cleanup;
    }
    /* Each component needs at least its 2-byte length: bound before allocating. */
    if ((size_t)count * 2 > r->end - r->off) {
        rc = mailsso_error_set(err, MAILSSO_E_PARSE,
                               "keytab %s: entry %zu (at offset %zu): %u principal name components "
                               "cannot fit in the %zu bytes left in the %s",
                               r->name, r->entry_no, r->entry_off, (unsigned)count,
                               r->end - r->off, r->end == r->len ? "file (truncated)" : "entry");
        goto cleanup;
    }
    rc = rd_counted(r, &p.realm, 0, err);
    if (rc != 0)
        goto cleanup;
    if (p.realm.len == 0) {
        rc = mailsso_error_set(err, MAILSSO_E_PARSE,
                               "keytab %s: entry %zu (at offset %zu): empty realm",
                               r->name, r->entry_no, r->entry_off);
        goto cleanup;
    }
    p.comps = calloc(count, sizeof(*p.comps));
    if (p.comps == NULL) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory reading keytab %s", r->name);
        goto cleanup;
    }
    for (size_t i = 0; i < count; i++) {
        rc = rd_counted(r, &p.comps[i], i + 1, err);
        if (rc != 0)
            goto cleanup;
        p.n_comps++;
    }
    if (!v1) {
        rc = rd_u32(r, &name_type, "name type", err);
        if (rc != 0)
            goto cleanup;
    }
    rc = rd_u32(r, &timestamp, "timestamp", err);
    if (rc != 0)
        goto cleanup;
    if (r->end - r->off < 1) {
        rc = truncated(r, err, "kvno", 1);
        goto cleanup;
    }
    vno8 = r->data[r->off++];
    rc = rd_u16(r, &enctype, "enctype", err);
    if (rc != 0)
        goto cleanup;
    rc = rd_u16(r, &keylen, "key length", err);
    if (rc != 0)
        goto cleanup;
    if (keylen == 0) {
        rc = mailsso_error_set(err, MAILSSO_E_PARSE,
                               "keytab %s: entry %zu (at offset %zu): empty key at offset %zu",
                               r->name, r->entry_no, r->entry_off, r->off - 2);
        goto cleanup;
    }
    if (keylen > r->end - r->off) {
        rc = truncated(r, err, "key", keylen);
        goto cleanup;
    }
    e.key = malloc(keylen);
    if (e.key == NULL) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory reading keytab %s", r->name);
        goto cleanup;
    }
    memcpy(e.key, r->data + r->off, keylen);
    e.key_len = keylen;
    r->off += keylen;
    e.kvno = vno8;
    if (r->end - r->off >= 4) {
        rc = rd_u32(r, &vno32, "32-bit kvno", err);
        if (rc != 0)
            goto cleanup;
        if (vno32 != 0)
            e.kvno = vno32;
    }
    rc = entry_set_name(&e, &p);
    if (rc != 0) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory reading keytab %s", r->name);
        goto cleanup;
    }
    e.name_type = (int32_t)name_type;
    e.timestamp = timestamp;
    e.enctype = (int16_t)enctype;
    *out = e;
    memset(&e, 0, sizeof(e));

cleanup:
    mailsso_keytab_entry_clear(&e);
    princ_clear(&p);
    return rc;
}

int
mailsso_keytab_parse(const unsigned char *data, size_t len, const char *name,
                     mailsso_keytab **kt_out, mailsso_error *err)
{
    mailsso_keytab *kt = NULL;
    reader r;
    uint16_t version;
    int rc = 0;

    if (name == NULL)
        name = "(memory)";
    if (kt_out == NULL || (data == NULL && len > 0))
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_keytab_parse: NULL argument");
    if (len < 2) {
        mailsso_error_set(err, MAILSSO_E_PARSE,
                          "keytab %s: %s (%zu bytes): no version header", name,
                          len == 0 ? "empty file" : "truncated", len);
        mailsso_error_set_fix(err, "a keytab starts with 0x05 0x02; export one with kadmin ktadd "
                                   "or ktpass");
        return MAILSSO_E_PARSE;
    }
    if (data[0] != 0x05) {
        mailsso_error_set(err, MAILSSO_E_PARSE,
                          "keytab %s: not a keytab: first byte is 0x%02x, expected 0x05", name,
                          data[0]);
        mailsso_error_set_fix(err, "check the path; a keytab starts with 0x05 0x02 (a base64 or "
                                   "PEM file must be decoded first)");
        return MAILSSO_E_PARSE;
    }
    version = (uint16_t)((data[0] << 8) | data[1]);
    if (version != KT_VNO_1 && version != KT_VNO_2) {
        mailsso_error_set(err, MAILSSO_E_UNSUPPORTED,
                          "keytab %s: unknown keytab version 0x%04x (known: 0x0501, 0x0502)",
                          name, (unsigned)version);
        mailsso_error_set_fix(err, "write the keytab with MIT kadmin/ktutil or Windows ktpass, "
                                   "which produce version 0x0502");
        return MAILSSO_E_UNSUPPORTED;
    }
    kt = mailsso_keytab_new();
    if (kt == NULL)
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory reading keytab %s", name);
    kt->version = version;

    memset(&r, 0, sizeof(r));
    r.data = data;
    r.len = len;
    r.off = 2;
    r.native = version == KT_VNO_1;
    r.name = name;
    r.end = len;
    while (r.off < len) {
        uint32_t usize;
        int32_t size;

        r.entry_no = kt->n_entries + 1;
        r.entry_off = r.off;
        r.end = len;
        rc = rd_u32(&r, &usize, "entry size", err);
        if (rc != 0)
            goto cleanup;
        size = (int32_t)usize;
        if (size == 0)
            break;   /* end marker, as MIT treats it */
        if (size == INT32_MIN) {
            rc = mailsso_error_set(err, MAILSSO_E_PARSE,
                                   "keytab %s: invalid entry size -2147483648 at offset %zu",
                                   name, r.entry_off);
            goto cleanup;
        }
        if (size < 0) {
            size_t hole = (size_t)-(int64_t)size;
            if (hole > len - r.off) {
                rc = mailsso_error_set(err, MAILSSO_E_PARSE,
                                       "keytab %s: truncated in a deleted-entry hole at offset %zu: "
                                       "hole of %zu bytes, only %zu left in the file",
                                       name, r.entry_off, hole, len - r.off);
                goto cleanup;
            }
            r.off += hole;
            continue;
        }
        if ((size_t)size > len - r.off) {
            rc = mailsso_error_set(err, MAILSSO_E_PARSE,
                                   "keytab %s: truncated in entry %zu at offset %zu: entry size %ld "
                                   "exceeds the %zu bytes left in the file",
                                   name, r.entry_no, r.entry_off, (long)size, len - r.off);
            mailsso_error_set_fix(err, "the keytab was cut short (disk full, interrupted copy?): "
                                       "export it again (kadmin ktadd / ktpass)");
            goto cleanup;
        }
        r.end = r.off + (size_t)size;
        if (kt_reserve(kt, 1) != 0) {
            rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory reading keytab %s", name);
            goto cleanup;
        }
        rc = parse_entry(&r, version == KT_VNO_1, &kt->entries[kt->n_entries], err);
        if (rc != 0)
            goto cleanup;
        kt->n_entries++;
        r.off = r.end;   /* skip padding left by reuse of a larger hole */
    }
    *kt_out = kt;
    kt = NULL;
    rc = 0;

cleanup:
    if (rc != 0 && err != NULL && err->fix[0] == '\0')
        mailsso_error_set_fix(err, "the keytab is damaged: export it again (kadmin ktadd / ktpass) "
                                   "and merge it with mailsso-keytab merge");
    mailsso_keytab_free(kt);
    return rc;
}

/* "FILE:/x", "WRFILE:/x", "/x" -> path; other types unsupported. */
static int
resolve_path(const char *name, const char **path_out, mailsso_error *err)
{
    const char *colon;

    if (name == NULL || *name == '\0')
        return mailsso_error_set(err, MAILSSO_E_INVALID, "empty keytab name");
    colon = strchr(name, ':');
    if (colon == NULL || name[0] == '/') {
        *path_out = name;
        return 0;
    }
    if ((colon - name == 4 && strncmp(name, "FILE", 4) == 0) ||
        (colon - name == 6 && strncmp(name, "WRFILE", 6) == 0)) {
        if (colon[1] == '\0')
            return mailsso_error_set(err, MAILSSO_E_INVALID, "keytab name \"%s\" has no path", name);
        *path_out = colon + 1;
        return 0;
    }
    mailsso_error_set(err, MAILSSO_E_UNSUPPORTED,
                      "keytab \"%s\": type \"%.*s\" is not supported, only FILE: keytabs", name,
                      (int)(colon - name), name);
    mailsso_error_set_fix(err, "give the path of a keytab file (FILE:/path or /path)");
    return MAILSSO_E_UNSUPPORTED;
}

/* Thread-safe strerror. */
static const char *
errtext(int errnum, char *buf, size_t size)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(errnum, buf, size);
#else
    if (strerror_r(errnum, buf, size) != 0)
        snprintf(buf, size, "error %d", errnum);
    return buf;
#endif
}

static int
file_error(int code, int errnum, const char *what, const char *path, mailsso_error *err)
{
    mailsso_diag d;

    mailsso_diag_file(errnum, path, &d);
    /* code_text is "PATH: strerror"; the cause adds mode/owner/uid for EACCES */
    if (errnum == EACCES || errnum == EPERM || strstr(d.cause, "not even its directory") != NULL)
        mailsso_error_set(err, code, "%s %s (%s)", what, d.code_text, d.cause);
    else
        mailsso_error_set(err, code, "%s %s", what, d.code_text);
    if (d.fix[0] != '\0')
        mailsso_error_set_fix(err, "%s", d.fix);
    return code;
}

int
mailsso_keytab_read(const char *name, mailsso_keytab **kt_out, mailsso_error *err)
{
    const char *path = NULL;
    unsigned char *buf = NULL;
    struct stat st;
    size_t got = 0;
    int fd = -1, rc;

    if (kt_out == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_keytab_read: NULL argument");
    rc = resolve_path(name, &path, err);
    if (rc != 0)
        return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = file_error(errno == ENOENT ? MAILSSO_E_NOTFOUND : MAILSSO_E_IO, errno,
                        "cannot open keytab", path, err);
        goto cleanup;
    }
    if (fstat(fd, &st) != 0) {
        rc = file_error(MAILSSO_E_IO, errno, "cannot stat keytab", path, err);
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = mailsso_error_set(err, MAILSSO_E_IO, "keytab %s is not a regular file", path);
        mailsso_error_set_fix(err, "point the keytab setting at the keytab file itself");
        goto cleanup;
    }
    if ((uintmax_t)st.st_size > KT_MAX_FILE_SIZE) {
        rc = mailsso_error_set(err, MAILSSO_E_PARSE,
                               "keytab %s is %jd bytes, more than the %u bytes any real keytab "
                               "needs", path, (intmax_t)st.st_size, KT_MAX_FILE_SIZE);
        mailsso_error_set_fix(err, "check the path: this is not a keytab");
        goto cleanup;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory reading keytab %s", path);
        goto cleanup;
    }
    /* Read up to st_size + 1 so growth during the read is noticed rather than cut. */
    while (got < (size_t)st.st_size + 1) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = file_error(MAILSSO_E_IO, errno, "cannot read keytab", path, err);
            goto cleanup;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got > (size_t)st.st_size) {
        rc = mailsso_error_set(err, MAILSSO_E_IO,
                               "keytab %s changed size while being read", path);
        mailsso_error_set_fix(err, "another program is writing it in place; try again");
        goto cleanup;
    }
    rc = mailsso_keytab_parse(buf, got, path, kt_out, err);

cleanup:
    mailsso_zfree(buf, got);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ------------------------------------------------------------ serialising */

typedef struct writer {
    unsigned char *data;
    size_t len, cap;
    int native;
    int failed;
} writer;

static void
wr_bytes(writer *w, const void *p, size_t n)
{
    if (w->failed)
        return;
    if (n > w->cap - w->len) {
        size_t ncap = w->cap ? w->cap : 256;
        unsigned char *nd;
        while (ncap - w->len < n) {
            if (ncap > SIZE_MAX / 2) {
                w->failed = 1;
                return;
            }
            ncap *= 2;
        }
        nd = malloc(ncap);
        if (nd == NULL) {
            w->failed = 1;
            return;
        }
        if (w->len > 0)
            memcpy(nd, w->data, w->len);
        mailsso_zfree(w->data, w->cap);   /* the buffer holds keys */
        w->data = nd;
        w->cap = ncap;
    }
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

static void
wr_u16(writer *w, uint16_t v)
{
    unsigned char b[2];

    if (w->native) {
        memcpy(b, &v, 2);
    } else {
        b[0] = (unsigned char)(v >> 8);
        b[1] = (unsigned char)v;
    }
    wr_bytes(w, b, 2);
}

static void
wr_u32(writer *w, uint32_t v)
{
    unsigned char b[4];

    if (w->native) {
        memcpy(b, &v, 4);
    } else {
        b[0] = (unsigned char)(v >> 24);
        b[1] = (unsigned char)(v >> 16);
        b[2] = (unsigned char)(v >> 8);
        b[3] = (unsigned char)v;
    }
    wr_bytes(w, b, 4);
}

static int
serialize_entry(writer *w, const mailsso_keytab_entry *e, size_t idx, int v1, mailsso_error *err)
{
    princ p = { { NULL, 0 }, NULL, 0 };
    uint64_t size;
    int rc;

    if (e->principal == NULL || e->key == NULL || e->key_len == 0)
        return mailsso_error_set(err, MAILSSO_E_INVALID,
                                 "keytab entry %zu has no principal or no key", idx + 1);
    rc = parse_name(e->principal, &p, err);
    if (rc != 0)
        goto cleanup;
    if (p.n_comps + (v1 ? 1 : 0) > 0x7fff || p.realm.len > 0xffff || e->key_len > 0xffff) {
        rc = mailsso_error_set(err, MAILSSO_E_INVALID,
                               "keytab entry %zu (%s): name or key too long for the keytab format",
                               idx + 1, e->principal);
        goto cleanup;
    }
    if (e->enctype < INT16_MIN || e->enctype > INT16_MAX) {
        rc = mailsso_error_set(err, MAILSSO_E_INVALID,
                               "keytab entry %zu (%s): enctype %ld does not fit the format",
                               idx + 1, e->principal, (long)e->enctype);
        goto cleanup;
    }
    size = 2 + 2 + p.realm.len + (v1 ? 0 : 4) + 4 + 1 + 2 + 2 + e->key_len + 4;
    for (size_t i = 0; i < p.n_comps; i++) {
        if (p.comps[i].len > 0xffff) {
            rc = mailsso_error_set(err, MAILSSO_E_INVALID,
                                   "keytab entry %zu (%s): component %zu longer than 65535 bytes",
                                   idx + 1, e->principal, i + 1);
            goto cleanup;
        }
        size += 2 + p.comps[i].len;
    }
    if (size > INT32_MAX) {
        rc = mailsso_error_set(err, MAILSSO_E_INVALID, "keytab entry %zu too large", idx + 1);
        goto cleanup;
    }
    wr_u32(w, (uint32_t)size);
    wr_u16(w, (uint16_t)(p.n_comps + (v1 ? 1 : 0)));
    wr_u16(w, (uint16_t)p.realm.len);
    wr_bytes(w, p.realm.data, p.realm.len);
    for (size_t i = 0; i < p.n_comps; i++) {
        wr_u16(w, (uint16_t)p.comps[i].len);
        wr_bytes(w, p.comps[i].data, p.comps[i].len);
    }
    if (!v1)
        wr_u32(w, (uint32_t)e->name_type);
    wr_u32(w, e->timestamp);
    {
        unsigned char vno8 = (unsigned char)(e->kvno & 0xff);
        wr_bytes(w, &vno8, 1);
    }
    wr_u16(w, (uint16_t)(int16_t)e->enctype);
    wr_u16(w, (uint16_t)e->key_len);
    wr_bytes(w, e->key, e->key_len);
    wr_u32(w, e->kvno);

cleanup:
    princ_clear(&p);
    return rc;
}

int
mailsso_keytab_serialize(const mailsso_keytab *kt, unsigned char **data_out, size_t *len_out,
                         mailsso_error *err)
{
    writer w;
    unsigned char hdr[2];
    int rc = 0;

    memset(&w, 0, sizeof(w));
    if (kt == NULL || data_out == NULL || len_out == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_keytab_serialize: NULL argument");
    if (kt->version != KT_VNO_1 && kt->version != KT_VNO_2)
        return mailsso_error_set(err, MAILSSO_E_UNSUPPORTED,
                                 "cannot write keytab version 0x%04x", (unsigned)kt->version);
    w.native = kt->version == KT_VNO_1;
    hdr[0] = 0x05;
    hdr[1] = (unsigned char)(kt->version & 0xff);
    wr_bytes(&w, hdr, 2);
    for (size_t i = 0; i < kt->n_entries && rc == 0; i++)
        rc = serialize_entry(&w, &kt->entries[i], i, w.native, err);
    if (rc == 0 && w.failed)
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory serialising keytab");
    if (rc != 0) {
        mailsso_zfree(w.data, w.cap);
        return rc;
    }
    /* Callers free with mailsso_zfree(data, len): wipe the slack now. */
    if (w.cap > w.len)
        mailsso_zero(w.data + w.len, w.cap - w.len);
    *data_out = w.data;
    *len_out = w.len;
    return 0;
}

/* ------------------------------------------------------------ writing */

static int
write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int
take_lock(const char *lockpath, int timeout_ms, int *fd_out, mailsso_error *err)
{
    struct timespec start, now;
    int fd;

    fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    if (fd < 0 && errno == EACCES) {
        fd = open(lockpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0 && errno == ENOENT) {
            /* The lock file does not exist and cannot be created: the
             * directory is what is not writable, so name the directory. */
            char dir[PATH_MAX];
            char *slash;

            mailsso_strlcpy(dir, lockpath, sizeof(dir));
            slash = strrchr(dir, '/');
            if (slash == NULL)
                mailsso_strlcpy(dir, ".", sizeof(dir));
            else if (slash == dir)
                dir[1] = '\0';
            else
                *slash = '\0';
            return file_error(MAILSSO_E_IO, EACCES, "cannot create the lock file in directory",
                              dir, err);
        }
    }
    if (fd < 0)
        return file_error(MAILSSO_E_IO, errno, "cannot open lock file", lockpath, err);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        long elapsed_ms;

        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(fd);
            return file_error(MAILSSO_E_IO, e, "cannot lock", lockpath, err);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        elapsed_ms = (long)(now.tv_sec - start.tv_sec) * 1000 +
                     (now.tv_nsec - start.tv_nsec) / 1000000;
        if (timeout_ms <= 0 || elapsed_ms >= timeout_ms) {
            close(fd);
            mailsso_error_set(err, MAILSSO_E_BUSY,
                              "keytab lock %s is held by another writer (waited %d ms)",
                              lockpath, timeout_ms > 0 ? timeout_ms : 0);
            mailsso_error_set_fix(err, "wait for the other mailsso-keytab run to finish (see "
                                       "`fuser %s`) and try again", lockpath);
            return MAILSSO_E_BUSY;
        }
        {
            struct timespec ts = { 0, 10 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    *fd_out = fd;
    return 0;
}

/* Removes temp files left by writers that were killed (they hold keys). */
static void
remove_stale_temps(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t blen = strlen(base), tlen = strlen(KT_TMP_TAG);

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        char full[PATH_MAX];
        struct stat st;

        if (n[0] != '.' || strncmp(n + 1, base, blen) != 0 ||
            strncmp(n + 1 + blen, KT_TMP_TAG, tlen) != 0 || strlen(n + 1 + blen + tlen) != 6)
            continue;
        if (snprintf(full, sizeof(full), "%s/%s", dir, n) >= (int)sizeof(full))
            continue;
        if (lstat(full, &st) == 0 && S_ISREG(st.st_mode))
            (void)unlink(full);
    }
    closedir(d);
}

static int
make_temp(const char *dir, const char *base, char *tmp, size_t tmpsize, mailsso_error *err)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char rnd[6];
        char suffix[7];
        int fd;

        if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
            unsigned long v = (unsigned long)getpid() ^ (unsigned long)time(NULL) ^
                              ((unsigned long)attempt * 2654435761u);
            for (size_t i = 0; i < sizeof(rnd); i++, v >>= 5)
                rnd[i] = (unsigned char)v;
        }
        for (size_t i = 0; i < 6; i++)
            suffix[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
        suffix[6] = '\0';
        if (snprintf(tmp, tmpsize, "%s/.%s%s%s", dir, base, KT_TMP_TAG, suffix) >= (int)tmpsize)
            return mailsso_error_set(err, MAILSSO_E_INVALID, "keytab path too long: %s/%s",
                                     dir, base);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return file_error(MAILSSO_E_IO, errno, "cannot create temporary file", tmp, err);
    }
    return mailsso_error_set(err, MAILSSO_E_IO, "cannot create a temporary file in %s", dir);
}

int
mailsso_keytab_write(const char *name, const mailsso_keytab *kt,
                     const mailsso_keytab_write_options *opts, mailsso_error *err)
{
    static const mailsso_keytab_write_options defaults = MAILSSO_KEYTAB_WRITE_OPTIONS_INIT;
    const char *given = NULL;
    char *real = NULL, *dir = NULL, *lockpath = NULL;
    const char *base;
    char tmp[PATH_MAX] = "";
    unsigned char *data = NULL;
    size_t len = 0;
    struct stat st;
    int exists = 0, lockfd = -1, fd = -1, rc;
    mode_t mode;
    uid_t uid;
    gid_t gid;
    char eb[128];

    if (opts == NULL)
        opts = &defaults;
    if (kt == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_keytab_write: NULL keytab");
    rc = resolve_path(name, &given, err);
    if (rc != 0)
        return rc;
    rc = mailsso_keytab_serialize(kt, &data, &len, err);
    if (rc != 0)
        goto cleanup;

    /* Write through a symlink to its target, so the link stays a link. */
    if (lstat(given, &st) == 0 && S_ISLNK(st.st_mode)) {
        real = realpath(given, NULL);
        if (real == NULL) {
            rc = file_error(MAILSSO_E_IO, errno, "cannot resolve symlink", given, err);
            goto cleanup;
        }
    } else {
        real = strdup(given);
    }
    dir = strdup(real != NULL ? real : "");
    if (real == NULL || dir == NULL) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
        goto cleanup;
    }
    {
        char *slash = strrchr(dir, '/');
        if (slash == NULL) {
            free(dir);
            dir = strdup(".");
            base = real;
            if (dir == NULL) {
                rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
                goto cleanup;
            }
        } else {
            base = real + (slash - dir) + 1;
            if (slash == dir)
                slash[1] = '\0';
            else
                *slash = '\0';
        }
    }
    if (*base == '\0') {
        rc = mailsso_error_set(err, MAILSSO_E_INVALID, "keytab path %s names a directory", given);
        goto cleanup;
    }

    if (opts->dry_run) {
        if (stat(real, &st) == 0 && !S_ISREG(st.st_mode)) {
            rc = mailsso_error_set(err, MAILSSO_E_IO, "keytab %s exists and is not a regular file",
                                   real);
            goto cleanup;
        }
        if (access(dir, W_OK | X_OK) != 0) {
            rc = file_error(MAILSSO_E_IO, errno, "cannot write in directory", dir, err);
            goto cleanup;
        }
        rc = 0;
        goto cleanup;
    }

    if (asprintf(&lockpath, "%s.lock", real) < 0) {
        lockpath = NULL;
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
        goto cleanup;
    }
    rc = take_lock(lockpath, opts->lock_timeout_ms, &lockfd, err);
    if (rc != 0)
        goto cleanup;

    if (stat(real, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            rc = mailsso_error_set(err, MAILSSO_E_IO, "keytab %s exists and is not a regular file",
                                   real);
            goto cleanup;
        }
        exists = 1;
    } else if (errno != ENOENT) {
        rc = file_error(MAILSSO_E_IO, errno, "cannot stat keytab", real, err);
        goto cleanup;
    }
    mode = opts->mode != 0 ? (opts->mode & 07777) : exists ? (st.st_mode & 07777) : 0600;
    uid = opts->owner != (uid_t)-1 ? opts->owner : exists ? st.st_uid : (uid_t)-1;
    gid = opts->group != (gid_t)-1 ? opts->group : exists ? st.st_gid : (gid_t)-1;

    remove_stale_temps(dir, base);
    fd = make_temp(dir, base, tmp, sizeof(tmp), err);
    if (fd < 0) {
        rc = fd;
        tmp[0] = '\0';
        goto cleanup;
    }
    /* Owner and mode are final before any key byte is written. */
    {
        struct stat tst;
        if (fstat(fd, &tst) != 0) {
            rc = file_error(MAILSSO_E_IO, errno, "cannot stat temporary file", tmp, err);
            goto cleanup;
        }
        if ((uid != (uid_t)-1 && uid != tst.st_uid) || (gid != (gid_t)-1 && gid != tst.st_gid)) {
            if (fchown(fd, uid, gid) != 0) {
                int e = errno;
                rc = mailsso_error_set(err, MAILSSO_E_IO,
                                       "cannot give the new keytab %s owner %ld:%ld (%s)", real,
                                       uid == (uid_t)-1 ? -1L : (long)uid,
                                       gid == (gid_t)-1 ? -1L : (long)gid, errtext(e, eb, sizeof(eb)));
                mailsso_error_set_fix(err, "run as root or as the keytab's owner, or choose the "
                                           "owner/group explicitly");
                goto cleanup;
            }
        }
    }
    if (fchmod(fd, mode) != 0) {
        rc = file_error(MAILSSO_E_IO, errno, "cannot set mode of", tmp, err);
        goto cleanup;
    }
    if (write_all(fd, data, len) != 0) {
        rc = file_error(MAILSSO_E_IO, errno, "cannot write", tmp, err);
        goto cleanup;
    }
    if (fsync(fd) != 0) {
        rc = file_error(MAILSSO_E_IO, errno, "cannot fsync", tmp, err);
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = file_error(MAILSSO_E_IO, errno, "cannot close", tmp, err);
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, real) != 0) {
        rc = file_error(MAILSSO_E_IO, errno, "cannot rename temporary file over", real, err);
        goto cleanup;
    }
    tmp[0] = '\0';
    {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            if (fsync(dfd) != 0 && errno != EINVAL && errno != ENOTSUP) {
                int e = errno;
                close(dfd);
                rc = mailsso_error_set(err, MAILSSO_E_IO,
                                       "keytab %s was replaced but directory %s could not be "
                                       "synced (%s): the change may not survive a crash",
                                       real, dir, errtext(e, eb, sizeof(eb)));
                goto cleanup;
            }
            close(dfd);
        }
    }
    rc = 0;

cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp[0] != '\0')
        (void)unlink(tmp);
    if (lockfd >= 0)
        close(lockfd);   /* releases the flock */
    mailsso_zfree(data, len);
    free(lockpath);
    free(dir);
    free(real);
    return rc;
}

/* ------------------------------------------------------------ filters */

/* Offset of the '@' that starts the realm in a display form, or -1. */
static long
realm_sep(const char *s)
{
    for (long i = 0; s[i] != '\0'; i++) {
        if (s[i] == '\\') {
            if (s[i + 1] == '\0')
                return -1;
            i++;
            continue;
        }
        if (s[i] == '@')
            return i;
    }
    return -1;
}

static int
principal_matches(const char *display, const char *pattern)
{
    size_t plen;
    long sep;

    if (pattern == NULL || strcmp(pattern, "*") == 0)
        return 1;
    if (display == NULL)
        return 0;
    plen = strlen(pattern);
    sep = realm_sep(display);
    if (plen >= 2 && strcmp(pattern + plen - 2, "@*") == 0 && realm_sep(pattern) == (long)plen - 2) {
        if (plen == 3 && pattern[0] == '*')
            return 1;   /* "*@*" */
        return sep >= 0 && (size_t)sep == plen - 2 && strncmp(display, pattern, plen - 2) == 0;
    }
    if (plen >= 2 && pattern[0] == '*' && pattern[1] == '@')
        return sep >= 0 && strcmp(display + sep + 1, pattern + 2) == 0;
    return strcmp(display, pattern) == 0;
}

int
mailsso_keytab_entry_matches(const mailsso_keytab_entry *e, const mailsso_keytab_filter *f)
{
    if (e == NULL)
        return 0;
    if (f == NULL)
        return 1;
    if (f->kvno != 0 && e->kvno != f->kvno)
        return 0;
    if (f->enctype != 0 && e->enctype != f->enctype)
        return 0;
    return principal_matches(e->principal, f->principal);
}

int
mailsso_keytab_remove(mailsso_keytab *kt, const mailsso_keytab_filter *f, size_t *removed_out)
{
    size_t w = 0, removed = 0;

    if (kt == NULL || f == NULL)
        return MAILSSO_E_INVALID;
    for (size_t i = 0; i < kt->n_entries; i++) {
        if (mailsso_keytab_entry_matches(&kt->entries[i], f)) {
            mailsso_keytab_entry_clear(&kt->entries[i]);
            removed++;
            continue;
        }
        if (w != i) {
            kt->entries[w] = kt->entries[i];
            memset(&kt->entries[i], 0, sizeof(kt->entries[i]));
        }
        w++;
    }
    kt->n_entries = w;
    if (removed_out != NULL)
        *removed_out = removed;
    return 0;
}

uint32_t
mailsso_keytab_max_kvno(const mailsso_keytab *kt, const char *principal)
{
    mailsso_keytab_filter f = { principal, 0, 0 };
    uint32_t max = 0;

    if (kt == NULL)
        return 0;
    for (size_t i = 0; i < kt->n_entries; i++) {
        if (mailsso_keytab_entry_matches(&kt->entries[i], &f) && kt->entries[i].kvno > max)
            max = kt->entries[i].kvno;
    }
    return max;
}

/* ------------------------------------------------------------ merge / diff */

static int
same_slot(const mailsso_keytab_entry *a, const mailsso_keytab_entry *b)
{
    return a->kvno == b->kvno && a->enctype == b->enctype && a->principal != NULL &&
           b->principal != NULL && strcmp(a->principal, b->principal) == 0;
}

static int
same_key(const mailsso_keytab_entry *a, const mailsso_keytab_entry *b)
{
    unsigned char diff = 0;

    if (a->key_len != b->key_len)
        return 0;
    for (size_t i = 0; i < a->key_len; i++)   /* constant time: these are keys */
        diff |= (unsigned char)(a->key[i] ^ b->key[i]);
    return diff == 0;
}

enum merge_action { ACT_ADD, ACT_DUPE, ACT_SKIP, ACT_REPLACE };

/*
 * Merge index: one record per slot (principal, kvno, enctype) of dst and
 * src, found through a hash table, so that a merge costs O(|dst| + |src|)
 * instead of comparing every source entry with every destination entry.
 */
#define SLOT_NONE SIZE_MAX

typedef struct merge_slot {
    const mailsso_keytab_entry *key;   /* the first entry seen in this slot */
    uint64_t hash;
    size_t dst;        /* the first dst entry in this slot, or SLOT_NONE */
    size_t added;      /* the src entry whose action is ACT_ADD, or SLOT_NONE */
    size_t replacer;   /* the src entry whose action is ACT_REPLACE, or SLOT_NONE */
} merge_slot;

typedef struct merge_index {
    merge_slot *slots;
    size_t n_slots;
    size_t *table;     /* slot index + 1; 0 = empty */
    size_t mask;       /* table size - 1 (a power of two, at least twice the slots) */
} merge_index;

static uint64_t
slot_hash(const mailsso_keytab_entry *e)
{
    uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a */

    for (const char *p = e->principal; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 0x100000001b3ULL;
    }
    h ^= (uint64_t)e->kvno << 32 | (uint32_t)e->enctype;
    h *= 0xff51afd7ed558ccdULL;           /* spread the kvno/enctype bits */
    h ^= h >> 33;
    return h;
}

static int
merge_index_init(merge_index *ix, size_t max_slots)
{
    size_t cap = 16;

    memset(ix, 0, sizeof(*ix));
    while (cap < max_slots * 2) {
        if (cap > SIZE_MAX / 4 / sizeof(*ix->table))
            return -1;
        cap *= 2;
    }
    ix->slots = calloc(max_slots + 1, sizeof(*ix->slots));
    ix->table = calloc(cap, sizeof(*ix->table));
    if (ix->slots == NULL || ix->table == NULL)
        return -1;
    ix->mask = cap - 1;
    return 0;
}

static void
merge_index_clear(merge_index *ix)
{
    free(ix->slots);
    free(ix->table);
    memset(ix, 0, sizeof(*ix));
}

/* The slot of e (whose principal is not NULL), created when new. */
static merge_slot *
merge_index_slot(merge_index *ix, const mailsso_keytab_entry *e)
{
    uint64_t h = slot_hash(e);
    size_t pos = (size_t)h & ix->mask;
    merge_slot *sl;

    while (ix->table[pos] != 0) {
        sl = &ix->slots[ix->table[pos] - 1];
        if (sl->hash == h && same_slot(sl->key, e))
            return sl;
        pos = (pos + 1) & ix->mask;
    }
    sl = &ix->slots[ix->n_slots];
    ix->table[pos] = ++ix->n_slots;
    sl->key = e;
    sl->hash = h;
    sl->dst = sl->added = sl->replacer = SLOT_NONE;
    return sl;
}

int
mailsso_keytab_merge(mailsso_keytab *dst, const mailsso_keytab *src,
                     mailsso_keytab_merge_policy policy, size_t *added_out,
                     size_t *dupes_out, mailsso_error *err)
{
    enum merge_action *act = NULL;
    size_t *target = NULL;            /* ACT_REPLACE: index in dst */
    mailsso_keytab_entry *copies = NULL;
    merge_index ix = { NULL, 0, NULL, 0 };
    size_t n_new = 0, added = 0, dupes = 0;
    int rc = 0;

    if (dst == NULL || src == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_keytab_merge: NULL argument");
    if (policy != MAILSSO_MERGE_FAIL_ON_CONFLICT && policy != MAILSSO_MERGE_KEEP_FIRST &&
        policy != MAILSSO_MERGE_KEEP_LAST)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "unknown merge policy %d", (int)policy);
    if (src->n_entries == 0)
        goto done;
    act = calloc(src->n_entries, sizeof(*act));
    target = calloc(src->n_entries, sizeof(*target));
    copies = calloc(src->n_entries, sizeof(*copies));
    if (act == NULL || target == NULL || copies == NULL) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory merging keytabs");
        goto cleanup;
    }

    /* Pass 1: decide, touching nothing. Each slot remembers the first dst
     * entry in it, the src entry currently added to it and the src entry
     * currently replacing its dst entry. */
    if (dst->n_entries > SIZE_MAX / 2 - src->n_entries ||
        merge_index_init(&ix, dst->n_entries + src->n_entries) != 0) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory merging keytabs");
        goto cleanup;
    }
    for (size_t j = 0; j < dst->n_entries; j++) {
        merge_slot *sl;

        if (dst->entries[j].principal == NULL)
            continue;
        sl = merge_index_slot(&ix, &dst->entries[j]);
        if (sl->dst == SLOT_NONE)
            sl->dst = j;
    }
    for (size_t i = 0; i < src->n_entries; i++) {
        const mailsso_keytab_entry *s = &src->entries[i];
        merge_slot *sl;

        act[i] = ACT_ADD;
        if (s->principal == NULL)
            continue;
        sl = merge_index_slot(&ix, s);
        if (sl->dst != SLOT_NONE) {
            const mailsso_keytab_entry *d = &dst->entries[sl->dst];

            if (policy == MAILSSO_MERGE_KEEP_LAST && sl->replacer != SLOT_NONE) {
                /* a later src entry for the same slot supersedes an earlier one */
                act[sl->replacer] = ACT_SKIP;
                sl->replacer = SLOT_NONE;
            }
            if (same_key(s, d)) {
                act[i] = ACT_DUPE;
            } else if (policy == MAILSSO_MERGE_KEEP_FIRST) {
                act[i] = ACT_SKIP;
            } else if (policy == MAILSSO_MERGE_KEEP_LAST) {
                act[i] = ACT_REPLACE;
                target[i] = sl->dst;
                sl->replacer = i;
            } else {
                goto conflict;
            }
        } else if (sl->added != SLOT_NONE) {
            const mailsso_keytab_entry *o = &src->entries[sl->added];

            if (same_key(s, o)) {
                act[i] = ACT_DUPE;
            } else if (policy == MAILSSO_MERGE_KEEP_FIRST) {
                act[i] = ACT_SKIP;
            } else if (policy == MAILSSO_MERGE_KEEP_LAST) {
                act[sl->added] = ACT_SKIP;
                act[i] = ACT_ADD;
                sl->added = i;
            } else {
                goto conflict;
            }
        } else {
            sl->added = i;
        }
        continue;

conflict:
        {
            char ebuf[32];
            snprintf(ebuf, sizeof(ebuf), "%ld", (long)s->enctype);
            rc = mailsso_error_set(err, MAILSSO_E_CONFLICT,
                                   "conflicting keys for %s kvno %lu enctype %s: both keytabs hold "
                                   "a key for it, and the keys differ",
                                   s->principal ? s->principal : "(null)", (unsigned long)s->kvno,
                                   ebuf);
            mailsso_error_set_fix(err, "one of the keytabs is stale (the password changed without a "
                                       "kvno bump?); check which key works with mailsso-keytab "
                                       "verify, or choose a policy (keep first / keep last)");
            goto cleanup;
        }
    }
    merge_index_clear(&ix);

    /* Pass 2: copy everything we will insert (may fail; dst still untouched). */
    for (size_t i = 0; i < src->n_entries; i++) {
        if (act[i] != ACT_ADD && act[i] != ACT_REPLACE)
            continue;
        rc = entry_copy(&copies[i], &src->entries[i], err);
        if (rc != 0)
            goto cleanup;
        if (act[i] == ACT_ADD)
            n_new++;
    }
    if (kt_reserve(dst, n_new) != 0) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory merging keytabs");
        goto cleanup;
    }

    /* Pass 3: commit (cannot fail). */
    for (size_t i = 0; i < src->n_entries; i++) {
        switch (act[i]) {
        case ACT_ADD:
            dst->entries[dst->n_entries++] = copies[i];
            memset(&copies[i], 0, sizeof(copies[i]));
            added++;
            break;
        case ACT_REPLACE:
            mailsso_keytab_entry_clear(&dst->entries[target[i]]);
            dst->entries[target[i]] = copies[i];
            memset(&copies[i], 0, sizeof(copies[i]));
            added++;
            break;
        case ACT_DUPE:
            dupes++;
            break;
        case ACT_SKIP:
            break;
        }
    }

done:
    if (added_out != NULL)
        *added_out = added;
    if (dupes_out != NULL)
        *dupes_out = dupes;
    rc = 0;

cleanup:
    merge_index_clear(&ix);
    if (copies != NULL) {
        for (size_t i = 0; i < src->n_entries; i++)
            mailsso_keytab_entry_clear(&copies[i]);
    }
    free(copies);
    free(target);
    free(act);
    return rc;
}

void
mailsso_keytab_diff_free(mailsso_keytab_diff *diff)
{
    if (diff == NULL)
        return;
    free(diff->only_a);
    free(diff->only_b);
    free(diff->changed_a);
    free(diff);
}

int
mailsso_keytab_diff_compute(const mailsso_keytab *a, const mailsso_keytab *b,
                            mailsso_keytab_diff **diff_out, mailsso_error *err)
{
    mailsso_keytab_diff *d = NULL;
    int rc = 0;

    if (a == NULL || b == NULL || diff_out == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_keytab_diff_compute: NULL argument");
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        goto nomem;
    d->only_a = calloc(a->n_entries + 1, sizeof(size_t));
    d->changed_a = calloc(a->n_entries + 1, sizeof(size_t));
    d->only_b = calloc(b->n_entries + 1, sizeof(size_t));
    if (d->only_a == NULL || d->changed_a == NULL || d->only_b == NULL)
        goto nomem;
    for (size_t i = 0; i < a->n_entries; i++) {
        int found = 0, equal = 0;
        for (size_t j = 0; j < b->n_entries; j++) {
            if (!same_slot(&a->entries[i], &b->entries[j]))
                continue;
            found = 1;
            if (same_key(&a->entries[i], &b->entries[j])) {
                equal = 1;
                break;
            }
        }
        if (!found)
            d->only_a[d->n_only_a++] = i;
        else if (!equal)
            d->changed_a[d->n_changed++] = i;
    }
    for (size_t j = 0; j < b->n_entries; j++) {
        int found = 0;
        for (size_t i = 0; i < a->n_entries && !found; i++)
            found = same_slot(&a->entries[i], &b->entries[j]);
        if (!found)
            d->only_b[d->n_only_b++] = j;
    }
    *diff_out = d;
    return 0;

nomem:
    mailsso_keytab_diff_free(d);
    rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory comparing keytabs");
    return rc;
}
