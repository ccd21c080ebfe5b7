"""AppTests of the ResNet vs plain page: gradient norms at initialisation, lessons, the degradation run."""

import numpy as np

from tests.conftest import chart_spec, open_page, plotly_array


def ratios(at) -> dict[str, float]:
    """The two first-conv / last-conv metrics, by net label."""
    return {m.label.split(":")[0]: float(m.value) for m in at.metric}


def text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def small_run(at, shallow=8, deep=14, steps=20):
    """Set the training form to a quick run and submit it (form values go in with the click)."""
    at.select_slider(key="resnet_shallow").set_value(shallow)
    at.select_slider(key="resnet_deep").set_value(deep)
    at.select_slider(key="resnet_steps").set_value(steps)
    next(b for b in at.button if b.label.startswith("Train the four")).click().run()
    assert not at.exception, at.exception
    return at


def test_default_view_compares_plain_and_residual_gradients(app):
    at = open_page(app, "resnet")
    assert "shortcuts" in at.title[0].value
    assert set(ratios(at)) == {"plain-20", "ResNet-20"}
    figure = chart_spec(at, "resnet_init_norms")
    assert [t["name"] for t in figure["data"]] == ["plain-20", "plain-20", "ResNet-20", "ResNet-20"]
    assert len(plotly_array(figure["data"][0]["y"])) == 20                 # one norm per weighted layer
    assert figure["layout"]["yaxis"]["type"] == "log"
    assert any("Train the four nets" in i.value for i in at.info)  # nothing trained yet


def test_each_lesson_shows_its_effect_and_says_why(app):
    at = open_page(app, "resnet")
    at.selectbox(key="resnet_preset").set_value("vanish").run()
    r = ratios(at)
    assert r["plain-20"] < 1e-5 and 0.05 < r["ResNet-20"] < 5     # measured 1.3e-07 and 0.48
    assert "vanishes towards the input" in text(at) and "He** initialisation" in text(at)

    at.selectbox(key="resnet_preset").set_value("sigmoid_post").run()
    r = ratios(at)
    assert r["plain-20"] < 1e-10 and r["ResNet-20"] < 1e-5       # the sum passes a sigmoid: vanishes too
    assert "post-activation" in text(at) and "pre-activation" in text(at)

    at.selectbox(key="resnet_preset").set_value("sigmoid_pre").run()
    assert 1e-3 < ratios(at)["ResNet-20"] < 1e3                   # a clean shortcut carries the gradient
    assert "identity alone" in text(at)

    at.selectbox(key="resnet_preset").set_value("paper").run()
    assert at.select_slider(key="resnet_depth").value == 56
    r = ratios(at)
    assert r["plain-56"] > 100 and r["ResNet-56"] < 20           # batch norm: explodes towards the input
    assert "explodes towards the input" in text(at) and "Yang et al. 2019" in text(at)
    assert not at.exception


def test_changed_options_data_and_depth(app):
    at = open_page(app, "resnet")
    at.selectbox(key="resnet_dataset").set_value("shapes").run()
    at.select_slider(key="resnet_width").set_value(0.5).run()
    at.radio(key="resnet_activation").set_value("tanh").run()
    at.selectbox(key="resnet_init").set_value("xavier").run()
    at.radio(key="resnet_block").set_value("pre").run()
    at.toggle(key="resnet_batch_norm").set_value(False).run()
    at.select_slider(key="resnet_depth").set_value(8).run()
    assert not at.exception
    assert set(ratios(at)) == {"plain-8", "ResNet-8"}
    assert len(plotly_array(chart_spec(at, "resnet_init_norms")["data"][0]["y"])) == 8


def test_an_online_data_set_offline_gives_a_message(app):
    at = open_page(app, "resnet")
    at.selectbox(key="resnet_dataset").set_value("cifar10").run()
    assert not at.exception
    assert at.error and "offline data set" in at.error[0].value


