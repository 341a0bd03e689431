/*
 * Unit tests for lib/keytab.c: the MIT keytab format, filters, merge, diff
 * and the atomic, locked writer.
 *
 * Fixture data/mit.keytab was written by MIT ktutil 1.20.1 (Debian 12):
 *   ktutil <<EOF
 *   addent -password -p x@R -k 1 -e aes256-cts-hmac-sha1-96            (pw1)
 *   addent -password -p imap/mail.example.test@EXAMPLE.TEST -k 3 -e aes128-cts-hmac-sha1-96 (pw2)
 *   addent -password -p imap/mail.example.test@EXAMPLE.TEST -k 3 -e aes256-cts-hmac-sha1-96 (pw2)
 *   addent -password -p imap/mail.example.test@EXAMPLE.TEST -k 300 -e aes256-cts-hmac-sha1-96 (pw3)
 *   addent -password -p odd\/comp\@x/h\\b\tt@EXAMPLE.TEST -k 2 -e arcfour-hmac     (pw4)
 *   wkt mit.keytab
 *   EOF
 * and `klist -k` shows the principals exactly as in fixture_names[] below.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <mailsso/error.h>
#include <mailsso/keytab.h>
#include <mailsso/util.h>

static const char *const fixture_names[] = {
    "x@R",
    "imap/mail.example.test@EXAMPLE.TEST",
    "imap/mail.example.test@EXAMPLE.TEST",
    "imap/mail.example.test@EXAMPLE.TEST",
    "odd\\/comp\\@x/h\\\\b\\tt@EXAMPLE.TEST",
};
static const uint32_t fixture_kvnos[] = { 1, 3, 3, 300, 2 };
static const int32_t fixture_enctypes[] = { 18, 17, 18, 18, 23 };
static const size_t fixture_keylens[] = { 32, 16, 32, 32, 16 };

/* ------------------------------------------------------------ helpers */

static unsigned char *
slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len_out = (size_t)n;
    }
    fclose(f);
    return buf;
}

static unsigned char *
fixture(size_t *len)
{
    unsigned char *b = slurp(TEST_SRCDIR "/data/mit.keytab", len);
    assert_non_null(b);
    return b;
}

static void
spit(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static char *
make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *d = NULL;

    if (base == NULL || *base == '\0')
        base = "/tmp";
    assert_true(asprintf(&d, "%s/test_keytab.XXXXXX", base) > 0);
    assert_non_null(mkdtemp(d));
    return d;
}

static void
rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char p[4096];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static size_t
count_files(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, needle) != NULL)
            n++;
    closedir(d);
    return n;
}

static void
add_entry(mailsso_keytab *kt, const char *princ, uint32_t kvno, int32_t enctype, unsigned char fill,
          size_t keylen)
{
    mailsso_keytab_entry e;
    mailsso_error err = MAILSSO_ERROR_INIT;
    unsigned char key[64];

    memset(key, fill, sizeof(key));
    assert_int_equal(mailsso_keytab_entry_init(&e, princ, kvno, enctype, 1700000000u, key, keylen,
                                               &err), 0);
    assert_int_equal(mailsso_keytab_add(kt, &e, &err), 0);
    mailsso_keytab_entry_clear(&e);
}

/* An entry with a 60000-byte key (valid for the format, cheap to serialise). */
static void
add_entry_big(mailsso_keytab *kt, const char *princ, uint32_t kvno, unsigned char fill)
{
    mailsso_keytab_entry e;
    mailsso_error err = MAILSSO_ERROR_INIT;
    static unsigned char key[60000];

    memset(key, fill, sizeof(key));
    assert_int_equal(mailsso_keytab_entry_init(&e, princ, kvno, 18, 1700000000u, key, sizeof(key),
                                               &err), 0);
    assert_int_equal(mailsso_keytab_add(kt, &e, &err), 0);
    mailsso_keytab_entry_clear(&e);
}

static void
serialize(const mailsso_keytab *kt, unsigned char **data, size_t *len)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    int rc = mailsso_keytab_serialize(kt, data, len, &err);
    if (rc != 0)
        fail_msg("serialize failed: %s", err.message);
}

static int
is_entry_boundary(const unsigned char *d, size_t total, size_t cut)
{
    size_t off = 2;

    if (cut == 2)
        return 1;
    while (off + 4 <= total) {
        int32_t size = (int32_t)(((uint32_t)d[off] << 24) | ((uint32_t)d[off + 1] << 16) |
                                 ((uint32_t)d[off + 2] << 8) | d[off + 3]);
        off += 4 + (size_t)(size < 0 ? -size : size);
        if (off == cut)
            return 1;
        if (off > cut)
            return 0;
    }
    return 0;
}

/* ------------------------------------------------------------ parsing */

static void
mit_fixture_parses_with_klist_display_names(void **state)
{
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    if (mailsso_keytab_read("FILE:" TEST_SRCDIR "/data/mit.keytab", &kt, &err) != 0)
        fail_msg("read failed: %s", err.message);
    assert_int_equal(kt->version, 0x0502);
    assert_int_equal(kt->n_entries, 5);
    for (size_t i = 0; i < kt->n_entries; i++) {
        assert_string_equal(kt->entries[i].principal, fixture_names[i]);
        assert_int_equal(kt->entries[i].kvno, fixture_kvnos[i]);
        assert_int_equal(kt->entries[i].enctype, fixture_enctypes[i]);
        assert_int_equal(kt->entries[i].key_len, fixture_keylens[i]);
        assert_int_equal(kt->entries[i].name_type, 1);
    }
    assert_string_equal(kt->entries[1].realm, "EXAMPLE.TEST");
    assert_int_equal(kt->entries[1].n_components, 2);
    assert_string_equal(kt->entries[1].components[0], "imap");
    assert_string_equal(kt->entries[1].components[1], "mail.example.test");
    /* unescaped views of the odd name */
    assert_int_equal(kt->entries[4].n_components, 2);
    assert_string_equal(kt->entries[4].components[0], "odd/comp@x");
    assert_string_equal(kt->entries[4].components[1], "h\\b\tt");
    mailsso_keytab_free(kt);
}

