"""Isolation checks for `benchmarks.bench_agents`: every snapshot a session gets must show its own state.

Each session of the tour sets values of its own (a test image index unique to it, a layer, a pooling
window, a training seed). After every step, `Checker.check` compares the snapshot with what this
session set (and only this session):

- the `session_id` the server answers with is the session's own, from its first call on;
- each widget this session set on the page shown holds this session's value (form fields aside);
- the page's link (`query_params`, the app's share link) carries this session's values;
- what the page draws from them says so too (the app's "Prediction for test image N" and
  "... channel c of <layer> most");
- the sidebar's "Current model" panel: a session that has not trained shows the zoo model (the
  same name, accuracy and "the default zoo model" as every untrained session of that server), one
  that trained shows its own run (the accuracy its Train page reported, "trained on Train / load",
  its seed in the run's code); the TextCNN page's text model is the zoo one in every session.

A mismatch is a violation; when the value shown is one that other sessions set, it names them.
The bare floor app has no link, no derived text and no model panel: only the first two checks apply.
Not part of the tests.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

ZOO_REASON = "Why this model: the default zoo model."
TRAINED_REASON = "Why this model: trained on Train / load"
PANELS = ("**Current model**", "**Current text model**")


def _nodes(tree: dict) -> Iterator[dict]:
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.get("children") or []))  # document order


def _bodies(tree: dict, kind: str | None = None) -> Iterator[str]:
    for node in _nodes(tree):
        body = node.get("props", {}).get("body")
        if isinstance(body, str) and (kind is None or node.get("type") == kind):
            yield body


def _as_param(value: object) -> str:
    """A widget value as the app's link writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def model_panel(tree: dict, title: str) -> dict | None:
    """The sidebar panel that opens with `title`: its name, accuracy and reason, or None."""
    sidebar = next((c for c in tree.get("children") or [] if c.get("type") == "sidebar"), None)
    if sidebar is None:
        return None
    for node in _nodes(sidebar):
        children = node.get("children") or []
        bodies = [c.get("props", {}).get("body") for c in children]
        if bodies and bodies[0] == title:
            texts = [b for b in bodies[1:] if isinstance(b, str)]
            accuracy = next((m.group(1) for b in texts for m in [re.search(r"Test accuracy: ([^ \n]+)", b)] if m),
                            None)
            return {"name": texts[0] if texts else None, "accuracy": accuracy,
                    "reason": next((b for b in texts if b.startswith("Why this model:")), None)}
    return None


@dataclass
class Own:
    """What one session set: {key: (page url_path, value)}, its session id and its training run."""

    session: int
    values: dict[str, tuple[str, object]] = field(default_factory=dict)
    session_id: str | None = None
    trained: dict | None = None  # {"accuracy": "80.8%", "seed": 1003}


