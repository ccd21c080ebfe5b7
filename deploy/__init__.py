"""Multi-process deployment of cnnviz: nginx in front of N Streamlit replicas (see deploy/run_local.py)."""