static void
mit_keytab_round_trip_is_byte_identical(void **state)
{
    size_t len = 0, outlen = 0;
    unsigned char *data = fixture(&len), *out = NULL;
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    assert_int_equal(mailsso_keytab_parse(data, len, "mit.keytab", &kt, &err), 0);
    serialize(kt, &out, &outlen);
    assert_int_equal(outlen, len);
    assert_memory_equal(out, data, len);
    mailsso_zfree(out, outlen);
    mailsso_keytab_free(kt);
    free(data);
}

/* The same with a keytab ktutil writes now, and our names against klist's. */
static void
fresh_ktutil_keytab_round_trips_and_names_match_klist(void **state)
{
    char *dir = make_tmpdir(), cmd[8192], path[4096], line[1024];
    size_t len = 0, outlen = 0, i = 0;
    unsigned char *data, *out = NULL;
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    FILE *p;

    (void)state;
    if (system("command -v ktutil >/dev/null 2>&1 && command -v klist >/dev/null 2>&1") != 0) {
        rm_rf(dir);
        free(dir);
        if (getenv("CI") != NULL && strcmp(getenv("CI"), "true") == 0)
            fail_msg("ktutil/klist missing (install krb5-user)");
        print_message("SKIP: ktutil/klist not installed (Debian package krb5-user)\n");
        skip();
    }
    snprintf(path, sizeof(path), "%s/fresh.keytab", dir);
    snprintf(cmd, sizeof(cmd),
             "printf '%%s\\n' 'addent -password -p smtp/mx1.example.test@EXAMPLE.TEST -k 7 -e "
             "aes256-cts-hmac-sha1-96' secret 'addent -password -p smtp/mx1.example.test@EXAMPLE.TEST "
             "-k 7 -e aes128-cts-hmac-sha1-96' secret 'addent -password -p "
             "a\\/b\\@c/x@R.TEST -k 1 -e aes256-cts-hmac-sha1-96' s2 'wkt %s' quit "
             "| ktutil >/dev/null 2>&1", path);
    assert_int_equal(system(cmd), 0);
    data = slurp(path, &len);
    assert_non_null(data);
    assert_int_equal(mailsso_keytab_parse(data, len, path, &kt, &err), 0);
    assert_int_equal(kt->n_entries, 3);
    serialize(kt, &out, &outlen);
    assert_int_equal(outlen, len);
    assert_memory_equal(out, data, len);

    snprintf(cmd, sizeof(cmd), "klist -k '%s'", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof(line), p) != NULL) {
        unsigned kvno;
        char name[512];
        if (sscanf(line, " %u %511s", &kvno, name) != 2)
            continue;
        assert_true(i < kt->n_entries);
        assert_string_equal(kt->entries[i].principal, name);
        assert_int_equal(kt->entries[i].kvno, kvno);
        i++;
    }
    pclose(p);
    assert_int_equal(i, 3);
    mailsso_zfree(out, outlen);
    mailsso_keytab_free(kt);
    free(data);
    rm_rf(dir);
    free(dir);
}

static void
truncation_at_every_length_is_a_parse_error_never_a_crash(void **state)
{
    size_t len = 0;
    unsigned char *data = fixture(&len);

    (void)state;
    for (size_t cut = 0; cut < len; cut++) {
        mailsso_keytab *kt = NULL;
        mailsso_error err = MAILSSO_ERROR_INIT;
        /* a private copy of exactly cut bytes, so ASan sees any over-read */
        unsigned char *copy = malloc(cut ? cut : 1);
        int rc;

        assert_non_null(copy);
        memcpy(copy, data, cut);
        rc = mailsso_keytab_parse(copy, cut, "cut.keytab", &kt, &err);
        if (is_entry_boundary(data, len, cut)) {
            /* a file cut exactly between entries is a valid, shorter keytab */
            if (rc != 0)
                fail_msg("cut at %zu (entry boundary): expected success, got %d: %s", cut, rc,
                         err.message);
            mailsso_keytab_free(kt);
        } else {
            if (rc != MAILSSO_E_PARSE)
                fail_msg("cut at %zu: expected MAILSSO_E_PARSE (%d), got %d", cut,
                         MAILSSO_E_PARSE, rc);
            assert_null(kt);
            assert_non_null(strstr(err.message, "cut.keytab"));
            if (cut >= 2 && strstr(err.message, "offset") == NULL)
                fail_msg("cut at %zu: message lacks an offset: %s", cut, err.message);
        }
        free(copy);
    }
    free(data);
}

static void
truncation_message_names_entry_and_offset(void **state)
{
    size_t len = 0;
    unsigned char *data = fixture(&len);
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    /* cut inside the second entry's key */
    assert_int_equal(mailsso_keytab_parse(data, 0x39 + 6 + 40, "k", &kt, &err), MAILSSO_E_PARSE);
    assert_non_null(strstr(err.message, "truncated in entry 2 at offset"));
    assert_true(err.fix[0] != '\0');
    free(data);
}

