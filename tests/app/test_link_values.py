"""pages.common.link_values: what a link may set a widget to, and why a value is refused."""

import pytest

from pages.common.link_values import MAX_TEXT, decode_value, encode_value

NONE = dict(choices=None, low=None, high=None, step=None, text=False)


@pytest.mark.parametrize("value, raw", [(True, "true"), (False, "false"), (3, "3"), (0.005, "0.005"), ("avg", "avg")])
def test_a_value_and_its_url_text(value, raw):
    assert encode_value(value) == raw


def test_choices_come_back_as_the_options_themselves_not_their_text():
    assert decode_value("3", **{**NONE, "choices": [1, 2, 3]}) == (True, 3, "")
    assert decode_value("(3, 4, 5)", **{**NONE, "choices": [(2, 3, 4), (3, 4, 5)]}) == (True, (3, 4, 5), "")
    ok, _, why = decode_value("9", **{**NONE, "choices": list(range(10, 20))})
    assert not ok and why == "not one of 10, 11, 12, 13, 14, 15, 16, 17, ..."


def test_numbers_keep_to_their_range_and_grid():
    ints = {**NONE, "low": 10, "high": 200, "step": 10}
    assert decode_value("50", **ints) == (True, 50, "")
    assert decode_value("55", **ints) == (False, None, "not 10 plus a multiple of 10")
    assert decode_value("210", **ints) == (False, None, "outside 10 to 200")
    assert decode_value("fifty", **ints) == (False, None, "not a number")
    assert decode_value("0.25", **{**NONE, "low": 0.0, "high": 1.0}) == (True, 0.25, "")


def test_free_text_has_a_length_limit_and_on_off_is_true_or_false():
    assert decode_value("x" * MAX_TEXT, **{**NONE, "text": True})[0]
    assert decode_value("x" * (MAX_TEXT + 1), **{**NONE, "text": True}) == (
        False, None, f"longer than {MAX_TEXT} characters")
    assert decode_value("true", **NONE) == (True, True, "")
    assert decode_value("yes", **NONE) == (False, None, "not true or false")


def test_a_multiselects_list_travels_as_comma_separated_choices():
    methods = ["saliency", "grad_cam", "occlusion"]
    assert encode_value(["grad_cam", "saliency"]) == "grad_cam,saliency" and encode_value([]) == ""
    assert encode_value((2, 3, 4)) == "(2, 3, 4)"                      # a tuple is one choice, as before
    decode = lambda raw: decode_value(raw, choices=methods, low=None, high=None, step=None, text=False,  # noqa: E731
                                      many=True)
    assert decode("grad_cam,saliency") == (True, ["grad_cam", "saliency"], "")   # the user's order kept
    assert decode("") == (True, [], "")
    ok, _, why = decode("grad_cam,smoothgrad")
    assert not ok and why.startswith("not one of saliency")
    ok, _, why = decode("grad_cam,grad_cam")
    assert not ok and why == "grad_cam twice"
