/* PPM and PNG writers for the display picture. */
#include "ui/screendump.h"

#include <errno.h>
#include <png.h>

#include "ui/dynlib.h"

/* The libpng functions used here, resolved when first needed (dynlib.h). */
#define PNG_FUNCS(X) \
    X(png_create_info_struct) X(png_create_write_struct) X(png_destroy_write_struct) \
    X(png_init_io) X(png_set_IHDR) X(png_set_longjmp_fn) \
    X(png_write_end) X(png_write_info) X(png_write_row)
DYNLIB_DEFINE(PNG_FUNCS, "libpng", "libpng16.so.16", "libpng16.so");
#define png_create_info_struct (dynlib_api.p_png_create_info_struct)
#define png_create_write_struct (dynlib_api.p_png_create_write_struct)
#define png_destroy_write_struct (dynlib_api.p_png_destroy_write_struct)
#define png_init_io (dynlib_api.p_png_init_io)
#define png_set_IHDR (dynlib_api.p_png_set_IHDR)
#define png_set_longjmp_fn (dynlib_api.p_png_set_longjmp_fn)
#define png_write_end (dynlib_api.p_png_write_end)
#define png_write_info (dynlib_api.p_png_write_info)
#define png_write_row (dynlib_api.p_png_write_row)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rgb_line(const struct display_surface *s, int y, uint8_t *out)
{
    const uint32_t *px = s->pixels + (size_t)y * (size_t)s->width;
    for (int x = 0; x < s->width; x++) {
        out[3 * x] = (uint8_t)(px[x] >> 16);
        out[3 * x + 1] = (uint8_t)(px[x] >> 8);
        out[3 * x + 2] = (uint8_t)px[x];
    }
}

static int write_ppm(const struct display_surface *s, FILE *f, uint8_t *line)
{
    if (fprintf(f, "P6\n%d %d\n255\n", s->width, s->height) < 0)
        return -1;
    for (int y = 0; y < s->height; y++) {
        rgb_line(s, y, line);
        if (fwrite(line, 3, (size_t)s->width, f) != (size_t)s->width)
            return -1;
    }
    return 0;
}

/* libpng reports errors by longjmp; the jump lands here and the file is abandoned. */
static int write_png(const struct display_surface *s, FILE *f, uint8_t *line)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png)
        return -1;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)s->width, (png_uint_32)s->height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < s->height; y++) {
        rgb_line(s, y, line);
        png_write_row(png, line);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int screendump_write(const struct display_surface *s, const char *path, enum screendump_format format,
                     char *err, size_t errlen)
{
    if (!s->pixels || s->width < 1 || s->height < 1) {
        snprintf(err, errlen, "no picture to dump");
        return -1;
    }
    if (format == SCREENDUMP_PNG && dynlib_load(&dynlib_api_lib, err, errlen) < 0)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "could not open '%s': %s", path, strerror(errno));
        return -1;
    }
    uint8_t *line = malloc((size_t)s->width * 3);
    int rc = line ? (format == SCREENDUMP_PNG ? write_png(s, f, line) : write_ppm(s, f, line)) : -1;
    free(line);
    if (fclose(f) != 0)
        rc = -1;
    if (rc < 0) {
        snprintf(err, errlen, "could not write '%s'", path);
        remove(path);
    }
    return rc;
}