static void
length_fields_are_never_trusted(void **state)
{
    size_t len = 0;
    unsigned char *data = fixture(&len), *mut = malloc(len);
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    unsigned seed = (unsigned)time(NULL);

    (void)state;
    assert_non_null(mut);
    /* realm length 60000 in entry 1 (offset 2 size, 6 count, 8 realm length) */
    memcpy(mut, data, len);
    mut[8] = 0xea;
    mut[9] = 0x60;
    assert_int_equal(mailsso_keytab_parse(mut, len, "k", &kt, &err), MAILSSO_E_PARSE);
    assert_non_null(strstr(err.message, "realm length 60000"));
    assert_non_null(strstr(err.message, "entry 1"));
    /* entry size larger than the file */
    mailsso_error_clear(&err);
    memcpy(mut, data, len);
    mut[2] = 0x7f;
    assert_int_equal(mailsso_keytab_parse(mut, len, "k", &kt, &err), MAILSSO_E_PARSE);
    assert_non_null(strstr(err.message, "exceeds"));
    /* INT32_MIN size */
    mailsso_error_clear(&err);
    memcpy(mut, data, len);
    mut[2] = 0x80; mut[3] = 0; mut[4] = 0; mut[5] = 0;
    assert_int_equal(mailsso_keytab_parse(mut, len, "k", &kt, &err), MAILSSO_E_PARSE);
    /* 65535 components */
    mailsso_error_clear(&err);
    memcpy(mut, data, len);
    mut[6] = 0xff; mut[7] = 0xff;
    assert_int_equal(mailsso_keytab_parse(mut, len, "k", &kt, &err), MAILSSO_E_PARSE);
    /* key length beyond the entry */
    mailsso_error_clear(&err);
    memcpy(mut, data, len);
    mut[25] = 0x7f;      /* entry 1 key length high byte (offset 25) */
    assert_int_equal(mailsso_keytab_parse(mut, len, "k", &kt, &err), MAILSSO_E_PARSE);

    /* random mutations: any result but a crash; successes serialise again */
    srand(seed);
    for (int round = 0; round < 3000; round++) {
        int flips = 1 + rand() % 4;
        memcpy(mut, data, len);
        for (int f = 0; f < flips; f++)
            mut[2 + (size_t)rand() % (len - 2)] = (unsigned char)rand();
        kt = NULL;
        mailsso_error_clear(&err);
        if (mailsso_keytab_parse(mut, len, "fuzz", &kt, &err) == 0) {
            unsigned char *out = NULL;
            size_t outlen = 0;
            mailsso_error e2 = MAILSSO_ERROR_INIT;
            if (mailsso_keytab_serialize(kt, &out, &outlen, &e2) == 0)
                mailsso_zfree(out, outlen);
            mailsso_keytab_free(kt);
        } else {
            assert_null(kt);
            assert_true(err.code < 0);
            assert_true(err.message[0] != '\0');
        }
    }
    free(mut);
    free(data);
}

static void
unknown_version_and_non_keytab_are_refused(void **state)
{
    static const unsigned char v3[] = { 0x05, 0x03, 0, 0, 0, 0 };
    static const unsigned char pem[] = "-----BEGIN";
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    assert_int_equal(mailsso_keytab_parse(v3, sizeof(v3), "v3", &kt, &err), MAILSSO_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "unknown keytab version 0x0503"));
    assert_null(kt);
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_keytab_parse(pem, sizeof(pem) - 1, "pem", &kt, &err), MAILSSO_E_PARSE);
    assert_non_null(strstr(err.message, "not a keytab"));
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_keytab_parse(pem, 0, "empty", &kt, &err), MAILSSO_E_PARSE);
    assert_non_null(strstr(err.message, "empty"));
}

static void
holes_are_skipped_and_zero_size_ends_the_list(void **state)
{
    size_t len = 0;
    unsigned char *data = fixture(&len);
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    size_t e2 = 2 + 4 + 0x39;   /* second entry's size field */

    (void)state;
    /* delete entry 2 the way MIT does: negate its size, zero its bytes */
    {
        uint32_t s = ((uint32_t)data[e2] << 24) | ((uint32_t)data[e2 + 1] << 16) |
                     ((uint32_t)data[e2 + 2] << 8) | data[e2 + 3];
        uint32_t neg = (uint32_t)-(int32_t)s;
        data[e2] = (unsigned char)(neg >> 24);
        data[e2 + 1] = (unsigned char)(neg >> 16);
        data[e2 + 2] = (unsigned char)(neg >> 8);
        data[e2 + 3] = (unsigned char)neg;
        memset(data + e2 + 4, 0, s);
    }
    assert_int_equal(mailsso_keytab_parse(data, len, "holes", &kt, &err), 0);
    assert_int_equal(kt->n_entries, 4);
    assert_int_equal(kt->entries[1].enctype, 18);
    assert_int_equal(kt->entries[1].kvno, 3);
    mailsso_keytab_free(kt);
    kt = NULL;
    /* a zero size ends the list (MIT's end marker), whatever follows */
    data[e2] = data[e2 + 1] = data[e2 + 2] = data[e2 + 3] = 0;
    assert_int_equal(mailsso_keytab_parse(data, len, "zero", &kt, &err), 0);
    assert_int_equal(kt->n_entries, 1);
    mailsso_keytab_free(kt);
    free(data);
}

