"""cnnviz.data.tokenizer: the tokenizer's rules by hand, and it never raises."""


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz.data.tokenizer import join_tokens, tokenize

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None)


# --- tokenize ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, tokens", [
    ("Not bad, at ALL!", ["not", "bad", ",", "at", "all", "!"]),
    ("It isn't good", ["it", "isn't", "good"]),
    ("It isn\u2019t good", ["it", "isn't", "good"]),                       # a curly apostrophe is "'"
    ("'tis the players' ball", ["'", "tis", "the", "players", "'", "ball"]),  # apostrophes at the edges
    ("rock'n'roll", ["rock'n'roll"]),
    ("Wow!!! 10/10", ["wow", "!", "!", "!", "10", "/", "10"]),
    ("the director's cut...", ["the", "director's", "cut", ".", ".", "."]),
    ("\uff27\uff2f\uff2f\uff24 \u2026", ["good", ".", ".", "."]),          # NFKC: full-width letters, ellipsis
    ("Caf\u00e9 CAF\u00c9", ["caf\u00e9", "caf\u00e9"]),
    ("cafe\u0301", ["caf\u00e9"]),                                         # a combining accent is composed
    ("\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e", ["\u0939\u093f\u0928\u094d\u0926\u0940",
                                                                        "\u092d\u093e\u0937\u093e"]),  # marks stay
    ("\u732b\u304c\u597d\u304d\u3002", ["\u732b", "\u304c", "\u597d", "\u304d", "\u3002"]),  # one token per CJK char
    ("\uc815\ub9d0 \uc88b\uc544\uc694", ["\uc815\ub9d0", "\uc88b\uc544\uc694"]),  # Korean is split at spaces
    ("great \U0001f44d", ["great", "\U0001f44d"]),
    ("\u2764\ufe0f it", ["\u2764\ufe0f", "it"]),                           # the emoji keeps its variation selector
    ("\U0001f468\u200d\U0001f469", ["\U0001f468", "\U0001f469"]),          # the zero-width joiner is deleted
    ("a\x00b\x07c\td\ne\u200bf", ["abc", "d", "ef"]),                      # controls deleted, white space splits
    ("x\ud800y \ue000z", ["xy", "z"]),                                     # a lone surrogate, private use: deleted
    ("\u0301abc", ["abc"]),                                                # a mark with nothing before it: dropped
    ("", []),
    (" \n\t ", []),
])
def test_tokenize_by_hand(text, tokens):
    assert tokenize(text) == tokens


@FUZZ
@given(st.text())
def test_tokenize_never_raises_and_is_stable(text):
    """Any str gives non-empty tokens without white space, the same every time; joining the tokens
    with spaces and tokenizing again gives them back (so vocabulary tokens are fixed points)."""
    tokens = tokenize(text)
    assert tokens == tokenize(text)
    assert all(token and not any(c.isspace() for c in token) for token in tokens)
    assert tokenize(" ".join(tokens)) == tokens


# --- Chinese: one token per character ---------------------------------------------------------

@pytest.mark.parametrize("text, tokens", [
    ("不好", ["不", "好"]),
    ("这个酒店不好", ["这", "个", "酒", "店", "不", "好"]),
    ("一点也不好。", ["一", "点", "也", "不", "好", "。"]),
    ("质量不错！", ["质", "量", "不", "错", "!"]),                      # a full-width "!" is "!" (NFKC)
    ("iPhone很好用", ["iphone", "很", "好", "用"]),                      # a Latin word stays whole, lower case
    ("ＡＢＣ１２３好", ["abc123", "好"]),                                  # full-width letters and digits too
    ("价格999元，性价比高", ["价", "格", "999", "元", ",", "性", "价", "比", "高"]),
    ("i5处理器，4g内存", ["i5", "处", "理", "器", ",", "4g", "内", "存"]),
    ("《骆驼祥子》 真的 好看", ["《", "骆", "驼", "祥", "子", "》", "真", "的", "好", "看"]),  # spaces change nothing
    ("不错:)", ["不", "错", ":", ")"]),
])
def test_chinese_is_one_token_per_character(text, tokens):
    assert tokenize(text) == tokens


@pytest.mark.parametrize("tokens, text", [
    (["不", "好"], "不好"),                                     # Chinese as it is written
    (["这", "个", "酒", "店", "不", "好", "。"], "这个酒店不好。"),
    (["质", "量", "不", "错", "!"], "质量不错!"),                 # a mark beside a character: no space
    (["不", "好", "<pad>", "<pad>"], "不好 <pad> <pad>"),         # padding stays visible
    (["<unk>", "好"], "<unk> 好"),
    (["iphone", "很", "好"], "iphone 很好"),                     # a Latin word keeps its boundary
    (["价", "格", "999", "元"], "价格 999 元"),
    (["not", "good", ",", "at", "all"], "not good , at all"),   # English as before: spaces everywhere
    (["猫", "が", "好", "き"], "猫が好き"),                        # Japanese kana too
    ([], ""),
])
def test_join_tokens_by_hand(tokens, text):
    assert join_tokens(tokens) == text


@FUZZ
@given(st.text(alphabet=st.sampled_from("不好很质量酒店。!,.'a1 xé😀が\u0301\u3000《》"), max_size=30) | st.text())
def test_join_tokens_gives_the_tokens_back(text):
    """Joining a text's tokens for reading and tokenizing again gives the same tokens."""
    tokens = tokenize(text)
    assert tokenize(join_tokens(tokens)) == tokens
