/*
 * NAME
 *   keytab_accept - accept a real Kerberos ticket with a keytab written by lib/keytab
 *
 * SYNOPSIS
 *   keytab_accept [--flip-keys] IN_KEYTAB OUT_KEYTAB SERVICE [EXPECTED_CLIENT]
 *
 * DESCRIPTION
 *   Reads IN_KEYTAB with mailsso_keytab_read() and writes every entry to the
 *   new file OUT_KEYTAB with mailsso_keytab_write(). Then, in one process:
 *   acquires acceptor credentials for SERVICE (a principal name such as
 *   HTTP/mail.example.test@EXAMPLE.TEST) from OUT_KEYTAB only
 *   (gss_acquire_cred_from, cred store "keytab"), gets a service ticket for
 *   SERVICE as the user in the default ccache ($KRB5CCNAME) with
 *   gss_init_sec_context, accepts it with gss_accept_sec_context (mutual
 *   authentication, so the reply goes back to the initiator) and prints
 *   "initiator: NAME". --flip-keys corrupts every key before writing (the
 *   negative case: the acceptor must then fail).
 *
 * DIAGNOSTICS
 *   Exit 0 only if the context completed on both sides and the initiator is
 *   EXPECTED_CLIENT (default alice@EXAMPLE.TEST); 1 on any failure, with the
 *   GSS or mailsso error on stderr; 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include <mailsso/error.h>
#include <mailsso/keytab.h>

#define PROG "keytab_accept"

static void gss_report(const char *what, OM_uint32 major, OM_uint32 minor)
{
    OM_uint32 maj2, min2, ctx = 0;
    gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;

    fprintf(stderr, PROG ": %s failed:", what);
    do {
        maj2 = gss_display_status(&min2, major, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &msg);
        if (GSS_ERROR(maj2))
            break;
        fprintf(stderr, " %.*s;", (int)msg.length, (const char *)msg.value);
        gss_release_buffer(&min2, &msg);
    } while (ctx != 0);
    if (minor != 0) {
        ctx = 0;
        do {
            maj2 = gss_display_status(&min2, minor, GSS_C_MECH_CODE, (gss_OID)gss_mech_krb5,
                                      &ctx, &msg);
            if (GSS_ERROR(maj2))
                break;
            fprintf(stderr, " %.*s;", (int)msg.length, (const char *)msg.value);
            gss_release_buffer(&min2, &msg);
        } while (ctx != 0);
    }
    fputc('\n', stderr);
}

/* Copy in -> out through lib/keytab; flip corrupts every key first. */
static int copy_keytab(const char *in, const char *out, int flip)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab_write_options opts = MAILSSO_KEYTAB_WRITE_OPTIONS_INIT;
    mailsso_keytab *kt = NULL;
    int ret = -1;

    if (mailsso_keytab_read(in, &kt, &err) != 0) {
        fprintf(stderr, PROG ": reading %s: %s%s%s\n", in, err.message,
                err.fix[0] ? "; fix: " : "", err.fix);
        goto cleanup;
    }
    if (kt->n_entries == 0) {
        fprintf(stderr, PROG ": %s holds no entries (expected the service's keys)\n", in);
        goto cleanup;
    }
    if (flip) {
        for (size_t i = 0; i < kt->n_entries; i++) {
            for (size_t j = 0; j < kt->entries[i].key_len; j++)
                kt->entries[i].key[j] ^= 0x5a;
        }
    }
    opts.mode = 0600;
    if (mailsso_keytab_write(out, kt, &opts, &err) != 0) {
        fprintf(stderr, PROG ": writing %s: %s%s%s\n", out, err.message,
                err.fix[0] ? "; fix: " : "", err.fix);
        goto cleanup;
    }
    printf("copied %zu entries from %s to %s%s\n", kt->n_entries, in, out,
           flip ? " (keys corrupted)" : "");
    ret = 0;

cleanup:
    mailsso_keytab_free(kt);
    return ret;
}