class Checker:
    """The isolation checks of one server's sessions (thread-safe: every session of a phase shares it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.set_by: dict[tuple[str, str], set[int]] = {}  # (key, value as text) -> sessions that set it
        self.zoo: dict[str, tuple] = {}  # panel title -> (name, accuracy) of the untouched zoo model
        self.checks = 0
        self.violations = 0

    def record_sent(self, own: Own, page: str, sent: dict) -> None:
        with self.lock:
            for key, value in sent.items():
                self.set_by.setdefault((key, _as_param(value)), set()).add(own.session)
        for key, value in sent.items():
            own.values[key] = (page, value)

    def _whose(self, key: str, value: object, own: Own) -> str:
        with self.lock:
            others = sorted(self.set_by.get((key, _as_param(value)), set()) - {own.session})
        return f" (the value of session{'s' if len(others) > 1 else ''} {', '.join(map(str, others[:5]))})" \
            if others else ""

    def check(self, snapshot: dict, own: Own, *, trained_now: bool = False,
              seed: int | None = None) -> tuple[int, list[str]]:
        """Check one snapshot of session `own`; return (checks made, violations)."""
        checks, bad = 0, []
        tree, page = snapshot["tree"], snapshot["page"]["url_path"]

        checks += 1
        if own.session_id is None:
            own.session_id = snapshot.get("session_id")
        elif snapshot.get("session_id") != own.session_id:
            bad.append(f"answered for session id {snapshot.get('session_id')!r}, not its own {own.session_id!r}")

        by_key = {node["key"]: node for node in _nodes(tree) if node.get("key")}
        params = snapshot.get("query_params") or {}
        for key, (where, value) in own.values.items():
            if where != page:
                continue
            node = by_key.get(key)
            if node is not None and not node.get("form_id"):
                checks += 1
                if node.get("value") != value:
                    bad.append(f"{key} shows {node.get('value')!r}, its own {value!r}"
                               f"{self._whose(key, node.get('value'), own)}")
            if key in params and not isinstance(value, float):
                checks += 1
                shown = params[key][0] if isinstance(params[key], list) and params[key] else params[key]
                if shown != _as_param(value):
                    bad.append(f"link has {key}={shown!r}, its own {_as_param(value)!r}{self._whose(key, shown, own)}")

        if page == "feature_maps":
            index = own.values.get("features_index", (None, None))
            if index[0] == page:
                for body in _bodies(tree, "markdown"):
                    m = re.search(r"Prediction for test image (\d+) of", body)
                    if m:
                        checks += 1
                        if int(m.group(1)) != index[1]:
                            bad.append(f"prediction is for test image {m.group(1)}, its own {index[1]}"
                                       f"{self._whose('features_index', int(m.group(1)), own)}")
            layer = own.values.get("features_layer", (None, None))
            if layer[0] == page:
                for body in _bodies(tree, "caption"):
                    m = re.search(r"activate channel \d+ of (\S+) most", body)
                    if m:
                        checks += 1
                        if m.group(1) != layer[1]:
                            bad.append(f"top activations are of layer {m.group(1)}, its own {layer[1]}"
                                       f"{self._whose('features_layer', m.group(1), own)}")

        if trained_now:
            note = next((m for b in _bodies(tree) for m in [re.search(r"Trained for .*?Test accuracy (\d+(?:\.\d+)?%)",
                                                                       b)] if m), None)
            if note is not None:
                own.trained = {"accuracy": note.group(1), "seed": seed}
            if seed is not None:
                for body in _bodies(tree, "code"):
                    m = re.search(r"untrained_model\(.*?seed=(\d+)\)", body)
                    if m:
                        checks += 1
                        if int(m.group(1)) != seed:
                            bad.append(f"the run's code has seed={m.group(1)}, its own {seed}"
                                       f"{self._whose('train_seed', int(m.group(1)), own)}")

        for title in PANELS:
            panel = model_panel(tree, title)
            if panel is None:
                continue
            checks += 1
            if own.trained is not None and title == PANELS[0]:
                if panel["accuracy"] != own.trained["accuracy"] or not (panel["reason"] or "").startswith(
                        TRAINED_REASON):
                    bad.append(f"sidebar model is {panel['name']!r} at {panel['accuracy']} ({panel['reason']!r}), "
                               f"not its own run's ({own.trained['accuracy']})")
                continue
            if panel["reason"] != ZOO_REASON:
                bad.append(f"sidebar {title.strip('*').lower()} is {panel['name']!r} at {panel['accuracy']} "
                           f"({panel['reason']!r}): this session did not train, it must keep the zoo model")
                continue
            with self.lock:
                zoo = self.zoo.setdefault(title, (panel["name"], panel["accuracy"]))
            if (panel["name"], panel["accuracy"]) != zoo:
                bad.append(f"sidebar shows {panel['name']!r} at {panel['accuracy']} as the zoo model, "
                           f"other sessions {zoo[0]!r} at {zoo[1]}")

        with self.lock:
            self.checks += checks
            self.violations += len(bad)
        return checks, bad
