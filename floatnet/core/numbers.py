"""Integers from untrusted input (query strings, JSON bodies), bounded to what the database can store.

Neutron validates numbers with ``convert_to_int`` and ``type:range`` before they reach SQL; without a bound a
value such as ``99999999999999999999`` overflows the driver (a 500 and a dropped connection). Every failure
here is a 400 ``HTTPBadRequest`` that names the attribute, with neutron-lib's range wording.
"""

from __future__ import annotations

from typing import Any

from floatnet.core.errors import HTTPBadRequest

DB_INTEGER_MAX = 2**31 - 1  # neutron-lib's DB_INTEGER_MAX_VALUE: the largest value an INTEGER column holds
DB_INTEGER_MIN = -(2**31)
BIGINT_MAX = 2**63 - 1  # a BIGINT column (the change feed's sequence numbers)


def _shown(value: Any) -> str:
    """``value`` as text for a message, cut so a megabyte of digits does not come back in the error."""
    try:
        text = str(value)
    except ValueError:  # an int beyond Python's digit limit for text conversion
        return "<a number too long to show>"
    return text if len(text) <= 64 else text[:61] + "..."


def _invalid(name: str, reason: str) -> HTTPBadRequest:
    return HTTPBadRequest(msg=f"Invalid input for {name}. Reason: {reason}.")


def bounded_int(name: str, value: Any, low: int = DB_INTEGER_MIN, high: int = DB_INTEGER_MAX) -> int:
    """``value`` (an int, or its decimal text) as an int within ``low``..``high``, else a 400 naming ``name``.

    Booleans and non-integral numbers are refused (``true`` is not ``1`` here, as in Neutron's validators).
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _invalid(name, f"'{_shown(value)}' is not an integer")
    try:
        number = int(value.strip()) if isinstance(value, str) else value
    except ValueError:  # also texts longer than Python's int digit limit
        raise _invalid(name, f"'{_shown(value)}' is not an integer") from None
    if number < low:
        raise _invalid(name, f"'{_shown(number)}' is too small - must be at least '{low}'")
    if number > high:
        raise _invalid(name, f"'{_shown(number)}' is too large - must be no larger than '{high}'")
    return number
