/* SDL2 front end. Keys go to the guest as key positions (SDL scancodes are USB HID usages),
 * so the guest's own keyboard layout applies and -k is not needed here. */
#include "ui/sdl.h"

#include <SDL.h>

#include "ui/dynlib.h"

/* The SDL2 functions used here, resolved when first needed (dynlib.h). */
#define SDL_FUNCS(X) \
    X(SDL_CreateRenderer) X(SDL_CreateTexture) X(SDL_CreateWindow) \
    X(SDL_DestroyRenderer) X(SDL_DestroyTexture) X(SDL_DestroyWindow) \
    X(SDL_GetCurrentVideoDriver) X(SDL_GetError) X(SDL_Init) \
    X(SDL_PollEvent) X(SDL_PushEvent) X(SDL_Quit) \
    X(SDL_RegisterEvents) X(SDL_RenderClear) X(SDL_RenderCopy) \
    X(SDL_RenderPresent) X(SDL_RenderSetLogicalSize) X(SDL_SetRelativeMouseMode) \
    X(SDL_SetWindowFullscreen) X(SDL_SetWindowGrab) X(SDL_SetWindowSize) \
    X(SDL_SetWindowTitle) X(SDL_UpdateTexture) X(SDL_WaitEventTimeout)
DYNLIB_DEFINE(SDL_FUNCS, "SDL2", "libSDL2-2.0.so.0", "libSDL2.so");
#define SDL_CreateRenderer (dynlib_api.p_SDL_CreateRenderer)
#define SDL_CreateTexture (dynlib_api.p_SDL_CreateTexture)
#define SDL_CreateWindow (dynlib_api.p_SDL_CreateWindow)
#define SDL_DestroyRenderer (dynlib_api.p_SDL_DestroyRenderer)
#define SDL_DestroyTexture (dynlib_api.p_SDL_DestroyTexture)
#define SDL_DestroyWindow (dynlib_api.p_SDL_DestroyWindow)
#define SDL_GetCurrentVideoDriver (dynlib_api.p_SDL_GetCurrentVideoDriver)
#define SDL_GetError (dynlib_api.p_SDL_GetError)
#define SDL_Init (dynlib_api.p_SDL_Init)
#define SDL_PollEvent (dynlib_api.p_SDL_PollEvent)
#define SDL_PushEvent (dynlib_api.p_SDL_PushEvent)
#define SDL_Quit (dynlib_api.p_SDL_Quit)
#define SDL_RegisterEvents (dynlib_api.p_SDL_RegisterEvents)
#define SDL_RenderClear (dynlib_api.p_SDL_RenderClear)
#define SDL_RenderCopy (dynlib_api.p_SDL_RenderCopy)
#define SDL_RenderPresent (dynlib_api.p_SDL_RenderPresent)
#define SDL_RenderSetLogicalSize (dynlib_api.p_SDL_RenderSetLogicalSize)
#define SDL_SetRelativeMouseMode (dynlib_api.p_SDL_SetRelativeMouseMode)
#define SDL_SetWindowFullscreen (dynlib_api.p_SDL_SetWindowFullscreen)
#define SDL_SetWindowGrab (dynlib_api.p_SDL_SetWindowGrab)
#define SDL_SetWindowSize (dynlib_api.p_SDL_SetWindowSize)
#define SDL_SetWindowTitle (dynlib_api.p_SDL_SetWindowTitle)
#define SDL_UpdateTexture (dynlib_api.p_SDL_UpdateTexture)
#define SDL_WaitEventTimeout (dynlib_api.p_SDL_WaitEventTimeout)
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TITLE "pcvm"
#define TITLE_GRABBED "pcvm - Press Ctrl-Alt-G to exit grab"

struct sdl_window {
    struct display *display;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool open;                /* the window exists: someone may be watching */
    Uint32 frame_event;              /* SDL user event: a new frame is in shadow */

    /* Start-up handshake: the thread reports whether SDL came up. */
    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    int start_state;                 /* 0 starting, 1 up, -1 failed */
    char start_err[256];

    /* The frame handed over by the main thread. */
    pthread_mutex_t lock;
    uint32_t *shadow;
    int width, height;
    bool resized;
    int y0, y1;                      /* lines changed since the thread last drew */

