/*
 * NAME
 *   layer.c - the RFC 4752 security layer: wrap/unwrap with 4-byte framing
 *
 * DESCRIPTION
 *   Each protected buffer travels as a 4-byte big-endian length followed by
 *   a gss_wrap() token (integrity: conf_req 0, confidentiality: conf_req 1).
 *   The decoder accepts input in arbitrary pieces, reassembles packets,
 *   refuses a packet longer than the maximum buffer we advertised, and
 *   refuses a packet whose protection is weaker than the negotiated layer.
 *   Output buffers belong to the connection and stay valid until the next
 *   call, as libsasl expects.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <mailsso/util.h>

#include "plugin.h"

static int
grow(unsigned char **buf, size_t *cap, size_t need)
{
    unsigned char *p;
    size_t ncap;

    if (*cap >= need)
        return 0;
    ncap = *cap ? *cap : 1024;
    while (ncap < need)
        ncap *= 2;
    p = realloc(*buf, ncap);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = ncap;
    return 0;
}

int
msp_layer_encode(void *context, const struct iovec *invec, unsigned numiov, const char **output,
                 unsigned *outputlen)
{
    msp_conn *c = context;
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER;
    unsigned char *plain = NULL;
    size_t total = 0, off = 0;
    OM_uint32 major, minor;
    int conf_state = 0;
    int ret = SASL_FAIL;

    if (c == NULL || output == NULL || outputlen == NULL || c->state != MSP_DONE ||
        c->layer == MSP_LAYER_NONE)
        return SASL_BADPARAM;
    for (unsigned i = 0; i < numiov; i++)
        total += invec[i].iov_len;
    plain = malloc(total ? total : 1);
    if (plain == NULL)
        return SASL_NOMEM;
    for (unsigned i = 0; i < numiov; i++) {
        if (invec[i].iov_len)
            memcpy(plain + off, invec[i].iov_base, invec[i].iov_len);
        off += invec[i].iov_len;
    }
    in.value = plain;
    in.length = total;
    major = gss_wrap(&minor, c->ctx, c->layer == MSP_LAYER_CONFIDENTIALITY, GSS_C_QOP_DEFAULT,
                     &in, &conf_state, &out);
    if (GSS_ERROR(major)) {
        c->utils->seterror(c->utils->conn, 0, "GSSAPI: cannot protect data (gss_wrap failed)");
        goto cleanup;
    }
    if (c->layer == MSP_LAYER_CONFIDENTIALITY && !conf_state) {
        c->utils->seterror(c->utils->conn, 0, "GSSAPI: confidentiality not applied");
        goto cleanup;
    }
    if (out.length > 0xFFFFFFFFu - 4 || grow(&c->enc_buf, &c->enc_cap, out.length + 4) != 0) {
        ret = SASL_NOMEM;
        goto cleanup;
    }
    c->enc_buf[0] = (unsigned char)(out.length >> 24);
    c->enc_buf[1] = (unsigned char)(out.length >> 16);
    c->enc_buf[2] = (unsigned char)(out.length >> 8);
    c->enc_buf[3] = (unsigned char)out.length;
    memcpy(c->enc_buf + 4, out.value, out.length);
    *output = (const char *)c->enc_buf;
    *outputlen = (unsigned)(out.length + 4);
    ret = SASL_OK;

cleanup:
    if (c->layer == MSP_LAYER_CONFIDENTIALITY)
        mailsso_zero(plain, total);
    free(plain);
    (void)gss_release_buffer(&minor, &out);
    return ret;
}

static int
unwrap_packet(msp_conn *c)
{
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER;
    OM_uint32 major, minor;
    int conf_state = 0;
    int ret = SASL_OK;

    in.value = c->pkt;
    in.length = c->pkt_len;
    major = gss_unwrap(&minor, c->ctx, &in, &out, &conf_state, NULL);
    if (GSS_ERROR(major)) {
        c->utils->seterror(c->utils->conn, 0, "GSSAPI: received data failed its integrity check");
        ret = SASL_BADMAC;
        goto cleanup;
    }
    if (c->layer == MSP_LAYER_CONFIDENTIALITY && !conf_state) {
        c->utils->seterror(c->utils->conn, 0,
                           "GSSAPI: peer sent unencrypted data on a confidential layer");
        ret = SASL_BADPROT;
        goto cleanup;
    }
    if (grow(&c->dec_out, &c->dec_cap, c->dec_len + out.length + 1) != 0) {
        ret = SASL_NOMEM;
        goto cleanup;
    }
    memcpy(c->dec_out + c->dec_len, out.value, out.length);
    c->dec_len += out.length;

cleanup:
    (void)gss_release_buffer(&minor, &out);
    return ret;
}

int
msp_layer_decode(void *context, const char *input, unsigned inputlen, const char **output,
                 unsigned *outputlen)
{
    msp_conn *c = context;
    const unsigned char *p = (const unsigned char *)input;
    size_t left = inputlen;
    int ret;

    if (c == NULL || output == NULL || outputlen == NULL || c->state != MSP_DONE ||
        c->layer == MSP_LAYER_NONE)
        return SASL_BADPARAM;
    c->dec_len = 0;
    while (left > 0) {
        if (c->len_have < 4) {
            size_t take = 4 - c->len_have < left ? 4 - c->len_have : left;
            memcpy(c->lenbuf + c->len_have, p, take);
            c->len_have += take;
            p += take;
            left -= take;
            if (c->len_have < 4)
                break;
            c->pkt_len = ((size_t)c->lenbuf[0] << 24) | ((size_t)c->lenbuf[1] << 16) |
                         ((size_t)c->lenbuf[2] << 8) | c->lenbuf[3];
            c->pkt_have = 0;
            if (c->pkt_len == 0 || c->pkt_len > c->recv_max) {
                char msg[128];
                /* libsasl's seterror knows only a few conversions: format here */
                snprintf(msg, sizeof(msg), "GSSAPI: peer sent a %zu-byte packet, our limit is %u",
                         c->pkt_len, c->recv_max);
                c->utils->seterror(c->utils->conn, 0, "%s", msg);
                return SASL_BADPROT;
            }
            free(c->pkt);
            c->pkt = malloc(c->pkt_len);
            if (c->pkt == NULL)
                return SASL_NOMEM;
        }
        {
            size_t need = c->pkt_len - c->pkt_have;
            size_t take = need < left ? need : left;
            memcpy(c->pkt + c->pkt_have, p, take);
            c->pkt_have += take;
            p += take;
            left -= take;
        }
        if (c->pkt_have == c->pkt_len) {
            ret = unwrap_packet(c);
            free(c->pkt);
            c->pkt = NULL;
            c->len_have = 0;
            c->pkt_len = c->pkt_have = 0;
            if (ret != SASL_OK)
                return ret;
        }
    }
    if (c->dec_len > 0xFFFFFFFFu)
        return SASL_BADPROT;
    *output = c->dec_len ? (const char *)c->dec_out : NULL;
    *outputlen = (unsigned)c->dec_len;
    return SASL_OK;
}

void
msp_layer_free(msp_conn *c)
{
    if (c->enc_buf != NULL)
        mailsso_zfree(c->enc_buf, c->enc_cap);
    if (c->dec_out != NULL)
        mailsso_zfree(c->dec_out, c->dec_cap);
    free(c->pkt);
    c->enc_buf = c->dec_out = c->pkt = NULL;
}
