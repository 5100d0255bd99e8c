"""Go's value syntax, so that settings parse and print exactly as Knative's do.

Knative reads ``config-autoscaler`` and the autoscaling annotations with Go's
``time.ParseDuration`` and ``strconv`` (ParseFloat, ParseInt, ParseBool), and prints
values with ``%v`` (``1m0s``, ``1e+06``) and ``%f``. A user who moves a ConfigMap
between Knative and Zeroserve must get the same values and the same refusals, so this
module reproduces those rules, error texts included, rather than Python's looser ones
(Python's ``float`` accepts spaces and Unicode digits, its ``int`` accepts ``1_0``).

Durations are whole nanoseconds here (Go's ``time.Duration``); the rest of Zeroserve
uses float seconds, converted at the edge with ``ns_to_seconds``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from zeroserve.config.errors import GoSyntaxError

NANOSECOND = 1
MICROSECOND = 1_000
MILLISECOND = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,  # micro sign
    "\u03bcs": MICROSECOND,  # Greek small letter mu
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_U63 = 1 << 63


# -- durations -------------------------------------------------------------------------


def parse_go_duration(text: str) -> int:
    """Nanoseconds, as ``time.ParseDuration``: a unit on every number, except a bare ``0``."""
    s = text
    negative = False
    if s and s[0] in "+-":
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise _invalid_duration(text)
    total = 0
    while s:
        if not (s[0] == "." or _is_digit(s[0])):
            raise _invalid_duration(text)
        whole, s, ok = _leading_int(s)
        if not ok:
            raise _invalid_duration(text)
        had_whole = whole is not None
        value = whole or 0
        fraction, scale, had_fraction = 0, 1.0, False
        if s and s[0] == ".":
            fraction, scale, rest = _leading_fraction(s[1:])
            had_fraction = len(rest) != len(s) - 1
            s = rest
        if not had_whole and not had_fraction:
            raise _invalid_duration(text)
        i = 0
        while i < len(s) and s[i] != "." and not _is_digit(s[i]):
            i += 1
        if i == 0:
            raise GoSyntaxError(f"time: missing unit in duration {_time_quote(text)}", value=text)
        name, s = s[:i], s[i:]
        unit = _UNITS.get(name)
        if unit is None:
            raise GoSyntaxError(
                f"time: unknown unit {_time_quote(name)} in duration {_time_quote(text)}",
                value=text,
            )
        if value > _U63 // unit:
            raise _invalid_duration(text)
        value *= unit
        if fraction > 0:
            # Go computes the fraction in float64 and truncates it, as here.
            value += int(float(fraction) * (float(unit) / scale))
            if value > _U63:
                raise _invalid_duration(text)
        total += value
        if total > _U63:
            raise _invalid_duration(text)
    if negative:
        return -total
    if total > _U63 - 1:
        raise _invalid_duration(text)
    return total


def format_go_duration(ns: int) -> str:
    """Go's ``Duration.String``: ``0s``, ``1.5s``, ``1m0s``, ``1h0m0s``, ``500ms``."""
    negative = ns < 0
    u = -ns if negative else ns
    if u < SECOND:
        if u == 0:
            return "0s"
        if u < MICROSECOND:
            precision, unit = 0, "ns"
        elif u < MILLISECOND:
            precision, unit = 3, "\u00b5s"
        else:
            precision, unit = 6, "ms"
        frac, whole = _format_fraction(u, precision)
        text = f"{whole}{frac}{unit}"
    else:
        frac, seconds = _format_fraction(u, 9)
        text = f"{seconds % 60}{frac}s"
        minutes = seconds // 60
        if minutes > 0:
            text = f"{minutes % 60}m{text}"
            hours = minutes // 60
            if hours > 0:
                text = f"{hours}h{text}"
    return f"-{text}" if negative else text


def ns_to_seconds(ns: int) -> float:
    return ns / SECOND


def seconds_to_ns(seconds: float) -> int:
    return round(seconds * SECOND)


def round_go_duration(ns: int, multiple: int) -> int:
    """Go's ``Duration.Round``: halves away from zero."""
    if multiple <= 0:
        return ns
    remainder = abs(ns) % multiple
    magnitude = abs(ns) - remainder
    if remainder + remainder >= multiple:
        magnitude += multiple
    return -magnitude if ns < 0 else magnitude


def truncate_go_duration(ns: int, multiple: int) -> int:
    """Go's ``Duration.Truncate``: towards zero."""
    if multiple <= 0:
        return ns
    magnitude = abs(ns) - abs(ns) % multiple
    return -magnitude if ns < 0 else magnitude


def _leading_int(s: str) -> tuple[int | None, str, bool]:
    value, i = 0, 0
    while i < len(s) and _is_digit(s[i]):
        if value > _U63 // 10:
            return None, s, False
        value = value * 10 + ord(s[i]) - 48
        if value > _U63:
            return None, s, False
        i += 1
    return (value if i else None), s[i:], True


