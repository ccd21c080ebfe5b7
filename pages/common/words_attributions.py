"""The Attributions page's sentences built from numbers, in the session's language (the rest: `t("attributions. ...")`,
the methods' names: `figure_labels("attribution_methods")`)."""

from __future__ import annotations

from pages.common.i18n import t


def completeness(total: float, change: float, delta: float, *, at_cap: bool = False) -> str:
    """Integrated Gradients' check, worded from its numbers: the map's sum against F(x) − F(baseline).
    `at_cap`: the steps are already at this server's most, so more cannot be suggested."""
    if abs(change) < 1e-6:
        return t("attributions.completeness.no_change")
    share = abs(delta) / abs(change)
    verdict = ("converged" if share <= 0.01 else "close" if share <= 0.05 else
               "at_cap" if at_cap else "more_steps")
    return t("attributions.completeness.text", total=total, change=change, delta=abs(delta), share=share,
             verdict=t(f"attributions.completeness.{verdict}"))


def sanity_verdict(names: dict[str, float], threshold: float = 0.5) -> str:
    """Which methods fail the randomisation test: their rank correlation with the original stays above
    `threshold` once every layer is random (`names`: method title -> that correlation, NaN for a constant map).
    Adebayo et al. judge by eye and by these curves; the threshold is this page's own line."""
    def listed(chosen: list[str], numbers: bool = True) -> str:
        items = [t("attributions.verdict.method", name=name, value=names[name]) if numbers else name
                 for name in chosen]
        return t("attributions.verdict.separator").join(items)

    failing = [name for name, value in names.items() if value > threshold]
    passing = [name for name, value in names.items() if value <= threshold]
    constant = [name for name, value in names.items() if value != value]  # NaN: a map with no order
    text = (t("attributions.verdict.failing", threshold=threshold, names=listed(failing)) if failing
            else t("attributions.verdict.none_failing", threshold=threshold))
    if passing:
        text += t("attributions.verdict.passed", names=listed(passing))
    if constant:
        text += t("attributions.verdict.constant", names=listed(constant, numbers=False))
    return text


def blank_input(label: str) -> str:
    """Instead of the maps for a blank input (`label` markdown-safe), as on Feature maps."""
    return t("attributions.blank_input", label=label)


def class_choice(choice: int, predicted: int, class_names: tuple[str, ...]) -> str:
    """How the class box names an option: the prediction first, then every class by number and name."""
    if choice < 0:
        return t("attributions.prediction", name=class_names[predicted])
    return f"{choice}: {class_names[choice]}"


def too_many_layers(name: str, layers: int, limit: int) -> str:
    """Why the sanity check is not run for a large network (`name` markdown-safe)."""
    return t("attributions.too_many_layers", name=name, layers=layers, limit=limit)


def auc_rows(methods: list[tuple[str, float, float]], random_deletion: float,
             random_insertion: float) -> list[dict[str, object]]:
    """The table under the curves: each method's two areas, then the random order's."""
    rows = [*methods, (t("attributions.table.random"), random_deletion, random_insertion)]
    order, deletion_auc, insertion_auc = (t(f"attributions.table.{column}")
                                          for column in ("order", "deletion", "insertion"))
    return [{order: name, deletion_auc: round(deletion, 3), insertion_auc: round(insertion, 3)}
            for name, deletion, insertion in rows]
