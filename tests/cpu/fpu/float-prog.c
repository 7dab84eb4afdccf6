/* A float-heavy 32-bit program for the x87/SSE conformance check of issue 4: its output must be
 * identical natively and inside a Linux guest in pcvm. Built twice by build-float-prog.sh:
 * x87 maths (-m32 -mfpmath=387) and SSE2 maths (-m32 -msse2 -mfpmath=sse). Everything printed
 * is exact: %.17g for doubles, %La for long doubles, hex for bit patterns. */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t checksum;

/* Fold the bits of a double and a long double into the running checksum. */
static void mix_d(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof(b));
    checksum = (checksum ^ b) * 0x100000001b3ull;
}

static void mix_ld(long double x)
{
    unsigned char b[10];
    memcpy(b, &x, sizeof(b));
    for (int i = 0; i < 10; i++)
        checksum = (checksum ^ b[i]) * 0x100000001b3ull;
}

static void show_d(const char *what, double x)
{
    printf("%-28s %.17g\n", what, x);
    mix_d(x);
}

static void show_ld(const char *what, long double x)
{
    printf("%-28s %La\n", what, x);
    mix_ld(x);
}

static void series(void)
{
    double pi = 0, e = 0, term = 1, h = 0, c = 0;
    long double pil = 0, el = 0, terml = 1;
    for (int k = 0; k < 200000; k++) {
        /* Leibniz with Kahan summation. */
        double t = (k & 1 ? -4.0 : 4.0) / (2 * k + 1) - c;
        double s = pi + t;
        c = (s - pi) - t;
        pi = s;
        pil += (k & 1 ? -4.0L : 4.0L) / (2 * k + 1);
    }
    for (int k = 1; k < 30; k++) {
        e += term;
        el += terml;
        term /= k;
        terml /= k;
    }
    for (int k = 1; k <= 100000; k++)
        h += 1.0 / k;
    show_d("leibniz pi", pi);
    show_ld("leibniz pi (long double)", pil);
    show_d("e series", e);
    show_ld("e series (long double)", el);
    show_d("harmonic 1e5", h);
    float f = 0;
    for (int k = 1; k <= 10000; k++)
        f += 1.0f / (float)k;
    show_d("harmonic 1e4 (float)", f);
}

static void elementary(void)
{
    static const double xs[] = { 0.0, -0.0, 1e-300, 0.5, 1.0, 2.0, 3.141592653589793, 10.0,
                                 100.5, 1e6, 1e22, -7.25, 0.7853981633974483, 1e-8 };
    char name[64];
    for (unsigned i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
        double x = xs[i];
        snprintf(name, sizeof(name), "sin(%g)", x); show_d(name, sin(x));
        snprintf(name, sizeof(name), "cos(%g)", x); show_d(name, cos(x));
        snprintf(name, sizeof(name), "tan(%g)", x); show_d(name, tan(x));
        snprintf(name, sizeof(name), "atan2(%g,3)", x); show_d(name, atan2(x, 3.0));
        snprintf(name, sizeof(name), "exp(%g)", x); show_d(name, exp(x / 8));
        snprintf(name, sizeof(name), "log(|%g|+1)", x); show_d(name, log(fabs(x) + 1));
        snprintf(name, sizeof(name), "sqrt(|%g|)", x); show_d(name, sqrt(fabs(x)));
        snprintf(name, sizeof(name), "pow(1.5,%g)", x); show_d(name, pow(1.5, fmod(x, 50)));
        snprintf(name, sizeof(name), "sinl(%g)", x); show_ld(name, sinl((long double)x));
        snprintf(name, sizeof(name), "sqrtl(|%g|)", x); show_ld(name, sqrtl(fabsl((long double)x)));
        snprintf(name, sizeof(name), "expl(%g/16)", x); show_ld(name, expl((long double)x / 16));
        snprintf(name, sizeof(name), "logl(|%g|+2)", x); show_ld(name, logl(fabsl((long double)x) + 2));
        snprintf(name, sizeof(name), "sinf(%g)", x); show_d(name, sinf((float)x));
    }
}

