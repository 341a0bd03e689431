/*
 * NAME
 *   config_internal.h - what lib/config.c and lib/config_schema.c share
 *
 * DESCRIPTION
 *   Private to lib/: the parser (config.c) and the schema table with its
 *   checks and the man page writer (config_schema.c) agree here on the
 *   built-in service group names and on which integer keys are file modes.
 *
 *   File modes: libconfig (1.5 .. 1.7) has no octal literals and reads
 *   "socket_mode = 0660;" as decimal 660. A key whose check is
 *   mailsso_config_check_mode therefore takes the decimal digits as octal
 *   digits (660 -> 0660), as chmod(1) does; a hex literal (0x1b0) is taken
 *   as it is. Its default text is C syntax ("0660").
 */
#ifndef MAILSSO_CONFIG_INTERNAL_H
#define MAILSSO_CONFIG_INTERNAL_H

#include <mailsso/config.h>

/* smtp, submission, imap, pop, sieve, lmtp, http; NULL-terminated. */
extern const char *const mailsso_config_builtin_services[];

/* The name of the helper's group. */
#define MAILSSO_CONFIG_KCD_GROUP "kcd"

/* Check for file-mode integer keys: 0 .. 07777. */
int mailsso_config_check_mode(const void *value, mailsso_error *err);

/* "a string", "an integer", "a boolean", "a list of strings". */
const char *mailsso_config_type_name(mailsso_config_type type);

#endif
