/*
 * NAME
 *   ktgen - write a big synthetic keytab with lib/keytab (for the keytab benchmark)
 *
 * SYNOPSIS
 *   ktgen OUT ENTRIES [FIRST_SERVICE_NUMBER] [KVNO]
 *
 * DESCRIPTION
 *   Writes ENTRIES entries, two per principal (aes256-cts-hmac-sha1-96 and
 *   aes128-cts-hmac-sha1-96), principals svcNNNNNN/hostNNNNNN.example.test@
 *   EXAMPLE.TEST numbered from FIRST_SERVICE_NUMBER (default 0), kvno KVNO
 *   (default 1), pseudo-random keys (a fixed seed: the same arguments give
 *   the same file). Two files with overlapping ranges share the entries of
 *   the overlap byte for byte, so merging them finds exact duplicates.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <mailsso/error.h>
#include <mailsso/keytab.h>

static uint64_t
mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

int
main(int argc, char **argv)
{
    mailsso_error err = MAILSSO_ERROR_INIT;
    mailsso_keytab *kt = NULL;
    mailsso_keytab_write_options wo = MAILSSO_KEYTAB_WRITE_OPTIONS_INIT;
    long n, first = 0;
    uint32_t kvno = 1;
    int rc = 1;

    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: ktgen OUT ENTRIES [FIRST_SERVICE_NUMBER] [KVNO]\n");
        return 2;
    }
    n = atol(argv[2]);
    if (argc > 3)
        first = atol(argv[3]);
    if (argc > 4)
        kvno = (uint32_t)atol(argv[4]);
    kt = mailsso_keytab_new();
    if (kt == NULL)
        return 1;
    for (long i = 0; i < n; i++) {
        long s = first + i / 2;
        int aes256 = (i % 2) == 0;
        unsigned char key[32];
        char princ[128];
        mailsso_keytab_entry e;
        for (int k = 0; k < 4; k++) {
            uint64_t v = mix(((uint64_t)s << 8) ^ ((uint64_t)aes256 << 4) ^ (uint64_t)k ^
                             ((uint64_t)kvno << 40));
            for (int b = 0; b < 8; b++)
                key[k * 8 + b] = (unsigned char)(v >> (8 * b));
        }
        snprintf(princ, sizeof(princ), "svc%06ld/host%06ld.example.test@EXAMPLE.TEST", s, s);
        if (mailsso_keytab_entry_init(&e, princ, kvno, aes256 ? 18 : 17, 1700000000u, key,
                                      aes256 ? 32 : 16, &err) != 0 ||
            mailsso_keytab_add(kt, &e, &err) != 0) {
            fprintf(stderr, "ktgen: %s\n", err.message);
            mailsso_keytab_entry_clear(&e);
            goto cleanup;
        }
        mailsso_keytab_entry_clear(&e);
    }
    wo.mode = 0600;
    if (mailsso_keytab_write(argv[1], kt, &wo, &err) != 0) {
        fprintf(stderr, "ktgen: %s\n", err.message);
        goto cleanup;
    }
    rc = 0;
cleanup:
    mailsso_keytab_free(kt);
    return rc;
}
