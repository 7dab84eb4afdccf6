/* The display's text consoles (vc chardevs: the monitor, a serial port): their picture, drawn
 * with the 8x16 font of the VGA BIOS, and the keys typed on them as bytes. */
#ifndef PCVM_UI_DISPLAY_CONSOLE_H
#define PCVM_UI_DISPLAY_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chardev/chardev.h"
#include "ui/vga_render.h"

#define CONSOLE_FONT_HEIGHT 16
/* The VGA BIOS pcvm gives the guest (Debian's seabios package); its 8x16 font draws consoles. */
#define CONSOLE_FONT_ROM "/usr/share/seabios/vgabios-stdvga.bin"

/* Find the 8x16 code page 437 font in a VGA BIOS image (256 glyphs of 16 bytes); true when
 * found. */
bool console_font_find(const uint8_t *rom, size_t size, uint8_t font[256 * CONSOLE_FONT_HEIGHT]);
/* Load the font from the VGA BIOS file at path; false (font unchanged) when it cannot. */
bool console_font_load(const char *path, uint8_t font[256 * CONSOLE_FONT_HEIGHT]);
/* Draw vc into r (font NULL: a box per character) when it changed since *drawn or force;
 * returns as vga_render_update does: 0 nothing, 1 lines in r->line_dirty, 2 a new surface. */
int console_render(struct vga_render *r, struct chardev *vc, const uint8_t *font, unsigned *drawn,
                   bool force);
/* The bytes a set-1 key press sends on a US keyboard (ESC [ A for cursor up...); 0 for keys
 * that send nothing. out holds 4. */
size_t console_key_bytes(uint16_t code, bool shift, bool ctrl, uint8_t out[4]);

#endif
