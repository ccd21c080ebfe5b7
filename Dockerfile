# cnnviz as a hosted demo: one container serves the app on port 8501 with the hosted limits on.
#   docker build -t cnnviz .
#   docker run -p 8501:8501 cnnviz            (then open http://localhost:8501)
# The limits can be changed at run time, e.g. -e CNNVIZ_MAX_TRAININGS=3 (see README, Settings).
# No CJK font is installed: the figures' Chinese (the TextCNN page's characters, the 中文 pages) is drawn by
# the visitor's browser. Only pictures made on a server (screenshots) need one: apt-get install fonts-noto-cjk.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CNNVIZ_HOSTED=1 \
    CNNVIZ_CACHE=/app/cache

WORKDIR /app

# torch from PyTorch's CPU index first: the same version from PyPI is a multi-GB CUDA build.
COPY requirements.txt .
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install -r requirements.txt

COPY app.py ./
COPY .streamlit ./.streamlit
COPY cnnviz ./cnnviz
COPY pages ./pages
# EfficientNet-Lite0's checkpoint is converted from its installed package once, here, not per container.
RUN python -c "from cnnviz.models.zoo import build_prebuilt; build_prebuilt('efficientnet-lite0-imagenet')"

# Nothing in the app needs to write to its own files: run as an unprivileged user.
RUN useradd --create-home --uid 10001 cnnviz
USER cnnviz

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
