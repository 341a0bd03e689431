/*
 * NAME
 *   mailsso/identity.h - who logged in: realm rules, principal -> mailbox,
 *   authorization identity
 *
 * SYNOPSIS
 *   mailsso_identity_rules *rules = NULL;
 *   mailsso_identity_rules_from_config(cfg, "imap", "EXAMPLE.TEST", &rules, &err);
 *   char *mailbox = NULL;
 *   if (mailsso_identity_map(rules, "alice@EXAMPLE.TEST", &mailbox, &err) == 0) {
 *       int self = 0;
 *       mailsso_identity_check_authzid(rules, "alice@EXAMPLE.TEST", mailbox,
 *                                      "alice@example.test", &self, &err);
 *   }
 *
 * DESCRIPTION
 *   Principals come in the display form of gss_display_name() (components
 *   separated by '/', realm after the last unescaped '@', '\' escapes).
 *
 *   mailsso_identity_map() refuses (MAILSSO_E_POLICY, message naming the
 *   principal and the rule):
 *     - a realm not in the allowed list (default: only the default realm);
 *     - a principal with more than one component (alice/admin) unless an
 *       explicit map rule names it;
 *     - names with control characters, NUL, or an empty first component.
 *   Mapping order: explicit map rules first (first match wins), then
 *   strip_realm (mailbox = first component) or the full principal, then
 *   lowercase if configured.
 *
 *   Map rules are strings "FROM = TO". FROM is a full principal
 *   ("bob@EXAMPLE.TEST"), or "*@REALM" (any single-component principal of
 *   REALM). TO is a mailbox template: %u = first component, %r = realm,
 *   %d = the mail domain mapped to that realm (see mail_domains), %% = '%'.
 *
 *   No two principals map to one mailbox unless a rule says so: rules_new()
 *   fails (MAILSSO_E_CONFIG) when strip_realm applies to more than one allowed
 *   realm without map rules making every realm's names distinct, or when two
 *   explicit rules give the same mailbox for different FROMs (an explicit rule
 *   mapping two principals to one mailbox is allowed only with a "FROM == TO"
 *   double-equals rule, the admin's explicit "yes, shared").
 *   "Distinct" is decided exactly: "*@B = %u.b" is ambiguous next to a
 *   stripped realm A (alice.b@A), "*@B = %u@b.example" is not (names never
 *   contain '@'). A rule that can never match (after a "*@REALM" rule of its
 *   realm, or a repeated FROM) is a config error too. The mailbox of an
 *   explicit principal rule is reserved: map() refuses any other principal
 *   that would reach it through strip_realm or a "*@REALM" rule, unless the
 *   rule is "==".
 *
 *   mailsso_identity_check_authzid(): an empty/NULL authzid or one equal to
 *   the mailbox means "self" (*is_self_out = 1). The forms enabled in
 *   authzid_forms also mean self:
 *     "principal"   the authenticated principal itself (alice@EXAMPLE.TEST)
 *     "maildomain"  first component @ a mail domain mapped to its realm
 *                   (alice@example.test when "example.test = EXAMPLE.TEST")
 *     "caseless"    the mailbox in another letter case (ALICE)
 *   Anything else returns 0 with *is_self_out = 0 and err filled with a
 *   message naming both identities and why they differ; the caller then
 *   applies SASL's proxy policy. A principal whose realm is not allowed is
 *   refused (MAILSSO_E_POLICY) whatever the authzid.
 *   Rules are immutable after creation and safe to share between threads.
 */
#ifndef MAILSSO_IDENTITY_H
#define MAILSSO_IDENTITY_H

#include <stddef.h>
#include <mailsso/error.h>
#include <mailsso/config.h>

typedef struct mailsso_identity_settings {
    const char *default_realm;             /* used when realms is empty */
    const char *const *realms;  size_t n_realms;       /* allowed realms */
    int strip_realm;                       /* mailbox = first component */
    int lowercase;                         /* fold mailbox to lower case */
    const char *const *map;     size_t n_map;          /* "FROM = TO" rules */
    const char *const *authzid_forms; size_t n_authzid_forms;
    const char *const *mail_domains; size_t n_mail_domains; /* "example.com = EXAMPLE.COM" */
} mailsso_identity_settings;

typedef struct mailsso_identity_rules mailsso_identity_rules;

int mailsso_identity_rules_new(const mailsso_identity_settings *settings,
                               mailsso_identity_rules **rules_out, mailsso_error *err);
/* Reads realms, strip_realm, lowercase, map, authzid_forms, mail_domains for
 * the service (section) from cfg. */
int mailsso_identity_rules_from_config(const mailsso_config *cfg, const char *service,
                                       const char *default_realm,
                                       mailsso_identity_rules **rules_out, mailsso_error *err);
void mailsso_identity_rules_free(mailsso_identity_rules *rules);

/* Realm of a display-form principal, copied into buf; 0 or MAILSSO_E_PARSE. */
int mailsso_identity_realm_of(const char *principal, char *buf, size_t bufsize);
int mailsso_identity_realm_allowed(const mailsso_identity_rules *rules, const char *realm);

int mailsso_identity_map(const mailsso_identity_rules *rules, const char *principal,
                         char **mailbox_out, mailsso_error *err);

int mailsso_identity_check_authzid(const mailsso_identity_rules *rules, const char *principal,
                                   const char *mailbox, const char *authzid, int *is_self_out,
                                   mailsso_error *err);

#endif
