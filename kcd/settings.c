/*
 * NAME
 *   settings.c - the "kcd" group of mailsso.conf, read once into kcd_settings
 *
 * DESCRIPTION
 *   Every key and its default lives in the schema (lib/config_schema.c);
 *   this file only copies the typed values into one struct and checks what
 *   the schema cannot check alone (combinations, file presence is left to
 *   the modules that open them so the message names the file).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <mailsso/util.h>
#include "kcd.h"

#define S "kcd"

static const char *
str(const mailsso_config *cfg, const char *key)
{
    const char *v = mailsso_config_get_string(cfg, S, key);
    return v ? v : "";
}

int
kcd_settings_load(const char *path, kcd_settings **out, mailsso_error *err)
{
    kcd_settings *s = NULL;
    mailsso_config *cfg = NULL;
    int rc;

    rc = mailsso_config_load_file(path, &cfg, err);
    if (rc != 0)
        return rc;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        mailsso_config_free(cfg);
        return mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory reading %s",
                                 path ? path : MAILSSO_DEFAULT_CONFIG);
    }
    s->cfg = cfg;
    s->config_path = mailsso_config_origin(cfg);

    s->socket_path = str(cfg, "listen");
    s->socket_mode = mailsso_config_get_int(cfg, S, "socket_mode");
    s->socket_group = str(cfg, "socket_group");
    s->n_allowed_peers = mailsso_config_get_list(cfg, S, "allowed_peers", &s->allowed_peers);
    s->user = str(cfg, "user");
    s->threads = mailsso_config_get_int(cfg, S, "workers");
    s->max_request_bytes = mailsso_config_get_int(cfg, S, "max_request_bytes");
    s->max_token_bytes = mailsso_config_get_int(cfg, S, "max_token_bytes");
    s->retry_after = mailsso_config_get_int(cfg, S, "retry_after");
    s->kdc_timeout = mailsso_config_get_int(cfg, S, "kdc_timeout");

    s->keytab = str(cfg, "keytab");
    s->gateway_principal = str(cfg, "principal");
    s->mech = str(cfg, "mechanism");
    s->default_target = str(cfg, "default_target");
    s->n_targets = mailsso_config_get_list(cfg, S, "targets", &s->targets);
    s->n_upn_realms = mailsso_config_get_list(cfg, S, "upn_realms", &s->upn_realms);
    s->n_subject_rules = mailsso_config_get_list(cfg, S, "subject_rules", &s->subject_rules);

    s->trust_anchors = str(cfg, "trust_anchors");
    s->intermediates = str(cfg, "intermediates");
    s->n_eku = mailsso_config_get_list(cfg, S, "require_eku", &s->eku);
    s->n_thumbprint_allow = mailsso_config_get_list(cfg, S, "thumbprints_allow",
                                                    &s->thumbprint_allow);
    s->n_thumbprint_deny = mailsso_config_get_list(cfg, S, "thumbprints_deny",
                                                   &s->thumbprint_deny);

    s->crl_fail_open = strcmp(str(cfg, "crl_fail_mode"), "open") == 0;
    s->n_crl_urls = mailsso_config_get_list(cfg, S, "crl_urls", &s->crl_urls);
    s->crl_required_at_start = mailsso_config_get_bool(cfg, S, "crl_required_at_start");
    s->crl_timeout = mailsso_config_get_int(cfg, S, "crl_timeout");
    s->crl_retry = mailsso_config_get_int(cfg, S, "crl_retry");
    s->crl_refresh = mailsso_config_get_int(cfg, S, "crl_refresh");

    s->cache_size = mailsso_config_get_int(cfg, S, "cache_max_entries");
    s->cache_max_lifetime = mailsso_config_get_int(cfg, S, "cache_max_lifetime");
    s->cache_margin = mailsso_config_get_int(cfg, S, "cache_margin");
    s->negative_ttl = mailsso_config_get_int(cfg, S, "negative_cache_ttl");
    s->verify_cache_ttl = mailsso_config_get_int(cfg, S, "verify_cache_ttl");
    s->log_level = mailsso_config_get_string(cfg, NULL, "log_level");
    if (s->log_level == NULL)
        s->log_level = "";

    /* Combinations the schema cannot see. */
    if (s->n_upn_realms == 0) {
        rc = mailsso_error_set(err, MAILSSO_E_CONFIG,
                               "%s: kcd.upn_realms is empty: no certificate could ever be mapped",
                               s->config_path);
        mailsso_error_set_fix(err, "add e.g. upn_realms = [\"example.com = EXAMPLE.COM\"] "
                              "to the kcd group");
        goto fail;
    }
    for (size_t i = 0; i < s->n_upn_realms; i++) {
        const char *eq = strchr(s->upn_realms[i], '=');
        if (eq == NULL) {
            rc = mailsso_error_set(err, MAILSSO_E_CONFIG,
                                   "%s: kcd.upn_realms item '%s' is not 'suffix = REALM'",
                                   s->config_path, s->upn_realms[i]);
            goto fail;
        }
        for (const char *p = eq + 1; *p; p++) {
            if (*p >= 'a' && *p <= 'z') {
                rc = mailsso_error_set(err, MAILSSO_E_CONFIG,
                                       "%s: kcd.upn_realms item '%s': realm must be upper case",
                                       s->config_path, s->upn_realms[i]);
                mailsso_error_set_fix(err, "Kerberos realms are case sensitive and AD realms "
                                      "are the DNS domain in upper case");
                goto fail;
            }
        }
    }
    if (s->threads < 1 || s->threads > 1024) {
        rc = mailsso_error_set(err, MAILSSO_E_CONFIG, "%s: kcd.workers %lld out of 1..1024",
                               s->config_path, s->threads);
        goto fail;
    }
    *out = s;
    return 0;

fail:
    kcd_settings_free(s);
    return rc;
}

void
kcd_settings_free(kcd_settings *s)
{
    if (s == NULL)
        return;
    mailsso_config_free(s->cfg);
    free(s);
}
