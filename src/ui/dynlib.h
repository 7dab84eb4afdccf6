/* Shared libraries loaded on first use (dlopen), so a machine without a window, VNC server,
 * PNG screendump or -k XKB layout starts without linking SDL2, libvncserver, libpng or
 * libxkbcommon and the ~60 libraries they pull in. Each user lists the functions it calls in
 * an X-macro, defines its table of pointers with DYNLIB_DEFINE and redirects the names to the
 * table with #define after it; the headers (and so the prototypes) stay the libraries' own. */
#ifndef PCVM_UI_DYNLIB_H
#define PCVM_UI_DYNLIB_H

#include <stddef.h>

/* One symbol to resolve: its name and where its address goes. */
struct dynlib_sym {
    const char *name;
    void **slot;
};

/* A library: the names to try (sonames first), the symbols, and its handle once open. */
struct dynlib {
    const char *what;                /* for messages: "SDL2" */
    const char *const *sonames;      /* NULL-terminated */
    const struct dynlib_sym *syms;
    size_t nsyms;
    void *handle;
};

/* Open lib (once; later calls return at once) and fill every slot; 0, or -1 with one line in
 * err naming the library and what is missing. Thread-safe. */
int dynlib_load(struct dynlib *lib, char *err, size_t errlen);

/* A table type NAME with a pointer member p_F for every F of LIST, of F's own type. */
#define DYNLIB_SLOT_(f) __typeof__(f) *p_##f;
#define DYNLIB_TABLE(name, list) struct name { list(DYNLIB_SLOT_) }
/* The dynlib_sym entry of F in the file's table dynlib_api (a use inside a LIST expansion). */
#define DYNLIB_API_SYM_(f) { #f, (void **)&dynlib_api.p_##f },
/* In a .c file, once: the table dynlib_api with a pointer p_F for every F of LIST, and
 * dynlib_api_lib, the library WHAT ("SDL2") tried under the sonames given, that fills it.
 * Call F through `#define F (dynlib_api.p_F)` after loading dynlib_api_lib. */
#define DYNLIB_DEFINE(list, what, ...)                                                    \
    static DYNLIB_TABLE(dynlib_api_table, list) dynlib_api;                               \
    static const struct dynlib_sym dynlib_api_syms[] = { list(DYNLIB_API_SYM_) };        \
    static const char *const dynlib_api_sonames[] = { __VA_ARGS__, NULL };                \
    static struct dynlib dynlib_api_lib = { what, dynlib_api_sonames, dynlib_api_syms,    \
                                            sizeof(dynlib_api_syms) / sizeof(dynlib_api_syms[0]), NULL }

#endif
