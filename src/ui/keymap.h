/* Keyboard translation for front ends that deliver symbols rather than key positions (VNC
 * sends X11 keysyms): which PS/2 key, with which modifiers, types a symbol on the guest's
 * layout (-k): en-us and de built in, QEMU's other layout names compiled from the system's
 * XKB data with libxkbcommon. */
#ifndef PCVM_UI_KEYMAP_H
#define PCVM_UI_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYMAP_SHIFT 0x01
#define KEYMAP_ALTGR 0x02

/* Set-1 codes of the modifier keys (0xE0xx: extended). */
#define KEY_LSHIFT 0x2a
#define KEY_RSHIFT 0x36
#define KEY_ALTGR 0xe038

struct keymap;

/* The built-in layout called name ("en-us", "de"), or NULL. */
const struct keymap *keymap_find(const char *name);
/* True when name is a layout -k accepts (built in or from XKB), without loading it. */
bool keymap_known(const char *name);
/* Names of the layouts, comma-separated, for error messages. */
const char *keymap_names(void);
/* The layout called name, built in or compiled from XKB; NULL with one line in err. Free it
 * with keymap_free(). */
const struct keymap *keymap_load(const char *name, char *err, size_t errlen);
/* Free what keymap_load() returned (built-in layouts are left alone). */
void keymap_free(const struct keymap *km);
/* The key for keysym: returns its set-1 code (0 when unknown) and in *mods the modifiers
 * (KEYMAP_SHIFT, KEYMAP_ALTGR) the symbol needs, or -1 when it is a key whose meaning does not
 * depend on modifiers (Return, arrows, the modifiers themselves ...). */
uint16_t keymap_keysym(const struct keymap *km, uint32_t keysym, int *mods);

#endif
