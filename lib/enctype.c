/*
 * NAME
 *   enctype - Kerberos enctype names, strength classes and the allow/deny
 *   policy (include/mailsso/enctype.h)
 *
 * DESCRIPTION
 *   One table holds every enctype MIT krb5 1.20 can name: its number, the
 *   canonical name `klist -e` prints (krb5_enctype_to_name(..., FALSE, ...)),
 *   the aliases krb5_string_to_enctype() accepts (plus the names of the single
 *   DES types MIT dropped in 1.18, so we can still recognise and refuse them),
 *   its family and its strength class. A policy is a bit set over enctype
 *   numbers; every enctype a policy can allow is < 64.
 *
 * DIAGNOSTICS
 *   Unknown names: MAILSSO_E_NOTFOUND naming the word. Bad policies:
 *   MAILSSO_E_CONFIG naming the word and, for DES/3DES, why it cannot be
 *   allowed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsso/enctype.h>
#include <mailsso/log.h>
#include <mailsso/util.h>

#define MAX_ALIASES 3
#define POLICY_BITS 64

typedef enum family {
    FAM_DES,
    FAM_DES3,
    FAM_AES_SHA1,
    FAM_AES_SHA2,
    FAM_CAMELLIA,
    FAM_RC4
} family;

typedef struct enctype_info {
    int32_t number;
    const char *name;                     /* canonical MIT name */
    const char *aliases[MAX_ALIASES];     /* NULL-terminated when shorter */
    family fam;
    mailsso_enctype_class cls;
} enctype_info;

/* Numbers and names as in RFC 3961/3962/4757/6803/8009 and MIT krb5 1.20. */
static const enctype_info table[] = {
    { 1, "des-cbc-crc", { NULL }, FAM_DES, MAILSSO_ENCTYPE_BROKEN },
    { 2, "des-cbc-md4", { NULL }, FAM_DES, MAILSSO_ENCTYPE_BROKEN },
    { 3, "des-cbc-md5", { "des" }, FAM_DES, MAILSSO_ENCTYPE_BROKEN },
    { 4, "des-cbc-raw", { NULL }, FAM_DES, MAILSSO_ENCTYPE_BROKEN },
    { 6, "des3-cbc-raw", { NULL }, FAM_DES3, MAILSSO_ENCTYPE_BROKEN },
    { 8, "des-hmac-sha1", { NULL }, FAM_DES, MAILSSO_ENCTYPE_BROKEN },
    { 16, "des3-cbc-sha1", { "des3-hmac-sha1", "des3-cbc-sha1-kd" }, FAM_DES3,
      MAILSSO_ENCTYPE_BROKEN },
    { 17, "aes128-cts-hmac-sha1-96", { "aes128-cts", "aes128-sha1" }, FAM_AES_SHA1,
      MAILSSO_ENCTYPE_STRONG },
    { 18, "aes256-cts-hmac-sha1-96", { "aes256-cts", "aes256-sha1" }, FAM_AES_SHA1,
      MAILSSO_ENCTYPE_STRONG },
    { 19, "aes128-cts-hmac-sha256-128", { "aes128-sha2" }, FAM_AES_SHA2,
      MAILSSO_ENCTYPE_STRONG },
    { 20, "aes256-cts-hmac-sha384-192", { "aes256-sha2" }, FAM_AES_SHA2,
      MAILSSO_ENCTYPE_STRONG },
    { 23, "arcfour-hmac", { "rc4-hmac", "arcfour-hmac-md5" }, FAM_RC4, MAILSSO_ENCTYPE_LEGACY },
    /* 40-bit export RC4: as weak as single DES, so it is never accepted. */
    { 24, "arcfour-hmac-exp", { "rc4-hmac-exp", "arcfour-hmac-md5-exp" }, FAM_RC4,
      MAILSSO_ENCTYPE_BROKEN },
    { 25, "camellia128-cts-cmac", { "camellia128-cts" }, FAM_CAMELLIA, MAILSSO_ENCTYPE_STRONG },
    { 26, "camellia256-cts-cmac", { "camellia256-cts" }, FAM_CAMELLIA, MAILSSO_ENCTYPE_STRONG },
};

