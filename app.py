"""cnnviz: the Streamlit entry point. Navigation over the pages (see pages/common/frame.py)."""

from pages.common.frame import run_app

run_app()
