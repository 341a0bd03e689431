/*
 * NAME
 *   rotate.c - mailsso-keytab rotate: new service password via kpasswd
 *
 * DESCRIPTION
 *   Authenticates as the service with the keytab's current key (a ticket
 *   for kadmin/changepw), sets a new random password with the kpasswd
 *   protocol (RFC 3244 change-password, works against AD and MIT kadmind),
 *   derives the new keys for the same enctypes with the account's salt,
 *   adds them as kvno+1 (the kvno the KDC reports), keeps the previous
 *   kvno so tickets already issued keep working, purges older ones, and
 *   writes the keytab atomically. Everything that can fail without a
 *   secret (reading, salt, write permission, the changepw ticket) is
 *   checked before the password changes. --export FILE also writes the
 *   new keys alone, for the other members of a load-balanced array.
 */
#include <config.h>

#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mailsso/util.h>

#include "ktool.h"

static void
help(void)
{
    printf("usage: %s rotate [options] [KEYTAB]\n"
           "Change the service account's password with the kpasswd protocol, using the\n"
           "keytab's current key; add the new keys (kvno+1) and keep the previous kvno so\n"
           "tickets already issued keep working.\n"
           "  -p, --principal P      the principal to rotate (default: the only one)\n"
           "  -e, --enctypes LIST    enctypes of the new keys (default: those of the current kvno)\n"
           "      --salt-type T      mit | ad-user | ad-computer | kdc (default: kdc, i.e. the\n"
           "                         salt the KDC announces, else the MIT default)\n"
           "      --account NAME, --upn UPN, --salt STRING   as for add\n"
           "      --keep N           kvnos to keep per principal after rotation (default 2)\n"
           "      --password-length N  length of the random password (default 32)\n"
           "      --export FILE      also write the new keys alone to FILE (mode 0600), to merge\n"
           "                         into the keytabs of the other servers of an array\n"
           "  -n, --dry-run          check everything (incl. the changepw ticket), change nothing\n"
           "      --mode MODE, --owner USER[:GROUP], --group GROUP   as for merge\n", KTOOL_PROG);
}

static int
changepw_creds(krb5_context ctx, const char *principal, const char *path, krb5_creds *creds_out,
               mailsso_error *err)
{
    krb5_principal princ = NULL;
    krb5_keytab kt = NULL;
    krb5_get_init_creds_opt *opt = NULL;
    char ktname[PATH_MAX + 8], what[600];
    krb5_error_code code;
    int rc = 0;

    snprintf(ktname, sizeof(ktname), "FILE:%s", path);
    code = krb5_parse_name(ctx, principal, &princ);
    if (code == 0)
        code = krb5_kt_resolve(ctx, ktname, &kt);
    if (code == 0)
        code = krb5_get_init_creds_opt_alloc(ctx, &opt);
    if (code == 0) {
        krb5_get_init_creds_opt_set_tkt_life(opt, 300);
        krb5_get_init_creds_opt_set_renew_life(opt, 0);
        krb5_get_init_creds_opt_set_forwardable(opt, 0);
        krb5_get_init_creds_opt_set_proxiable(opt, 0);
        code = krb5_get_init_creds_keytab(ctx, creds_out, princ, kt, 0, "kadmin/changepw", opt);
    }
    if (code != 0) {
        ktool_fmt(what, sizeof(what), "cannot authenticate as %s with the keytab's current key "
                  "to change its password", principal);
        rc = ktool_krb5_error(ctx, code, err, what);
    }
    krb5_get_init_creds_opt_free(ctx, opt);
    if (kt != NULL)
        krb5_kt_close(ctx, kt);
    krb5_free_principal(ctx, princ);
    return rc;
}

