"""UI helpers shared by the pages (a sub-package, so Streamlit never lists it as a page).

The app's words live apart from the layout, one module per page (`words_<page>.py`, and
`words_frame.py` for the frame around every page): the sentences built from numbers and
results, and the long texts. They are pure functions and constants with no streamlit, so
they can be tested alone and translated (one catalogue per language, DESIGN.md).
"""
