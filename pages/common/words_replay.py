"""The training replay's words (Train / load): what it shows, what it costs, and what a file did with it.

The sentences are templates of the `replay` catalogue (pages/locales/*/replay.toml); its other keys
(heading, intro, none, ...) are used through `t` where they are shown.
"""

from pages.common.i18n import t


def include_help(snapshots: int, size: str) -> str:
    """The help of the download's checkbox."""
    return t("replay.include_help", snapshots=snapshots, size=size)


def size(nbytes: int) -> str:
    """Bytes as KB or MB, as a person reads them."""
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 1e6 else f"{nbytes / 1e3:.0f} KB"


def memory(nbytes: int, per_snapshot: int, snapshots: int, max_epochs: int, most: int) -> str:
    """What the replay takes in the session, and what the longest run the app allows would take."""
    return t("replay.memory", size=size(nbytes), snapshots=snapshots, per_snapshot=size(per_snapshot),
             max_epochs=max_epochs, most=size(most))


def image_caption(index: int, class_name: str | None) -> str:
    """Which test image the maps are of."""
    return t("replay.image_class", index=index, name=class_name) if class_name else t("replay.image", index=index)


def probe_loss(epoch: int, loss: float) -> str:
    """The loss on the probe batch at the epoch shown."""
    return t("replay.probe_loss_start", loss=loss) if epoch == 0 else t("replay.probe_loss", epoch=epoch, loss=loss)


def maps_caption(index: int, class_name: str | None, epoch: int, loss: float) -> str:
    """The caption under the maps: which test image (`class_name` markdown-safe), and the probe batch's loss."""
    return t("replay.maps_caption", image=image_caption(index, class_name), loss=probe_loss(epoch, loss))


def stopped(epochs: int, planned: int) -> str:
    """A replay that ends before the run's planned epochs."""
    return t("replay.stopped", epochs=epochs, planned=planned)


def loaded(epochs: int) -> str:
    """An uploaded model file that carried a replay."""
    return t("replay.loaded", epochs=epochs)


def refused(error: str) -> str:
    """An uploaded model file whose replay could not be used (the model itself was loaded); `error` markdown-safe."""
    return t("replay.refused", error=error)
