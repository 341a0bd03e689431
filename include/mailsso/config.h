/*
 * NAME
 *   mailsso/config.h - mailsso.conf: one schema, one parser, typed getters
 *
 * SYNOPSIS
 *   mailsso_config *cfg = NULL;
 *   if (mailsso_config_load_file(NULL, &cfg, &err) != 0) ... // default path
 *   const char *kt = mailsso_config_get_string(cfg, "imap", "keytab");
 *   mailsso_config_free(cfg);
 *
 * DESCRIPTION
 *   The file is libconfig syntax. Top-level settings are global defaults;
 *   a top-level group named after a service (smtp, submission, imap, pop,
 *   sieve, lmtp, http, or any name listed in the global "services" setting)
 *   holds per-service overrides of service-scope keys; the group "kcd" holds
 *   the certificate-to-KCD helper's keys.
 *
 *   Every key is described once, in the schema table (lib/config_schema.c):
 *   name, scope, type, default, check, one-line description. The parser,
 *   mailsso_config_check() (used by the --check-config options), and the
 *   mailsso.conf(5) man page (mailsso_config_write_manpage) are all derived
 *   from that table, so they cannot disagree.
 *
 *   Errors name the file, the line and the key:
 *     "/etc/mailsso/mailsso.conf:12: key 'enctypes': 'des' is a broken enctype ..."
 *   (a key inside a group is named group.key: "key 'imap.enctypes': ...").
 *   Unknown keys, unknown groups, wrong types, and values failing the key's
 *   check are all errors (never silently ignored).
 *
 *   Getters: service-scope keys resolve section -> global -> schema default;
 *   kcd-scope keys are read with section "kcd"; global-only keys with section
 *   NULL. Asking for a key that is not in the schema, or with the wrong type,
 *   is a programming error: the getter returns the type's zero value (NULL, 0,
 *   empty list). Returned strings and lists belong to cfg and live until
 *   mailsso_config_free(). A loaded config is immutable and thread-safe to read.
 */
#ifndef MAILSSO_CONFIG_H
#define MAILSSO_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <mailsso/error.h>

#ifndef MAILSSO_DEFAULT_CONFIG
#define MAILSSO_DEFAULT_CONFIG SYSCONFDIR "/mailsso/mailsso.conf"
#endif

typedef enum mailsso_config_type {
    MAILSSO_CFG_STRING,
    MAILSSO_CFG_INT,
    MAILSSO_CFG_BOOL,
    MAILSSO_CFG_LIST      /* list of strings: ["a", "b"] */
} mailsso_config_type;

typedef enum mailsso_config_scope {
    MAILSSO_SCOPE_GLOBAL,   /* top level only */
    MAILSSO_SCOPE_SERVICE,  /* top level (default) and per-service groups */
    MAILSSO_SCOPE_KCD       /* inside the "kcd" group only */
} mailsso_config_scope;

/* Returns 0 if value is acceptable, else fills err (message without file/line;
 * the parser prefixes them). */
typedef int (*mailsso_config_check_fn)(const void *value, mailsso_error *err);

typedef struct mailsso_config_key {
    const char *name;
    mailsso_config_scope scope;
    mailsso_config_type type;
    const char *default_value;    /* as text: "aes", "0", "true", "[]", "" */
    mailsso_config_check_fn check;/* NULL: type check only */
    const char *check_text;       /* human form of the check, for the man page */
    const char *description;      /* one line, for the man page and --help */
} mailsso_config_key;

typedef struct mailsso_config mailsso_config;

/* path NULL -> MAILSSO_DEFAULT_CONFIG. A missing file is MAILSSO_E_IO (callers
 * that allow running without a file check mailsso_config_defaults()). */
int mailsso_config_load_file(const char *path, mailsso_config **cfg_out, mailsso_error *err);
/* origin names the text in messages ("<string>" if NULL). */
int mailsso_config_load_string(const char *text, const char *origin, mailsso_config **cfg_out,
                               mailsso_error *err);
/* A config with every key at its default. NULL only on out-of-memory. */
mailsso_config *mailsso_config_defaults(void);
void mailsso_config_free(mailsso_config *cfg);

/* Where it came from: the path, or the origin string. */
const char *mailsso_config_origin(const mailsso_config *cfg);

const char *mailsso_config_get_string(const mailsso_config *cfg, const char *section,
                                      const char *key);
long long mailsso_config_get_int(const mailsso_config *cfg, const char *section, const char *key);
int mailsso_config_get_bool(const mailsso_config *cfg, const char *section, const char *key);
/* Number of items; *items_out points into cfg (NULL-terminated array). */
size_t mailsso_config_get_list(const mailsso_config *cfg, const char *section, const char *key,
                               const char *const **items_out);
/* 1 if the key was set explicitly in that section (not inherited, not default). */
int mailsso_config_is_set(const mailsso_config *cfg, const char *section, const char *key);
/* Service sections present in the file (NULL-terminated; owned by cfg). */
size_t mailsso_config_services(const mailsso_config *cfg, const char *const **names_out);

/* Schema access. */
const mailsso_config_key *mailsso_config_schema(size_t *n_out);
const mailsso_config_key *mailsso_config_find_key(const char *name, mailsso_config_scope scope);

/* Validates a file and prints one line per problem to out (all problems, not
 * just the first). Returns 0 when the file is valid. */
int mailsso_config_check(const char *path, FILE *out);

/* Writes mailsso.conf(5) in man(7) format, generated from the schema. */
int mailsso_config_write_manpage(FILE *out);

#endif