/* Family words of the policy grammar (also the ones krb5.conf knows). */
typedef struct family_word {
    const char *word;
    int broken;                 /* naming it as allowed is an error */
    uint64_t (*set)(void);
} family_word;

struct mailsso_enctype_policy {
    uint64_t allowed;           /* bit n set: enctype n allowed */
};

static const enctype_info *
find_number(int32_t enctype)
{
    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(table); i++) {
        if (table[i].number == enctype)
            return &table[i];
    }
    return NULL;
}

static const enctype_info *
find_name(const char *name)
{
    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(table); i++) {
        if (mailsso_streq_ci(table[i].name, name))
            return &table[i];
        for (size_t a = 0; a < MAX_ALIASES && table[i].aliases[a] != NULL; a++) {
            if (mailsso_streq_ci(table[i].aliases[a], name))
                return &table[i];
        }
    }
    return NULL;
}

/* Strict decimal: digits only, no sign, no spaces, fits int32_t. */
static int
parse_decimal(const char *s, int32_t *out)
{
    long long v = 0;

    if (*s == '\0')
        return -1;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > INT32_MAX)
            return -1;
    }
    *out = (int32_t)v;
    return 0;
}

static const enctype_info *
lookup(const char *word)
{
    int32_t n;

    if (parse_decimal(word, &n) == 0)
        return find_number(n);
    return find_name(word);
}

int
mailsso_enctype_from_name(const char *name, int32_t *enctype_out, mailsso_error *err)
{
    const enctype_info *e;

    if (name == NULL || enctype_out == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_enctype_from_name: NULL argument");
    e = lookup(name);
    if (e == NULL) {
        char safe[128];

        mailsso_log_sanitize(name, strlen(name), safe, sizeof(safe));
        mailsso_error_set(err, MAILSSO_E_NOTFOUND, "unknown enctype '%s'", safe);
        mailsso_error_set_fix(err, "use an MIT name such as aes256-cts-hmac-sha1-96, "
                              "aes128-cts-hmac-sha1-96, aes256-cts-hmac-sha384-192, "
                              "aes128-cts-hmac-sha256-128 or arcfour-hmac (or its number)");
        return MAILSSO_E_NOTFOUND;
    }
    *enctype_out = e->number;
    return 0;
}

const char *
mailsso_enctype_name(int32_t enctype)
{
    const enctype_info *e = find_number(enctype);

    return e != NULL ? e->name : NULL;
}

const char *
mailsso_enctype_describe(int32_t enctype, char *buf, size_t bufsize)
{
    const char *name = mailsso_enctype_name(enctype);

    if (buf == NULL || bufsize == 0)
        return buf;
    snprintf(buf, bufsize, "%s(%ld)", name != NULL ? name : "unknown", (long)enctype);
    return buf;
}

mailsso_enctype_class
mailsso_enctype_classify(int32_t enctype)
{
    const enctype_info *e = find_number(enctype);

    if (e != NULL)
        return e->cls;
    /* Numbers MIT cannot name but which are DES-based all the same:
     * 5 des3-cbc-md5, 7 old des3-cbc-sha1 (Heimdal), 15 des-ede3-cbc-Env-OID. */
    if (enctype == 5 || enctype == 7 || enctype == 15)
        return MAILSSO_ENCTYPE_BROKEN;
    return MAILSSO_ENCTYPE_UNKNOWN;
}

const char *
mailsso_enctype_class_name(mailsso_enctype_class cls)
{
    switch (cls) {
    case MAILSSO_ENCTYPE_STRONG:
        return "strong";
    case MAILSSO_ENCTYPE_LEGACY:
        return "legacy";
    case MAILSSO_ENCTYPE_BROKEN:
        return "broken";
    case MAILSSO_ENCTYPE_UNKNOWN:
    default:
        return "unknown";
    }
}

/* ------------------------------------------------------------------ policy */

static uint64_t
bit(int32_t n)
{
    return (n >= 0 && n < POLICY_BITS) ? (uint64_t)1 << n : 0;
}

static uint64_t
set_where(int (*pred)(const enctype_info *))
{
    uint64_t s = 0;

    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(table); i++) {
        if (pred(&table[i]))
            s |= bit(table[i].number);
    }
    return s;
}

