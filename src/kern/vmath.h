/* vmath.h - a square root that vectorises, shared by the kernel passes
 * (kernel.c, dotk.c). Private to the library. */
#ifndef KMILL_KERN_VMATH_H
#define KMILL_KERN_VMATH_H

#include <stdint.h>
#include <string.h>

/* sqrt_pos(x) for x >= 0. Not sqrtf: under the default -fmath-errno GCC guards every sqrtf with a
 * test and a libm call for negative operands, and the loop stays scalar;
 * optimize("no-math-errno") on the function does not lift that in GCC 12,
 * and the build flags are the project's. So: the bit-trick estimate of
 * 1/sqrt(x) (relative error up to 3.4%), two Newton steps for 1/sqrt
 * (1.8e-3, then 5e-6), s = x y, and one Newton step on s itself,
 * s += y/2 (x - s^2), which leaves float rounding (a few 1e-8). sqrt(0) =
 * 0 exactly (y stays finite), NaN stays NaN; inputs below FLT_MIN
 * (distances under 1e-19) come out inexact, which no kernel value can
 * see. A dozen vector operations (fewer fused), about what the
 * exponential costs: the one thing in the pass that the hardware
 * instruction would do more cheaply, if GCC would emit it here. */
static inline __attribute__((always_inline)) float sqrt_pos(float x)
{
    uint32_t b;
    memcpy(&b, &x, 4);
    b = 0x5f375a86u - (b >> 1);
    float y;
    memcpy(&y, &b, 4);
    float h = 0.5f * x;
    y = y * (1.5f - h * y * y);
    y = y * (1.5f - h * y * y);
    float s = x * y;
    return s + (0.5f * y) * (x - s * s);
}

#endif