def test_training_run_shows_curves_verdict_heatmaps_and_is_shared(app):
    at = small_run(open_page(app, "resnet"))
    table = at.dataframe[0].value
    assert list(table["net"]) == ["plain-8", "ResNet-8", "plain-14", "ResNet-14"]
    assert list(table["steps"]) == [20] * 4
    assert len(chart_spec(at, "resnet_losses")["data"]) == 4
    plain, residual = chart_spec(at, "resnet_heatmap_plain-14"), chart_spec(at, "resnet_heatmap_ResNet-14")
    assert plotly_array(plain["data"][0]["z"]).shape == (14, 20)
    assert plain["data"][0]["zmin"] == residual["data"][0]["zmin"]   # one colour scale for both
    assert "**plain-14** ends at" in text(at)
    assert any(c.value == "Trained just now." for c in at.caption)

    at.radio(key="resnet_heatmap_pair").set_value("shallow").run()
    assert plotly_array(chart_spec(at, "resnet_heatmap_plain-8")["data"][0]["z"]).shape == (8, 20)

    small_run(at)  # the same configuration again: read from the shared store, not trained
    assert any("Computed earlier" in c.value for c in at.caption)


def test_shallow_not_below_deep_is_refused(app):
    at = small_run(open_page(app, "resnet"), shallow=20, deep=20)
    assert at.warning and "fewer layers" in at.warning[0].value
    assert not at.dataframe


def test_a_stopped_run_keeps_the_steps_it_recorded(app):
    from cnnviz import DegradationConfig, ResNetSpec

    at = open_page(app, "resnet")
    config = DegradationConfig(net=ResNetSpec(in_channels=1), shallow_depth=8, deep_depth=14, steps=50)
    layers = tuple(f"layer{i}" for i in range(8))
    # What a run interrupted by Stop leaves behind: 5 steps of the first net.
    at.session_state["resnet_live"] = (config, {"plain-8": (layers, [2.3, 2.2, 2.0, 1.9, 1.8],
                                                            [np.ones(8)] * 5)})
    at.run()
    assert not at.exception
    assert list(at.dataframe[0].value["steps"]) == [5]
    assert any("Stopped" in c.value for c in at.caption)


def test_plain_nets_stuck_at_chance_are_called_so(app):
    at = open_page(app, "resnet")
    at.selectbox(key="resnet_preset").set_value("vanish").run()
    small_run(at, shallow=20, deep=56, steps=20)
    losses = dict(zip(at.dataframe[0].value["net"], at.dataframe[0].value.iloc[:, 2], strict=True))
    assert abs(losses["plain-20"] - np.log(10)) < 0.05 and abs(losses["plain-56"] - np.log(10)) < 0.05
    assert "Neither plain net learnt anything" in text(at)


# --- shareable links and reproducible figures ---------------------------------------------------

def set_network(at, dataset="shapes", activation="tanh", block="pre", init="xavier", batch_norm=False, width=0.5,
                seed=3, depth=8):
    """Set every network option in one run (the defaults are digits, relu, post, he, batch norm on, 1.0, 0, 20)."""
    at.selectbox(key="resnet_dataset").set_value(dataset)
    at.radio(key="resnet_activation").set_value(activation)
    at.radio(key="resnet_block").set_value(block)
    at.selectbox(key="resnet_init").set_value(init)
    at.toggle(key="resnet_batch_norm").set_value(batch_norm)
    at.select_slider(key="resnet_width").set_value(width)
    at.number_input(key="resnet_seed").set_value(seed)
    at.select_slider(key="resnet_depth").set_value(depth).run()
    assert not at.exception, at.exception
    return at


def settings(at) -> tuple:
    return (at.selectbox(key="resnet_dataset").value, at.radio(key="resnet_activation").value,
            at.radio(key="resnet_block").value, at.selectbox(key="resnet_init").value,
            at.toggle(key="resnet_batch_norm").value, at.select_slider(key="resnet_width").value,
            at.number_input(key="resnet_seed").value, at.select_slider(key="resnet_depth").value,
            at.select_slider(key="resnet_shallow").value, at.select_slider(key="resnet_deep").value,
            at.select_slider(key="resnet_steps").value, at.select_slider(key="resnet_lr").value)


