"""cnnviz.data.text_csv: CSV uploads read in every encoding and delimiter, bad files refused with a message."""

import codecs

import pytest

from cnnviz.data.text_csv import csv_columns, texts_from_csv
from cnnviz.errors import DatasetUnavailableError

# --- CSV uploads -------------------------------------------------------------------------------

GOOD_CSV = b'id,text,label\n1,I loved it,pos\n2,"Bad, really bad",neg\n3,"two\nlines",pos\n'


def test_csv_good_file():
    assert csv_columns(GOOD_CSV) == ["id", "text", "label"]
    texts, labels = texts_from_csv(GOOD_CSV, text_column="text", label_column="label")
    assert texts == ["I loved it", "Bad, really bad", "two\nlines"]
    assert labels == ["pos", "neg", "pos"]


def test_csv_encodings_and_delimiters():
    bom = codecs.BOM_UTF8 + "text,label\nsch\u00f6n,pos\n".encode()
    assert csv_columns(bom) == ["text", "label"]  # not "\ufefftext"
    assert texts_from_csv(bom, text_column="text", label_column="label") == (["sch\u00f6n"], ["pos"])
    latin1 = "text;label\ncaf\u00e9 cr\u00e8me;pos\n".encode("latin-1")  # not valid UTF-8
    assert texts_from_csv(latin1, text_column="text", label_column="label") == (["caf\u00e9 cr\u00e8me"], ["pos"])
    utf16 = "text\tlabel\n\u732b\tpos\n".encode("utf-16")
    assert texts_from_csv(utf16, text_column="text", label_column="label") == (["\u732b"], ["pos"])


def test_csv_skips_blank_lines_and_rows_without_label():
    data = b"text,label\n\ngood, pos \nno label,\nshort row\n,neg\n"
    assert texts_from_csv(data, text_column="text", label_column="label") == (["good", ""], ["pos", "neg"])


@pytest.mark.parametrize("data, kwargs, message", [
    (b"", {}, "empty"),
    (b"  \n \n", {}, "empty"),
    (b"text,label\n", {}, "no rows with a label"),
    (GOOD_CSV, {"text_column": "review"}, "no column 'review'; its columns are: 'id', 'text', 'label'"),
    (b"text,label\n" + b"a,b\n" * 4, {"max_rows": 3}, "more than 3 rows; the limit is 3"),
    (GOOD_CSV, {"max_bytes": 10}, "the limit is"),
])
def test_csv_bad_files_get_a_message(data, kwargs, message):
    args = {"text_column": "text", "label_column": "label", **kwargs}
    with pytest.raises(DatasetUnavailableError, match=message):
        texts_from_csv(data, **args)


def test_csv_columns_of_an_empty_file():
    with pytest.raises(DatasetUnavailableError, match="empty"):
        csv_columns(b"")
