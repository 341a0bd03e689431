/*
 * NAME
 *   mailsso/apreq.h - read who a client's Kerberos token is for (diagnostics)
 *
 * SYNOPSIS
 *   mailsso_apreq_info info;
 *   if (mailsso_apreq_inspect(token, token_len, &info, &err) == 0)
 *       log("ticket for %s, kvno %u, enctype %d", info.server, info.kvno, info.ticket_enctype);
 *
 * DESCRIPTION
 *   Parses, with a bounded DER reader that never trusts a length, the
 *   first token a client sends: a raw krb5 GSS token (RFC 4121 framing:
 *   0x60, mech OID 1.2.840.113554.1.2.2, TOK_ID 01 00, AP-REQ), a bare
 *   AP-REQ, or a SPNEGO NegTokenInit whose mechToken is one of those.
 *   It reports the ticket's server principal (display form, sanitised: no
 *   control characters), realm, kvno (0 when absent) and enctype, and
 *   whether the token came wrapped in SPNEGO. Nothing is decrypted; the
 *   result is for log lines and must never drive an access decision.
 *   Malformed input gives MAILSSO_E_PARSE with the offset of the defect.
 */
#ifndef MAILSSO_APREQ_H
#define MAILSSO_APREQ_H

#include <stddef.h>
#include <stdint.h>
#include <mailsso/error.h>

#define MAILSSO_APREQ_NAME_MAX 512

typedef struct mailsso_apreq_info {
    char server[MAILSSO_APREQ_NAME_MAX];   /* "imap/mail.example.test@EXAMPLE.TEST" */
    char realm[256];
    uint32_t kvno;                         /* 0 when the ticket carries none */
    int has_kvno;
    int32_t ticket_enctype;                /* enctype of the ticket's enc-part */
    int32_t authenticator_enctype;         /* enctype of the authenticator (the session key) */
    int spnego;                            /* 1 if it came inside SPNEGO */
    int mutual_required;                   /* AP options mutual-required bit */
} mailsso_apreq_info;

int mailsso_apreq_inspect(const void *token, size_t len, mailsso_apreq_info *info_out,
                          mailsso_error *err);

#endif
