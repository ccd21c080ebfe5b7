"""The photos to feed a model: scikit-image's, and the labelled ImageNet and CIFAR-10 photos shipped with cnnviz.

The labelled photos are named `<set>_<nn>_<class index>.<ext>` (foolbox's names), so every label below
can be read off the file names in cnnviz/data/bundled/photos/: imagenet_00_243.jpg is a bull mastiff
(class 243), cifar10_00_3.png a cat (class 3).
"""

import re

import numpy as np
import pytest

from cnnviz.data.bundled import PHOTO_DIR, imagenet_class_names
from cnnviz.data.photos import (
    CIFAR10_CLASSES,
    PHOTOS,
    SKIMAGE_PHOTOS,
    PhotoLabel,
    labelled_photos,
    load_photo,
    photo_label,
    photo_title,
)
from cnnviz.errors import ImageLoadError

IMAGENET = tuple(f"imagenet_{i:02d}" for i in range(20))
CIFAR10 = tuple(f"cifar10_{i:02d}" for i in range(20))


def test_photos_are_seven_skimage_then_20_imagenet_then_20_cifar10():
    assert SKIMAGE_PHOTOS == ("chelsea", "astronaut", "coffee", "rocket", "camera", "coins", "moon")
    assert PHOTOS == SKIMAGE_PHOTOS + IMAGENET + CIFAR10
    assert len(PHOTOS) == 47
    assert len(set(PHOTOS)) == 47


def test_cifar10_classes():
    assert CIFAR10_CLASSES == ("airplane", "automobile", "bird", "cat", "deer",
                               "dog", "frog", "horse", "ship", "truck")


@pytest.mark.parametrize("path", sorted(PHOTO_DIR.iterdir()), ids=lambda path: path.name)
def test_photo_label_is_the_class_index_in_the_file_name(path):
    source, number, index = re.fullmatch(r"(imagenet|cifar10)_(\d\d)_(\d+)\.(?:jpg|png)", path.name).groups()
    names = imagenet_class_names() if source == "imagenet" else CIFAR10_CLASSES
    assert photo_label(f"{source}_{number}") == PhotoLabel(source, int(index), names[int(index)])


@pytest.mark.parametrize(("name", "expected"), [
    ("imagenet_00", PhotoLabel("imagenet", 243, "bull mastiff")),
    ("imagenet_06", PhotoLabel("imagenet", 609, "jeep")),
    ("imagenet_07", PhotoLabel("imagenet", 609, "jeep")),
    ("imagenet_17", PhotoLabel("imagenet", 22, "bald eagle")),
    ("cifar10_00", PhotoLabel("cifar10", 3, "cat")),
    ("cifar10_03", PhotoLabel("cifar10", 0, "airplane")),
    ("cifar10_11", PhotoLabel("cifar10", 9, "truck")),
])
def test_photo_label_examples(name, expected):
    assert photo_label(name) == expected


@pytest.mark.parametrize("name", [*SKIMAGE_PHOTOS, "imagenet_20", "cifar10_99", "imagenet", "", "mnist_00"])
def test_photo_label_is_none_without_a_label(name):
    assert photo_label(name) is None


def test_labelled_photos_by_source():
    assert labelled_photos("imagenet") == IMAGENET
    assert labelled_photos("cifar10") == CIFAR10
    assert labelled_photos("mnist") == ()
    assert labelled_photos("skimage") == ()
    assert {photo_label(name).source for name in labelled_photos("imagenet")} == {"imagenet"}


def test_labels_cover_8_cifar10_classes_and_19_imagenet_ones():
    cifar = {photo_label(name).index for name in CIFAR10}
    assert cifar == {0, 1, 3, 5, 6, 7, 8, 9}                    # no bird (2) or deer (4) among the 20
    assert len({photo_label(name).index for name in IMAGENET}) == 19   # imagenet_06 and _07 are both jeeps


@pytest.mark.parametrize(("name", "title"), [
    ("chelsea", "chelsea (a cat)"),
    ("moon", "moon"),
    ("astronaut", "astronaut"),
    ("imagenet_00", "ImageNet 00: bull mastiff"),
    ("imagenet_19", "ImageNet 19: dung beetle"),
    ("cifar10_00", "CIFAR-10 00: cat"),
    ("cifar10_13", "CIFAR-10 13: horse"),
])
def test_photo_title(name, title):
    assert photo_title(name) == title


@pytest.mark.parametrize("name", IMAGENET)
def test_imagenet_photos_load_as_uint8_rgb(name):
    photo = load_photo(name)
    assert photo.dtype == np.uint8
    # foolbox's photos are 512x512 except imagenet_10 (the drum), which is 1024 wide and 683 high.
    assert photo.shape == ((683, 1024, 3) if name == "imagenet_10" else (512, 512, 3))
    assert photo.std() > 10                                        # a photo, not a flat colour


@pytest.mark.parametrize("name", CIFAR10)
def test_cifar10_photos_load_as_uint8_rgb_32x32(name):
    photo = load_photo(name)
    assert photo.dtype == np.uint8 and photo.shape == (32, 32, 3)
    assert photo.std() > 5


def test_skimage_photos_load():
    chelsea = load_photo("chelsea")
    assert chelsea.dtype == np.uint8 and chelsea.shape == (300, 451, 3)
    assert load_photo("camera").shape == (512, 512)                 # grey-scale photos are (H, W)


def test_load_photo_gives_the_same_pixels_twice():
    np.testing.assert_array_equal(load_photo("cifar10_05"), load_photo("cifar10_05"))


@pytest.mark.parametrize("name", ["no_such_photo", "imagenet_20", "imagenet_00_243", "../photos/cifar10_00_3"])
def test_unknown_photo_raises_naming_the_choices(name):
    with pytest.raises(ImageLoadError, match=re.escape(f"Unknown photo {name!r}")) as info:
        load_photo(name)
    message = str(info.value)
    assert "chelsea" in message and "imagenet_00" in message and "cifar10_19" in message
    assert message.endswith(", ".join(PHOTOS) + ".")
