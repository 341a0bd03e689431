/*
 * NAME
 *   add.c - mailsso-keytab add: keys from a password, with the right salt
 *
 * DESCRIPTION
 *   Derives keys with krb5_c_string_to_key for each enctype, salted as the
 *   KDC salts them: MIT default (realm + name components), Active Directory
 *   user account (REALM + sAMAccountName, or REALM + the UPN's components),
 *   AD computer account (REALM + "host" + lower(name) + "." + lower(realm)),
 *   an explicit salt, or the salt the KDC announces (etype-info2). The
 *   password comes from a no-echo prompt or a file, never from argv.
 *   "--kvno kdc" asks the KDC for the current kvno (an AS exchange with the
 *   password, which also proves the password right).
 */
#include <config.h>

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <mailsso/util.h>

#include "ktool.h"

static void
help(void)
{
    printf("usage: %s add -p PRINCIPAL -V KVNO|kdc [options] [KEYTAB]\n"
           "       %s add --random -p PRINCIPAL --admin ADMIN [options] [KEYTAB]\n"
           "Add keys derived from the account's password. The password is read from a\n"
           "no-echo prompt or --password-file, never from the command line.\n"
           "  -p, --principal P       the service principal (e.g. imap/mail.example.com@EX.COM)\n"
           "  -V, --kvno N|kdc        key version (ktpass prints it; 'kdc' asks the KDC)\n"
           "  -e, --enctypes LIST     default aes256-cts-hmac-sha1-96,aes128-cts-hmac-sha1-96\n"
           "      --password-file F   first line of F is the password ('-' = stdin)\n"
           "      --salt-type T       mit (default) | ad-user | ad-computer | kdc\n"
           "      --account NAME      ad-user: sAMAccountName (case-sensitive, e.g. mail_imap);\n"
           "                          ad-computer: the computer account (MAILSRV or MAILSRV$)\n"
           "      --upn UPN           ad-user: the account's userPrincipalName, if it has one\n"
           "                          (ktpass -mapuser sets it to -princ)\n"
           "      --salt STRING       explicit salt\n"
           "  -f, --force             replace keys with the same principal, kvno, enctype\n"
           "      --random            new random keys from kadmind (MIT; like kadmin ktadd:\n"
           "                          the KDC's keys change), with --admin PRINCIPAL and\n"
           "                          --admin-password-file FILE or --admin-keytab FILE\n"
           "  -n, --dry-run           show what would be added, write nothing\n"
           "      --mode MODE, --owner USER[:GROUP], --group GROUP   as for merge\n", KTOOL_PROG,
           KTOOL_PROG);
}