def _leading_fraction(s: str) -> tuple[int, float, str]:
    value, scale, i, overflow = 0, 1.0, 0, False
    while i < len(s) and _is_digit(s[i]):
        if not overflow:
            if value > (_U63 - 1) // 10:
                overflow = True
            else:
                bigger = value * 10 + ord(s[i]) - 48
                if bigger > _U63:
                    overflow = True
                else:
                    value, scale = bigger, scale * 10
        i += 1
    return value, scale, s[i:]


def _format_fraction(v: int, precision: int) -> tuple[str, int]:
    digits: list[str] = []
    printed = False
    for _ in range(precision):
        digit = v % 10
        printed = printed or digit != 0
        if printed:
            digits.append(str(digit))
        v //= 10
    return ("." + "".join(reversed(digits)) if printed else ""), v


def _invalid_duration(text: str) -> GoSyntaxError:
    return GoSyntaxError(f"time: invalid duration {_time_quote(text)}", value=text)


def _time_quote(s: str) -> str:
    """The time package's own quoting: non-ASCII and control bytes as ``\\xNN``."""
    out = ['"']
    for c in s:
        if c >= "\x80" or c < " ":
            out.extend(f"\\x{b:02x}" for b in c.encode("utf-8", "surrogatepass"))
        else:
            if c in '"\\':
                out.append("\\")
            out.append(c)
    out.append('"')
    return "".join(out)


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


# -- strconv ---------------------------------------------------------------------------

_DIGITS = r"[0-9]+(?:_[0-9]+)*"
_HEX = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"
_DECIMAL_FLOAT = re.compile(
    rf"[+-]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?"
)
_HEX_FLOAT = re.compile(rf"[+-]?0[xX](?:_?{_HEX}(?:\.(?:{_HEX})?)?|\.{_HEX})[pP][+-]?{_DIGITS}")
_INFINITY = re.compile(r"[+-]?(?:inf|infinity)", re.IGNORECASE)
_NAN = re.compile(r"nan", re.IGNORECASE)


def parse_go_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)``: Go literal syntax, ``Inf``/``NaN``, range errors."""
    if _INFINITY.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.fullmatch(text):
        return math.nan
    plain = text.replace("_", "")
    if _DECIMAL_FLOAT.fullmatch(text):
        value = float(plain)
    elif _HEX_FLOAT.fullmatch(text):
        try:
            value = float.fromhex(plain)
        except OverflowError:
            raise _num_error("ParseFloat", text, "value out of range") from None
    else:
        raise _num_error("ParseFloat", text, "invalid syntax")
    if math.isinf(value):
        raise _num_error("ParseFloat", text, "value out of range")
    return value


def parse_go_int(text: str, bit_size: int = 64, *, func: str = "ParseInt") -> int:
    """``strconv.ParseInt(text, 10, bit_size)``: an optional sign and ASCII digits."""
    s = text
    negative = False
    if s and s[0] in "+-":
        negative = s[0] == "-"
        s = s[1:]
    if not s:
        raise _num_error(func, text, "invalid syntax")
    unsigned_max = (1 << bit_size) - 1
    magnitude = 0
    for c in s:
        if not _is_digit(c):
            raise _num_error(func, text, "invalid syntax")
        magnitude = magnitude * 10 + ord(c) - 48
        if magnitude > unsigned_max:  # Go stops at the first overflow, before any bad byte
            raise _num_error(func, text, "value out of range")
    cutoff = 1 << (bit_size - 1)
    if (not negative and magnitude >= cutoff) or (negative and magnitude > cutoff):
        raise _num_error(func, text, "value out of range")
    return -magnitude if negative else magnitude


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_go_bool(text: str) -> bool:
    """``strconv.ParseBool``."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _num_error("ParseBool", text, "invalid syntax")


def format_go_float(x: float) -> str:
    """Go's ``%v`` for a float64: shortest digits, exponent form outside [1e-4, 1e6)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return f"{sign}0"
    _, digit_tuple, exponent = Decimal(repr(abs(x))).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len(digit_tuple) - len(digits)
    digits = digits.lstrip("0")
    point = len(digits) + exponent  # digits before the decimal point
    e10 = point - 1
    if e10 < -4 or e10 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if e10 < 0 else '+'}{abs(e10):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_go_fixed(x: float) -> str:
    """Go's ``%f``: six decimals."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return f"{x:.6f}"


def go_quote(s: str) -> str:
    """``strconv.Quote``: printable runes as they are, the rest escaped Go's way."""
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    named |= {"\v": "\\v", "\\": "\\\\", '"': '\\"'}
    out = ['"']
    for c in s:
        code = ord(c)
        if c in named:
            out.append(named[c])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif c.isprintable():
            out.append(c)
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _num_error(func: str, text: str, reason: str) -> GoSyntaxError:
    return GoSyntaxError(f"strconv.{func}: parsing {go_quote(text)}: {reason}", value=text)