static int is_aes(const enctype_info *e) { return e->fam == FAM_AES_SHA1 || e->fam == FAM_AES_SHA2; }
static int is_aes_sha1(const enctype_info *e) { return e->fam == FAM_AES_SHA1; }
static int is_aes_sha2(const enctype_info *e) { return e->fam == FAM_AES_SHA2; }
static int is_camellia(const enctype_info *e) { return e->fam == FAM_CAMELLIA; }
static int is_rc4(const enctype_info *e) { return e->fam == FAM_RC4 && e->cls != MAILSSO_ENCTYPE_BROKEN; }
static int is_des(const enctype_info *e) { return e->fam == FAM_DES; }
static int is_des3(const enctype_info *e) { return e->fam == FAM_DES3; }
static int is_strong(const enctype_info *e) { return e->cls == MAILSSO_ENCTYPE_STRONG; }
static int is_legacy(const enctype_info *e) { return e->cls == MAILSSO_ENCTYPE_LEGACY; }
static int is_broken(const enctype_info *e) { return e->cls == MAILSSO_ENCTYPE_BROKEN; }

static uint64_t aes_set(void) { return set_where(is_aes); }
static uint64_t aes_sha1_set(void) { return set_where(is_aes_sha1); }
static uint64_t aes_sha2_set(void) { return set_where(is_aes_sha2); }
static uint64_t camellia_set(void) { return set_where(is_camellia); }
static uint64_t rc4_set(void) { return set_where(is_rc4); }
static uint64_t des_set(void) { return set_where(is_des); }
static uint64_t des3_set(void) { return set_where(is_des3); }
static uint64_t strong_set(void) { return set_where(is_strong); }
static uint64_t legacy_set(void) { return set_where(is_legacy); }
static uint64_t broken_set(void) { return set_where(is_broken); }

static const family_word family_words[] = {
    { "default", 0, aes_set },
    { "aes", 0, aes_set },
    { "aes-sha1", 0, aes_sha1_set },
    { "aes-sha2", 0, aes_sha2_set },
    { "camellia", 0, camellia_set },
    { "rc4", 0, rc4_set },
    { "strong", 0, strong_set },
    { "legacy", 0, legacy_set },
    { "des", 1, des_set },
    { "des3", 1, des3_set },
    { "broken", 1, broken_set },
};

static int
is_sep(char c)
{
    return c == ' ' || c == ',' || c == '\t' || c == '\n' || c == '\r';
}

/* The set WORD names, or an error. *broken_out: the word names DES/3DES. */
static int
word_set(const char *word, uint64_t *set_out, int *broken_out)
{
    const enctype_info *e;

    for (size_t i = 0; i < MAILSSO_ARRAY_LEN(family_words); i++) {
        if (mailsso_streq_ci(family_words[i].word, word)) {
            *set_out = family_words[i].set();
            *broken_out = family_words[i].broken;
            return 0;
        }
    }
    e = lookup(word);
    if (e == NULL)
        return -1;
    *set_out = bit(e->number);
    *broken_out = e->cls == MAILSSO_ENCTYPE_BROKEN;
    return 0;
}

