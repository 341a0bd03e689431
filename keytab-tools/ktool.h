/*
 * NAME
 *   ktool.h - shared helpers of the mailsso-keytab subcommands
 *
 * DESCRIPTION
 *   Each subcommand lives in its own file (list.c, merge.c, ...) and exports
 *   one entry point ktool_cmd_<name>(argc, argv) returning the process exit
 *   status:
 *     KTOOL_EXIT_OK      0  success / every check passed
 *     KTOOL_EXIT_FAIL    1  an operation failed or a check found a problem
 *     KTOOL_EXIT_USAGE   2  bad command line
 *   The helpers below are the only code shared between subcommands: keytab
 *   path resolution, write options (--mode/--owner/--dry-run), password
 *   input (prompt or file, never argv), salts and string-to-key, JSON
 *   string escaping, and the Kerberos/GSS round trip used by verify, doctor
 *   and rotate (get a ticket for a principal, accept it from a keytab).
 */
#ifndef MAILSSO_KTOOL_H
#define MAILSSO_KTOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <krb5/krb5.h>
#include <gssapi/gssapi.h>

#include <mailsso/error.h>
#include <mailsso/keytab.h>
#include <mailsso/enctype.h>

#define KTOOL_EXIT_OK 0
#define KTOOL_EXIT_FAIL 1
#define KTOOL_EXIT_USAGE 2

#define KTOOL_PROG "mailsso-keytab"

/* Global options (set by main before the subcommand runs). */
extern const char *ktool_config_path;   /* --config, NULL: default if it exists */

/* Subcommands. */
int ktool_cmd_list(int argc, char **argv);
int ktool_cmd_merge(int argc, char **argv);
int ktool_cmd_remove(int argc, char **argv);
int ktool_cmd_purge(int argc, char **argv);
int ktool_cmd_add(int argc, char **argv);
int ktool_cmd_verify(int argc, char **argv);
int ktool_cmd_doctor(int argc, char **argv);
int ktool_cmd_rotate(int argc, char **argv);
int ktool_cmd_shell(int argc, char **argv);

/* ---- messages ---------------------------------------------------------- */
/* "mailsso-keytab: <message>" and, when set, "  fix: <fix>" on stderr. */
void ktool_print_error(const mailsso_error *err);
void ktool_errorf(const char *fmt, ...) MAILSSO_PRINTF(1, 2);
/* Usage error: message + "try 'mailsso-keytab CMD --help'"; returns KTOOL_EXIT_USAGE. */
int ktool_usage_error(const char *cmd, const char *fmt, ...) MAILSSO_PRINTF(2, 3);

/* ---- keytab paths ------------------------------------------------------ */
/* The path of a keytab argument: strips "FILE:"/"WRFILE:"; NULL arg means
 * the default keytab (KRB5_KTNAME or krb5.conf default_keytab_name). Other
 * keytab types are refused. Result is malloc'ed. */
int ktool_keytab_path(const char *arg, char **path_out, mailsso_error *err);
/* Reads a keytab; a missing file with allow_missing gives an empty keytab. */
int ktool_read(const char *path, int allow_missing, mailsso_keytab **kt_out, mailsso_error *err);

/* ---- write options ----------------------------------------------------- */
typedef struct ktool_write_opts {
    mailsso_keytab_write_options w;
    int have_mode;
} ktool_write_opts;
void ktool_write_opts_init(ktool_write_opts *o);
/* Parses "--mode"/"--owner"/"--group" values. 0 or usage message printed. */
int ktool_parse_mode(const char *s, ktool_write_opts *o);
int ktool_parse_owner(const char *s, ktool_write_opts *o);
int ktool_parse_group(const char *s, ktool_write_opts *o);
/* Writes kt to path through mailsso_keytab_write; prints a one-line summary
 * ("wrote N entries to PATH" or "dry run: would write ..."). */
int ktool_write(const char *path, const mailsso_keytab *kt, const ktool_write_opts *o,
                int quiet);

/* ---- text helpers ------------------------------------------------------ */
void ktool_json_str(FILE *out, const char *s);
/* Fix texts from lib/diag name a placeholder service ("kadmin ktadd -k FILE
 * SERVICE/HOST"): put the principal actually concerned and the keytab's path in
 * their place (either may be NULL: left as is). */
