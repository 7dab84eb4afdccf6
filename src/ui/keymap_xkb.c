/* -k layouts beyond the built-in ones: QEMU's layout name is mapped to an XKB layout and
 * variant, which libxkbcommon compiles from the system's XKB data (Debian's xkb-data); every
 * printable key's symbols on the levels reached with Shift and AltGr (Mod5, "level three")
 * become a table row. XKB key codes are Linux input codes + 8, and for the printable block
 * those input codes equal the set-1 scan codes. */
#include "ui/keymap_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xkbcommon/xkbcommon.h>

#include "ui/dynlib.h"

/* The libxkbcommon functions used here, resolved when first needed (dynlib.h). */
#define XKB_FUNCS(X) \
    X(xkb_context_new) X(xkb_context_set_log_level) X(xkb_context_unref) \
    X(xkb_keymap_key_get_mods_for_level) X(xkb_keymap_key_get_syms_by_level) X(xkb_keymap_max_keycode) \
    X(xkb_keymap_min_keycode) X(xkb_keymap_mod_get_index) X(xkb_keymap_new_from_names) \
    X(xkb_keymap_num_levels_for_key) X(xkb_keymap_unref)
DYNLIB_DEFINE(XKB_FUNCS, "libxkbcommon", "libxkbcommon.so.0", "libxkbcommon.so");
#define xkb_context_new (dynlib_api.p_xkb_context_new)
#define xkb_context_set_log_level (dynlib_api.p_xkb_context_set_log_level)
#define xkb_context_unref (dynlib_api.p_xkb_context_unref)
#define xkb_keymap_key_get_mods_for_level (dynlib_api.p_xkb_keymap_key_get_mods_for_level)
#define xkb_keymap_key_get_syms_by_level (dynlib_api.p_xkb_keymap_key_get_syms_by_level)
#define xkb_keymap_max_keycode (dynlib_api.p_xkb_keymap_max_keycode)
#define xkb_keymap_min_keycode (dynlib_api.p_xkb_keymap_min_keycode)
#define xkb_keymap_mod_get_index (dynlib_api.p_xkb_keymap_mod_get_index)
#define xkb_keymap_new_from_names (dynlib_api.p_xkb_keymap_new_from_names)
#define xkb_keymap_num_levels_for_key (dynlib_api.p_xkb_keymap_num_levels_for_key)
#define xkb_keymap_unref (dynlib_api.p_xkb_keymap_unref)

/* QEMU's name, the XKB layout and variant ("nodeadkeys" where the layout has it, as QEMU's
 * own tables are made, so ^ ~ ` are plain symbols). */
static const struct { const char *name, *layout, *variant; } xkb_layouts[] = {
    { "ar", "ara", "" },            { "bepo", "fr", "bepo" },       { "cz", "cz", "" },
    { "da", "dk", "nodeadkeys" },   { "de-ch", "ch", "de_nodeadkeys" },
    { "en-gb", "gb", "" },          { "es", "es", "nodeadkeys" },   { "et", "ee", "nodeadkeys" },
    { "fi", "fi", "nodeadkeys" },   { "fo", "fo", "nodeadkeys" },   { "fr", "fr", "nodeadkeys" },
    { "fr-be", "be", "nodeadkeys" }, { "fr-ca", "ca", "" },         { "fr-ch", "ch", "fr_nodeadkeys" },
    { "hr", "hr", "" },             { "hu", "hu", "" },             { "is", "is", "" },
    { "it", "it", "" },             { "ja", "jp", "" },             { "lt", "lt", "" },
    { "lv", "lv", "" },             { "mk", "mk", "" },             { "nl", "nl", "" },
    { "no", "no", "nodeadkeys" },   { "pl", "pl", "" },             { "pt", "pt", "nodeadkeys" },
    { "pt-br", "br", "nodeadkeys" }, { "ru", "ru", "" },            { "sl", "si", "" },
    { "sv", "se", "nodeadkeys" },   { "th", "th", "" },             { "tr", "tr", "" },
};

#define N_LAYOUTS (sizeof(xkb_layouts) / sizeof(xkb_layouts[0]))

static int layout_index(const char *name)
{
    for (size_t i = 0; i < N_LAYOUTS; i++)
        if (!strcmp(xkb_layouts[i].name, name))
            return (int)i;
    return -1;
}

bool keymap_xkb_known(const char *name)
{
    return layout_index(name) >= 0;
}

/* Set-1 code of a printable key's Linux input code; 0 for the others. */
static uint8_t input_to_set1(unsigned code)
{
    if ((code >= 2 && code <= 13) || (code >= 16 && code <= 27) || (code >= 30 && code <= 41) ||
        (code >= 43 && code <= 53) || code == 57 || code == 86)
        return (uint8_t)code;
    if (code == 89)       /* KEY_RO: the Brazilian and Japanese key beside right Shift */
        return 0x73;
    if (code == 124)      /* KEY_YEN */
        return 0x7d;
    return 0;
}