static void
kvno32_used_when_present_and_nonzero(void **state)
{
    mailsso_keytab *kt = mailsso_keytab_new(), *back = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    unsigned char *data = NULL;
    size_t len = 0;

    (void)state;
    add_entry(kt, "HTTP/gw.example.test@EXAMPLE.TEST", 0x1234, 18, 0xaa, 32);
    serialize(kt, &data, &len);
    /* last 4 bytes are the 32-bit kvno, the 8-bit one is its low byte */
    assert_int_equal(data[len - 4], 0);
    assert_int_equal(data[len - 3], 0);
    assert_int_equal(data[len - 2], 0x12);
    assert_int_equal(data[len - 1], 0x34);
    assert_int_equal(mailsso_keytab_parse(data, len, "k", &back, &err), 0);
    assert_int_equal(back->entries[0].kvno, 0x1234);
    mailsso_keytab_free(back);
    back = NULL;
    /* 32-bit field zero (a reused hole's padding): the 8-bit kvno counts */
    memset(data + len - 4, 0, 4);
    assert_int_equal(mailsso_keytab_parse(data, len, "k", &back, &err), 0);
    assert_int_equal(back->entries[0].kvno, 0x34);
    mailsso_keytab_free(back);
    back = NULL;
    /* no 32-bit field at all (pre-1.14 writers): shrink the entry by 4 */
    data[5] = (unsigned char)(data[5] - 4);
    assert_int_equal(mailsso_keytab_parse(data, len - 4, "k", &back, &err), 0);
    assert_int_equal(back->entries[0].kvno, 0x34);
    mailsso_keytab_free(back);
    mailsso_zfree(data, len);
    mailsso_keytab_free(kt);
}

static void
version_0501_is_native_order_and_counts_the_realm(void **state)
{
    /* hand-built 0x0501 entry: a@R, timestamp 7, kvno 2, enctype 17, 16-byte key */
    unsigned char buf[128];
    size_t n = 0, start;
    uint16_t u16;
    uint32_t u32;
    mailsso_keytab *kt = NULL, *back = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    unsigned char *out = NULL;
    size_t outlen = 0;

    (void)state;
    buf[n++] = 5; buf[n++] = 1;
    start = n;
    n += 4;                                   /* size, filled below */
    u16 = 2; memcpy(buf + n, &u16, 2); n += 2; /* 1 component + realm */
    u16 = 1; memcpy(buf + n, &u16, 2); n += 2; buf[n++] = 'R';
    u16 = 1; memcpy(buf + n, &u16, 2); n += 2; buf[n++] = 'a';
    u32 = 7; memcpy(buf + n, &u32, 4); n += 4; /* timestamp, no name type in 0x0501 */
    buf[n++] = 2;                             /* kvno */
    u16 = 17; memcpy(buf + n, &u16, 2); n += 2;
    u16 = 16; memcpy(buf + n, &u16, 2); n += 2;
    memset(buf + n, 0x5a, 16); n += 16;
    u32 = (uint32_t)(n - start - 4); memcpy(buf + start, &u32, 4);

    assert_int_equal(mailsso_keytab_parse(buf, n, "v1", &kt, &err), 0);
    assert_int_equal(kt->version, 0x0501);
    assert_int_equal(kt->n_entries, 1);
    assert_string_equal(kt->entries[0].principal, "a@R");
    assert_int_equal(kt->entries[0].timestamp, 7);
    assert_int_equal(kt->entries[0].kvno, 2);
    assert_int_equal(kt->entries[0].enctype, 17);
    /* written back as 0x0501 (plus the 32-bit kvno) and read again */
    serialize(kt, &out, &outlen);
    assert_int_equal(outlen, n + 4);
    assert_memory_equal(out + 6, buf + 6, n - 6);
    assert_int_equal(mailsso_keytab_parse(out, outlen, "v1b", &back, &err), 0);
    assert_int_equal(back->entries[0].kvno, 2);
    mailsso_zfree(out, outlen);
    mailsso_keytab_free(back);
    mailsso_keytab_free(kt);
}

static void
principal_names_parse_and_print_like_mit(void **state)
{
    mailsso_keytab_entry e;
    mailsso_error err = MAILSSO_ERROR_INIT;
    static const unsigned char key[16] = { 1 };

    (void)state;
    assert_int_equal(mailsso_keytab_entry_init(&e, "a\\/b/c\\@d@R\\@S", 1, 17, 0, key, 16, &err), 0);
    assert_string_equal(e.principal, "a\\/b/c\\@d@R\\@S");
    assert_int_equal(e.n_components, 2);
    assert_string_equal(e.components[0], "a/b");
    assert_string_equal(e.components[1], "c@d");
    assert_string_equal(e.realm, "R@S");
    assert_int_equal(e.name_type, 1);
    mailsso_keytab_entry_clear(&e);
    assert_null(e.key);
    /* control characters use MIT's escapes; a needless escape is dropped */
    assert_int_equal(mailsso_keytab_entry_init(&e, "x\\ty\\nz\\b\\0\\q@R", 1, 17, 0, key, 16, &err),
                     0);
    assert_string_equal(e.principal, "x\\ty\\nz\\b\\0q@R");
    mailsso_keytab_entry_clear(&e);
    assert_int_equal(mailsso_keytab_entry_init(&e, "krbtgt/R@R", 1, 17, 0, key, 16, &err), 0);
    assert_int_equal(e.name_type, 2);
    mailsso_keytab_entry_clear(&e);

    assert_int_equal(mailsso_keytab_entry_init(&e, "norealm", 1, 17, 0, key, 16, &err),
                     MAILSSO_E_PARSE);
    assert_non_null(strstr(err.message, "norealm"));
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_keytab_entry_init(&e, "a@", 1, 17, 0, key, 16, &err), MAILSSO_E_PARSE);
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_keytab_entry_init(&e, "a@R/x", 1, 17, 0, key, 16, &err),
                     MAILSSO_E_PARSE);
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_keytab_entry_init(&e, "a@R\\", 1, 17, 0, key, 16, &err),
                     MAILSSO_E_PARSE);
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_keytab_entry_init(&e, "a@R", 1, 17, 0, key, 0, &err),
                     MAILSSO_E_INVALID);
}