int
mailsso_enctype_policy_parse(const char *spec, mailsso_enctype_policy **policy_out,
                             mailsso_error *err)
{
    mailsso_enctype_policy *p = NULL;
    char safe[128];
    char word[128];
    const char *s;
    int nwords = 0;
    int ret;

    if (spec == NULL || policy_out == NULL)
        return mailsso_error_set(err, MAILSSO_E_INVALID, "mailsso_enctype_policy_parse: NULL argument");
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory parsing an enctype policy");

    s = spec;
    for (;;) {
        size_t len = 0;
        const char *w;
        int deny = 0, broken = 0;
        uint64_t set = 0;

        while (is_sep(*s))
            s++;
        if (*s == '\0')
            break;
        w = s;
        while (*s != '\0' && !is_sep(*s))
            s++;
        len = (size_t)(s - w);
        mailsso_log_sanitize(w, len, safe, sizeof(safe));
        if (len >= sizeof(word)) {
            ret = mailsso_error_set(err, MAILSSO_E_CONFIG, "enctype policy: word '%s' is too long",
                                    safe);
            goto cleanup;
        }
        memcpy(word, w, len);
        word[len] = '\0';
        nwords++;
        if (word[0] == '-') {
            deny = 1;
            memmove(word, word + 1, len);
        }
        if (word[0] == '\0' || word_set(word, &set, &broken) != 0) {
            ret = mailsso_error_set(err, MAILSSO_E_CONFIG,
                                    "enctype policy '%s': unknown word '%s'", spec, safe);
            mailsso_error_set_fix(err, "use enctype names (aes256-cts-hmac-sha1-96, arcfour-hmac, "
                                  "...), the families aes, aes-sha1, aes-sha2, camellia, rc4, "
                                  "or strong, legacy, default; prefix '-' to deny");
            goto cleanup;
        }
        if (deny) {
            p->allowed &= ~set;
        } else if (broken) {
            ret = mailsso_error_set(err, MAILSSO_E_CONFIG,
                                    "enctype policy: '%s' is a broken enctype (single DES or 3DES) "
                                    "and can never be allowed", safe);
            mailsso_error_set_fix(err, "remove '%s'; re-key the account with AES "
                                  "(e.g. kadmin cpw -randkey -e aes256-cts-hmac-sha1-96:normal)",
                                  safe);
            goto cleanup;
        } else {
            p->allowed |= set;
        }
    }
    /* Belt and braces: nothing broken survives, whatever the words did. */
    p->allowed &= ~broken_set();
    if (nwords == 0) {
        ret = mailsso_error_set(err, MAILSSO_E_CONFIG, "enctype policy is empty");
        mailsso_error_set_fix(err, "write \"default\" (AES only) or list what to allow, e.g. \"aes rc4\"");
        goto cleanup;
    }
    if (p->allowed == 0) {
        ret = mailsso_error_set(err, MAILSSO_E_CONFIG,
                                "enctype policy '%s' allows no enctype at all", spec);
        mailsso_error_set_fix(err, "allow at least one family, e.g. \"aes\"");
        goto cleanup;
    }
    *policy_out = p;
    p = NULL;
    ret = 0;
cleanup:
    free(p);
    return ret;
}

int
mailsso_enctype_policy_allows(const mailsso_enctype_policy *policy, int32_t enctype)
{
    if (policy == NULL || mailsso_enctype_classify(enctype) == MAILSSO_ENCTYPE_BROKEN)
        return 0;
    return (policy->allowed & bit(enctype)) != 0;
}

const char *
mailsso_enctype_policy_describe(const mailsso_enctype_policy *policy, char *buf, size_t bufsize)
{
    size_t used = 0;

    if (buf == NULL || bufsize == 0)
        return buf;
    buf[0] = '\0';
    if (policy == NULL)
        return buf;
    for (int32_t n = 0; n < POLICY_BITS; n++) {
        const char *name;
        size_t len;

        if (!(policy->allowed & bit(n)) || (name = mailsso_enctype_name(n)) == NULL)
            continue;
        len = strlen(name) + (used > 0 ? 1 : 0);
        if (used + len >= bufsize)
            break;                  /* never a half name */
        if (used > 0)
            buf[used++] = ' ';
        memcpy(buf + used, name, strlen(name) + 1);
        used += strlen(name);
    }
    return buf;
}

void
mailsso_enctype_policy_free(mailsso_enctype_policy *policy)
{
    free(policy);
}