int
ktool_cmd_add(int argc, char **argv)
{
    static const struct option opts[] = {
        { "principal", required_argument, NULL, 'p' },
        { "kvno", required_argument, NULL, 'V' },
        { "enctypes", required_argument, NULL, 'e' },
        { "enctype", required_argument, NULL, 'e' },
        { "password-file", required_argument, NULL, 'F' },
        { "salt-type", required_argument, NULL, 'T' },
        { "account", required_argument, NULL, 'A' },
        { "upn", required_argument, NULL, 'U' },
        { "salt", required_argument, NULL, 'S' },
        { "random", no_argument, NULL, 'r' },
        { "admin", required_argument, NULL, 'a' },
        { "admin-password-file", required_argument, NULL, 'W' },
        { "admin-keytab", required_argument, NULL, 'Y' },
        { "force", no_argument, NULL, 'f' },
        { "dry-run", no_argument, NULL, 'n' },
        { "mode", required_argument, NULL, 'm' },
        { "owner", required_argument, NULL, 'u' },
        { "group", required_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab *kt = NULL, *add = NULL;
    ktool_write_opts wo;
    ktool_salt_spec salt = { KTOOL_SALT_MIT, NULL, NULL, NULL };
    krb5_context ctx = NULL;
    krb5_principal parsed = NULL;
    const char *principal = NULL, *kvno_arg = NULL, *pwfile = NULL;
    const char *admin = NULL, *admin_pwfile = NULL, *admin_keytab = NULL;
    const char *enc_spec = "aes256-cts-hmac-sha1-96,aes128-cts-hmac-sha1-96";
    int32_t *enctypes = NULL;
    size_t n_enctypes = 0, i, added = 0, dupes = 0;
    char *path = NULL, *pw = NULL, *saltstr = NULL, prompt[600];
    size_t salt_len = 0;
    uint32_t kvno = 0;
    int c, rc = KTOOL_EXIT_FAIL, force = 0, have_salt_type = 0, random_keys = 0;

    ktool_write_opts_init(&wo);
    while ((c = getopt_long(argc, argv, "p:V:k:e:fnh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': principal = optarg; break;
        case 'V': case 'k': kvno_arg = optarg; break;
        case 'e': enc_spec = optarg; break;
        case 'F': pwfile = optarg; break;
        case 'T':
            if (ktool_parse_salt_type(optarg, &salt.type) != 0)
                return ktool_usage_error("add", "--salt-type '%s': expected mit, ad-user, "
                                         "ad-computer or kdc", optarg);
            have_salt_type = 1;
            break;
        case 'A': salt.account = optarg; break;
        case 'U': salt.upn = optarg; break;
        case 'S': salt.salt = optarg; break;
        case 'r': random_keys = 1; break;
        case 'a': admin = optarg; break;
        case 'W': admin_pwfile = optarg; break;
        case 'Y': admin_keytab = optarg; break;
        case 'f': force = 1; break;
        case 'n': wo.w.dry_run = 1; break;
        case 'm': if (ktool_parse_mode(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'u': if (ktool_parse_owner(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'g': if (ktool_parse_group(optarg, &wo) != 0) return KTOOL_EXIT_USAGE; break;
        case 'h': help(); return KTOOL_EXIT_OK;
        default: return ktool_usage_error("add", "bad option");
        }
    }
    if (random_keys) {
        if (admin == NULL)
            return ktool_usage_error("add", "--random needs --admin PRINCIPAL (a kadmin "
                                     "principal, e.g. admin/admin)");
        if (kvno_arg != NULL || pwfile != NULL || have_salt_type || salt.salt != NULL)
            return ktool_usage_error("add", "--random takes no -V, --password-file or salt "
                                     "options: kadmind chooses the keys and the kvno");
        kvno_arg = "random";
    } else if (admin != NULL || admin_pwfile != NULL || admin_keytab != NULL) {
        return ktool_usage_error("add", "--admin/--admin-password-file/--admin-keytab only "
                                 "apply to --random");
    }
    if (principal == NULL)
        return ktool_usage_error("add", "-p PRINCIPAL is required");
    if (kvno_arg == NULL)
        return ktool_usage_error("add", "-V KVNO is required (the number ktpass printed, the "
                                 "output of 'kvno PRINCIPAL', or 'kdc' to ask the KDC)");
    if (!random_keys && strcmp(kvno_arg, "kdc") != 0 && (ktool_parse_u32(kvno_arg, &kvno) != 0 || kvno == 0))
        return ktool_usage_error("add", "--kvno '%s' is not a positive number or 'kdc'",
                                 kvno_arg);
    if (salt.salt != NULL) {
        if (have_salt_type)
            return ktool_usage_error("add", "give either --salt-type or --salt, not both");
        salt.type = KTOOL_SALT_EXPLICIT;
    }
    if ((salt.account != NULL || salt.upn != NULL) && salt.type != KTOOL_SALT_AD_USER &&
        salt.type != KTOOL_SALT_AD_COMPUTER)
        return ktool_usage_error("add", "--account/--upn only make sense with --salt-type "
                                 "ad-user or ad-computer");
    if (argc - optind > 1)
        return ktool_usage_error("add", "at most one KEYTAB");
    if (ktool_parse_enctypes(enc_spec, &enctypes, &n_enctypes, &err) != 0) {
        ktool_print_error(&err);
        rc = KTOOL_EXIT_USAGE;
        goto cleanup;
    }
    if (ktool_krb5_init(&ctx, &err) != 0)
        goto fail;
    {
        krb5_error_code code = krb5_parse_name(ctx, principal, &parsed);
        if (code != 0) {
            char what[600];
            snprintf(what, sizeof(what), "principal '%s' does not parse", principal);
            ktool_krb5_error(ctx, code, &err, what);
            mailsso_error_set_fix(&err, "write it as service/host.name@REALM, e.g. "
                                        "imap/mail.example.com@EXAMPLE.COM");
            goto fail;
        }
    }
    if (ktool_keytab_path(optind < argc ? argv[optind] : NULL, &path, &err) != 0 ||
        ktool_read(path, 1, &kt, &err) != 0)
        goto fail;
    if (random_keys) {
        ktool_random_opts ro = { principal, enctypes, n_enctypes, admin, admin_pwfile,
                                 admin_keytab, wo.w.dry_run };
        ktool_write_opts probe = wo;
        probe.w.dry_run = 1;
        /* the KDC's keys change: make sure the keytab can be written first */
        if (mailsso_keytab_write(path, kt, &probe.w, &err) != 0 ||
            ktool_add_random(&ro, kt, &err) != 0)
            goto fail;
        rc = wo.w.dry_run ? KTOOL_EXIT_OK : ktool_write(path, kt, &wo, 0);
        goto cleanup;
    }
    /* all checks that need no secret are done: now the password */
    snprintf(prompt, sizeof(prompt), "Password for %s: ", principal);
    if (ktool_read_password(pwfile, prompt, 0, &pw, &err) != 0)
        goto fail;
    if (ktool_compute_salt(ctx, principal, &salt, &saltstr, &salt_len, &err) != 0)
        goto fail;
    if (strcmp(kvno_arg, "kdc") == 0) {
        if (ktool_kvno_with_password(ctx, principal, pw, &kvno, &err) != 0)
            goto fail;
        printf("the KDC's current kvno for %s is %u\n", principal, kvno);
    }
    add = mailsso_keytab_new();
    if (add == NULL) {
        ktool_errorf("out of memory");
        goto cleanup;
    }
    if (ktool_add_password_keys(ctx, add, principal, kvno, enctypes, n_enctypes, pw, saltstr,
                                salt_len, &err) != 0)
        goto fail;
    for (i = 0; i < add->n_entries; i++) {
        char eb[64];
        printf("%s %s kvno %u %s (salt %s \"%.*s\")\n", wo.w.dry_run ? "would add" : "adding",
               principal, kvno, ktool_enctype_str(add->entries[i].enctype, eb, sizeof(eb)),
               ktool_salt_type_name(salt.type), (int)salt_len, saltstr);
    }
    if (mailsso_keytab_merge(kt, add, force ? MAILSSO_MERGE_KEEP_LAST : MAILSSO_MERGE_FAIL_ON_CONFLICT,
                             &added, &dupes, &err) != 0) {
        if (err.code == MAILSSO_E_CONFLICT)
            mailsso_error_set_fix(&err, "the keytab already holds a different key for this "
                                        "principal, kvno and enctype: check the kvno, or "
                                        "replace it with --force");
        goto fail;
    }
    if (dupes > 0)
        printf("%zu identical key%s already present\n", dupes, dupes == 1 ? " was" : "s were");
    rc = ktool_write(path, kt, &wo, 0);
    goto cleanup;
fail:
    ktool_print_error(&err);
    rc = KTOOL_EXIT_FAIL;
cleanup:
    if (saltstr != NULL)
        mailsso_zfree(saltstr, salt_len);
    ktool_password_free(pw);
    free(enctypes);
    free(path);
    mailsso_keytab_free(add);
    mailsso_keytab_free(kt);
    if (ctx != NULL) {
        krb5_free_principal(ctx, parsed);
        krb5_free_context(ctx);
    }
    return rc;
}
