"""UI helpers shared by the pages (a sub-package, so Streamlit never lists it as a page)."""