void ktool_name_principal(char *text, size_t size, const char *principal, const char *keytab);
/* snprintf that truncates silently (messages only). */
void ktool_fmt(char *buf, size_t size, const char *fmt, ...) MAILSSO_PRINTF(3, 4);
const char *ktool_time_str(uint32_t t, char *buf, size_t size);   /* "2026-11-23T14:50:00Z" */
/* "30d", "12h", "90m", "3600s", "2w", "3600": seconds; -1 on error. */
long long ktool_parse_age(const char *s);
int ktool_parse_u32(const char *s, uint32_t *out);
/* Comma/space separated enctype names -> array (malloc'ed). */
int ktool_parse_enctypes(const char *spec, int32_t **list_out, size_t *n_out, mailsso_error *err);
const char *ktool_enctype_str(int32_t e, char *buf, size_t size);

/* ---- passwords --------------------------------------------------------- */
/* From file (first line; "-" = stdin) or, when file is NULL, a no-echo
 * prompt on the terminal (twice when confirm). Result zfree'd by caller with
 * ktool_password_free. */
int ktool_read_password(const char *file, const char *prompt, int confirm, char **pw_out,
                        mailsso_error *err);
void ktool_password_free(char *pw);
/* Random password for rotate: len printable characters of all classes. */
int ktool_random_password(size_t len, char **pw_out, mailsso_error *err);

/* ---- salts and keys ---------------------------------------------------- */
typedef enum ktool_salt_type {
    KTOOL_SALT_MIT = 0,      /* realm + components (krb5_principal2salt) */
    KTOOL_SALT_AD_USER,      /* REALM + sAMAccountName (or UPN components) */
    KTOOL_SALT_AD_COMPUTER,  /* REALM + "host" + lower(name) + "." + lower(realm) */
    KTOOL_SALT_EXPLICIT,     /* --salt STRING */
    KTOOL_SALT_KDC           /* asked from the KDC (etype-info2) */
} ktool_salt_type;

typedef struct ktool_salt_spec {
    ktool_salt_type type;
    const char *account;     /* ad-user: sAMAccountName; ad-computer: NAME or NAME$ */
    const char *upn;         /* ad-user: userPrincipalName (salt from its components) */
    const char *salt;        /* explicit */
} ktool_salt_spec;

int ktool_parse_salt_type(const char *s, ktool_salt_type *out);
const char *ktool_salt_type_name(ktool_salt_type t);
/* Computes the salt string for principal. *salt_out malloc'ed. */
int ktool_compute_salt(krb5_context ctx, const char *principal, const ktool_salt_spec *spec,
                       char **salt_out, size_t *salt_len_out, mailsso_error *err);
/* string-to-key for each enctype; appends entries (kvno, now) to kt. */
int ktool_add_password_keys(krb5_context ctx, mailsso_keytab *kt, const char *principal,
                            uint32_t kvno, const int32_t *enctypes, size_t n_enctypes,
                            const char *password, const char *salt, size_t salt_len,
                            mailsso_error *err);

/* add --random: new random keys from kadmind, appended to kt (kvno = the
 * new one). dry_run: authenticate and read the principal only. */
typedef struct ktool_random_opts {
    const char *principal;
    const int32_t *enctypes;
    size_t n_enctypes;
    const char *admin;                  /* admin principal */
    const char *admin_password_file;    /* NULL: prompt */
    const char *admin_keytab;           /* instead of a password */
    int dry_run;
} ktool_random_opts;
int ktool_add_random(const ktool_random_opts *o, mailsso_keytab *kt, mailsso_error *err);

/* ---- Kerberos / GSS round trip ----------------------------------------- */
int ktool_krb5_init(krb5_context *ctx_out, mailsso_error *err);
/* Fills err from a krb5 code (via lib/diag: cause + fix), prefixed by what. */
int ktool_krb5_error(krb5_context ctx, krb5_error_code code, mailsso_error *err,
                     const char *what);
int ktool_gss_error(OM_uint32 major, OM_uint32 minor, mailsso_error *err, const char *what);

