/*
 * NAME
 *   plugin.h - internals of the mailsso Cyrus SASL GSSAPI server plugin
 *
 * DESCRIPTION
 *   The plugin is Cyrus SASL glue only; policy lives in lib/.
 *     plugin.c    entry point, mechanism table, global state, start-up self-check
 *     service.c   per-service settings and the cached acceptor credential
 *     step.c      the RFC 4752 GSSAPI and GSS-SPNEGO server steps
 *     layer.c     the security layer (wrap/unwrap with length framing)
 *     explain.c   the one-line diagnosis of a failed login
 *
 *   Global state (struct msp_global) is created in sasl_server_plug_init()
 *   and freed by mech_free. It is guarded by one pthread mutex; the
 *   credential handed to a connection is reference counted so a rotation
 *   never frees a credential another thread is using.
 */
#ifndef MAILSSO_PLUGIN_H
#define MAILSSO_PLUGIN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <gssapi/gssapi.h>
#include <krb5/krb5.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include <mailsso/apreq.h>
#include <mailsso/config.h>
#include <mailsso/diag.h>
#include <mailsso/enctype.h>
#include <mailsso/error.h>
#include <mailsso/identity.h>

#define MSP_LOG_PREFIX "mailsso"
#define MSP_MAX_SSF 256

/* Fingerprint of a keytab file: a change means "re-acquire". */
typedef struct msp_ktstamp {
    int valid;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} msp_ktstamp;

/* A reference-counted acceptor credential, with the principals its keytab
 * held when it was acquired (see msp_cred_covers()). */
typedef struct msp_cred {
    gss_cred_id_t cred;
    unsigned refs;          /* guarded by the global mutex */
    msp_ktstamp stamp;      /* keytab stamp taken before the principals were read */
    char **principals;      /* distinct principals with a key; NULL: not known */
    size_t n_principals;
    gss_cred_id_t *named;   /* [n_principals]: credential for that principal only, or
                             * GSS_C_NO_CREDENTIAL until first needed (lock) */
    char *covers_fqdn;      /* cache of msp_cred_covers() for one server FQDN (lock) */
    int covers;
} msp_cred;

typedef struct msp_realm_policy {
    char *realm;
    mailsso_enctype_policy *policy;
    char text[256];
} msp_realm_policy;

typedef struct msp_service {
    char *name;                      /* "imap" */
    char *keytab;                    /* as given, maybe "FILE:/path" */
    const char *keytab_path;         /* points into keytab after "FILE:" / "WRFILE:", or NULL */
    const char *keytab_origin;       /* where the name came from (for log lines) */
    char **accept;                   /* accept_names patterns; n_accept == 0: host-based */
    size_t n_accept;
    char *hostname;                  /* "hostname" key, else the SASL serverFQDN */
    char *rcache;                    /* "replay_cache" key, or NULL */
    int warn_rc4;
    mailsso_enctype_policy *policy;
    char policy_text[256];
    msp_realm_policy *realm_policies; /* realm_enctypes */
    size_t n_realm_policies;
    mailsso_identity_rules *rules;
    mailsso_error setup_err;         /* code != 0: the service cannot log anyone in */
    msp_cred *cred;                  /* current credential, or NULL */
    msp_ktstamp stamp;               /* keytab stamp when cred was acquired */
    struct msp_service *next;
} msp_service;

typedef struct msp_global {
    pthread_mutex_t lock;
    mailsso_config *cfg;             /* never NULL after init */
    const char *cfg_origin;          /* "path" or "built-in defaults" */
    mailsso_error cfg_err;           /* a config file that failed to load */
    char *sasl_keytab;               /* stock-compatible SASL option keytab: */
    char *default_realm;
    msp_service *services;
    int audit_level;                 /* SASL_LOG_* for the audit line, -1: none */
    char *selfcheck;                 /* start-up problems, re-logged on the first connection */
    char *summary;                   /* "plugin ready" line, likewise */
    int selfcheck_logged;
    /* Held only so that MIT keeps krb5.conf parsed: its GSS library creates
     * a krb5_context inside accept, display_name, inquire and release_name
     * and re-reads krb5.conf whenever no other context is alive (the parsed
     * profile is shared between live contexts and still re-read when the
     * file changes). Created in sasl_server_plug_init, freed in mech_free;
     * never used for anything else, so threads never share it. NULL if
     * krb5_init_context failed (logins then only cost more). */
    krb5_context profile_hold;
} msp_global;

enum { MSP_AUTHNEG = 1, MSP_SSFCAP, MSP_SSFREQ, MSP_DONE, MSP_FAILED };
#define MSP_LAYER_NONE 1
#define MSP_LAYER_INTEGRITY 2
#define MSP_LAYER_CONFIDENTIALITY 4

