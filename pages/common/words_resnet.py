"""The ResNet page's words: the gradient ratio read aloud, why the curves look as they do, the verdict.

The sentences are templates of the `resnet` catalogue (pages/locales/*/resnet.toml); the options' names
are its tables [datasets], [presets], [activations], [inits] and [blocks], by the option's key.
"""

from collections.abc import Callable

from cnnviz import ResNetSpec
from pages.common.i18n import t

# The options' keys (language-neutral: widget values and link values); `named` gives their names.
DATASETS = ("digits", "shapes", "cifar10")
PRESETS = ("paper", "vanish", "sigmoid_post", "sigmoid_pre")
ACTIVATIONS = ("relu", "tanh", "sigmoid")
INITS = ("he", "xavier", "default")
BLOCKS = ("post", "pre")


def named(kind: str) -> Callable[[object], str]:
    """A widget's `format_func`: an option's name in the session's language, from the table `kind`."""
    return lambda key: t(f"resnet.{kind}.{key}")


def same_batch(batch: int) -> str:
    """The caption beside the two ratios: what the two nets share."""
    return t("resnet.initialisation.same_batch", batch=batch)


def depths_in_order(shallow: int, deep: int) -> str:
    """The warning when the shallow net is not shallower than the deep one."""
    return t("resnet.training.depths_in_order", shallow=shallow, deep=deep)


def ratio_number(ratio: float) -> str:
    """A ratio as a reader takes it in: 2.9 or 0.63 near 1, 3.1e+05 far from it."""
    return f"{ratio:.2g}" if 1e-3 <= ratio < 1e4 else f"{ratio:.1e}"


def ratio_words(ratio: float) -> str:
    """How a first-conv / last-conv gradient ratio reads."""
    if ratio < 1e-2:
        return t("resnet.ratio.vanishes")
    if ratio > 1e2:
        return t("resnet.ratio.explodes")
    return t("resnet.ratio.steady")


def explain(spec: ResNetSpec, plain_ratio: float, residual_ratio: float) -> str:
    """Why the two curves look as they do for these options, and what to try next."""
    lines = [t("resnet.explain.ratios", plain=ratio_words(plain_ratio), plain_ratio=ratio_number(plain_ratio),
               residual=ratio_words(residual_ratio), residual_ratio=ratio_number(residual_ratio))]
    if spec.activation == "sigmoid":
        lines.append(t("resnet.explain.sigmoid", block=t(f"resnet.explain.sigmoid_{spec.block}")))
    elif not spec.batch_norm and spec.init == "default":
        lines.append(t("resnet.explain.default_init"))
    if spec.batch_norm and plain_ratio > 10:
        lines.append(t("resnet.explain.batch_norm_grows"))
    if spec.batch_norm and 1e-2 <= plain_ratio <= 1e2:
        lines.append(t("resnet.explain.healthy"))
    shortcuts = "flat" if 1e-2 <= residual_ratio <= 1e2 else "fail"
    lines.append(t(f"resnet.explain.shortcuts_{shortcuts}"))
    return "\n\n".join(lines)


def verdict(finals: dict[str, float], shallow: int, deep: int, *, chance: float) -> str:
    """What the four final training losses say, in words."""
    plain_shallow, plain_deep = finals[f"plain-{shallow}"], finals[f"plain-{deep}"]
    res_shallow, res_deep = finals[f"ResNet-{shallow}"], finals[f"ResNet-{deep}"]
    if min(plain_shallow, plain_deep) > 0.9 * chance:
        plain = t("resnet.verdict.chance", chance=chance)
    else:
        plain = t("resnet.verdict.degraded" if plain_deep > plain_shallow + 0.05 else "resnet.verdict.unclear",
                  deep=deep, shallow=shallow, plain_deep=plain_deep, plain_shallow=plain_shallow)
    residual = t("resnet.verdict.residual", deep=deep, shallow=shallow, res_deep=res_deep, res_shallow=res_shallow)
    return t("resnet.verdict.both", plain=plain, residual=residual)