int
ktool_cmd_rotate(int argc, char **argv)
{
    static const struct option opts[] = {
        { "principal", required_argument, NULL, 'p' },
        { "enctypes", required_argument, NULL, 'e' },
        { "salt-type", required_argument, NULL, 'T' },
        { "account", required_argument, NULL, 'A' },
        { "upn", required_argument, NULL, 'U' },
        { "salt", required_argument, NULL, 'S' },
        { "keep", required_argument, NULL, 'K' },
        { "password-length", required_argument, NULL, 'L' },
        { "export", required_argument, NULL, 'X' },
        { "dry-run", no_argument, NULL, 'n' },
        { "mode", required_argument, NULL, 'm' },
        { "owner", required_argument, NULL, 'u' },
        { "group", required_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab *kt = NULL, *fresh = NULL;
    ktool_write_opts wo;
    ktool_salt_spec salt = { KTOOL_SALT_KDC, NULL, NULL, NULL };
    krb5_context ctx = NULL;
    krb5_creds creds;
    krb5_data result_code_string = { 0, 0, NULL }, result_string = { 0, 0, NULL };
    const char *principal = NULL, *enc_spec = NULL, *export_path = NULL;
    const char **princs = NULL;
    int32_t *enctypes = NULL;
    size_t n_enctypes = 0, np, i, salt_len = 0;
    char *path = NULL, *pw = NULL, *saltstr = NULL, *dirbuf = NULL, *pdup = NULL;
    uint32_t keep = 2, pwlen = 32, old_kvno, new_kvno;
    int c, rc = KTOOL_EXIT_FAIL, have_creds = 0, result_code = 0, have_salt_type = 0;
    krb5_error_code code;

    memset(&creds, 0, sizeof(creds));
    ktool_write_opts_init(&wo);
    while ((c = getopt_long(argc, argv, "p:e:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': principal = optarg; break;
        case 'e': enc_spec = optarg; break;
        case 'T':
            if (ktool_parse_salt_type(optarg, &salt.type) != 0)
                return ktool_usage_error("rotate", "--salt-type '%s': expected mit, ad-user, "
                                         "ad-computer or kdc", optarg);
            have_salt_type = 1;
            break;
        case 'A': salt.account = optarg; break;
        case 'U': salt.upn = optarg; break;
        case 'S': salt.salt = optarg; break;
        case 'K':
            if (ktool_parse_u32(optarg, &keep) != 0 || keep < 2)
                return ktool_usage_error("rotate", "--keep '%s': expected a number >= 2 (the "
                                         "new and the previous kvno)", optarg);
            break;
        case 'L':
            if (ktool_parse_u32(optarg, &pwlen) != 0 || pwlen < 16 || pwlen > 256)
                return ktool_usage_error("rotate", "--password-length: 16 to 256");
            break;
        case 'X': export_path = optarg; break;
        case 'n': wo.w.dry_run = 1; break;
        case 'm': if (ktool_parse_mode(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'u': if (ktool_parse_owner(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'g': if (ktool_parse_group(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'h': help(); return KTOOL_EXIT_OK;
        default: return ktool_usage_error("rotate", "bad option");
        }
    }
    if (salt.salt != NULL) {
        if (have_salt_type)
            return ktool_usage_error("rotate", "give either --salt-type or --salt, not both");
        salt.type = KTOOL_SALT_EXPLICIT;
    }
    if (argc - optind > 1)
        return ktool_usage_error("rotate", "at most one KEYTAB");
    if (ktool_keytab_path(optind < argc ? argv[optind] : NULL, &path, &err) != 0 ||
        mailsso_keytab_read(path, &kt, &err) != 0)
        goto fail;
    np = ktool_principals(kt, &princs);
    if (principal == NULL) {
        if (np != 1) {
            ktool_errorf("%s holds %zu principals: name the one to rotate with -p", path, np);
            rc = KTOOL_EXIT_USAGE;
            goto cleanup;
        }
        principal = princs[0];
    }
    pdup = strdup(principal);   /* removal frees the entries princs[] points into */
    if (pdup == NULL)
        goto cleanup;
    principal = pdup;
    old_kvno = mailsso_keytab_max_kvno(kt, principal);
    if (old_kvno == 0) {
        mailsso_error_set(&err, MAILSSO_E_NOTFOUND, "%s holds no key for %s", path, principal);
        mailsso_error_set_fix(&err, "rotate needs the principal's current key in the keytab");
        goto fail;
    }
    if (enc_spec != NULL) {
        if (ktool_parse_enctypes(enc_spec, &enctypes, &n_enctypes, &err) != 0)
            goto fail;
    } else {
        enctypes = calloc(kt->n_entries, sizeof(*enctypes));
        if (enctypes == NULL)
            goto cleanup;
        for (i = 0; i < kt->n_entries; i++) {
            const mailsso_keytab_entry *e = &kt->entries[i];
            size_t k;
            if (strcmp(e->principal, principal) != 0 || e->kvno != old_kvno ||
                mailsso_enctype_classify(e->enctype) == MAILSSO_ENCTYPE_BROKEN)
                continue;
            for (k = 0; k < n_enctypes; k++)
                if (enctypes[k] == e->enctype)
                    break;
            if (k == n_enctypes)
                enctypes[n_enctypes++] = e->enctype;
        }
        if (n_enctypes == 0) {
            mailsso_error_set(&err, MAILSSO_E_NOTFOUND, "%s kvno %u has no usable enctype",
                              principal, old_kvno);
            goto fail;
        }
    }
    /* preflight: nothing below may fail after the password has changed */
    dirbuf = strdup(path);
    if (dirbuf == NULL)
        goto cleanup;
    if (access(dirname(dirbuf), W_OK) != 0 || access(path, R_OK) != 0) {
        mailsso_error_set(&err, MAILSSO_E_IO, "cannot write to the directory of %s: rotate "
                          "would change the password and then fail to store the new keys", path);
        mailsso_error_set_fix(&err, "run rotate as a user who can write the keytab's directory "
                              "(usually root)");
        goto fail;
    }
    {
        ktool_write_opts probe = wo;
        probe.w.dry_run = 1;
        if (mailsso_keytab_write(path, kt, &probe.w, &err) != 0)
            goto fail;
    }
    if (ktool_krb5_init(&ctx, &err) != 0)
        goto fail;
    if (ktool_compute_salt(ctx, principal, &salt, &saltstr, &salt_len, &err) != 0)
        goto fail;
    if (changepw_creds(ctx, principal, path, &creds, &err) != 0)
        goto fail;
    have_creds = 1;
    if (wo.w.dry_run) {
        char eb[64];
        printf("dry run: %s can authenticate to kadmin/changepw with kvno %u of %s\n", principal,
               old_kvno, path);
        printf("dry run: would set a new %u-character random password, add kvno %u keys (",
               pwlen, old_kvno + 1);
        for (i = 0; i < n_enctypes; i++)
            printf("%s%s", i ? ", " : "", ktool_enctype_str(enctypes[i], eb, sizeof(eb)));
        printf(") salted \"%.*s\" (%s), keep %u kvnos\n", (int)salt_len, saltstr,
               ktool_salt_type_name(salt.type), keep);
        rc = KTOOL_EXIT_OK;
        goto cleanup;
    }
    if (ktool_random_password(pwlen, &pw, &err) != 0)
        goto fail;
    code = krb5_change_password(ctx, &creds, pw, &result_code, &result_code_string,
                                &result_string);
    if (code != 0) {
        ktool_krb5_error(ctx, code, &err, "the kpasswd request failed (the password is "
                         "unchanged)");
        goto fail;
    }
    if (result_code != 0) {
        mailsso_error_set(&err, MAILSSO_E_KRB5, "the KDC refused the password change for %s: "
                          "%.*s%s%.*s (the password is unchanged)", principal,
                          (int)result_code_string.length,
                          result_code_string.data ? result_code_string.data : "",
                          result_string.length ? ": " : "",
                          (int)(result_string.length > 200 ? 200 : result_string.length),
                          result_string.data ? result_string.data : "");
        mailsso_error_set_fix(&err, "check the account's password policy (minimum age, "
                              "history, length) and that it may change its own password");
        goto fail;
    }
    printf("password of %s changed via kpasswd\n", principal);
    /* the KDC's new kvno (normally old + 1) */
    {
        mailsso_error kerr = MAILSSO_ERROR_INIT;
        if (ktool_kvno_with_password(ctx, principal, pw, &new_kvno, &kerr) != 0) {
            new_kvno = old_kvno + 1;
            fprintf(stderr, "%s: warning: could not read the new kvno from the KDC (%s); "
                    "assuming %u\n", KTOOL_PROG, kerr.message, new_kvno);
        }
    }
    fresh = mailsso_keytab_new();
    if (fresh == NULL)
        goto cleanup;
    if (ktool_add_password_keys(ctx, fresh, principal, new_kvno, enctypes, n_enctypes, pw,
                                saltstr, salt_len, &err) != 0 ||
        mailsso_keytab_merge(kt, fresh, MAILSSO_MERGE_KEEP_LAST, NULL, NULL, &err) != 0)
        goto fail_after_change;
    /* keep the newest `keep` kvnos of this principal */
    for (;;) {
        uint32_t lowest = UINT32_MAX;
        size_t distinct = 0, k;
        uint32_t seen[256];

        for (i = 0; i < kt->n_entries; i++) {
            if (strcmp(kt->entries[i].principal, principal) != 0)
                continue;
            for (k = 0; k < distinct; k++)
                if (seen[k] == kt->entries[i].kvno)
                    break;
            if (k == distinct && distinct < MAILSSO_ARRAY_LEN(seen))
                seen[distinct++] = kt->entries[i].kvno;
            if (kt->entries[i].kvno < lowest)
                lowest = kt->entries[i].kvno;
        }
        if (distinct <= keep)
            break;
        {
            mailsso_keytab_filter f = { principal, lowest, 0 };
            printf("purging %s kvno %u\n", principal, lowest);
            mailsso_keytab_remove(kt, &f, NULL);
        }
    }
    if (ktool_write(path, kt, &wo, 0) != KTOOL_EXIT_OK)
        goto fail_after_change;
    printf("%s: kvno %u added, kvno %u kept for tickets already issued\n", principal, new_kvno,
           old_kvno);
    if (export_path != NULL) {
        ktool_write_opts eo;
        ktool_write_opts_init(&eo);
        eo.w.mode = 0600;
        if (ktool_write(export_path, fresh, &eo, 0) != KTOOL_EXIT_OK) {
            ktool_errorf("the rotation succeeded but the export to %s failed; copy %s to the "
                         "other servers instead", export_path, path);
            goto cleanup;
        }
    }
    rc = KTOOL_EXIT_OK;
    goto cleanup;
fail_after_change:
    ktool_print_error(&err);
    ktool_errorf("DANGER: the password of %s was changed but the new keys could not be stored "
                 "in %s", principal, path);
    if (fresh != NULL && fresh->n_entries > 0) {
        char rescue[PATH_MAX];
        ktool_write_opts ro;
        ktool_write_opts_init(&ro);
        ro.w.mode = 0600;
        ktool_fmt(rescue, sizeof(rescue), "%s.rotate-%u", path, new_kvno);
        if (ktool_write(rescue, fresh, &ro, 1) == KTOOL_EXIT_OK)
            fprintf(stderr, "  the new keys are in %s: merge them with '%s merge -o %s %s'\n",
                    rescue, KTOOL_PROG, path, rescue);
        else
            fprintf(stderr, "  fix: reset the account's password and export a new keytab\n");
    }
    rc = KTOOL_EXIT_FAIL;
    goto cleanup;
fail:
    ktool_print_error(&err);
    rc = KTOOL_EXIT_FAIL;
cleanup:
    if (ctx != NULL) {
        if (have_creds)
            krb5_free_cred_contents(ctx, &creds);
        krb5_free_data_contents(ctx, &result_code_string);
        krb5_free_data_contents(ctx, &result_string);
        krb5_free_context(ctx);
    }
    if (saltstr != NULL)
        mailsso_zfree(saltstr, salt_len);
    ktool_password_free(pw);
    free(dirbuf);
    free(pdup);
    free(enctypes);
    free(princs);
    free(path);
    mailsso_keytab_free(fresh);
    mailsso_keytab_free(kt);
    return rc;
}
