/*
 * make-tokens.c - writes the first GSS token a client would send for
 * SERVICE@HOST (gss_init_sec_context), raw krb5 or SPNEGO, to a file.
 * Used once by make-tokens.sh to create the fixtures in this directory;
 * not built by `make`.
 *
 *   make-tokens krb5|spnego mutual|nomutual SERVICE@HOST OUTFILE
 */
#include <stdio.h>
#include <string.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>

static gss_OID_desc spnego_oid = { 6, (void *)"\x2b\x06\x01\x05\x05\x02" };

int
main(int argc, char **argv)
{
    OM_uint32 major, minor, ret_flags;
    gss_name_t target = GSS_C_NO_NAME;
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_buffer_desc name = { 0, NULL }, out = { 0, NULL };
    FILE *f;

    if (argc != 5)
        return 2;
    name.value = argv[3];
    name.length = strlen(argv[3]);
    major = gss_import_name(&minor, &name, GSS_C_NT_HOSTBASED_SERVICE, &target);
    if (GSS_ERROR(major))
        return 1;
    major = gss_init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &ctx, target,
                                 strcmp(argv[1], "spnego") == 0 ? &spnego_oid
                                                                : (gss_OID)gss_mech_krb5,
                                 strcmp(argv[2], "mutual") == 0 ? GSS_C_MUTUAL_FLAG : 0, 0,
                                 GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, &out,
                                 &ret_flags, NULL);
    if (GSS_ERROR(major)) {
        fprintf(stderr, "gss_init_sec_context failed: major %u minor %d\n", major, (int)minor);
        return 1;
    }
    f = fopen(argv[4], "wb");
    if (f == NULL || fwrite(out.value, 1, out.length, f) != out.length || fclose(f) != 0)
        return 1;
    gss_release_buffer(&minor, &out);
    gss_delete_sec_context(&minor, &ctx, GSS_C_NO_BUFFER);
    gss_release_name(&minor, &target);
    return 0;
}