/* One authentication exchange (and afterwards its security layer). */
typedef struct msp_conn {
    int state;
    int spnego;                      /* mechanism GSS-SPNEGO */
    msp_global *g;
    const sasl_utils_t *utils;
    msp_service *svc;
    msp_cred *cred;
    gss_cred_id_t acc_cred;          /* cred->cred, or a msp_cred_named() one (owned by cred) */
    int named_target;                /* acc_cred is for exactly apreq.server */
    gss_ctx_id_t ctx;
    gss_name_t client_name;
    OM_uint32 ret_flags;
    mailsso_apreq_info apreq;
    int have_apreq;
    char apreq_err[256];
    unsigned char *token;            /* the client's first token (for diagnosis) */
    size_t token_len;
    char *principal;                 /* authenticated principal, display form */
    char plog[MAILSSO_APREQ_NAME_MAX]; /* the same, sanitised for log lines */
    char *mailbox;                   /* mapped name */
    char target[MAILSSO_APREQ_NAME_MAX]; /* the ticket's server principal: from the context
                                          * (MIT: the keytab principal whose key decrypted
                                          * it), proven by a msp_cred_named() credential, or,
                                          * when msp_cred_covers(), a keytab principal
                                          * (step.c covered_target) */
    int32_t ticket_etype;
    int32_t session_etype;
    unsigned char offered;           /* layers offered in SSFCAP */
    sasl_ssf_t conf_ssf;             /* SSF of the confidentiality layer */
    unsigned char *out;              /* output of the last step */
    /* security layer */
    int layer;                       /* MSP_LAYER_* chosen */
    unsigned recv_max;               /* largest packet we accept */
    unsigned char *enc_buf;
    size_t enc_cap;
    unsigned char *dec_out;
    size_t dec_cap, dec_len;
    unsigned char lenbuf[4];
    size_t len_have;
    unsigned char *pkt;
    size_t pkt_len, pkt_have;
} msp_conn;

/* layer.c */
int msp_layer_encode(void *context, const struct iovec *invec, unsigned numiov,
                     const char **output, unsigned *outputlen);
int msp_layer_decode(void *context, const char *input, unsigned inputlen, const char **output,
                     unsigned *outputlen);
void msp_layer_free(msp_conn *c);

/* step.c */
int msp_mech_new(void *glob_context, sasl_server_params_t *sparams, const char *challenge,
                 unsigned challen, void **conn_context);
int msp_mech_step(void *conn_context, sasl_server_params_t *sparams, const char *clientin,
                  unsigned clientinlen, const char **serverout, unsigned *serveroutlen,
                  sasl_out_params_t *oparams);
void msp_mech_dispose(void *conn_context, const sasl_utils_t *utils);

/* plugin.c */
msp_global *msp_global_of(void *glob_context, int *spnego_out);
void msp_selfcheck_relog(msp_global *g, const sasl_utils_t *utils);
void msp_log(const sasl_utils_t *utils, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* service.c */
int msp_service_get(msp_global *g, const sasl_utils_t *utils, const char *name,
                    msp_service **svc_out);
/* Returns the current credential (refs + 1), re-acquiring it when the
 * keytab changed. On failure fills err/diag and returns non-zero. */
int msp_cred_get(msp_global *g, msp_service *svc, const sasl_utils_t *utils, msp_cred **cred_out,
                 mailsso_error *err, mailsso_diag *diag);
void msp_cred_put(msp_global *g, msp_cred *cred);
/* 1 if every principal with a key in cred's keytab is accepted for svc on
 * host fqdn and the keytab file is still the one cred was acquired from:
 * then any ticket MIT accepted with cred is for an accepted name and the
 * per-login target-name check can be skipped. 0: do the check. */
int msp_cred_covers(msp_global *g, const msp_service *svc, msp_cred *cred, const char *fqdn);
/* 1 and *gcred_out (owned by cred: valid while the caller holds cred) if
 * principal is in cred's keytab and accepted for svc on host fqdn: a
 * credential whose accept only succeeds for tickets really for principal
 * (it only tries that principal's keys). 0: use cred->cred and check. */
int msp_cred_named(msp_global *g, msp_service *svc, msp_cred *cred, const char *principal,
                   const char *fqdn, gss_cred_id_t *gcred_out);
void msp_services_free(msp_global *g);
/* 1 if principal (display form) is accepted for svc on host fqdn. */
int msp_accept_name_ok(const msp_service *svc, const char *fqdn, const char *principal);
/* The enctype policy for a client principal (realm_enctypes, else enctypes). */
const mailsso_enctype_policy *msp_policy_for(const msp_service *svc, const char *principal,
                                             const char **text_out);
/* Human form of the accepted names, into buf. */
const char *msp_accept_describe(const msp_service *svc, const char *fqdn, char *buf, size_t size);
/* Strips FILE:/WRFILE:; NULL for keytab types that are not files. */
const char *msp_keytab_file(const char *name);
int msp_ktstamp_read(const char *path, msp_ktstamp *st, int *errno_out);
int msp_readable(const char *path);
char *msp_selfcheck_service(msp_global *g, msp_service *svc);

/* explain.c */
typedef struct msp_failure {
    const char *mech;                 /* "GSSAPI" */
    const char *service;
    const char *keytab;               /* file path or name, may be NULL */
    const mailsso_apreq_info *apreq;  /* NULL if the token did not parse */
    const char *apreq_error;          /* why it did not parse */
    const char *client;               /* authenticated principal, if known */
    const char *stage;                /* "accept", "enctype policy", "identity", ... */
    int have_gss;
    OM_uint32 major, minor;
    const char *cause;                /* our own cause, overrides the GSS one */
    const char *fix;
    const char *ipremote;
    const msp_service *svc;           /* for the enctype policy, may be NULL */
    const void *token;                /* the client's first token, may be NULL */
    size_t token_len;
} msp_failure;

void msp_explain(const sasl_utils_t *utils, const msp_failure *f);
/* Summary of what a keytab holds for principal: "kvno 2: aes256-..., aes128-...; kvno 3: ..."
 * Writes into buf; returns 0, or -1 with a reason in buf. Sets *kvno_found / *etype_found. */
int msp_keytab_summary(const char *path, const char *principal, uint32_t kvno, int32_t enctype,
                       char *buf, size_t size, int *have_principal, int *have_kvno,
                       int *have_enctype, int *errno_out);

#endif
