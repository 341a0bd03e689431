/*
 * NAME
 *   fault_layer_reply - a raw GSSAPI client that completes a real Kerberos
 *   context with our server plugin, then sends a hand-made (hostile)
 *   security-layer reply, wrapped with the real context
 *
 * SYNOPSIS
 *   fault_layer_reply --plugin-dir DIR --config MAILSSO_CONF --log FILE
 *       --service imap --host mail.example.test [--min-ssf N] CASE
 *
 *   CASE: nul-authzid    authzid "alice\0bob" (a NUL inside)
 *         nul-only       authzid "\0"
 *         other-user     authzid "bob" (control: an ordinary mismatch)
 *         short          a 2-byte reply (shorter than the 4-byte header)
 *         bad-layer      layer mask 0x80 (nothing we offer)
 *         none-layer     layer "none" (with --min-ssf > 0 the server does not offer it)
 *         huge-maxbuf    maxbuf 0xffffff with layer "none"
 *         unwrapped      the 4-byte reply sent in the clear (not gss_wrap'ed)
 *         self           authzid "alice" (control: must succeed)
 *
 * DESCRIPTION
 *   The server side is libsasl2 with only our plugin (like
 *   plugin_sasl_driver); the client side is plain GSS-API with the caller's
 *   Kerberos credentials ($KRB5CCNAME), so the reply can hold bytes the
 *   stock Cyrus client never sends. Prints "RESULT ok user=U" or
 *   "RESULT fail code=N". --min-ssf sets the server's minimum SSF (so that
 *   only integrity/confidentiality are offered). Exit 0 when the outcome
 *   matches CASE (ok only for "self"), 1 when it does not, 2 on harness
 *   errors.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <sasl/sasl.h>

#define CB(f) ((int (*)(void))(void (*)(void))(f))

static const char *plugin_dir, *config, *log_path, *service = "imap",
                  *host = "mail.example.test";
static unsigned min_ssf;

static int
cb_getpath(void *ctx, const char **path)
{
    *path = ctx;
    return SASL_OK;
}

static int
cb_getconfpath(void *ctx, char **path)
{
    *path = ctx;
    return SASL_OK;
}

static int
cb_getopt(void *ctx, const char *plugin, const char *option, const char **result, unsigned *len)
{
    (void)ctx;
    (void)plugin;
    if (strcmp(option, "mailsso_config") != 0 || config == NULL)
        return SASL_FAIL;
    *result = config;
    if (len != NULL)
        *len = (unsigned)strlen(config);
    return SASL_OK;
}

static int
cb_log(void *ctx, int level, const char *message)
{
    FILE *f = log_path ? fopen(log_path, "a") : NULL;
    (void)ctx;
    fprintf(f ? f : stderr, "%d: %s\n", level, message);
    if (f)
        fclose(f);
    return SASL_OK;
}

static void
gss_say(const char *what, OM_uint32 maj, OM_uint32 min)
{
    OM_uint32 m, ctx = 0;
    gss_buffer_desc b;
    fprintf(stderr, "%s:", what);
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
    char confdir[] = "/nonexistent-mailsso-sasl-conf";
    sasl_callback_t cbs[5];
    sasl_conn_t *conn = NULL;
    gss_ctx_id_t gctx = GSS_C_NO_CONTEXT;
    gss_name_t target = GSS_C_NO_NAME;
    gss_buffer_desc in = GSS_C_EMPTY_BUFFER, out = GSS_C_EMPTY_BUFFER, name, plain, wrapped;
    OM_uint32 maj, min, flags = 0;
    const char *sout = NULL, *kase = NULL;
    unsigned soutlen = 0;
    char hb[512], reply[64];
    size_t rlen = 0;
    int r, expect_ok, conf_state;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--plugin-dir") == 0 && i + 1 < argc) plugin_dir = argv[++i];
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config = argv[++i];
        else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) log_path = argv[++i];
        else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc) service = argv[++i];
        else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) host = argv[++i];
        else if (strcmp(argv[i], "--min-ssf") == 0 && i + 1 < argc) min_ssf = (unsigned)atoi(argv[++i]);
        else kase = argv[i];
    }
    if (plugin_dir == NULL || kase == NULL) {
        fprintf(stderr, "usage: fault_layer_reply --plugin-dir DIR [--config F] [--log F] CASE\n");
        return 2;
    }
    expect_ok = strcmp(kase, "self") == 0;
    cbs[0] = (sasl_callback_t){ SASL_CB_GETPATH, CB(cb_getpath), (void *)plugin_dir };
    cbs[1] = (sasl_callback_t){ SASL_CB_GETCONFPATH, CB(cb_getconfpath), confdir };
    cbs[2] = (sasl_callback_t){ SASL_CB_GETOPT, CB(cb_getopt), NULL };
    cbs[3] = (sasl_callback_t){ SASL_CB_LOG, CB(cb_log), NULL };
    cbs[4] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
    if (sasl_server_init(cbs, "mailsso-test") != SASL_OK ||
        sasl_server_new(service, host, NULL, "127.0.0.1;143", "127.0.0.1;40003", NULL, 0,
                        &conn) != SASL_OK) {
        fprintf(stderr, "sasl server set-up failed\n");
        return 2;
    }
    {
        sasl_security_properties_t sp;
        memset(&sp, 0, sizeof(sp));
        sp.min_ssf = min_ssf;
        sp.max_ssf = 256;
        sp.maxbufsize = 65536;
        sasl_setprop(conn, SASL_SEC_PROPS, &sp);
    }
    snprintf(hb, sizeof(hb), "%s@%s", service, host);
    name.value = hb;
    name.length = strlen(hb);
    maj = gss_import_name(&min, &name, GSS_C_NT_HOSTBASED_SERVICE, &target);
    if (GSS_ERROR(maj)) {
        gss_say("gss_import_name", maj, min);
        return 2;
    }
    /* the context: client tokens to the server until both are complete */
    r = SASL_CONTINUE;
    for (int round = 0; round < 5; round++) {
        maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &gctx, target,
                                   (gss_OID)gss_mech_krb5,
                                   GSS_C_MUTUAL_FLAG | GSS_C_INTEG_FLAG | GSS_C_CONF_FLAG, 0,
                                   GSS_C_NO_CHANNEL_BINDINGS, round ? &in : GSS_C_NO_BUFFER, NULL,
                                   &out, &flags, NULL);
        if (GSS_ERROR(maj)) {
            gss_say("gss_init_sec_context", maj, min);
            return 2;
        }
        if (round == 0)
            r = sasl_server_start(conn, "GSSAPI", out.value, (unsigned)out.length, &sout, &soutlen);
        else if (out.length > 0 || !(maj & GSS_S_CONTINUE_NEEDED))
            r = sasl_server_step(conn, out.value, (unsigned)out.length, &sout, &soutlen);
        gss_release_buffer(&min, &out);
        if (r != SASL_CONTINUE) {
            printf("RESULT fail code=%d (during the context: %s)\n", r, sasl_errdetail(conn));
            return 2;
        }
        if (!(maj & GSS_S_CONTINUE_NEEDED))
            break;
        in.value = (void *)sout;
        in.length = soutlen;
    }
    /* sout is now the server's wrapped 4-byte offer (RFC 4752 3.1) */
    if (soutlen == 0) {
        /* the server sent the AP-REP last; an empty token asks for the offer */
        r = sasl_server_step(conn, "", 0, &sout, &soutlen);
        if (r != SASL_CONTINUE) {
            printf("RESULT fail code=%d (no offer: %s)\n", r, sasl_errdetail(conn));
            return 2;
        }
    }
    in.value = (void *)sout;
    in.length = soutlen;
    maj = gss_unwrap(&min, gctx, &in, &plain, NULL, NULL);
    if (GSS_ERROR(maj) || plain.length != 4) {
        gss_say("gss_unwrap of the server's offer", maj, min);
        return 2;
    }
    fprintf(stderr, "offer: layers 0x%02x maxbuf %u\n", ((unsigned char *)plain.value)[0],
            (unsigned)(((unsigned char *)plain.value)[1] << 16 |
                       ((unsigned char *)plain.value)[2] << 8 |
                       ((unsigned char *)plain.value)[3]));
    gss_release_buffer(&min, &plain);

    memcpy(reply, "\x01\x00\x00\x00", 4);               /* layer "none", maxbuf 0 */
    rlen = 4;
    if (strcmp(kase, "nul-authzid") == 0) {
        memcpy(reply + 4, "alice\0bob", 9);
        rlen += 9;
    } else if (strcmp(kase, "nul-only") == 0) {
        reply[4] = '\0';
        rlen += 1;
    } else if (strcmp(kase, "other-user") == 0) {
        memcpy(reply + 4, "bob", 3);
        rlen += 3;
    } else if (strcmp(kase, "short") == 0) {
        rlen = 2;
    } else if (strcmp(kase, "bad-layer") == 0) {
        reply[0] = (char)0x80;
    } else if (strcmp(kase, "none-layer") == 0) {
        /* reply[0] is already 0x01 */
    } else if (strcmp(kase, "huge-maxbuf") == 0) {
        memcpy(reply, "\x01\xff\xff\xff", 4);
    } else if (strcmp(kase, "self") == 0) {
        memcpy(reply + 4, "alice", 5);
        rlen += 5;
    } else if (strcmp(kase, "unwrapped") != 0) {
        fprintf(stderr, "unknown case %s\n", kase);
        return 2;
    }
    if (strcmp(kase, "unwrapped") == 0) {
        r = sasl_server_step(conn, reply, (unsigned)rlen, &sout, &soutlen);
    } else {
        plain.value = reply;
        plain.length = rlen;
        maj = gss_wrap(&min, gctx, 0, GSS_C_QOP_DEFAULT, &plain, &conf_state, &wrapped);
        if (GSS_ERROR(maj)) {
            gss_say("gss_wrap", maj, min);
            return 2;
        }
        r = sasl_server_step(conn, wrapped.value, (unsigned)wrapped.length, &sout, &soutlen);
        gss_release_buffer(&min, &wrapped);
    }
    if (r == SASL_OK) {
        const char *user = NULL;
        sasl_getprop(conn, SASL_USERNAME, (const void **)&user);
        printf("RESULT ok user=%s\n", user ? user : "?");
    } else {
        printf("RESULT fail code=%d detail=%s\n", r, sasl_errdetail(conn));
    }
    sasl_dispose(&conn);
    gss_delete_sec_context(&min, &gctx, GSS_C_NO_BUFFER);
    gss_release_name(&min, &target);
    sasl_server_done();
    return (r == SASL_OK) == expect_ok ? 0 : 1;
}