static int import_principal(const char *text, gss_name_t *name_out)
{
    OM_uint32 major, minor;
    gss_buffer_desc buf;
    gss_name_t name = GSS_C_NO_NAME;

    buf.value = (void *)text;
    buf.length = strlen(text);
    major = gss_import_name(&minor, &buf, (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME, &name);
    if (GSS_ERROR(major)) {
        gss_report("gss_import_name", major, minor);
        return -1;
    }
    *name_out = name;
    return 0;
}

/* Runs the krb5 context between initiator (default ccache) and acceptor
 * (OUT keytab); *client_out gets the initiator's display name. */
static int handshake(const char *keytab, const char *service, char **client_out)
{
    OM_uint32 major, minor, imaj = GSS_S_CONTINUE_NEEDED, amaj = GSS_S_CONTINUE_NEEDED;
    gss_name_t target = GSS_C_NO_NAME, src = GSS_C_NO_NAME;
    gss_cred_id_t acred = GSS_C_NO_CREDENTIAL;
    gss_ctx_id_t ictx = GSS_C_NO_CONTEXT, actx = GSS_C_NO_CONTEXT;
    gss_buffer_desc itok = GSS_C_EMPTY_BUFFER, atok = GSS_C_EMPTY_BUFFER;
    gss_buffer_desc shown = GSS_C_EMPTY_BUFFER;
    gss_OID_set_desc mechs = { 1, (gss_OID)gss_mech_krb5 };
    gss_key_value_element_desc elem = { "keytab", keytab };
    gss_key_value_set_desc store = { 1, &elem };
    char *client = NULL;
    int ret = -1, round;

    if (import_principal(service, &target) != 0)
        goto cleanup;
    major = gss_acquire_cred_from(&minor, target, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT,
                                  &store, &acred, NULL, NULL);
    if (GSS_ERROR(major)) {
        gss_report("gss_acquire_cred_from (acceptor, keytab)", major, minor);
        goto cleanup;
    }
    for (round = 0; round < 4; round++) {
        /* initiator step: first call or consume the acceptor's reply */
        if (imaj == GSS_S_CONTINUE_NEEDED) {
            gss_release_buffer(&minor, &itok);
            imaj = gss_init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &ictx, target,
                                        (gss_OID)gss_mech_krb5, GSS_C_MUTUAL_FLAG, 0,
                                        GSS_C_NO_CHANNEL_BINDINGS, &atok, NULL, &itok, NULL,
                                        NULL);
            if (GSS_ERROR(imaj)) {
                gss_report("gss_init_sec_context (initiator, default ccache)", imaj, minor);
                goto cleanup;
            }
        }
        gss_release_buffer(&minor, &atok);
        if (itok.length == 0)
            break;
        if (amaj != GSS_S_CONTINUE_NEEDED) {
            fprintf(stderr, PROG ": initiator sent a token after the acceptor completed\n");
            goto cleanup;
        }
        amaj = gss_accept_sec_context(&minor, &actx, acred, &itok, GSS_C_NO_CHANNEL_BINDINGS,
                                      &src, NULL, &atok, NULL, NULL, NULL);
        if (GSS_ERROR(amaj)) {
            gss_report("gss_accept_sec_context (acceptor, written keytab)", amaj, minor);
            goto cleanup;
        }
        if (atok.length == 0)
            break;
    }
    if (amaj != GSS_S_COMPLETE || imaj != GSS_S_COMPLETE) {
        fprintf(stderr, PROG ": context not complete (initiator 0x%x, acceptor 0x%x)\n",
                (unsigned)imaj, (unsigned)amaj);
        goto cleanup;
    }
    major = gss_display_name(&minor, src, &shown, NULL);
    if (GSS_ERROR(major)) {
        gss_report("gss_display_name", major, minor);
        goto cleanup;
    }
    client = strndup(shown.value, shown.length);
    if (client == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        goto cleanup;
    }
    *client_out = client;
    client = NULL;
    ret = 0;

cleanup:
    free(client);
    gss_release_buffer(&minor, &shown);
    gss_release_buffer(&minor, &itok);
    gss_release_buffer(&minor, &atok);
    gss_delete_sec_context(&minor, &ictx, GSS_C_NO_BUFFER);
    gss_delete_sec_context(&minor, &actx, GSS_C_NO_BUFFER);
    gss_release_cred(&minor, &acred);
    gss_release_name(&minor, &src);
    gss_release_name(&minor, &target);
    return ret;
}

int main(int argc, char **argv)
{
    const char *expected = "alice@EXAMPLE.TEST";
    char *client = NULL;
    int flip = 0, ret = 1, a = 1;

    if (argc > 1 && strcmp(argv[1], "--flip-keys") == 0) {
        flip = 1;
        a++;
    }
    if (argc - a < 3 || argc - a > 4) {
        fprintf(stderr, "usage: " PROG " [--flip-keys] IN_KEYTAB OUT_KEYTAB SERVICE "
                        "[EXPECTED_CLIENT]\n");
        return 2;
    }
    if (argc - a == 4)
        expected = argv[a + 3];
    if (copy_keytab(argv[a], argv[a + 1], flip) != 0)
        goto cleanup;
    if (handshake(argv[a + 1], argv[a + 2], &client) != 0)
        goto cleanup;
    printf("initiator: %s\n", client);
    if (strcmp(client, expected) != 0) {
        fprintf(stderr, PROG ": expected initiator %s, got %s\n", expected, client);
        goto cleanup;
    }
    ret = 0;

cleanup:
    free(client);
    return ret;
}