static void
embedded_nul_in_a_component_survives_a_round_trip(void **state)
{
    /* x\0y@R: one component of 3 bytes */
    static const unsigned char file[] = {
        0x05, 0x02, 0, 0, 0, 24,
        0, 1, 0, 1, 'R', 0, 3, 'x', 0, 'y',
        0, 0, 0, 1, 0, 0, 0, 9, 4, 0, 17, 0, 1, 0x42 };
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    unsigned char *out = NULL;
    size_t outlen = 0;

    (void)state;
    assert_int_equal(mailsso_keytab_parse(file, sizeof(file), "nul", &kt, &err), 0);
    assert_string_equal(kt->entries[0].principal, "x\\0y@R");
    serialize(kt, &out, &outlen);
    assert_int_equal(outlen, sizeof(file) + 4);       /* + the 32-bit kvno */
    assert_memory_equal(out + 6, file + 6, sizeof(file) - 6);
    mailsso_zfree(out, outlen);
    mailsso_keytab_free(kt);
}

/* ------------------------------------------------------------ filters, merge, diff */

static mailsso_keytab *
sample(void)
{
    mailsso_keytab *kt = mailsso_keytab_new();

    assert_non_null(kt);
    add_entry(kt, "imap/mail.example.test@EXAMPLE.TEST", 3, 17, 0x11, 16);
    add_entry(kt, "imap/mail.example.test@EXAMPLE.TEST", 3, 18, 0x12, 32);
    add_entry(kt, "imap/mail.example.test@EXAMPLE.TEST", 4, 18, 0x13, 32);
    add_entry(kt, "smtp/mail.example.test@EXAMPLE.TEST", 2, 18, 0x21, 32);
    add_entry(kt, "imap/mail.example.test@OTHER.TEST", 9, 18, 0x31, 32);
    return kt;
}