    /* SDL thread only. */
    SDL_Window *window;
    SDL_Renderer *renderer;
    SDL_Texture *texture;
    int tex_w, tex_h;
    bool grabbed, fullscreen;
    uint8_t buttons;
};

/* USB HID usage (SDL_Scancode) to set-1 code; 0 = no key. */
static uint16_t hid_to_set1(SDL_Scancode sc)
{
    static const uint8_t letters[26] = { 0x1e, 0x30, 0x2e, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17,
                                         0x24, 0x25, 0x26, 0x32, 0x31, 0x18, 0x19, 0x10, 0x13,
                                         0x1f, 0x14, 0x16, 0x2f, 0x11, 0x2d, 0x15, 0x2c };
    if (sc >= SDL_SCANCODE_A && sc <= SDL_SCANCODE_Z)
        return letters[sc - SDL_SCANCODE_A];
    if (sc >= SDL_SCANCODE_1 && sc <= SDL_SCANCODE_0)
        return (uint16_t)(0x02 + (sc - SDL_SCANCODE_1));
    if (sc >= SDL_SCANCODE_F1 && sc <= SDL_SCANCODE_F10)
        return (uint16_t)(0x3b + (sc - SDL_SCANCODE_F1));
    static const struct { SDL_Scancode sc; uint16_t code; } map[] = {
        { SDL_SCANCODE_RETURN, 0x1c }, { SDL_SCANCODE_ESCAPE, 0x01 },
        { SDL_SCANCODE_BACKSPACE, 0x0e }, { SDL_SCANCODE_TAB, 0x0f }, { SDL_SCANCODE_SPACE, 0x39 },
        { SDL_SCANCODE_MINUS, 0x0c }, { SDL_SCANCODE_EQUALS, 0x0d },
        { SDL_SCANCODE_LEFTBRACKET, 0x1a }, { SDL_SCANCODE_RIGHTBRACKET, 0x1b },
        { SDL_SCANCODE_BACKSLASH, 0x2b }, { SDL_SCANCODE_NONUSHASH, 0x2b },
        { SDL_SCANCODE_SEMICOLON, 0x27 }, { SDL_SCANCODE_APOSTROPHE, 0x28 },
        { SDL_SCANCODE_GRAVE, 0x29 }, { SDL_SCANCODE_COMMA, 0x33 }, { SDL_SCANCODE_PERIOD, 0x34 },
        { SDL_SCANCODE_SLASH, 0x35 }, { SDL_SCANCODE_CAPSLOCK, 0x3a }, { SDL_SCANCODE_F11, 0x57 },
        { SDL_SCANCODE_F12, 0x58 }, { SDL_SCANCODE_PRINTSCREEN, 0xe037 },
        { SDL_SCANCODE_SCROLLLOCK, 0x46 }, { SDL_SCANCODE_INSERT, 0xe052 },
        { SDL_SCANCODE_HOME, 0xe047 }, { SDL_SCANCODE_PAGEUP, 0xe049 },
        { SDL_SCANCODE_DELETE, 0xe053 }, { SDL_SCANCODE_END, 0xe04f },
        { SDL_SCANCODE_PAGEDOWN, 0xe051 }, { SDL_SCANCODE_RIGHT, 0xe04d },
        { SDL_SCANCODE_LEFT, 0xe04b }, { SDL_SCANCODE_DOWN, 0xe050 }, { SDL_SCANCODE_UP, 0xe048 },
        { SDL_SCANCODE_NUMLOCKCLEAR, 0x45 }, { SDL_SCANCODE_KP_DIVIDE, 0xe035 },
        { SDL_SCANCODE_KP_MULTIPLY, 0x37 }, { SDL_SCANCODE_KP_MINUS, 0x4a },
        { SDL_SCANCODE_KP_PLUS, 0x4e }, { SDL_SCANCODE_KP_ENTER, 0xe01c },
        { SDL_SCANCODE_KP_1, 0x4f }, { SDL_SCANCODE_KP_2, 0x50 }, { SDL_SCANCODE_KP_3, 0x51 },
        { SDL_SCANCODE_KP_4, 0x4b }, { SDL_SCANCODE_KP_5, 0x4c }, { SDL_SCANCODE_KP_6, 0x4d },
        { SDL_SCANCODE_KP_7, 0x47 }, { SDL_SCANCODE_KP_8, 0x48 }, { SDL_SCANCODE_KP_9, 0x49 },
        { SDL_SCANCODE_KP_0, 0x52 }, { SDL_SCANCODE_KP_PERIOD, 0x53 },
        { SDL_SCANCODE_NONUSBACKSLASH, 0x56 }, { SDL_SCANCODE_APPLICATION, 0xe05d },
        { SDL_SCANCODE_LCTRL, 0x1d }, { SDL_SCANCODE_LSHIFT, 0x2a }, { SDL_SCANCODE_LALT, 0x38 },
        { SDL_SCANCODE_LGUI, 0xe05b }, { SDL_SCANCODE_RCTRL, 0xe01d },
        { SDL_SCANCODE_RSHIFT, 0x36 }, { SDL_SCANCODE_RALT, 0xe038 }, { SDL_SCANCODE_RGUI, 0xe05c },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].sc == sc)
            return map[i].code;
    return 0;
}

