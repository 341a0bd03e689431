/*
 * NAME
 *   mailsso/diag.h - turn GSS, krb5 and OpenSSL failures into cause + fix
 *
 * SYNOPSIS
 *   mailsso_diag d;
 *   mailsso_diag_gss(major, minor, &d);
 *   log("%s: %s (fix: %s)", what, d.cause, d.fix);
 *
 * DESCRIPTION
 *   The one place that knows what error codes mean to a mail admin. Each
 *   function fills a mailsso_diag with:
 *     code_text  the library's own text (gss_display_status / krb5 / OpenSSL),
 *                all status messages joined with "; ", trailing NULs stripped
 *     cause      what it means in plain words ("the keytab has no key for the
 *                ticket's kvno: the service password changed since the keytab
 *                was exported")
 *     fix        what to do ("export a fresh keytab (ktpass / kadmin ktadd)
 *                and merge it with mailsso-keytab merge")
 *   Known codes (at least): KRB5KRB_AP_ERR_BAD_INTEGRITY, _SKEW, _REPEAT,
 *   _TKT_EXPIRED, _NOT_US, _BADKEYVER, _MODIFIED, KRB5_KT_NOTFOUND,
 *   KRB5_KT_KVNONOTFOUND, KRB5_KT_END, ENOENT/EACCES on the keytab,
 *   KRB5_BAD_ENCTYPE, KRB5_PROG_ETYPE_NOSUPP, KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN,
 *   KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN, KRB5KDC_ERR_BADOPTION (delegation
 *   refused), KRB5KDC_ERR_ETYPE_NOSUPP, KRB5KDC_ERR_PREAUTH_FAILED,
 *   KRB5_KDC_UNREACH, KRB5_REALM_UNKNOWN, GSS_S_DEFECTIVE_TOKEN,
 *   GSS_S_BAD_MECH, GSS_S_NO_CRED, GSS_S_CREDENTIALS_EXPIRED,
 *   GSS_S_DUPLICATE_TOKEN, GSS_S_BAD_BINDINGS. Unknown codes still get
 *   code_text and a generic cause. No function allocates; all are
 *   thread-safe (the krb5 one creates no process-wide state).
 */
#ifndef MAILSSO_DIAG_H
#define MAILSSO_DIAG_H

#include <stdint.h>
#include <gssapi/gssapi.h>
#include <krb5/krb5.h>

#define MAILSSO_DIAG_TEXT_MAX 512

typedef struct mailsso_diag {
    char code_text[MAILSSO_DIAG_TEXT_MAX];
    char cause[MAILSSO_DIAG_TEXT_MAX];
    char fix[MAILSSO_DIAG_TEXT_MAX];
    int32_t krb5_code;          /* the mechanism (minor) code behind it, or 0 */
} mailsso_diag;

void mailsso_diag_gss(OM_uint32 major, OM_uint32 minor, mailsso_diag *out);
/* ctx may be NULL: a temporary context is used for the message. */
void mailsso_diag_krb5(krb5_context ctx, krb5_error_code code, mailsso_diag *out);
/* Drains the calling thread's OpenSSL error queue (and verify_result if
 * non-zero, an X509_V_ERR_* code). */
void mailsso_diag_openssl(long verify_result, mailsso_diag *out);
/* errno on a named file: ENOENT, EACCES (with mode/owner and our uid), ... */
void mailsso_diag_file(int errnum, const char *path, mailsso_diag *out);

/* "cause: ...; fix: ..." into buf; returns buf. */
const char *mailsso_diag_format(const mailsso_diag *d, char *buf, size_t bufsize);

#endif
