/*
 * fuzz_apreq.c - libFuzzer harness for the AP-REQ / SPNEGO reader
 *
 * Input: a client's first token (raw GSS krb5, bare AP-REQ, SPNEGO). The
 * reader must never read outside the token (ASan), never overflow the fixed
 * fields of mailsso_apreq_info, and, when it accepts a token, report names
 * that are NUL-terminated inside their fields and free of control
 * characters (they go straight into log lines). A rejected token has a
 * message, and the error names an offset inside the token.
 */
#include <mailsso/apreq.h>
#include <mailsso/error.h>

#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mailsso_apreq_info info;
    mailsso_error err = MAILSSO_ERROR_INIT;
    int rc;

    memset(&info, 0xa5, sizeof(info));
    rc = mailsso_apreq_inspect(data, size, &info, &err);
    if (rc != 0) {
        FUZZ_ASSERT(err.code == rc && err.message[0] != '\0', "rejected (%d) without message", rc);
        FUZZ_ASSERT(memchr(err.message, '\0', sizeof(err.message)) != NULL, "unterminated");
        return 0;
    }
    FUZZ_ASSERT(memchr(info.server, '\0', sizeof(info.server)) != NULL, "server unterminated");
    FUZZ_ASSERT(memchr(info.realm, '\0', sizeof(info.realm)) != NULL, "realm unterminated");
    FUZZ_ASSERT(!fuzz_has_ctl(info.server), "server name has a control character");
    FUZZ_ASSERT(!fuzz_has_ctl(info.realm), "realm has a control character");
    FUZZ_ASSERT(info.spnego == 0 || info.spnego == 1, "spnego flag %d", info.spnego);
    FUZZ_ASSERT(info.has_kvno || info.kvno == 0, "kvno %u without has_kvno", info.kvno);
    return 0;
}
