/* QEMU-style key=value lists. */
#include "cli/kvlist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Copy one item up to an unescaped ',' (",," -> ','); returns the position after it. */
static const char *take_item(const char *p, char **out)
{
    size_t cap = strlen(p) + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    while (*p) {
        if (*p == ',') {
            if (p[1] == ',') {
                buf[n++] = ',';
                p += 2;
                continue;
            }
            p++;
            break;
        }
        buf[n++] = *p++;
    }
    buf[n] = '\0';
    *out = buf;
    return p;
}

int kvlist_parse(struct kvlist *kl, const char *text, const char *implied_key, char *err,
                 size_t errlen)
{
    memset(kl, 0, sizeof(*kl));
    const char *p = text;
    while (*p) {
        char *item;
        p = take_item(p, &item);
        if (!*item) {
            free(item);
            continue;
        }
        if (kl->n >= KVLIST_MAX) {
            free(item);
            snprintf(err, errlen, "too many parameters");
            kvlist_free(kl);
            return -1;
        }
        struct kv *kv = &kl->items[kl->n];
        char *eq = strchr(item, '=');
        if (kl->n == 0 && implied_key && !eq) {
            kv->key = strdup(implied_key);
            kv->value = item;
        } else if (eq) {
            *eq = '\0';
            kv->key = item;
            kv->value = strdup(eq + 1);
            if (!kv->value)
                abort();
        } else {
            kv->key = item;
            kv->value = NULL;
        }
        if (!kv->key)
            abort();
        kl->n++;
    }
    return 0;
}

void kvlist_free(struct kvlist *kl)
{
    for (unsigned i = 0; i < kl->n; i++) {
        free(kl->items[i].key);
        free(kl->items[i].value);
    }
    kl->n = 0;
}

struct kv *kvlist_find(struct kvlist *kl, const char *key)
{
    struct kv *found = NULL;
    for (unsigned i = 0; i < kl->n; i++)
        if (!strcmp(kl->items[i].key, key)) {
            kl->items[i].used = true;
            found = &kl->items[i];
        }
    return found;
}

const char *kvlist_get(struct kvlist *kl, const char *key)
{
    struct kv *kv = kvlist_find(kl, key);
    if (!kv)
        return NULL;
    return kv->value ? kv->value : "on";
}

const struct kv *kvlist_unused(const struct kvlist *kl)
{
    for (unsigned i = 0; i < kl->n; i++)
        if (!kl->items[i].used)
            return &kl->items[i];
    return NULL;
}

int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "on", "yes", "true", "y" };
    static const char *const no[] = { "off", "no", "false", "n" };
    for (size_t i = 0; i < 4; i++) {
        if (!strcmp(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcmp(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

int kvlist_bool(struct kvlist *kl, const char *key, bool *out)
{
    const char *v = kvlist_get(kl, key);
    if (!v)
        return 0;
    return parse_bool(v, out);
}

int parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
    if (!s || !*s || !(isdigit((unsigned char)*s) || *s == '.'))
        return -1;
    errno = 0;
    char *end;
    /* Integers exactly; a fraction ("1.5G") through double. */
    unsigned long long whole = strtoull(s, &end, 10);
    if (errno)
        return -1;
    double frac = 0;
    bool has_frac = false;
    if (*end == '.') {
        char *fend;
        frac = strtod(end, &fend);
        if (fend == end + 1)
            return -1;
        end = fend;
        has_frac = true;
    }
    uint64_t unit = default_unit;
    if (*end) {
        static const char units[] = "BKMGTPE";
        const char *u = strchr(units, toupper((unsigned char)*end));
        if (!u || !*u)
            return -1;
        unit = 1;
        for (long i = 0; i < u - units; i++)
            unit *= 1024;
        end++;
        if (*end && (toupper((unsigned char)*end) == 'B') && unit > 1)
            end++;
        if (*end)
            return -1;
    }
    if (whole > UINT64_MAX / unit)
        return -1;
    uint64_t val = (uint64_t)whole * unit;
    if (has_frac) {
        double extra = frac * (double)unit;
        if ((double)(UINT64_MAX - val) < extra)
            return -1;
        val += (uint64_t)(extra + 0.5);
    }
    *out = val;
    return 0;
}

int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}
