/* Keysym and key-name tables. Keysym values are from the X11 protocol's keysym encoding
 * (Latin-1 symbols are their code points; function keys are 0xFFxx); scan codes are the
 * IBM PC set 1. */
#include "ui/keymap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/keymap_impl.h"

static const struct key_syms us_keys[] = {
    { 0x02, '1', '!', 0, 0 }, { 0x03, '2', '@', 0, 0 }, { 0x04, '3', '#', 0, 0 }, { 0x05, '4', '$', 0, 0 },
    { 0x06, '5', '%', 0, 0 }, { 0x07, '6', '^', 0, 0 }, { 0x08, '7', '&', 0, 0 }, { 0x09, '8', '*', 0, 0 },
    { 0x0a, '9', '(', 0, 0 }, { 0x0b, '0', ')', 0, 0 }, { 0x0c, '-', '_', 0, 0 }, { 0x0d, '=', '+', 0, 0 },
    { 0x10, 'q', 'Q', 0, 0 }, { 0x11, 'w', 'W', 0, 0 }, { 0x12, 'e', 'E', 0, 0 }, { 0x13, 'r', 'R', 0, 0 },
    { 0x14, 't', 'T', 0, 0 }, { 0x15, 'y', 'Y', 0, 0 }, { 0x16, 'u', 'U', 0, 0 }, { 0x17, 'i', 'I', 0, 0 },
    { 0x18, 'o', 'O', 0, 0 }, { 0x19, 'p', 'P', 0, 0 }, { 0x1a, '[', '{', 0, 0 }, { 0x1b, ']', '}', 0, 0 },
    { 0x1e, 'a', 'A', 0, 0 }, { 0x1f, 's', 'S', 0, 0 }, { 0x20, 'd', 'D', 0, 0 }, { 0x21, 'f', 'F', 0, 0 },
    { 0x22, 'g', 'G', 0, 0 }, { 0x23, 'h', 'H', 0, 0 }, { 0x24, 'j', 'J', 0, 0 }, { 0x25, 'k', 'K', 0, 0 },
    { 0x26, 'l', 'L', 0, 0 }, { 0x27, ';', ':', 0, 0 }, { 0x28, '\'', '"', 0, 0 }, { 0x29, '`', '~', 0, 0 },
    { 0x2b, '\\', '|', 0, 0 }, { 0x2c, 'z', 'Z', 0, 0 }, { 0x2d, 'x', 'X', 0, 0 }, { 0x2e, 'c', 'C', 0, 0 },
    { 0x2f, 'v', 'V', 0, 0 }, { 0x30, 'b', 'B', 0, 0 }, { 0x31, 'n', 'N', 0, 0 }, { 0x32, 'm', 'M', 0, 0 },
    { 0x33, ',', '<', 0, 0 }, { 0x34, '.', '>', 0, 0 }, { 0x35, '/', '?', 0, 0 }, { 0x39, ' ', 0, 0, 0 },
};

