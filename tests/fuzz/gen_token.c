/*
 * gen_token.c - write a client's first GSS token to a file (seed generator)
 *
 * Usage: gen_token PRINCIPAL krb5|spnego [mutual|nomutual] OUTFILE
 * Uses the default ccache (KRB5CCNAME) to build the initial context token
 * for PRINCIPAL ("imap/mail.example.test@EXAMPLE.TEST"), raw krb5 GSS framing
 * or SPNEGO NegTokenInit, exactly what a mail client sends. Only used by
 * make-seeds.sh to refresh corpus/apreq from a throwaway KDC; not built by make.
 */
#include <stdio.h>
#include <string.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>

static gss_OID_desc spnego_oid = { 6, (void *)"\x2b\x06\x01\x05\x05\x02" };

int
main(int argc, char **argv)
{
    OM_uint32 maj, min, flags = GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG;
    gss_buffer_desc nb, out = GSS_C_EMPTY_BUFFER;
    gss_name_t name = GSS_C_NO_NAME;
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_OID mech;
    FILE *f;

    if (argc != 5) {
        fprintf(stderr, "usage: gen_token PRINCIPAL krb5|spnego mutual|nomutual OUTFILE\n");
        return 2;
    }
    mech = strcmp(argv[2], "spnego") == 0 ? &spnego_oid : (gss_OID)gss_mech_krb5;
    if (strcmp(argv[3], "mutual") == 0)
        flags |= GSS_C_MUTUAL_FLAG;
    nb.value = argv[1];
    nb.length = strlen(argv[1]);
    maj = gss_import_name(&min, &nb, (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME, &name);
    if (GSS_ERROR(maj)) {
        fprintf(stderr, "gss_import_name failed\n");
        return 1;
    }
    maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &ctx, name, mech, flags, 0,
                               GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, &out, NULL, NULL);
    if (GSS_ERROR(maj) || out.length == 0) {
        fprintf(stderr, "gss_init_sec_context failed: major 0x%x minor %u\n", maj, min);
        return 1;
    }
    f = fopen(argv[4], "wb");
    if (f == NULL || fwrite(out.value, 1, out.length, f) != out.length || fclose(f) != 0) {
        perror(argv[4]);
        return 1;
    }
    gss_release_buffer(&min, &out);
    gss_delete_sec_context(&min, &ctx, GSS_C_NO_BUFFER);
    gss_release_name(&min, &name);
    return 0;
}
