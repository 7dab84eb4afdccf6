/* Inside the keymaps: the table a layout is, shared by the built-in layouts (keymap.c) and
 * those compiled from XKB (keymap_xkb.c). */
#ifndef PCVM_UI_KEYMAP_IMPL_H
#define PCVM_UI_KEYMAP_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One row of symbols per printable key: plain, shifted, AltGr, Shift+AltGr (0 = none). */
struct key_syms {
    uint8_t code;
    uint32_t plain, shifted, altgr, shift_altgr;
};

struct keymap {
    const char *name;
    const struct key_syms *keys;
    unsigned n;
    bool owned;           /* allocated by keymap_xkb_load(): keymap_free() frees it */
};

/* QEMU's -k names that come from XKB, for error messages. */
#define KEYMAP_XKB_NAMES "ar, bepo, cz, da, de-ch, en-gb, es, et, fi, fo, fr, fr-be, fr-ca, " \
                         "fr-ch, hr, hu, is, it, ja, lt, lv, mk, nl, no, pl, pt, pt-br, ru, " \
                         "sl, sv, th, tr"

/* True when name is one of KEYMAP_XKB_NAMES. */
bool keymap_xkb_known(const char *name);
/* Compile the XKB layout behind QEMU's name into a table; NULL with one line in err. */
struct keymap *keymap_xkb_load(const char *name, char *err, size_t errlen);

#endif