/* German (de) T1 layout. 0xfe5x are the dead accent keysyms. */
static const struct key_syms de_keys[] = {
    { 0x02, '1', '!', 0, 0 }, { 0x03, '2', '"', 0xb2, 0 }, { 0x04, '3', 0xa7, 0xb3, 0 },
    { 0x05, '4', '$', 0, 0 }, { 0x06, '5', '%', 0, 0 }, { 0x07, '6', '&', 0, 0 }, { 0x08, '7', '/', '{', 0 },
    { 0x09, '8', '(', '[', 0 }, { 0x0a, '9', ')', ']', 0 }, { 0x0b, '0', '=', '}', 0 },
    { 0x0c, 0xdf, '?', '\\', 0 }, { 0x0d, 0xfe51, 0xfe50, 0, 0 },
    { 0x10, 'q', 'Q', '@', 0 }, { 0x11, 'w', 'W', 0, 0 }, { 0x12, 'e', 'E', 0x20ac, 0 },
    { 0x13, 'r', 'R', 0, 0 }, { 0x14, 't', 'T', 0, 0 }, { 0x15, 'z', 'Z', 0, 0 }, { 0x16, 'u', 'U', 0, 0 },
    { 0x17, 'i', 'I', 0, 0 }, { 0x18, 'o', 'O', 0, 0 }, { 0x19, 'p', 'P', 0, 0 }, { 0x1a, 0xfc, 0xdc, 0, 0 },
    { 0x1b, '+', '*', '~', 0 },
    { 0x1e, 'a', 'A', 0, 0 }, { 0x1f, 's', 'S', 0, 0 }, { 0x20, 'd', 'D', 0, 0 }, { 0x21, 'f', 'F', 0, 0 },
    { 0x22, 'g', 'G', 0, 0 }, { 0x23, 'h', 'H', 0, 0 }, { 0x24, 'j', 'J', 0, 0 }, { 0x25, 'k', 'K', 0, 0 },
    { 0x26, 'l', 'L', 0, 0 }, { 0x27, 0xf6, 0xd6, 0, 0 }, { 0x28, 0xe4, 0xc4, 0, 0 },
    { 0x29, 0xfe52, 0xb0, 0, 0 }, { 0x2b, '#', '\'', 0, 0 },
    { 0x2c, 'y', 'Y', 0, 0 }, { 0x2d, 'x', 'X', 0, 0 }, { 0x2e, 'c', 'C', 0, 0 }, { 0x2f, 'v', 'V', 0, 0 },
    { 0x30, 'b', 'B', 0, 0 }, { 0x31, 'n', 'N', 0, 0 }, { 0x32, 'm', 'M', 0xb5, 0 },
    { 0x33, ',', ';', 0, 0 }, { 0x34, '.', ':', 0, 0 }, { 0x35, '-', '_', 0, 0 },
    { 0x56, '<', '>', '|', 0 }, { 0x39, ' ', 0, 0, 0 },
};

static const struct keymap layouts[] = {
    { "en-us", us_keys, sizeof(us_keys) / sizeof(us_keys[0]), false },
    { "de", de_keys, sizeof(de_keys) / sizeof(de_keys[0]), false },
};

const struct keymap *keymap_find(const char *name)
{
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
        if (!strcmp(layouts[i].name, name))
            return &layouts[i];
    return NULL;
}

bool keymap_known(const char *name)
{
    return keymap_find(name) || keymap_xkb_known(name);
}

const char *keymap_names(void)
{
    return "en-us, de, " KEYMAP_XKB_NAMES;
}

const struct keymap *keymap_load(const char *name, char *err, size_t errlen)
{
    const struct keymap *km = keymap_find(name);
    if (km)
        return km;
    if (!keymap_xkb_known(name)) {
        snprintf(err, errlen, "unknown keyboard layout '%s' (%s)", name, keymap_names());
        return NULL;
    }
    return keymap_xkb_load(name, err, errlen);
}

void keymap_free(const struct keymap *km)
{
    if (km && km->owned) {
        free((void *)km->keys);
        free((void *)km);
    }
}