/* How the tool gets a ticket for the principal under test. */
typedef enum ktool_client_mode {
    KTOOL_CLIENT_SELF = 0,   /* the keytab's own key: AS exchange for a ticket to itself */
    KTOOL_CLIENT_PASSWORD,   /* --client P --password-file F */
    KTOOL_CLIENT_KEYTAB,     /* --client P --client-keytab K */
    KTOOL_CLIENT_CCACHE      /* --ccache C (or KRB5CCNAME) */
} ktool_client_mode;

typedef struct ktool_client {
    ktool_client_mode mode;
    const char *principal;       /* client principal (password/keytab modes) */
    const char *password_file;
    const char *password;        /* already read (callers read the file once) */
    const char *client_keytab;
    const char *ccache;
    const char *self_keytab;      /* keytab whose key the SELF mode uses */
} ktool_client;

/* Sets client->mode from the options --client/--password-file/--client-keytab/
 * --ccache and reads the --client password (prompt or file) into *pw_out
 * (free with ktool_password_free). Returns -1 when all is well, else the exit
 * status the command should return (a usage error or a failed read). */
int ktool_client_resolve(const char *cmd, ktool_client *client, int use_ccache, char **pw_out);

/* Obtains the first GSS (raw krb5) token a client would send to service.
 * The caller releases *token_out with gss_release_buffer. */
int ktool_get_token(const ktool_client *client, const char *service, gss_buffer_desc *token_out,
                    mailsso_error *err);

typedef struct ktool_accept_result {
    int ok;                      /* accepted */
    uint32_t ticket_kvno;        /* from the AP-REQ (0 if unknown) */
    int have_kvno;
    int32_t ticket_enctype;      /* from the AP-REQ */
    char client[512];            /* who the ticket was for (on success) */
    char reason[2048];           /* why not (on failure), with the fix */
} ktool_accept_result;

/* Accepts token with the keytab at path, for service (NULL: any principal
 * in it), restricted to the policy's enctypes when policy is non-NULL.
 * Failure reasons are precise: stale kvno, missing enctype, refused
 * enctype, wrong key. Returns 0 when the check could run (see res->ok). */
int ktool_accept_token(const char *keytab_path, const mailsso_keytab *kt, const char *service,
                       const mailsso_enctype_policy *policy, const gss_buffer_desc *token,
                       ktool_accept_result *res, mailsso_error *err);

/* Loads the enctype policy: explicit spec, else the config's "enctypes" for
 * the service (section may be NULL), else the default ("aes"). */
int ktool_load_policy(const char *spec, const char *section,
                      mailsso_enctype_policy **policy_out, mailsso_error *err);

/* The KDC's current kvno for principal, learnt by an AS exchange with the
 * keytab's key (AS-REQ for the principal itself) or from client creds.
 * Also reports the clock offset the exchange revealed (KDC - local). */
int ktool_kdc_kvno(const ktool_client *client, const char *principal, uint32_t *kvno_out,
                   long *skew_out, mailsso_error *err);

/* The KDC's current kvno for principal, by an AS exchange with its password
 * for a ticket to itself (also proves the password). */
int ktool_kvno_with_password(krb5_context ctx, const char *principal, const char *pw,
                             uint32_t *kvno_out, mailsso_error *err);

/* Unique entries' principals, in first-seen order (pointers into kt).
 * O(n) (ktool_groups_build). */
size_t ktool_principals(const mailsso_keytab *kt, const char ***list_out);

/* Entries grouped by principal (exact display form), built in one O(n) pass
 * so that subcommands never scan the keytab once per principal:
 *   principal[j]  the j-th distinct principal, in first-seen order (the
 *                 order of ktool_principals); pointers into kt
 *   newest[j]     its highest kvno
 *   entry[start[j] .. start[j+1])  indexes of its entries, in keytab order
 *   group_of[i]   the group of entry i
 * The groups point into kt: rebuild them after kt changes. Returns 0, or -1
 * when out of memory. */
typedef struct ktool_groups {
    size_t n;
    const char **principal;
    uint32_t *newest;
    size_t *start;
    size_t *entry;
    size_t *group_of;
} ktool_groups;
int ktool_groups_build(const mailsso_keytab *kt, ktool_groups **groups_out);
void ktool_groups_free(ktool_groups *g);

#endif
