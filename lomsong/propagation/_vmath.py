"""Elementary functions that LLVM can vectorise: exp, log, log10, cube root, sin/cos.

Private module for numba kernels. A loop that calls libm (``math.exp`` …) runs one element at a
time: LLVM has no vector version of those calls here (llvmlite's LLVM is not built with Intel's
SVML). These functions are plain arithmetic on float64 with the exponent handled through integer
bit casts, so a numba loop over arrays that uses only them, ``math.sqrt`` and selects is compiled
to AVX2 code (4 doubles per instruction).

Accuracy, checked in ``tests/test_vmath.py`` against numpy on 10⁶ arguments per function:

- :func:`vexp`: relative error ≤ 2e-14 for −708 ≤ x ≤ 709 (9e-15 measured); 0 below, +inf
  above, NaN for NaN;
- :func:`vlog`, :func:`vlog10`: absolute error ≤ 3e-14 · max(1, |log x|) for positive normal
  finite x (1.2e-14 measured), NaN for NaN. **No other domain checks** (0, negative,
  subnormal or inf give meaningless finite values): callers test their arguments;
- :func:`vcbrt`: relative error ≤ 2e-13 for positive normal x (as ``exp(log(x) / 3)``);
- :func:`vsincos`: absolute error ≤ 1e-15 for 0 ≤ x ≤ π.

That is ~10 digits more than the engine needs (its losses are compared with ITM at 0.01 dB),
and the polynomials are as short as that allows: these functions are most of the kernel's
instructions.

Method: exp reduces x = k·ln 2 + r with |r| ≤ ln 2 / 2 (Cody-Waite split of ln 2), a degree-11
Taylor polynomial of e^r, and 2^k built in the exponent bits; log splits x = 2^e·m with
m ∈ [√½, √2) and sums the series ln m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172, to s¹⁵;
sin/cos shift to y = x − π/2 ∈ [−π/2, π/2] and use Taylor polynomials to y²¹ / y²².
"""

from __future__ import annotations

import math

import numba as nb
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["vexp", "vlog", "vlog10", "vcbrt", "vsincos"]


@intrinsic
def _f2i(typingctx, x):  # noqa: ARG001 (numba's intrinsic signature)
    """The bits of a float64 as an int64 (an LLVM bitcast: free, vectorisable)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):  # noqa: ARG001
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _i2f(typingctx, x):  # noqa: ARG001
    """The float64 whose bits are the int64 ``x``."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):  # noqa: ARG001
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts (fdlibm): k·LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.4426950408889634
_LN2 = 0.6931471805599453
_INV_LN10 = 0.4342944819032518
_SQRT2 = 1.4142135623730951
_HALF_PI = 1.5707963267948966
# Taylor coefficients: e^r = Σ r^k / k!, k ≤ 11; ln m = 2s Σ s^2k / (2k + 1), k ≤ 7;
# sin y = y Σ (−1)^k y^2k / (2k + 1)!, k ≤ 10; cos y = Σ (−1)^k y^2k / (2k)!, k ≤ 11
_EXP = tuple(1.0 / math.factorial(k) for k in range(12))
_ATANH = tuple(1.0 / (2 * k + 1) for k in range(8))
_SIN = tuple((-1.0) ** k / math.factorial(2 * k + 1) for k in range(11))
_COS = tuple((-1.0) ** k / math.factorial(2 * k) for k in range(12))


@nb.njit(cache=True, inline="always")
def _horner(x: float, c: tuple) -> float:
    """Σ c[k] x^k (a constant-length loop: LLVM unrolls it)."""
    p = c[len(c) - 1]
    for k in range(len(c) - 2, -1, -1):
        p = p * x + c[k]
    return p


@nb.njit(cache=True, inline="always", error_model="numpy")
def vexp(x: float) -> float:
    """e^x (see the module docstring for accuracy)."""
    xc = min(max(x, -708.0), 709.0)
    kf = math.floor(xc * _INV_LN2 + 0.5)
    r = (xc - kf * _LN2_HI) - kf * _LN2_LO
    p = _horner(r, _EXP)
    # 2^k as exponent bits; k + 1023 ∈ [2, 2046] after the clamp
    v = p * _i2f((nb.int64(kf) + 1023) << 52)
    v = 0.0 if x < -708.0 else v
    v = math.inf if x > 709.0 else v
    return v if x == x else x  # NaN stays NaN


@nb.njit(cache=True, inline="always", error_model="numpy")
def vlog(x: float) -> float:
    """Natural logarithm of a positive normal finite x (no domain checks)."""
    bits = _f2i(x)
    e = ((bits >> 52) & 0x7FF) - 1023
    m = _i2f((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # mantissa in [1, 2)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    ef = float(e + 1) if big else float(e)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = _horner(s2, _ATANH)
    v = 2.0 * s * p + ef * _LN2
    return v if x == x else x  # NaN stays NaN


@nb.njit(cache=True, inline="always", error_model="numpy")
def vlog10(x: float) -> float:
    """Base-10 logarithm of a positive normal finite x (no domain checks)."""
    return vlog(x) * _INV_LN10


@nb.njit(cache=True, inline="always", error_model="numpy")
def vcbrt(x: float) -> float:
    """Cube root of a positive normal finite x (no domain checks)."""
    return vexp(vlog(x) * (1.0 / 3.0))


@nb.njit(cache=True, inline="always", error_model="numpy")
def vsincos(x: float) -> tuple[float, float]:
    """(sin x, cos x) for 0 ≤ x ≤ π."""
    y = x - _HALF_PI  # sin x = cos y, cos x = −sin y
    y2 = y * y
    sin_y = y * _horner(y2, _SIN)
    cos_y = _horner(y2, _COS)
    return cos_y, -sin_y