static void
remove_by_filter_and_wildcards(void **state)
{
    mailsso_keytab *kt = sample();
    mailsso_keytab_filter f = { "imap/mail.example.test@EXAMPLE.TEST", 3, 0 };
    size_t removed = 99;

    (void)state;
    assert_int_equal(mailsso_keytab_remove(kt, &f, &removed), 0);
    assert_int_equal(removed, 2);
    assert_int_equal(kt->n_entries, 3);
    assert_int_equal(kt->entries[0].kvno, 4);
    assert_string_equal(kt->entries[1].principal, "smtp/mail.example.test@EXAMPLE.TEST");
    /* any realm */
    f.principal = "imap/mail.example.test@*";
    f.kvno = 0;
    assert_int_equal(mailsso_keytab_remove(kt, &f, &removed), 0);
    assert_int_equal(removed, 2);
    assert_int_equal(kt->n_entries, 1);
    mailsso_keytab_free(kt);

    kt = sample();
    f.principal = "*@EXAMPLE.TEST";
    f.enctype = 18;
    assert_int_equal(mailsso_keytab_remove(kt, &f, &removed), 0);
    assert_int_equal(removed, 3);
    assert_int_equal(kt->n_entries, 2);
    assert_int_equal(kt->entries[0].enctype, 17);
    assert_string_equal(kt->entries[1].realm, "OTHER.TEST");
    /* a filter matching nothing removes nothing */
    f.principal = "nobody@EXAMPLE.TEST";
    f.enctype = 0;
    assert_int_equal(mailsso_keytab_remove(kt, &f, &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(kt->n_entries, 2);
    mailsso_keytab_free(kt);
}

static void
max_kvno_per_principal(void **state)
{
    mailsso_keytab *kt = sample();

    (void)state;
    assert_int_equal(mailsso_keytab_max_kvno(kt, "imap/mail.example.test@EXAMPLE.TEST"), 4);
    assert_int_equal(mailsso_keytab_max_kvno(kt, "smtp/mail.example.test@EXAMPLE.TEST"), 2);
    assert_int_equal(mailsso_keytab_max_kvno(kt, "imap/mail.example.test@*"), 9);
    assert_int_equal(mailsso_keytab_max_kvno(kt, "pop/mail.example.test@EXAMPLE.TEST"), 0);
    mailsso_keytab_free(kt);
}

static void
merge_conflict_fails_and_leaves_dst_unchanged(void **state)
{
    mailsso_keytab *dst = sample(), *src = mailsso_keytab_new();
    mailsso_error err = MAILSSO_ERROR_INIT;
    unsigned char *before = NULL, *after = NULL;
    size_t blen = 0, alen = 0, added = 77, dupes = 77;

    (void)state;
    add_entry(src, "pop/mail.example.test@EXAMPLE.TEST", 1, 18, 0x41, 32);   /* new */
    add_entry(src, "imap/mail.example.test@EXAMPLE.TEST", 3, 18, 0x99, 32);  /* other key */
    serialize(dst, &before, &blen);
    assert_int_equal(mailsso_keytab_merge(dst, src, MAILSSO_MERGE_FAIL_ON_CONFLICT, &added, &dupes,
                                          &err), MAILSSO_E_CONFLICT);
    assert_non_null(strstr(err.message, "imap/mail.example.test@EXAMPLE.TEST"));
    assert_non_null(strstr(err.message, "kvno 3"));
    assert_non_null(strstr(err.message, "18"));
    assert_int_equal(added, 77);   /* outputs untouched on failure */
    serialize(dst, &after, &alen);
    assert_int_equal(alen, blen);
    assert_memory_equal(after, before, blen);
    mailsso_zfree(before, blen);
    mailsso_zfree(after, alen);
    mailsso_keytab_free(src);
    mailsso_keytab_free(dst);
}

static void
merge_skips_exact_duplicates_and_adds_new_entries(void **state)
{
    mailsso_keytab *dst = sample(), *src = sample();
    mailsso_error err = MAILSSO_ERROR_INIT;
    size_t added = 0, dupes = 0;

    (void)state;
    add_entry(src, "pop/mail.example.test@EXAMPLE.TEST", 1, 18, 0x41, 32);
    assert_int_equal(mailsso_keytab_merge(dst, src, MAILSSO_MERGE_FAIL_ON_CONFLICT, &added, &dupes,
                                          &err), 0);
    assert_int_equal(added, 1);
    assert_int_equal(dupes, 5);
    assert_int_equal(dst->n_entries, 6);
    assert_string_equal(dst->entries[5].principal, "pop/mail.example.test@EXAMPLE.TEST");
    mailsso_keytab_free(src);
    mailsso_keytab_free(dst);
}

static void
merge_keep_first_and_keep_last(void **state)
{
    mailsso_keytab *dst = sample(), *src = mailsso_keytab_new();
    mailsso_error err = MAILSSO_ERROR_INIT;
    size_t added = 0, dupes = 0;

    (void)state;
    add_entry(src, "imap/mail.example.test@EXAMPLE.TEST", 3, 18, 0x99, 32);
    assert_int_equal(mailsso_keytab_merge(dst, src, MAILSSO_MERGE_KEEP_FIRST, &added, &dupes, &err),
                     0);
    assert_int_equal(added, 0);
    assert_int_equal(dst->n_entries, 5);
    assert_int_equal(dst->entries[1].key[0], 0x12);

    assert_int_equal(mailsso_keytab_merge(dst, src, MAILSSO_MERGE_KEEP_LAST, &added, &dupes, &err),
                     0);
    assert_int_equal(added, 1);
    assert_int_equal(dst->n_entries, 5);
    assert_int_equal(dst->entries[1].key[0], 0x99);
    assert_int_equal(dst->entries[1].kvno, 3);
    mailsso_keytab_free(src);
    mailsso_keytab_free(dst);

    /* conflicts inside src itself follow the policy too */
    dst = mailsso_keytab_new();
    src = mailsso_keytab_new();
    add_entry(src, "a@R", 1, 18, 0x01, 32);
    add_entry(src, "a@R", 1, 18, 0x02, 32);
    assert_int_equal(mailsso_keytab_merge(dst, src, MAILSSO_MERGE_FAIL_ON_CONFLICT, NULL, NULL,
                                          &err), MAILSSO_E_CONFLICT);
    assert_int_equal(dst->n_entries, 0);
    assert_int_equal(mailsso_keytab_merge(dst, src, MAILSSO_MERGE_KEEP_LAST, NULL, NULL, NULL), 0);
    assert_int_equal(dst->n_entries, 1);
    assert_int_equal(dst->entries[0].key[0], 0x02);
    mailsso_keytab_free(src);
    mailsso_keytab_free(dst);
}

static void
diff_reports_only_a_only_b_and_changed(void **state)
{
    mailsso_keytab *a = sample(), *b = sample();
    mailsso_keytab_diff *d = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab_filter f = { "smtp/mail.example.test@EXAMPLE.TEST", 0, 0 };

    (void)state;
    assert_int_equal(mailsso_keytab_remove(b, &f, NULL), 0);            /* only in a: index 3 */
    add_entry(b, "pop/mail.example.test@EXAMPLE.TEST", 1, 18, 0x41, 32); /* only in b */
    b->entries[0].key[0] ^= 1;                                          /* changed: a[0] */
    assert_int_equal(mailsso_keytab_diff_compute(a, b, &d, &err), 0);
    assert_int_equal(d->n_only_a, 1);
    assert_int_equal(d->only_a[0], 3);
    assert_int_equal(d->n_only_b, 1);
    assert_string_equal(b->entries[d->only_b[0]].principal, "pop/mail.example.test@EXAMPLE.TEST");
    assert_int_equal(d->n_changed, 1);
    assert_int_equal(d->changed_a[0], 0);
    mailsso_keytab_diff_free(d);
    mailsso_keytab_diff_free(NULL);
    mailsso_keytab_free(a);
    mailsso_keytab_free(b);
}

/* ------------------------------------------------------------ reading and writing files */

static void
read_errors_name_the_file(void **state)
{
    char *dir = make_tmpdir(), path[4096];
    mailsso_keytab *kt = NULL;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    snprintf(path, sizeof(path), "%s/missing.keytab", dir);
    assert_int_equal(mailsso_keytab_read(path, &kt, &err), MAILSSO_E_NOTFOUND);
    assert_non_null(strstr(err.message, path));
    assert_true(err.fix[0] != '\0');
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_keytab_read("MEMORY:x", &kt, &err), MAILSSO_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "MEMORY"));
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_keytab_read(dir, &kt, &err), MAILSSO_E_IO);
    assert_non_null(strstr(err.message, "not a regular file"));
    assert_null(kt);
    rm_rf(dir);
    free(dir);
}

