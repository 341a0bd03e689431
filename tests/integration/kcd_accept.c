/* kcd_accept.c - test helper: accept a Negotiate token with a keytab.
 *
 *   kcd_accept KEYTAB 'Negotiate <base64>'    (or the bare base64)
 *
 * Prints the initiator's name (e.g. alice@EXAMPLE.TEST) and the mechanism
 * ("spnego" when the token came in SPNEGO, else "krb5"); exit 0 when
 * gss_accept_sec_context accepts the token, 1 with the GSS error otherwise.
 * Used to prove that a token minted by mailsso-kcd is a real, fresh token
 * for the backend without starting a web server. */
#define _GNU_SOURCE
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <gssapi/gssapi_ext.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
gss_fail(const char *what, OM_uint32 maj, OM_uint32 min)
{
    OM_uint32 m, ctx = 0;
    gss_buffer_desc b;

    fprintf(stderr, "%s failed:", what);
    do {
        gss_display_status(&m, maj, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &b);
        fprintf(stderr, " %.*s;", (int)b.length, (char *)b.value);
        gss_release_buffer(&m, &b);
    } while (ctx);
    do {
        gss_display_status(&m, min, GSS_C_MECH_CODE, GSS_C_NO_OID, &ctx, &b);
        fprintf(stderr, " %.*s;", (int)b.length, (char *)b.value);
        gss_release_buffer(&m, &b);
    } while (ctx);
    fprintf(stderr, "\n");
}

int
main(int argc, char **argv)
{
    OM_uint32 maj, min;
    gss_key_value_element_desc el[1];
    gss_key_value_set_desc store = { 1, el };
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER, dn;
    gss_name_t src = GSS_C_NO_NAME;
    gss_OID mech = GSS_C_NO_OID;
    const char *b64;
    unsigned char *tok;
    int n;
    size_t len;

    if (argc != 3) {
        fprintf(stderr, "usage: %s KEYTAB 'Negotiate BASE64'\n", argv[0]);
        return 2;
    }
    b64 = argv[2];
    if (strncmp(b64, "Authorization: ", 15) == 0)
        b64 += 15;
    if (strncmp(b64, "Negotiate ", 10) == 0)
        b64 += 10;
    len = strlen(b64);
    while (len > 0 && (b64[len - 1] == '\n' || b64[len - 1] == '\r'))
        len--;
    tok = malloc(len + 1);
    n = EVP_DecodeBlock(tok, (const unsigned char *)b64, (int)len);
    if (n < 0) {
        fprintf(stderr, "not base64\n");
        return 1;
    }
    while (len > 0 && b64[len - 1] == '=') {
        n--;
        len--;
    }
    el[0].key = "keytab";
    el[0].value = argv[1];
    maj = gss_acquire_cred_from(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE, GSS_C_NO_OID_SET,
                                GSS_C_ACCEPT, &store, &cred, NULL, NULL);
    if (GSS_ERROR(maj)) {
        gss_fail("gss_acquire_cred_from(keytab)", maj, min);
        return 1;
    }
    in.value = tok;
    in.length = (size_t)n;
    maj = gss_accept_sec_context(&min, &ctx, cred, &in, GSS_C_NO_CHANNEL_BINDINGS, &src, &mech,
                                 &out, NULL, NULL, NULL);
    if (GSS_ERROR(maj)) {
        gss_fail("gss_accept_sec_context", maj, min);
        gss_delete_sec_context(&min, &ctx, GSS_C_NO_BUFFER);   /* SPNEGO keeps a partial context */
        gss_release_buffer(&min, &out);
        gss_release_cred(&min, &cred);
        free(tok);
        return 1;
    }
    maj = gss_display_name(&min, src, &dn, NULL);
    if (GSS_ERROR(maj)) {
        gss_fail("gss_display_name", maj, min);
        return 1;
    }
    printf("%.*s\n", (int)dn.length, (char *)dn.value);
    gss_release_buffer(&min, &dn);
    gss_release_buffer(&min, &out);
    gss_release_name(&min, &src);
    gss_delete_sec_context(&min, &ctx, GSS_C_NO_BUFFER);
    gss_release_cred(&min, &cred);
    printf("%s\n", n > 12 && tok[0] == 0x60 &&
                       memmem(tok, 12, "\x06\x06\x2b\x06\x01\x05\x05\x02", 8) != NULL
                       ? "spnego" : "krb5");
    free(tok);
    return 0;
}
