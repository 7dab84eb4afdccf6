/* QEMU-style "key=value,key2=value2" lists (",," is a literal comma; a bare word is a flag). */
#ifndef PCVM_CLI_KVLIST_H
#define PCVM_CLI_KVLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVLIST_MAX 32

struct kv {
    char *key;
    char *value;     /* NULL for a bare flag ("server") */
    bool used;       /* set by the getters: what is left unused is an unknown key */
};

struct kvlist {
    struct kv items[KVLIST_MAX];
    unsigned n;
};

/* Split text; a first item without '=' gets implied_key (if not NULL). Returns 0 or -1. */
int kvlist_parse(struct kvlist *kl, const char *text, const char *implied_key, char *err,
                 size_t errlen);
/* Free the copies. */
void kvlist_free(struct kvlist *kl);
/* Last item with this key (marked used), or NULL. */
struct kv *kvlist_find(struct kvlist *kl, const char *key);
/* Value of key ("on" for a bare flag), or NULL when absent. */
const char *kvlist_get(struct kvlist *kl, const char *key);
/* First item no getter asked for, or NULL. */
const struct kv *kvlist_unused(const struct kvlist *kl);
/* Parse on/off/yes/no/true/false; returns 0 or -1. */
int parse_bool(const char *s, bool *out);
/* Boolean key (bare flag = on); absent keeps *out. Returns 0 or -1 (bad value). */
int kvlist_bool(struct kvlist *kl, const char *key, bool *out);
/* Parse a size with K/M/G/T/P/E suffixes (powers of 1024, optional trailing B);
 * default_unit multiplies a number with no suffix. Returns 0 or -1 (bad or overflow). */
int parse_size(const char *s, uint64_t default_unit, uint64_t *out);
/* Parse an unsigned integer (decimal, 0x hex); returns 0 or -1. */
int parse_uint(const char *s, uint64_t max, uint64_t *out);

#endif
