/*
 * NAME
 *   add_random.c - mailsso-keytab add --random: new random keys via kadmin
 *
 * DESCRIPTION
 *   For an MIT realm whose kadmind is reachable: authenticates as an admin
 *   principal (password or keytab), has kadmind give the service principal
 *   new random keys (kadm5_randkey_principal_3, like kadmin ktadd), reads
 *   the new kvno and stores the keys through the atomic writer. The
 *   principal's keys change at the KDC, so every other keytab of it becomes
 *   stale. --dry-run authenticates and reads the principal, changes nothing.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kadm5/admin.h>
#include <kdb.h>

#include <mailsso/util.h>

#include "ktool.h"

static int
kadm_error(krb5_context ctx, kadm5_ret_t code, mailsso_error *err, const char *what)
{
    const char *msg = krb5_get_error_message(ctx, (krb5_error_code)code);

    mailsso_error_set(err, MAILSSO_E_KRB5, "%s: %s", what, msg ? msg : "unknown kadmin error");
    krb5_free_error_message(ctx, msg);
    return MAILSSO_E_KRB5;
}

int
ktool_add_random(const ktool_random_opts *o, mailsso_keytab *kt, mailsso_error *err)
{
    krb5_context ctx = NULL;
    krb5_principal princ = NULL;
    kadm5_config_params params;
    kadm5_principal_ent_rec ent;
    krb5_key_salt_tuple *ks = NULL;
    krb5_keyblock *keys = NULL;
    void *handle = NULL;
    char *pw = NULL, *realm = NULL, what[600], prompt[600];
    int n_keys = 0, i, rc = 0, have_ent = 0;
    kadm5_ret_t code;
    uint32_t now = (uint32_t)time(NULL);

    memset(&params, 0, sizeof(params));
    memset(&ent, 0, sizeof(ent));
    if (kadm5_init_krb5_context(&ctx) != 0)
        return mailsso_error_set(err, MAILSSO_E_KRB5, "cannot initialise Kerberos");
    code = krb5_parse_name(ctx, o->principal, &princ);
    if (code != 0) {
        ktool_fmt(what, sizeof(what), "principal '%s' does not parse", o->principal);
        rc = ktool_krb5_error(ctx, (krb5_error_code)code, err, what);
        goto cleanup;
    }
    realm = strndup(princ->realm.data, princ->realm.length);
    if (realm == NULL) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
        goto cleanup;
    }
    params.mask = KADM5_CONFIG_REALM;
    params.realm = realm;
    if (o->admin_keytab != NULL) {
        code = kadm5_init_with_skey(ctx, (char *)o->admin, (char *)o->admin_keytab,
                                    (char *)KADM5_ADMIN_SERVICE, &params, KADM5_STRUCT_VERSION,
                                    KADM5_API_VERSION_4, NULL, &handle);
    } else {
        ktool_fmt(prompt, sizeof(prompt), "Password for %s: ", o->admin);
        rc = ktool_read_password(o->admin_password_file, prompt, 0, &pw, err);
        if (rc != 0)
            goto cleanup;
        code = kadm5_init_with_password(ctx, (char *)o->admin, pw, (char *)KADM5_ADMIN_SERVICE,
                                        &params, KADM5_STRUCT_VERSION, KADM5_API_VERSION_4, NULL,
                                        &handle);
    }
    if (code != 0) {
        ktool_fmt(what, sizeof(what), "cannot connect to kadmind of %s as %s", realm, o->admin);
        rc = kadm_error(ctx, code, err, what);
        mailsso_error_set_fix(err, "check admin_server in krb5.conf, the admin principal and its "
                                   "password/keytab, and kadm5.acl (it needs the 'c' and 'i' "
                                   "rights on %s)", o->principal);
        goto cleanup;
    }
    code = kadm5_get_principal(handle, princ, &ent, KADM5_KVNO | KADM5_PRINCIPAL);
    if (code != 0) {
        ktool_fmt(what, sizeof(what), "kadmind cannot read %s", o->principal);
        rc = kadm_error(ctx, code, err, what);
        goto cleanup;
    }
    have_ent = 1;
    if (o->dry_run) {
        printf("dry run: would give %s new random keys at the KDC (kvno %u -> %u); every other "
               "keytab of it would become stale\n", o->principal, (unsigned)ent.kvno,
               (unsigned)ent.kvno + 1);
        goto cleanup;
    }
    kadm5_free_principal_ent(handle, &ent);
    have_ent = 0;
    ks = calloc(o->n_enctypes, sizeof(*ks));
    if (ks == NULL) {
        rc = mailsso_error_set(err, MAILSSO_E_NOMEM, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < (int)o->n_enctypes; i++) {
        ks[i].ks_enctype = o->enctypes[i];
        ks[i].ks_salttype = KRB5_KDB_SALTTYPE_NORMAL;
    }
    code = kadm5_randkey_principal_3(handle, princ, FALSE, (int)o->n_enctypes, ks, &keys,
                                     &n_keys);
    if (code != 0) {
        ktool_fmt(what, sizeof(what), "kadmind refused new random keys for %s", o->principal);
        rc = kadm_error(ctx, code, err, what);
        goto cleanup;
    }
    code = kadm5_get_principal(handle, princ, &ent, KADM5_KVNO);
    if (code != 0) {
        ktool_fmt(what, sizeof(what), "kadmind cannot read the new kvno of %s", o->principal);
        rc = kadm_error(ctx, code, err, what);
        goto cleanup;
    }
    have_ent = 1;
    for (i = 0; i < n_keys; i++) {
        mailsso_keytab_entry e;
        char eb[64];

        memset(&e, 0, sizeof(e));
        rc = mailsso_keytab_entry_init(&e, o->principal, ent.kvno, keys[i].enctype, now,
                                       keys[i].contents, keys[i].length, err);
        if (rc == 0)
            rc = mailsso_keytab_add(kt, &e, err);
        mailsso_keytab_entry_clear(&e);
        if (rc != 0)
            goto cleanup;
        printf("adding %s kvno %u %s (random key from kadmind)\n", o->principal,
               (unsigned)ent.kvno, ktool_enctype_str(keys[i].enctype, eb, sizeof(eb)));
    }
cleanup:
    if (keys != NULL) {
        for (i = 0; i < n_keys; i++)
            krb5_free_keyblock_contents(ctx, &keys[i]);
        free(keys);
    }
    if (have_ent)
        kadm5_free_principal_ent(handle, &ent);
    if (handle != NULL)
        kadm5_destroy(handle);
    free(ks);
    free(realm);
    ktool_password_free(pw);
    krb5_free_principal(ctx, princ);
    krb5_free_context(ctx);
    return rc;
}
