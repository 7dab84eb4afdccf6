/* pcvm's whole-machine state format: header and meta encoding and checking (mstate.h). */
#include "migration/mstate.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

uint32_t mstate_crc(const void *p, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const Bytef *b = p;
    while (len) {   /* zlib takes uInt lengths */
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        c = crc32(c, b, n);
        b += n;
        len -= n;
    }
    return (uint32_t)c;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void mstate_header_encode(const struct mstate_header *h, uint8_t out[MSTATE_HEADER_SIZE])
{
    memset(out, 0, MSTATE_HEADER_SIZE);
    memcpy(out, MSTATE_MAGIC, 8);
    put32(out + 8, h->version);
    put32(out + 12, h->flags);
    put64(out + 16, h->ram_size);
    put32(out + 24, h->ncpus);
    put32(out + 28, MSTATE_PAGE);
    put64(out + 32, h->meta_len);
    put64(out + 40, h->ram_off);
    put64(out + 48, h->ram_len);
    put32(out + 56, h->meta_crc);
    put32(out + 60, mstate_crc(out, 60));
}

int mstate_header_decode(const uint8_t *buf, size_t len, struct mstate_header *h, char *err, size_t errlen)
{
    if (len < MSTATE_HEADER_SIZE)
        return fail(err, errlen, "the machine state is truncated (%zu bytes)", len);
    if (memcmp(buf, MSTATE_MAGIC, 8)) {
        if (!memcmp(buf, "QEVM", 4))
            return fail(err, errlen, "the machine state was saved by QEMU, not pcvm: pcvm reads only its own");
        return fail(err, errlen, "not a pcvm machine state (no PCVMSTAT signature)");
    }
    h->version = get32(buf + 8);
    if (h->version > MSTATE_VERSION)
        return fail(err, errlen, "the machine state was saved by a newer pcvm (state format %" PRIu32
                    "; this pcvm reads up to %u)", h->version, MSTATE_VERSION);
    if (h->version < 1 || get32(buf + 60) != mstate_crc(buf, 60))
        return fail(err, errlen, "the machine state is corrupt (its header does not check)");
    h->flags = get32(buf + 12);
    h->ram_size = get64(buf + 16);
    h->ncpus = get32(buf + 24);
    h->meta_len = get64(buf + 32);
    h->ram_off = get64(buf + 40);
    h->ram_len = get64(buf + 48);
    h->meta_crc = get32(buf + 56);
    if (h->flags & ~MSTATE_RAW_RAM || get32(buf + 28) != MSTATE_PAGE || h->ram_size % MSTATE_PAGE ||
        h->ram_size > (1ull << 40) || h->meta_len > MSTATE_MAX_META || h->ram_off % MSTATE_PAGE ||
        h->ram_off < MSTATE_HEADER_SIZE + h->meta_len || h->ram_len > h->ram_size || h->ram_len % MSTATE_PAGE ||
        ((h->flags & MSTATE_RAW_RAM) && h->ram_len != h->ram_size))
        return fail(err, errlen, "the machine state is corrupt (inconsistent header)");
    return 0;
}

int mstate_meta_parse(const struct mstate_header *h, const uint8_t *meta, size_t len, struct mstate_view *v,
                      char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    if (len != h->meta_len || mstate_crc(meta, len) != h->meta_crc)
        return fail(err, errlen, "the machine state is corrupt (its device state does not check)");
    size_t pos = 0;
    bool end = false;
    while (!end) {
        if (len - pos < 8)
            return fail(err, errlen, "the machine state is corrupt (truncated section)");
        char tag[5] = { 0 };
        memcpy(tag, meta + pos, 4);
        uint32_t slen = get32(meta + pos + 4);
        pos += 8;
        if (slen > len - pos)
            return fail(err, errlen, "the machine state is corrupt (section '%s' overruns it)", tag);
        const uint8_t *p = meta + pos;
        pos += slen;
        if (!strcmp(tag, "END ")) {
            end = true;
        } else if (!strcmp(tag, "DEVS")) {
            if (v->devs)
                return fail(err, errlen, "the machine state is corrupt (two device sections)");
            v->devs = p;
            v->devs_len = slen;
        } else if (!strcmp(tag, "RAMB")) {
            if (v->bitmap)
                return fail(err, errlen, "the machine state is corrupt (two RAM maps)");
            v->bitmap = p;
            v->bitmap_len = slen;
        } else if (!strcmp(tag, "SLRP")) {
            if (v->n_slirp == MSTATE_MAX_SLIRP)
                return fail(err, errlen, "the machine state has too many user networks");
            struct mstate_slirp *s = &v->slirp[v->n_slirp++];
            if (slen < 1 || p[0] == 0 || p[0] >= sizeof(s->id) || slen < 1u + p[0] + 4u)
                return fail(err, errlen, "the machine state is corrupt (user network section)");
            memcpy(s->id, p + 1, p[0]);
            s->id[p[0]] = 0;
            s->version = get32(p + 1 + p[0]);
            s->data = p + 1 + p[0] + 4;
            s->len = slen - 1u - p[0] - 4u;
        } else {
            return fail(err, errlen, "the machine state has a section this pcvm does not know ('%.4s')", tag);
        }
    }
    if (pos != len)
        return fail(err, errlen, "the machine state is corrupt (bytes after its end)");
    if (!v->devs || !v->bitmap)
        return fail(err, errlen, "the machine state is incomplete (no %s)", v->devs ? "RAM map" : "devices");
    uint64_t pages = h->ram_size / MSTATE_PAGE;
    if (v->bitmap_len != (pages + 7) / 8)
        return fail(err, errlen, "the machine state is corrupt (RAM map of %zu bytes for %" PRIu64 " pages)",
                    v->bitmap_len, pages);
    if (pages % 8 && v->bitmap[v->bitmap_len - 1] >> (pages % 8))
        return fail(err, errlen, "the machine state is corrupt (RAM map past the RAM)");
    for (size_t i = 0; i < v->bitmap_len; i++)
        v->nonzero_pages += (uint64_t)__builtin_popcount(v->bitmap[i]);
    if (!(h->flags & MSTATE_RAW_RAM) && v->nonzero_pages * MSTATE_PAGE != h->ram_len)
        return fail(err, errlen, "the machine state is corrupt (RAM map and RAM length disagree)");
    return 0;
}
