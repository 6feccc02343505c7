# mmdemo on CPU, as a container: the web app on port 7860, model caches in a volume.
#   docker build -t mmdemo . && docker run -p 7860:7860 -v mmdemo-cache:/home/user/.cache mmdemo
# The image serves the bundled preset (the shapes world, no download). For the pretrained models
# (downloaded once into the cache volume), run: docker run ... mmdemo python app.py --preset auto
FROM python:3.11-slim

# No apt packages: every native library the runtime needs (libsndfile, ffmpeg for av, OpenMP for
# faiss / ctranslate2) ships inside its wheel; espeak-ng and Chromium are for the tests only.
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app

# CPU wheels of the pinned torch / torchvision / torchaudio (no CUDA libraries), then the rest.
COPY requirements.txt .
RUN pip install -r requirements.txt --extra-index-url https://download.pytorch.org/whl/cpu

COPY --chown=user:user . .
USER user

ENV HOME=/home/user \
    HF_HOME=/home/user/.cache/huggingface \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False
RUN mkdir -p /home/user/.cache/huggingface
VOLUME /home/user/.cache
EXPOSE 7860

CMD ["python", "app.py", "--preset", "bundled"]
