"""What a widget value looks like in a URL, and which URL values a widget may take (pure: no Streamlit)."""

from __future__ import annotations

from collections.abc import Sequence

MAX_TEXT = 2000  # longest free text a link may carry (the longest text box takes 2000)


def encode_value(value: object) -> str:
    """A widget value as it stands in a URL: on/off as true/false, a multiselect's list as its items joined by
    commas, anything else as its text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(encode_value(item) for item in value)
    return str(value)


def decode_value(raw: str, *, choices: Sequence | None, low: float | None, high: float | None,
                 step: float | None, text: bool, many: bool = False) -> tuple[bool, object, str]:
    """(ok, value, why not) for one URL value: one of `choices` (with `many`, a list of them, each at most
    once, comma-separated), free `text`, a number from `low` to `high` (whole if both are ints) on the
    grid of `step`, or with none of them true/false."""
    if choices is not None and many:
        picked = []
        for part in raw.split(",") if raw else []:
            ok, value, why = decode_value(part, choices=choices, low=None, high=None, step=None, text=False)
            if not ok or value in picked:
                return False, None, why or f"{part} twice"
            picked.append(value)
        return True, picked, ""
    if choices is not None:
        for choice in choices:
            if encode_value(choice) == raw:
                return True, choice, ""
        shown = ", ".join(encode_value(c) for c in list(choices)[:8]) + (", ..." if len(choices) > 8 else "")
        return False, None, f"not one of {shown}"
    if text:
        return (True, raw, "") if len(raw) <= MAX_TEXT else (False, None, f"longer than {MAX_TEXT} characters")
    if low is None or high is None:
        if raw in ("true", "false"):
            return True, raw == "true", ""
        return False, None, "not true or false"
    try:
        value = int(raw) if isinstance(low, int) and isinstance(high, int) else float(raw)
    except ValueError:
        return False, None, "not a number"
    if not low <= value <= high:
        return False, None, f"outside {low} to {high}"
    if step is not None and abs((value - low) / step - round((value - low) / step)) > 1e-9:
        return False, None, f"not {low} plus a multiple of {step}"
    return True, value, ""
