"""Cost of the Attributions page: every method, the sanity check and the faithfulness test (not part of the tests).

    python -m benchmarks.bench_attributions [--threads 1] [--repeats 5]

On the zoo LeNet-5 (MNIST test image 0) and on EfficientNet-Lite0 (the cat 'chelsea', 224x224),
with the page's own settings (Grad-CAM on the last ReLU, Occlusion windows of an eighth of the
image with half that stride, 50 Integrated Gradients steps): the median time of each method,
of `sanity_check` for the page's four checked methods and of `deletion_insertion`; then the
page's first view through AppTest (its wall time is the server's time). Targets (issue 17):
every method on LeNet-5 within 300 ms, the randomisation sequence within 3 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import torch


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (and captum's first import)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def library(key: str, image_of, repeats: int) -> None:
    from cnnviz import attribute_image, deletion_insertion, last_rectified, load_zoo_model, sanity_check, spatial_layers
    from cnnviz.analysis.attributions import METHODS

    trained = load_zoo_model(key)
    prep = trained.info.preprocessing
    image = image_of(trained)
    x = prep.apply(image[None])[0]
    target = int(trained.predict_proba(image[None])[0].argmax())
    options = dict(layer=last_rectified(trained.model, spatial_layers(trained.model, prep.input_shape)),
                   window=max(2, prep.size // 8), stride=max(1, prep.size // 16), n_steps=50, preprocessing=prep)
    print(f"\n{trained.info.name}, class {trained.info.class_names[target]}, Grad-CAM on {options['layer']}")
    for method in METHODS:
        seconds = median_seconds(lambda: attribute_image(trained.model, x, method, target, **options),
                                 1 if prep.size > 100 else repeats)
        print(f"  {method:22s} {1000 * seconds:8.1f} ms")
    found = attribute_image(trained.model, x, "integrated_gradients", target, **options)
    seconds = median_seconds(lambda: deletion_insertion(trained.model, x, found, target, preprocessing=prep), 1)
    print(f"  deletion and insertion (20 steps, one map): {seconds:.2f} s")
    if prep.size <= 100:
        checked = ("saliency", "integrated_gradients", "guided_backprop", "grad_cam")
        seconds = median_seconds(lambda: [sanity_check(trained.model, x, m, target, **options) for m in checked], 1)
        print(f"  sanity check, the page's 4 methods, every layer randomised in turn: {seconds:.2f} s")


def page(key: str | None) -> None:
    from streamlit.testing.v1 import AppTest

    app = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app.py")
    at = AppTest.from_file(app, default_timeout=600)
    if key is not None:
        at.query_params["model"] = key
    at.run()
    start = time.perf_counter()
    at.switch_page("pages/9_attributions.py").run()
    seconds = time.perf_counter() - start
    assert not at.exception, at.exception
    start = time.perf_counter()
    at.selectbox(key="attr_class").set_value(3).run()
    again = time.perf_counter() - start
    print(f"page, {key or 'the default model'}: first view {seconds:.2f} s, another class {again:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Setting backward hooks")  # captum's Guided Backprop, each call
    os.environ.setdefault("CNNVIZ_THREADS", str(args.threads))
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}")
    from cnnviz import load_image_dataset, load_photo, to_model_input

    library("lenet5-mnist", lambda trained: load_image_dataset("mnist").x_test[0], args.repeats)
    library("efficientnet-lite0-imagenet",
            lambda trained: to_model_input(load_photo("chelsea"), trained.info.preprocessing), args.repeats)
    page(None)
    page("efficientnet-lite0-imagenet")


if __name__ == "__main__":
    main()