def test_a_link_restores_the_settings_and_a_garbled_one_falls_back(app):
    from tests.conftest import new_session_from_link

    at = set_network(open_page(app, "resnet"))
    # Form values go in with a click; shallow above deep is refused, so nothing trains.
    at.select_slider(key="resnet_lr").set_value(0.05)
    small_run(at, shallow=32, deep=14, steps=40)
    assert "fewer layers" in at.warning[0].value
    shared = new_session_from_link(at, "resnet")
    # The lesson options (activation, block, init, batch norm, depth) win over the defaults the page sets.
    assert settings(shared) == ("shapes", "tanh", "pre", "xavier", False, 0.5, 3, 8, 32, 14, 40, 0.05)
    assert set(ratios(shared)) == {"plain-8", "ResNet-8"}
    assert not shared.warning and not shared.dataframe                # a link does not start a run

    bad = {"resnet_activation": "relu6", "resnet_batch_norm": "yes", "resnet_depth": "21", "resnet_width": "3",
           "resnet_seed": "-1", "resnet_steps": "30", "resnet_lr": "1", "resnet_dataset": "imagenet"}
    garbled = new_session_from_link(at, "resnet", bad)
    assert settings(garbled) == ("digits", "relu", "pre", "xavier", True, 1.0, 0, 20, 32, 14, 200, 0.02)
    notice = garbled.warning[0].value
    assert all(key in notice for key in bad)


def test_the_snippet_reproduces_the_gradient_norms_at_initialisation(app):
    from tests.conftest import run_snippet

    at = open_page(app, "resnet")
    run_snippet(at, "resnet_init_norms")                               # the defaults: ResNet-20 on digits
    set_network(at, dataset="digits", activation="sigmoid", init="default", seed=5, depth=14)  # shapes: +2 s
    run_snippet(at, "resnet_init_norms")


# --- the words follow the paper and the numbers (issue: degradation is not vanishing gradients) --------

def test_the_caption_does_not_blame_degradation_on_vanishing_gradients(app):
    at = open_page(app, "resnet")
    caption = at.caption[0].value
    assert "not vanishing gradients" in caption and "optimisation difficulty" in caption
    assert "because the gradient" not in caption


def test_a_healthy_plain_gradient_with_batch_norm_is_called_healthy(app):
    at = open_page(app, "resnet")
    at.selectbox(key="resnet_preset").set_value("paper").run()
    at.select_slider(key="resnet_depth").set_value(20).run()
    ratio = ratios(at)["plain-20"]
    assert 1e-2 <= ratio <= 1e2                                   # measured 2.9
    assert "optimisation difficulty, not a vanishing gradient" in text(at)
    at.select_slider(key="resnet_depth").set_value(56).run()      # now it explodes: the sentence goes
    assert ratios(at)["plain-56"] > 1e2 and "optimisation difficulty, not a" not in text(at)


def test_pre_activation_sigmoid_says_one_sigmoid_is_passed(app):
    at = open_page(app, "resnet")
    at.selectbox(key="resnet_preset").set_value("sigmoid_pre").run()
    assert "passing only one sigmoid" in text(at) and "single sigmoid" not in text(at)


def test_log_axes_label_powers_of_ten_over_many_decades_and_whole_numbers_inside_one(app):
    at = open_page(app, "resnet")
    at.selectbox(key="resnet_preset").set_value("vanish").run()   # norms over many decades
    axis = chart_spec(at, "resnet_init_norms")["layout"]["yaxis"]
    assert axis["type"] == "log" and all(t.startswith("10<sup>") for t in axis["ticktext"])
    at.selectbox(key="resnet_preset").set_value("paper").run()
    at.select_slider(key="resnet_depth").set_value(20).run()      # within about a decade (plain-20: 2.9)
    axis = chart_spec(at, "resnet_init_norms")["layout"]["yaxis"]
    assert set(axis["ticktext"]) >= {"1", "2", "5"} and not any("sup" in t for t in axis["ticktext"])


def test_training_through_the_page_runs_every_step_of_all_four_nets(app):
    """A page that stopped early passed every other test once: count the steps the user is shown."""
    at = open_page(app, "resnet")
    small_run(at, shallow=8, deep=14, steps=40)
    table = at.dataframe[0].value
    assert set(table["net"]) == {"plain-8", "plain-14", "ResNet-8", "ResNet-14"}
    assert list(table["steps"]) == [40, 40, 40, 40]
    losses = table.iloc[:, 2]
    assert all(np.isfinite(losses)) and max(losses) < np.log(10)  # every net learnt something in 40 steps
    assert not any("Stopped" in c.value for c in at.caption)