static void post(struct sdl_window *w, struct display_event ev)
{
    ev.origin = w;   /* Ctrl-Alt-n switch this window's console only */
    display_post_event(w->display, &ev);
}

static void set_grab(struct sdl_window *w, bool grab)
{
    w->grabbed = grab;
    SDL_SetRelativeMouseMode(grab ? SDL_TRUE : SDL_FALSE);
    SDL_SetWindowGrab(w->window, grab ? SDL_TRUE : SDL_FALSE);
    SDL_SetWindowTitle(w->window, grab ? TITLE_GRABBED : TITLE);
}

/* Ctrl-Alt-<key> is pcvm's, not the guest's; true when handled. */
static bool hotkey(struct sdl_window *w, const SDL_KeyboardEvent *k)
{
    if ((k->keysym.mod & (KMOD_CTRL | KMOD_ALT)) == 0 || !(k->keysym.mod & KMOD_CTRL) ||
        !(k->keysym.mod & KMOD_ALT))
        return false;
    switch (k->keysym.scancode) {
    case SDL_SCANCODE_G:
        if (k->type == SDL_KEYDOWN)
            set_grab(w, !w->grabbed);
        return true;
    case SDL_SCANCODE_Q:
        if (k->type == SDL_KEYDOWN)
            post(w, (struct display_event){ .kind = DISPLAY_EV_QUIT });
        return true;
    case SDL_SCANCODE_F:
        if (k->type == SDL_KEYDOWN) {
            w->fullscreen = !w->fullscreen;
            SDL_SetWindowFullscreen(w->window, w->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
        }
        return true;
    default:
        return false;
    }
}

static void handle(struct sdl_window *w, const SDL_Event *e)
{
    switch (e->type) {
    case SDL_QUIT:
        post(w, (struct display_event){ .kind = DISPLAY_EV_QUIT });
        break;
    case SDL_KEYDOWN:
    case SDL_KEYUP: {
        if (hotkey(w, &e->key))
            break;
        uint16_t code = hid_to_set1(e->key.keysym.scancode);
        if (code)
            post(w, (struct display_event){ .kind = DISPLAY_EV_KEY, .code = code,
                                            .down = e->type == SDL_KEYDOWN });
        break;
    }
    case SDL_MOUSEMOTION:
        if (w->grabbed)
            post(w, (struct display_event){ .kind = DISPLAY_EV_MOUSE, .buttons = w->buttons,
                                            .dx = (int16_t)e->motion.xrel, .dy = (int16_t)e->motion.yrel });
        break;
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP: {
        if (!w->grabbed) {
            /* A click into the window grabs the pointer (the guest's mouse is relative). */
            if (e->type == SDL_MOUSEBUTTONDOWN && e->button.button == SDL_BUTTON_LEFT)
                set_grab(w, true);
            break;
        }
        uint8_t bit = e->button.button == SDL_BUTTON_LEFT ? 1 : e->button.button == SDL_BUTTON_RIGHT ? 2
                    : e->button.button == SDL_BUTTON_MIDDLE ? 4 : 0;
        if (e->type == SDL_MOUSEBUTTONDOWN)
            w->buttons |= bit;
        else
            w->buttons &= (uint8_t)~bit;
        post(w, (struct display_event){ .kind = DISPLAY_EV_MOUSE, .buttons = w->buttons });
        break;
    }
    case SDL_MOUSEWHEEL:
        if (w->grabbed && e->wheel.y)
            post(w, (struct display_event){ .kind = DISPLAY_EV_MOUSE, .buttons = w->buttons,
                                            .dz = (int16_t)(e->wheel.y > 0 ? -1 : 1) });
        break;
    case SDL_WINDOWEVENT:
        if (e->window.event == SDL_WINDOWEVENT_FOCUS_LOST && w->grabbed)
            set_grab(w, false);
        break;
    default:
        break;
    }
}

/* Copy the handed-over lines into the texture and show it. */
static void draw(struct sdl_window *w)
{
    pthread_mutex_lock(&w->lock);
    if (!w->shadow) {
        pthread_mutex_unlock(&w->lock);
        return;
    }
    if (!w->texture || w->tex_w != w->width || w->tex_h != w->height) {
        if (w->texture)
            SDL_DestroyTexture(w->texture);
        w->texture = SDL_CreateTexture(w->renderer, SDL_PIXELFORMAT_XRGB8888,
                                       SDL_TEXTUREACCESS_STREAMING, w->width, w->height);
        w->tex_w = w->width;
        w->tex_h = w->height;
        SDL_RenderSetLogicalSize(w->renderer, w->width, w->height);
        if (!w->fullscreen)
            SDL_SetWindowSize(w->window, w->width, w->height);
        w->y0 = 0;
        w->y1 = w->height;
    }
    if (w->texture && w->y0 < w->y1) {
        SDL_Rect r = { 0, w->y0, w->width, w->y1 - w->y0 };
        SDL_UpdateTexture(w->texture, &r, w->shadow + (size_t)w->y0 * (size_t)w->width,
                          w->width * 4);
    }
    w->y0 = w->y1 = 0;
    pthread_mutex_unlock(&w->lock);
    SDL_RenderClear(w->renderer);
    if (w->texture)
        SDL_RenderCopy(w->renderer, w->texture, NULL, NULL);
    SDL_RenderPresent(w->renderer);
}

static void start_done(struct sdl_window *w, int state, const char *msg)
{
    pthread_mutex_lock(&w->start_lock);
    w->start_state = state;
    if (msg)
        snprintf(w->start_err, sizeof(w->start_err), "%s", msg);
    pthread_cond_signal(&w->start_cond);
    pthread_mutex_unlock(&w->start_lock);
}

static void *sdl_thread(void *opaque)
{
    struct sdl_window *w = opaque;
    if (SDL_Init(SDL_INIT_VIDEO) < 0) {
        start_done(w, -1, SDL_GetError());
        return NULL;
    }
    /* SDL falls back to an invisible "offscreen" video driver: that is no window at all. */
    const char *driver = SDL_GetCurrentVideoDriver();
    if (!getenv("SDL_VIDEODRIVER") && driver && (!strcmp(driver, "offscreen") || !strcmp(driver, "dummy"))) {
        SDL_Quit();
        start_done(w, -1, "no display to open it on (is $DISPLAY set?)");
        return NULL;
    }
    w->frame_event = SDL_RegisterEvents(1);
    w->window = SDL_CreateWindow(TITLE, SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, 640, 480, 0);
    w->renderer = w->window ? SDL_CreateRenderer(w->window, -1, 0) : NULL;
    if (!w->renderer && w->window)
        w->renderer = SDL_CreateRenderer(w->window, -1, SDL_RENDERER_SOFTWARE);
    if (!w->window || !w->renderer || w->frame_event == (Uint32)-1) {
        start_done(w, -1, SDL_GetError());
        if (w->window)
            SDL_DestroyWindow(w->window);
        SDL_Quit();
        return NULL;
    }
    atomic_store(&w->open, true);
    start_done(w, 1, NULL);
    post(w, (struct display_event){ .kind = DISPLAY_EV_REFRESH });
    while (!atomic_load(&w->stop)) {
        SDL_Event e;
        if (!SDL_WaitEventTimeout(&e, 500))
            continue;
        bool redraw = false;
        do {
            if (e.type == w->frame_event)
                redraw = true;
            else
                handle(w, &e);
            if (e.type == SDL_WINDOWEVENT && (e.window.event == SDL_WINDOWEVENT_EXPOSED ||
                                              e.window.event == SDL_WINDOWEVENT_SIZE_CHANGED))
                redraw = true;
        } while (SDL_PollEvent(&e));
        if (redraw)
            draw(w);
    }
    atomic_store(&w->open, false);
    if (w->texture)
        SDL_DestroyTexture(w->texture);
    SDL_DestroyRenderer(w->renderer);
    SDL_DestroyWindow(w->window);
    SDL_Quit();
    return NULL;
}

static bool sdl_publish(void *opaque, const struct display_surface *s, bool resized, int y0, int y1)
{
    struct sdl_window *w = opaque;
    if (!atomic_load(&w->open))
        return true;
    if (pthread_mutex_trylock(&w->lock))
        return false;
    if (resized || s->width != w->width || s->height != w->height) {
        uint32_t *n = realloc(w->shadow, (size_t)s->width * (size_t)s->height * 4);
        if (!n) {
            pthread_mutex_unlock(&w->lock);
            return false;
        }
        w->shadow = n;
        w->width = s->width;
        w->height = s->height;
        y0 = 0;
        y1 = s->height;
    }
    memcpy(w->shadow + (size_t)y0 * (size_t)s->width, s->pixels + (size_t)y0 * (size_t)s->width,
           (size_t)(y1 - y0) * (size_t)s->width * 4);
    if (w->y0 >= w->y1) {
        w->y0 = y0;
        w->y1 = y1;
    } else {
        if (y0 < w->y0)
            w->y0 = y0;
        if (y1 > w->y1)
            w->y1 = y1;
    }
    pthread_mutex_unlock(&w->lock);
    SDL_Event e = { .type = w->frame_event };
    SDL_PushEvent(&e);
    return true;
}

static bool sdl_watching(void *opaque)
{
    struct sdl_window *w = opaque;
    return atomic_load(&w->open);
}

static void sdl_destroy(void *opaque)
{
    struct sdl_window *w = opaque;
    if (w->thread_started) {
        atomic_store(&w->stop, true);
        if (atomic_load(&w->open)) {
            SDL_Event e = { .type = w->frame_event };
            SDL_PushEvent(&e);
        }
        pthread_join(w->thread, NULL);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_mutex_destroy(&w->start_lock);
    pthread_cond_destroy(&w->start_cond);
    free(w->shadow);
    free(w);
}

static const struct display_frontend_ops sdl_ops = {
    .publish = sdl_publish,
    .watching = sdl_watching,
    .destroy = sdl_destroy,
};

struct sdl_window *sdl_start(struct display *d, char *err, size_t errlen)
{
    char why[320];
    if (dynlib_load(&dynlib_api_lib, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "pcvm: -display sdl: %s", why);
        return NULL;
    }
    struct sdl_window *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "pcvm: -display sdl: out of memory");
        return NULL;
    }
    w->display = d;
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_init(&w->start_lock, NULL);
    pthread_cond_init(&w->start_cond, NULL);
    if (pthread_create(&w->thread, NULL, sdl_thread, w)) {
        snprintf(err, errlen, "pcvm: -display sdl: cannot start the window thread");
        sdl_destroy(w);
        return NULL;
    }
    w->thread_started = true;
    pthread_mutex_lock(&w->start_lock);
    while (!w->start_state)
        pthread_cond_wait(&w->start_cond, &w->start_lock);
    pthread_mutex_unlock(&w->start_lock);
    if (w->start_state < 0) {
        snprintf(err, errlen, "pcvm: -display sdl: cannot open a window: %s", w->start_err);
        sdl_destroy(w);
        return NULL;
    }
    if (display_add_frontend(d, &sdl_ops, w) < 0) {
        snprintf(err, errlen, "pcvm: -display sdl: too many displays");
        sdl_destroy(w);
        return NULL;
    }
    return w;
}
