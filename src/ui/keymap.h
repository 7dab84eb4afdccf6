/* Keyboard translation for front ends that deliver symbols rather than key positions (VNC
 * sends X11 keysyms): which PS/2 key, with which modifiers, types a symbol on the guest's
 * layout (-k en-us, de). */
#ifndef PCVM_UI_KEYMAP_H
#define PCVM_UI_KEYMAP_H

#include <stdbool.h>
#include <stdint.h>

#define KEYMAP_SHIFT 0x01
#define KEYMAP_ALTGR 0x02

/* Set-1 codes of the modifier keys (0xE0xx: extended). */
#define KEY_LSHIFT 0x2a
#define KEY_RSHIFT 0x36
#define KEY_ALTGR 0xe038

struct keymap;

/* The layout called name ("en-us", "de"), or NULL. */
const struct keymap *keymap_find(const char *name);
/* Names of the layouts, comma-separated, for error messages. */
const char *keymap_names(void);
/* The key for keysym: returns its set-1 code (0 when unknown) and in *mods the modifiers
 * (KEYMAP_SHIFT, KEYMAP_ALTGR) the symbol needs, or -1 when it is a key whose meaning does not
 * depend on modifiers (Return, arrows, the modifiers themselves ...). */
uint16_t keymap_keysym(const struct keymap *km, uint32_t keysym, int *mods);

#endif
