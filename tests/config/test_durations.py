"""Go's value syntax: every row is what Go's time and strconv packages return for it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeroserve.config.durations import (
    HOUR,
    MICROSECOND,
    MILLISECOND,
    MINUTE,
    SECOND,
    format_go_duration,
    format_go_fixed,
    format_go_float,
    go_quote,
    parse_go_bool,
    parse_go_duration,
    parse_go_float,
    parse_go_int,
    round_go_duration,
    truncate_go_duration,
)
from zeroserve.config.errors import GoSyntaxError

INT64_MAX = 2**63 - 1

DURATIONS = [
    pytest.param("0", 0, id="bare-zero-needs-no-unit"),
    pytest.param("+0", 0, id="signed-zero"),
    pytest.param("-0", 0, id="negative-zero"),
    pytest.param("0s", 0, id="zero-seconds"),
    pytest.param("6s", 6 * SECOND, id="seconds"),
    pytest.param("1.5s", 1500 * MILLISECOND, id="fractional-seconds"),
    pytest.param(".5s", 500 * MILLISECOND, id="no-leading-digit"),
    pytest.param("1.s", SECOND, id="no-fraction-digit"),
    pytest.param("1m30s", 90 * SECOND, id="minutes-and-seconds"),
    pytest.param("1h", HOUR, id="hour"),
    pytest.param("2h45m", 2 * HOUR + 45 * MINUTE, id="hours-and-minutes"),
    pytest.param("-1.5h", -(HOUR + 30 * MINUTE), id="negative"),
    pytest.param("+5m", 5 * MINUTE, id="plus-sign"),
    pytest.param("300ms", 300 * MILLISECOND, id="milliseconds"),
    pytest.param("1us", MICROSECOND, id="us"),
    pytest.param("1\u00b5s", MICROSECOND, id="micro-sign"),
    pytest.param("1\u03bcs", MICROSECOND, id="greek-mu"),
    pytest.param("7ns", 7, id="nanoseconds"),
    pytest.param("1h1h", 2 * HOUR, id="repeated-unit-adds"),
    pytest.param("1.0000000001s", SECOND, id="sub-nanosecond-fraction-truncated"),
    pytest.param("9223372036854775807ns", INT64_MAX, id="int64-max"),
    pytest.param("-9223372036854775808ns", -(2**63), id="int64-min"),
    pytest.param("2562047h47m16.854775807s", INT64_MAX, id="int64-max-spelled-out"),
]


@pytest.mark.parametrize(("text", "ns"), DURATIONS)
def test_go_duration_parses(text: str, ns: int) -> None:
    assert parse_go_duration(text) == ns


DURATION_ERRORS = [
    pytest.param("", 'time: invalid duration ""', id="empty"),
    pytest.param("-", 'time: invalid duration "-"', id="sign-only"),
    pytest.param("60", 'time: missing unit in duration "60"', id="missing-unit"),
    pytest.param("1m30", 'time: missing unit in duration "1m30"', id="missing-last-unit"),
    pytest.param("1x", 'time: unknown unit "x" in duration "1x"', id="unknown-unit"),
    pytest.param("1sec", 'time: unknown unit "sec" in duration "1sec"', id="unknown-long-unit"),
    pytest.param("1d", 'time: unknown unit "d" in duration "1d"', id="no-days"),
    pytest.param(".s", 'time: invalid duration ".s"', id="no-digits"),
    pytest.param("s", 'time: invalid duration "s"', id="unit-only"),
    pytest.param(" 1s", 'time: invalid duration " 1s"', id="leading-space"),
    pytest.param("1s ", 'time: unknown unit "s " in duration "1s "', id="trailing-space"),
    pytest.param(
        "9223372036854775808ns",
        'time: invalid duration "9223372036854775808ns"',
        id="overflow",
    ),
    pytest.param("1é", 'time: unknown unit "\\xc3\\xa9" in duration "1\\xc3\\xa9"', id="utf8"),
    pytest.param('1"', 'time: unknown unit "\\"" in duration "1\\""', id="quote-escaped"),
]


@pytest.mark.parametrize(("text", "message"), DURATION_ERRORS)
def test_go_duration_refuses(text: str, message: str) -> None:
    with pytest.raises(GoSyntaxError) as info:
        parse_go_duration(text)
    assert str(info.value) == message


FORMATS = [
    pytest.param(0, "0s", id="zero"),
    pytest.param(6 * SECOND, "6s", id="seconds"),
    pytest.param(1500 * MILLISECOND, "1.5s", id="fraction"),
    pytest.param(MINUTE, "1m0s", id="minute"),
    pytest.param(90 * SECOND, "1m30s", id="minute-thirty"),
    pytest.param(HOUR, "1h0m0s", id="hour"),
    pytest.param(HOUR + SECOND, "1h0m1s", id="hour-one-second"),
    pytest.param(-MINUTE, "-1m0s", id="negative"),
    pytest.param(500 * MILLISECOND, "500ms", id="milliseconds"),
    pytest.param(1_500_000, "1.5ms", id="fractional-milliseconds"),
    pytest.param(MICROSECOND, "1\u00b5s", id="micro-sign"),
    pytest.param(1, "1ns", id="nanosecond"),
    pytest.param(6 * SECOND + 1, "6.000000001s", id="nanosecond-over"),
    pytest.param(INT64_MAX, "2562047h47m16.854775807s", id="int64-max"),
]


@pytest.mark.parametrize(("ns", "text"), FORMATS)
def test_go_duration_formats(ns: int, text: str) -> None:
    assert format_go_duration(ns) == text


@settings(max_examples=300, derandomize=True)
@given(st.integers(min_value=-INT64_MAX, max_value=INT64_MAX))
def test_go_duration_round_trips(ns: int) -> None:
    assert parse_go_duration(format_go_duration(ns)) == ns


@pytest.mark.parametrize(
    ("ns", "rounded", "truncated"),
    [
        pytest.param(1_499_999_999, SECOND, SECOND, id="below-half"),
        pytest.param(1_500_000_000, 2 * SECOND, SECOND, id="half-rounds-up"),
        pytest.param(999_999_999, SECOND, 0, id="truncates-to-zero"),
        pytest.param(-1_500_000_000, -2 * SECOND, -SECOND, id="negative-half-away-from-zero"),
        pytest.param(3 * SECOND, 3 * SECOND, 3 * SECOND, id="whole"),
    ],
)
def test_go_duration_round_and_truncate(ns: int, rounded: int, truncated: int) -> None:
    assert round_go_duration(ns, SECOND) == rounded
    assert truncate_go_duration(ns, SECOND) == truncated


FLOATS = [
    pytest.param("70", 70.0, id="integer"),
    pytest.param("0.5", 0.5, id="fraction"),
    pytest.param(".5", 0.5, id="no-leading-digit"),
    pytest.param("5.", 5.0, id="no-fraction-digit"),
    pytest.param("-1", -1.0, id="negative"),
    pytest.param("+2", 2.0, id="plus"),
    pytest.param("1e2", 100.0, id="exponent"),
    pytest.param("1E-2", 0.01, id="negative-exponent"),
    pytest.param("1_000.5", 1000.5, id="underscores-between-digits"),
    pytest.param("0x1p-2", 0.25, id="hex"),
    pytest.param("0x1.8p1", 3.0, id="hex-fraction"),
    pytest.param("0x_1p0", 1.0, id="hex-underscore-after-prefix"),
    pytest.param("Inf", float("inf"), id="inf"),
    pytest.param("-infinity", float("-inf"), id="minus-infinity"),
    pytest.param("1e-400", 0.0, id="underflow-is-zero"),
]


@pytest.mark.parametrize(("text", "value"), FLOATS)
def test_go_float_parses(text: str, value: float) -> None:
    assert parse_go_float(text) == value


def test_go_float_parses_nan() -> None:
    value = parse_go_float("NaN")
    assert value != value


FLOAT_ERRORS = [
    pytest.param("", "invalid syntax", id="empty"),
    pytest.param("not a float", "invalid syntax", id="words"),
    pytest.param(" 1", "invalid syntax", id="space"),
    pytest.param(".", "invalid syntax", id="dot"),
    pytest.param("1e", "invalid syntax", id="bare-exponent"),
    pytest.param("_1", "invalid syntax", id="leading-underscore"),
    pytest.param("1__0", "invalid syntax", id="double-underscore"),
    pytest.param("1_", "invalid syntax", id="trailing-underscore"),
    pytest.param("+nan", "invalid syntax", id="signed-nan"),
    pytest.param("0x1", "invalid syntax", id="hex-needs-p-exponent"),
    pytest.param("70%", "invalid syntax", id="percent-sign"),
    pytest.param("\u0661", "invalid syntax", id="arabic-digit"),
    pytest.param("1e400", "value out of range", id="overflow"),
    pytest.param("-1e400", "value out of range", id="negative-overflow"),
]


@pytest.mark.parametrize(("text", "reason"), FLOAT_ERRORS)
def test_go_float_refuses(text: str, reason: str) -> None:
    with pytest.raises(GoSyntaxError) as info:
        parse_go_float(text)
    assert str(info.value) == f"strconv.ParseFloat: parsing {go_quote(text)}: {reason}"


INTS = [
    pytest.param("0", 0, id="zero"),
    pytest.param("+5", 5, id="plus"),
    pytest.param("-5", -5, id="minus"),
    pytest.param("007", 7, id="leading-zeros"),
    pytest.param("2147483647", 2**31 - 1, id="int32-max"),
    pytest.param("-2147483648", -(2**31), id="int32-min"),
]


@pytest.mark.parametrize(("text", "value"), INTS)
def test_go_int32_parses(text: str, value: int) -> None:
    assert parse_go_int(text, 32) == value


INT_ERRORS = [
    pytest.param("", "invalid syntax", id="empty"),
    pytest.param("-", "invalid syntax", id="sign-only"),
    pytest.param("1.0", "invalid syntax", id="float"),
    pytest.param("1_0", "invalid syntax", id="underscore"),
    pytest.param("1e3", "invalid syntax", id="exponent"),
    pytest.param("2147483648", "value out of range", id="int32-max-plus-one"),
    pytest.param("-2147483649", "value out of range", id="int32-min-minus-one"),
    pytest.param("5000000000x", "value out of range", id="overflow-found-before-bad-byte"),
]


@pytest.mark.parametrize(("text", "reason"), INT_ERRORS)
def test_go_int32_refuses(text: str, reason: str) -> None:
    with pytest.raises(GoSyntaxError) as info:
        parse_go_int(text, 32)
    assert str(info.value) == f'strconv.ParseInt: parsing "{text}": {reason}'


@pytest.mark.parametrize(
    ("text", "value"),
    [(t, True) for t in ("1", "t", "T", "TRUE", "true", "True")]
    + [(f, False) for f in ("0", "f", "F", "FALSE", "false", "False")],
)
def test_go_bool_parses(text: str, value: bool) -> None:
    assert parse_go_bool(text) is value


@pytest.mark.parametrize("text", ["yes", "no", "tRUE", "on", ""])
def test_go_bool_refuses(text: str) -> None:
    with pytest.raises(GoSyntaxError) as info:
        parse_go_bool(text)
    assert str(info.value) == f'strconv.ParseBool: parsing "{text}": invalid syntax'


FLOAT_FORMATS = [
    pytest.param(1.0, "1", id="whole"),
    pytest.param(100.0, "100", id="hundred"),
    pytest.param(0.01, "0.01", id="hundredth"),
    pytest.param(0.0001, "0.0001", id="smallest-plain"),
    pytest.param(0.00001, "1e-05", id="exponent-below-1e-4"),
    pytest.param(123456.0, "123456", id="largest-plain-exponent"),
    pytest.param(1e6, "1e+06", id="exponent-from-1e6"),
    pytest.param(1234567.0, "1.234567e+06", id="exponent-with-digits"),
    pytest.param(-2.5, "-2.5", id="negative"),
    pytest.param(-0.0, "-0", id="negative-zero"),
    pytest.param(0.1 + 0.2, "0.30000000000000004", id="shortest-round-trip"),
    pytest.param(float("inf"), "+Inf", id="inf"),
    pytest.param(float("nan"), "NaN", id="nan"),
]


@pytest.mark.parametrize(("value", "text"), FLOAT_FORMATS)
def test_go_float_formats_like_percent_v(value: float, text: str) -> None:
    assert format_go_float(value) == text


@settings(max_examples=300, derandomize=True)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_go_float_format_round_trips(value: float) -> None:
    assert parse_go_float(format_go_float(value)) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [(-0.5, "-0.500000"), (1.01, "1.010000"), (0.0, "0.000000"), (float("-inf"), "-Inf")],
)
def test_go_fixed_formats_like_percent_f(value: float, text: str) -> None:
    assert format_go_fixed(value) == text


@pytest.mark.parametrize(
    ("text", "quoted"),
    [("abc", '"abc"'), ('a"b', '"a\\"b"'), ("a\nb", '"a\\nb"'), ("é", '"é"'), ("\x01", '"\\x01"')],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted
