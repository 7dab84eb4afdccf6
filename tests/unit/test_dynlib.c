/* Libraries loaded on first use (ui/dynlib.h): a present library fills its table once, a
 * missing library or symbol gives one line naming it and leaves the library unloaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "ui/dynlib.h"

/* zlib stands in for the display libraries: pcvm links it anyway, and dlopen shares it. */
#define Z_FUNCS(X) X(zlibVersion) X(crc32)
DYNLIB_DEFINE(Z_FUNCS, "zlib", "libz.so.1");

static void test_loads_and_resolves(void **state)
{
    (void)state;
    struct dynlib lib = dynlib_api_lib;
    char err[256] = "";
    assert_int_equal(lib.nsyms, 2);
    assert_int_equal(dynlib_load(&lib, err, sizeof(err)), 0);
    assert_non_null(lib.handle);
    assert_string_equal(dynlib_api.p_zlibVersion(), zlibVersion());
    assert_int_equal(dynlib_api.p_crc32(0, (const Bytef *)"pcvm", 4), crc32(0, (const Bytef *)"pcvm", 4));
    void *h = lib.handle;
    assert_int_equal(dynlib_load(&lib, err, sizeof(err)), 0);   /* the second call is free */
    assert_ptr_equal(lib.handle, h);
}

static void test_missing_library(void **state)
{
    (void)state;
    static const char *const names[] = { "libpcvm-no-such-lib.so.7", "libpcvm-no-such-lib.so", NULL };
    struct dynlib lib = { "nosuch", names, dynlib_api_syms, 2, NULL };
    char err[256] = "";
    assert_int_equal(dynlib_load(&lib, err, sizeof(err)), -1);
    assert_null(lib.handle);
    assert_non_null(strstr(err, "cannot load nosuch"));
    assert_non_null(strstr(err, "libpcvm-no-such-lib.so.7"));   /* the soname's reason, not the fallback's */
    assert_null(strchr(err, '\n'));
}

static void test_missing_symbol(void **state)
{
    (void)state;
    static void *slot;
    static const struct dynlib_sym syms[] = { { "pcvm_no_such_function", &slot } };
    static const char *const names[] = { "libz.so.1", NULL };
    struct dynlib lib = { "zlib", names, syms, 1, NULL };
    char err[256] = "";
    assert_int_equal(dynlib_load(&lib, err, sizeof(err)), -1);
    assert_null(lib.handle);
    assert_non_null(strstr(err, "pcvm_no_such_function"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_and_resolves),
        cmocka_unit_test(test_missing_library),
        cmocka_unit_test(test_missing_symbol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