static void rounding(void)
{
    static const int modes[] = { FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO };
    static const char *names[] = { "nearest", "down", "up", "zero" };
    volatile double a = 1.0, b = 3.0, big = 2.5, neg = -2.5;
    volatile long double al = 1.0L, bl = 3.0L;
    char name[64];
    for (int m = 0; m < 4; m++) {
        fesetround(modes[m]);
        snprintf(name, sizeof(name), "1/3 %s", names[m]); show_d(name, a / b);
        snprintf(name, sizeof(name), "1/3 ld %s", names[m]); show_ld(name, al / bl);
        snprintf(name, sizeof(name), "rint(2.5) %s", names[m]); show_d(name, rint(big));
        snprintf(name, sizeof(name), "lrint(-2.5) %s", names[m]);
        printf("%-28s %ld\n", name, lrint(neg));
        snprintf(name, sizeof(name), "sqrt(2) %s", names[m]); show_d(name, sqrt(a + 1));
        snprintf(name, sizeof(name), "float 1/3 %s", names[m]); show_d(name, (float)a / (float)b);
    }
    fesetround(FE_TONEAREST);
}

static void specials(void)
{
    volatile double zero = 0.0, one = 1.0, tiny = DBL_MIN, huge = DBL_MAX;
    feclearexcept(FE_ALL_EXCEPT);
    show_d("1/0", one / zero);
    show_d("-1/0", -one / zero);
    show_d("0/0 is nan", isnan(zero / zero) ? 1.0 : 0.0);
    show_d("min/3 (denormal)", tiny / 3);
    show_d("denormal*2^60", tiny / 3 * 1152921504606846976.0);
    show_d("max*2", huge * 2);
    show_d("sqrt(-1) is nan", isnan(sqrt(-one)) ? 1.0 : 0.0);
    int ex = fetestexcept(FE_ALL_EXCEPT);
    printf("%-28s %#x\n", "exceptions raised", ex & (FE_DIVBYZERO | FE_INVALID | FE_OVERFLOW));
    show_ld("LDBL_MIN/7", LDBL_MIN / 7);
    show_ld("LDBL_MAX", LDBL_MAX);
    show_d("nextafter(1,2)", nextafter(1.0, 2.0));
    show_d("ldexp(1,-1074)", ldexp(1.0, -1074));
    show_d("frexp mantissa", frexp(123456.789, &ex));
    printf("%-28s %d\n", "frexp exponent", ex);
    show_d("fmod(1e22,3)", fmod(1e22, 3.0));
    show_d("remainder(10,3)", remainder(10.0, 3.0));
    long double q = 1e4000L;
    show_ld("1e4000L", q);
    show_ld("1e4000L*1e-4000L", q * 1e-4000L);
    printf("%-28s %lld\n", "llrint(2^62+0.5)", llrint(4611686018427387904.0));
    printf("%-28s %d\n", "(int)-3.99", (int)(volatile double){ -3.99 });
    printf("%-28s %u\n", "(unsigned)3e9", (unsigned)(volatile double){ 3e9 });
}

static void matrix(void)
{
    /* Gauss-Jordan inverse of a Hilbert matrix: ill-conditioned, so every rounding shows. */
    enum { N = 6 };
    double m[N][2 * N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 2 * N; j++)
            m[i][j] = j < N ? 1.0 / (i + j + 1) : (j - N == i);
    for (int c = 0; c < N; c++) {
        double p = m[c][c];
        for (int j = 0; j < 2 * N; j++)
            m[c][j] /= p;
        for (int i = 0; i < N; i++)
            if (i != c) {
                double f = m[i][c];
                for (int j = 0; j < 2 * N; j++)
                    m[i][j] -= f * m[c][j];
            }
    }
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "hilbert inv [%d][%d]", i, N - 1 - i);
        show_d(name, m[i][2 * N - 1 - i]);
    }
}

static void mandelbrot(void)
{
    unsigned long total = 0;
    for (int y = -20; y < 20; y++)
        for (int x = -40; x < 20; x++) {
            double cr = x / 20.0, ci = y / 20.0, zr = 0, zi = 0;
            int n = 0;
            while (n < 500 && zr * zr + zi * zi < 4) {
                double t = zr * zr - zi * zi + cr;
                zi = 2 * zr * zi + ci;
                zr = t;
                n++;
            }
            total += (unsigned long)n;
        }
    printf("%-28s %lu\n", "mandelbrot iterations", total);
    float fr = 0.25f, fi = 0.5f;
    for (int k = 0; k < 1000; k++) {
        float t = fr * fr - fi * fi - 0.75f;
        fi = 2 * fr * fi + 0.1f;
        fr = t;
        if (fr * fr + fi * fi > 4) {
            fr = fr / 2;
            fi = fi / 3;
        }
    }
    show_d("float orbit re", fr);
    show_d("float orbit im", fi);
}

int main(void)
{
    series();
    elementary();
    rounding();
    specials();
    matrix();
    mandelbrot();
    printf("%-28s %016llx\n", "checksum", (unsigned long long)checksum);
    return 0;
}
