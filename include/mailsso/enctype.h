/*
 * NAME
 *   mailsso/enctype.h - Kerberos enctype names, strength classes and policy
 *
 * SYNOPSIS
 *   int32_t e;
 *   mailsso_enctype_from_name("rc4-hmac", &e);            // e == 23
 *   mailsso_enctype_policy *p = NULL;
 *   mailsso_enctype_policy_parse("aes rc4", &p, &err);
 *   if (!mailsso_enctype_policy_allows(p, e)) ...
 *
 * DESCRIPTION
 *   Knows every enctype MIT krb5 knows, by number, canonical MIT name and the
 *   aliases people type (arcfour-hmac-md5, rc4-hmac, aes256-cts, des3-hmac-sha1,
 *   ...). Names are matched case-insensitively; a decimal number is accepted too.
 *
 *   Strength classes:
 *     STRONG  AES (sha1 and sha2 families) and Camellia
 *     LEGACY  RC4 (arcfour-hmac): still issued by AD
 *     BROKEN  single DES, 3DES and 40-bit export RC4 (arcfour-hmac-exp):
 *             never accepted, whatever the policy says
 *
 *   A policy is a space- or comma-separated list of words, applied left to
 *   right, starting from "nothing allowed":
 *     an enctype name     allow it                   (aes256-cts-hmac-sha1-96)
 *     "aes", "camellia", "rc4"  allow that family
 *     "strong"            allow every STRONG enctype
 *     "legacy"            allow every LEGACY enctype (same as rc4)
 *     "-WORD"             deny what WORD names
 *   "default" equals "aes". Naming a BROKEN enctype or family ("des", "des3")
 *   as allowed is an error, so a config cannot silently enable DES.
 *   An empty policy string is an error. The policy is immutable after parse
 *   and safe to share between threads.
 */
#ifndef MAILSSO_ENCTYPE_H
#define MAILSSO_ENCTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <mailsso/error.h>

typedef enum mailsso_enctype_class {
    MAILSSO_ENCTYPE_UNKNOWN = 0,
    MAILSSO_ENCTYPE_STRONG,
    MAILSSO_ENCTYPE_LEGACY,
    MAILSSO_ENCTYPE_BROKEN
} mailsso_enctype_class;

/* 0 and *enctype_out set, or MAILSSO_E_NOTFOUND (message names the word). */
int mailsso_enctype_from_name(const char *name, int32_t *enctype_out, mailsso_error *err);
/* Canonical MIT name ("aes256-cts-hmac-sha1-96"), or NULL for an unknown number. */
const char *mailsso_enctype_name(int32_t enctype);
/* Writes "name(number)" or "unknown(number)" into buf; returns buf. */
const char *mailsso_enctype_describe(int32_t enctype, char *buf, size_t bufsize);
mailsso_enctype_class mailsso_enctype_classify(int32_t enctype);
/* "strong", "legacy", "broken", "unknown". */
const char *mailsso_enctype_class_name(mailsso_enctype_class cls);

typedef struct mailsso_enctype_policy mailsso_enctype_policy;

int mailsso_enctype_policy_parse(const char *spec, mailsso_enctype_policy **policy_out,
                                 mailsso_error *err);
int mailsso_enctype_policy_allows(const mailsso_enctype_policy *policy, int32_t enctype);
/* The allowed set as canonical names, space separated, into buf; returns buf. */
const char *mailsso_enctype_policy_describe(const mailsso_enctype_policy *policy, char *buf,
                                            size_t bufsize);
void mailsso_enctype_policy_free(mailsso_enctype_policy *policy);

#endif