static struct xkb_keymap *compile(struct xkb_context *ctx, const char *layout, const char *variant)
{
    struct xkb_rule_names names = { .rules = "evdev", .model = "pc105", .layout = layout,
                                    .variant = variant, .options = "" };
    return xkb_keymap_new_from_names(ctx, &names, XKB_KEYMAP_COMPILE_NO_FLAGS);
}

/* Which of plain (0), Shift (1), AltGr (2), Shift+AltGr (3) reaches level; -1 for none. */
static int level_slot(struct xkb_keymap *km, xkb_keycode_t kc, xkb_level_index_t level,
                      xkb_mod_mask_t shift, xkb_mod_mask_t altgr)
{
    xkb_mod_mask_t masks[16];
    size_t n = xkb_keymap_key_get_mods_for_level(km, kc, 0, level, masks, 16);
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (masks[i] & ~(shift | altgr))
            continue;   /* needs Caps Lock, Num Lock ... */
        int slot = ((masks[i] & shift) ? 1 : 0) | ((masks[i] & altgr) ? 2 : 0);
        if (best < 0 || slot < best)
            best = slot;
    }
    return best;
}

struct keymap *keymap_xkb_load(const char *name, char *err, size_t errlen)
{
    int li = layout_index(name);
    if (li < 0) {
        snprintf(err, errlen, "unknown keyboard layout '%s'", name);
        return NULL;
    }
    char why[320];
    if (dynlib_load(&dynlib_api_lib, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "keyboard layout '%s' needs libxkbcommon: %s", name, why);
        return NULL;
    }
    struct xkb_context *ctx = xkb_context_new(XKB_CONTEXT_NO_ENVIRONMENT_NAMES);
    if (!ctx) {
        snprintf(err, errlen, "keyboard layout '%s': cannot start libxkbcommon", name);
        return NULL;
    }
    xkb_context_set_log_level(ctx, XKB_LOG_LEVEL_CRITICAL);
    struct xkb_keymap *km = compile(ctx, xkb_layouts[li].layout, xkb_layouts[li].variant);
    if (!km && xkb_layouts[li].variant[0])
        km = compile(ctx, xkb_layouts[li].layout, "");
    if (!km) {
        xkb_context_unref(ctx);
        snprintf(err, errlen, "keyboard layout '%s': XKB layout '%s' not found (is xkb-data "
                 "installed?)", name, xkb_layouts[li].layout);
        return NULL;
    }
    xkb_mod_index_t shift_i = xkb_keymap_mod_get_index(km, XKB_MOD_NAME_SHIFT);
    xkb_mod_index_t altgr_i = xkb_keymap_mod_get_index(km, "Mod5");
    xkb_mod_mask_t shift = shift_i == XKB_MOD_INVALID ? 0 : 1u << shift_i;
    xkb_mod_mask_t altgr = altgr_i == XKB_MOD_INVALID ? 0 : 1u << altgr_i;

    struct keymap *out = calloc(1, sizeof(*out));
    struct key_syms *rows = calloc(128, sizeof(*rows));
    if (!out || !rows) {
        free(out);
        free(rows);
        xkb_keymap_unref(km);
        xkb_context_unref(ctx);
        snprintf(err, errlen, "keyboard layout '%s': out of memory", name);
        return NULL;
    }
    unsigned n = 0;
    for (xkb_keycode_t kc = xkb_keymap_min_keycode(km); kc <= xkb_keymap_max_keycode(km) && n < 128; kc++) {
        uint8_t code = kc >= 8 ? input_to_set1(kc - 8) : 0;
        if (!code)
            continue;
        struct key_syms row = { .code = code };
        uint32_t *slots[4] = { &row.plain, &row.shifted, &row.altgr, &row.shift_altgr };
        xkb_level_index_t levels = xkb_keymap_num_levels_for_key(km, kc, 0);
        for (xkb_level_index_t level = 0; level < levels; level++) {
            const xkb_keysym_t *syms;
            int nsyms = xkb_keymap_key_get_syms_by_level(km, kc, 0, level, &syms);
            int slot = level_slot(km, kc, level, shift, altgr);
            if (nsyms == 1 && slot >= 0 && !*slots[slot])
                *slots[slot] = syms[0];
        }
        if (row.plain || row.shifted || row.altgr || row.shift_altgr)
            rows[n++] = row;
    }
    xkb_keymap_unref(km);
    xkb_context_unref(ctx);
    out->name = xkb_layouts[li].name;
    out->keys = rows;
    out->n = n;
    out->owned = true;
    return out;
}