static void
write_creates_0600_keeps_mode_and_owner(void **state)
{
    char *dir = make_tmpdir(), path[4096];
    mailsso_keytab *kt = sample(), *back = NULL;
    mailsso_keytab_write_options o = MAILSSO_KEYTAB_WRITE_OPTIONS_INIT;
    mailsso_error err = MAILSSO_ERROR_INIT;
    struct stat st;
    mode_t old_umask = umask(0);

    (void)state;
    snprintf(path, sizeof(path), "%s/new.keytab", dir);
    if (mailsso_keytab_write(path, kt, &o, &err) != 0)
        fail_msg("write: %s", err.message);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(mailsso_keytab_read(path, &back, &err), 0);
    assert_int_equal(back->n_entries, 5);
    mailsso_keytab_free(back);

    /* an existing file's mode (and, as root, owner) survives a rewrite */
    assert_int_equal(chmod(path, 0640), 0);
    if (geteuid() == 0)
        assert_int_equal(chown(path, 1234, 5678), 0);
    else
        print_message("note: not root, owner preservation not checked (mode is)\n");
    assert_int_equal(mailsso_keytab_write(path, kt, &o, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    if (geteuid() == 0) {
        assert_int_equal(st.st_uid, 1234);
        assert_int_equal(st.st_gid, 5678);
    }
    /* explicit mode wins */
    o.mode = 0644;
    assert_int_equal(mailsso_keytab_write("FILE:" "", kt, &o, &err), MAILSSO_E_INVALID);
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_keytab_write(path, kt, &o, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    /* no temp file left behind */
    assert_int_equal(count_files(dir, ".mailsso-tmp."), 0);
    umask(old_umask);
    mailsso_keytab_free(kt);
    rm_rf(dir);
    free(dir);
}

static void
write_through_symlink_replaces_the_target(void **state)
{
    char *dir = make_tmpdir(), path[4096], link[4096];
    mailsso_keytab *kt = sample();
    mailsso_error err = MAILSSO_ERROR_INIT;
    struct stat st;

    (void)state;
    snprintf(path, sizeof(path), "%s/real.keytab", dir);
    snprintf(link, sizeof(link), "%s/link.keytab", dir);
    spit(path, (const unsigned char *)"\x05\x02", 2);
    assert_int_equal(symlink("real.keytab", link), 0);
    assert_int_equal(mailsso_keytab_write(link, kt, NULL, &err), 0);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 2);
    mailsso_keytab_free(kt);
    rm_rf(dir);
    free(dir);
}

static void
lock_contention_gives_busy(void **state)
{
    char *dir = make_tmpdir(), path[4096], lock[4200];
    mailsso_keytab *kt = sample();
    mailsso_keytab_write_options o = MAILSSO_KEYTAB_WRITE_OPTIONS_INIT;
    mailsso_error err = MAILSSO_ERROR_INIT;
    struct timespec t0, t1;
    long ms;
    int fd;
    pid_t child;
    int pipefd[2], status;
    char c;

    (void)state;
    snprintf(path, sizeof(path), "%s/busy.keytab", dir);
    snprintf(lock, sizeof(lock), "%s.lock", path);
    /* another process holds the lock */
    assert_int_equal(pipe(pipefd), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int lfd = open(lock, O_RDWR | O_CREAT, 0600);
        if (lfd < 0 || flock(lfd, LOCK_EX) != 0)
            _exit(1);
        if (write(pipefd[1], "L", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    assert_int_equal(read(pipefd[0], &c, 1), 1);

    o.lock_timeout_ms = 0;
    assert_int_equal(mailsso_keytab_write(path, kt, &o, &err), MAILSSO_E_BUSY);
    assert_non_null(strstr(err.message, lock));
    mailsso_error_clear(&err);
    o.lock_timeout_ms = 200;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(mailsso_keytab_write(path, kt, &o, &err), MAILSSO_E_BUSY);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (ms < 190 || ms > 3000)
        fail_msg("waited %ld ms for the lock, expected about 200", ms);
    assert_int_equal(access(path, F_OK), -1);   /* nothing written */

    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    close(pipefd[0]);
    close(pipefd[1]);
    mailsso_error_clear(&err);
    assert_int_equal(mailsso_keytab_write(path, kt, &o, &err), 0);

    /* the same process holding the lock through another descriptor also blocks */
    fd = open(lock, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    o.lock_timeout_ms = 0;
    assert_int_equal(mailsso_keytab_write(path, kt, &o, &err), MAILSSO_E_BUSY);
    close(fd);
    mailsso_keytab_free(kt);
    rm_rf(dir);
    free(dir);
}

static void
dry_run_writes_nothing(void **state)
{
    char *dir = make_tmpdir(), path[4096];
    mailsso_keytab *kt = sample();
    mailsso_keytab_write_options o = MAILSSO_KEYTAB_WRITE_OPTIONS_INIT;
    mailsso_error err = MAILSSO_ERROR_INIT;

    (void)state;
    snprintf(path, sizeof(path), "%s/dry.keytab", dir);
    o.dry_run = 1;
    assert_int_equal(mailsso_keytab_write(path, kt, &o, &err), 0);
    assert_int_equal(count_files(dir, "dry"), 0);   /* no keytab, no lock, no temp */
    /* dry run still validates: an entry whose name cannot be written */
    free(kt->entries[0].principal);
    kt->entries[0].principal = strdup("no-realm");
    assert_int_equal(mailsso_keytab_write(path, kt, &o, &err), MAILSSO_E_PARSE);
    mailsso_keytab_free(kt);
    rm_rf(dir);
    free(dir);
}

/* Writing into a directory we cannot write names the directory and the
 * permission problem, not a missing lock file. Runs as uid 65534 when root. */
static void
unwritable_directory_is_named_as_the_problem(void **state)
{
    char *dir = make_tmpdir(), path[4096], msg[sizeof(((mailsso_error *)0)->message)];
    int p[2], status;
    ssize_t n;
    pid_t pid;

    (void)state;
    assert_int_equal(chmod(dir, 0555), 0);
    snprintf(path, sizeof(path), "%s/mail.keytab", dir);
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        mailsso_keytab *kt = sample();
        mailsso_keytab_write_options o = MAILSSO_KEYTAB_WRITE_OPTIONS_INIT;
        mailsso_error err = MAILSSO_ERROR_INIT;
        int rc;

        close(p[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(2);
        rc = mailsso_keytab_write(path, kt, &o, &err);
        mailsso_keytab_free(kt);
        free(dir);   /* the child's copy: leak checkers follow the fork */
        if (write(p[1], err.message, strlen(err.message) + 1) < 0)
            _exit(3);
        _exit(rc == MAILSSO_E_IO ? 0 : 4);
    }
    close(p[1]);
    n = read(p[0], msg, sizeof(msg) - 1);
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(n > 0);
    msg[n] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("expected MAILSSO_E_IO from the child, got status %d: %s", status, msg);
    if (strstr(msg, "directory") == NULL || strstr(msg, dir) == NULL ||
        strstr(msg, "No such file") != NULL)
        fail_msg("expected the unwritable directory %s to be named, got '%s'", dir, msg);
    assert_int_equal(count_files(dir, "mail"), 0);
    chmod(dir, 0700);
    rm_rf(dir);
    free(dir);
}

/* An interrupted keytab write leaves the old file intact. */
static void
interrupted_write_leaves_old_or_new_file_never_a_mixture(void **state)
{
    char *dir = make_tmpdir(), path[4096];
    mailsso_keytab *old_kt = sample(), *new_kt = mailsso_keytab_new();
    mailsso_error err = MAILSSO_ERROR_INIT;
    unsigned char *old_b = NULL, *new_b = NULL;
    size_t old_len = 0, new_len = 0, n_old = 0, n_new = 0, n_midwrite = 0;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    const int trials = 40;
    struct timespec t0, t1;
    long write_us;

    (void)state;
    /* a big keytab that is cheap to serialise: the time goes into write + fsync */
    for (int i = 0; i < 200; i++) {
        char name[128];
        snprintf(name, sizeof(name), "imap/host%d.example.test@EXAMPLE.TEST", i);
        add_entry_big(new_kt, name, 1 + (uint32_t)i % 5, (unsigned char)i);
    }
    serialize(old_kt, &old_b, &old_len);
    serialize(new_kt, &new_b, &new_len);
    snprintf(path, sizeof(path), "%s/mail.keytab", dir);
    /* calibrate: how long does one write of the new keytab take here? */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(mailsso_keytab_write(path, new_kt, NULL, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    write_us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
    if (write_us < 1000)
        write_us = 1000;
    assert_int_equal(mailsso_keytab_write(path, old_kt, NULL, &err), 0);
    srand(seed);
    print_message("seed %u, one write takes %ld us\n", seed, write_us);

    for (int t = 0; t < trials; t++) {
        pid_t child = fork();
        int status;
        size_t len = 0;
        unsigned char *now;

        assert_true(child >= 0);
        if (child == 0) {
            /* alternate new and old forever, so every phase gets hit */
            for (unsigned k = 0;; k++)
                (void)mailsso_keytab_write(path, (k & 1) ? old_kt : new_kt, NULL, NULL);
        }
        usleep((useconds_t)(rand() % (3 * write_us)));
        kill(child, SIGKILL);
        assert_int_equal(waitpid(child, &status, 0), child);
        if (count_files(dir, ".mailsso-tmp.") > 0)
            n_midwrite++;
        now = slurp(path, &len);
        assert_non_null(now);
        if (len == old_len && memcmp(now, old_b, len) == 0)
            n_old++;
        else if (len == new_len && memcmp(now, new_b, len) == 0)
            n_new++;
        else
            fail_msg("trial %d: keytab is neither the old (%zu bytes) nor the new (%zu bytes) "
                     "file: %zu bytes", t, old_len, new_len, len);
        free(now);
    }
    print_message("%d kills: %zu left the old file, %zu the new, %zu hit a write in progress\n",
                  trials, n_old, n_new, n_midwrite);
    assert_int_equal(n_old + n_new, (size_t)trials);
    assert_true(n_midwrite > 0);   /* the kills did land inside writes */
    /* the next write cleans up temp files left by killed writers (they hold keys) */
    assert_int_equal(mailsso_keytab_write(path, old_kt, NULL, &err), 0);
    assert_int_equal(count_files(dir, ".mailsso-tmp."), 0);
    mailsso_zfree(old_b, old_len);
    mailsso_zfree(new_b, new_len);
    mailsso_keytab_free(old_kt);
    mailsso_keytab_free(new_kt);
    rm_rf(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mit_fixture_parses_with_klist_display_names),
        cmocka_unit_test(mit_keytab_round_trip_is_byte_identical),
        cmocka_unit_test(fresh_ktutil_keytab_round_trips_and_names_match_klist),
        cmocka_unit_test(truncation_at_every_length_is_a_parse_error_never_a_crash),
        cmocka_unit_test(truncation_message_names_entry_and_offset),
        cmocka_unit_test(length_fields_are_never_trusted),
        cmocka_unit_test(unknown_version_and_non_keytab_are_refused),
        cmocka_unit_test(holes_are_skipped_and_zero_size_ends_the_list),
        cmocka_unit_test(kvno32_used_when_present_and_nonzero),
        cmocka_unit_test(version_0501_is_native_order_and_counts_the_realm),
        cmocka_unit_test(principal_names_parse_and_print_like_mit),
        cmocka_unit_test(embedded_nul_in_a_component_survives_a_round_trip),
        cmocka_unit_test(remove_by_filter_and_wildcards),
        cmocka_unit_test(max_kvno_per_principal),
        cmocka_unit_test(merge_conflict_fails_and_leaves_dst_unchanged),
        cmocka_unit_test(merge_skips_exact_duplicates_and_adds_new_entries),
        cmocka_unit_test(merge_keep_first_and_keep_last),
        cmocka_unit_test(diff_reports_only_a_only_b_and_changed),
        cmocka_unit_test(read_errors_name_the_file),
        cmocka_unit_test(write_creates_0600_keeps_mode_and_owner),
        cmocka_unit_test(write_through_symlink_replaces_the_target),
        cmocka_unit_test(lock_contention_gives_busy),
        cmocka_unit_test(dry_run_writes_nothing),
        cmocka_unit_test(unwritable_directory_is_named_as_the_problem),
        cmocka_unit_test(interrupted_write_leaves_old_or_new_file_never_a_mixture),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