/* Keys whose meaning does not depend on the layout or on modifiers. */
static const struct { uint32_t keysym; uint16_t code; } fixed_keys[] = {
    { 0xff08, 0x0e }, { 0xff09, 0x0f }, { 0xfe20, 0x0f }, { 0xff0d, 0x1c }, { 0xff1b, 0x01 },
    { 0xffff, 0xe053 }, { 0xff50, 0xe047 }, { 0xff51, 0xe04b }, { 0xff52, 0xe048 },
    { 0xff53, 0xe04d }, { 0xff54, 0xe050 }, { 0xff55, 0xe049 }, { 0xff56, 0xe051 },
    { 0xff57, 0xe04f }, { 0xff63, 0xe052 }, { 0xff61, 0xe037 }, { 0xff14, 0x46 },
    { 0xff7f, 0x45 }, { 0xffe5, 0x3a }, { 0xffe1, 0x2a }, { 0xffe2, 0x36 }, { 0xffe3, 0x1d },
    { 0xffe4, 0xe01d }, { 0xffe9, 0x38 }, { 0xffea, 0xe038 }, { 0xffe7, 0x38 },
    { 0xffe8, 0xe038 }, { 0xffeb, 0xe05b }, { 0xffec, 0xe05c }, { 0xff67, 0xe05d },
    { 0xfe03, 0xe038 }, { 0xff7e, 0xe038 },
    { 0xffbe, 0x3b }, { 0xffbf, 0x3c }, { 0xffc0, 0x3d }, { 0xffc1, 0x3e }, { 0xffc2, 0x3f },
    { 0xffc3, 0x40 }, { 0xffc4, 0x41 }, { 0xffc5, 0x42 }, { 0xffc6, 0x43 }, { 0xffc7, 0x44 },
    { 0xffc8, 0x57 }, { 0xffc9, 0x58 },
    { 0xffb0, 0x52 }, { 0xffb1, 0x4f }, { 0xffb2, 0x50 }, { 0xffb3, 0x51 }, { 0xffb4, 0x4b },
    { 0xffb5, 0x4c }, { 0xffb6, 0x4d }, { 0xffb7, 0x47 }, { 0xffb8, 0x48 }, { 0xffb9, 0x49 },
    { 0xffae, 0x53 }, { 0xffac, 0x53 }, { 0xffab, 0x4e }, { 0xffad, 0x4a }, { 0xffaa, 0x37 },
    { 0xffaf, 0xe035 }, { 0xff8d, 0xe01c }, { 0xff95, 0x47 }, { 0xff96, 0x4b },
    { 0xff97, 0x48 }, { 0xff98, 0x4d }, { 0xff99, 0x50 }, { 0xff9a, 0x49 }, { 0xff9b, 0x51 },
    { 0xff9c, 0x4f }, { 0xff9d, 0x4c }, { 0xff9e, 0x52 }, { 0xff9f, 0x53 },
};

uint16_t keymap_keysym(const struct keymap *km, uint32_t keysym, int *mods)
{
    *mods = -1;
    for (size_t i = 0; i < sizeof(fixed_keys) / sizeof(fixed_keys[0]); i++)
        if (fixed_keys[i].keysym == keysym)
            return fixed_keys[i].code;
    /* Keysyms 0x01000000 + U are Unicode code points; Latin-1 ones have their own values. */
    if (keysym >= 0x01000000 && keysym < 0x01000100)
        keysym -= 0x01000000;
    if (keysym == 0x20ac || keysym == 0x010020ac)
        keysym = 0x20ac;
    /* Plain symbols first, so a key with a symbol on two levels prefers the plain one. */
    for (int level = 0; level < 4; level++) {
        for (unsigned i = 0; i < km->n; i++) {
            const struct key_syms *k = &km->keys[i];
            uint32_t sym = level == 0 ? k->plain : level == 1 ? k->shifted
                         : level == 2 ? k->altgr : k->shift_altgr;
            if (sym && sym == keysym) {
                static const int level_mods[4] = { 0, KEYMAP_SHIFT, KEYMAP_ALTGR,
                                                   KEYMAP_SHIFT | KEYMAP_ALTGR };
                *mods = level_mods[level];
                return k->code;
            }
        }
    }
    /* The dead keys' spacing twins (acute, grave, asciicircum) type as the dead key. */
    static const struct { uint32_t spacing, dead; } twins[] = {
        { 0xb4, 0xfe51 }, { '`', 0xfe50 }, { '^', 0xfe52 },
    };
    for (size_t t = 0; t < sizeof(twins) / sizeof(twins[0]); t++)
        if (twins[t].spacing == keysym)
            return keymap_keysym(km, twins[t].dead, mods);
    return 0;
}
