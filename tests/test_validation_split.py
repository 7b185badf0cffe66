"""The seeded per-class validation split (data/splits.py): no class goes wholly to one side, and a
missing split is named with where the validation split would have come from."""

import pytest

from googlenet.data.splits import DataSplits, split_per_class
from googlenet.models.preprocessing import Preprocessing


def test_a_class_of_one_image_stays_in_train():
    train, val = split_per_class([0, 1, 1, 1, 1], val_fraction=0.5, seed=0)
    assert 0 in train and 0 not in val and len(val) == 2


def test_a_large_fraction_still_leaves_one_image_of_each_class_to_train_on():
    train, val = split_per_class([0, 0, 1, 1, 1], val_fraction=0.9, seed=3)
    assert sorted(train + val) == [0, 1, 2, 3, 4]
    assert len([i for i in train if i < 2]) == 1 and len([i for i in train if i >= 2]) == 1


def splits(validation=None, validation_images=None, test=None, test_images=None, source=""):
    return DataSplits(name="fm", train=[], validation=validation, validation_images=validation_images,
                      classes=["a", "b"], in_chans=1, preprocessing=Preprocessing(), test=test,
                      test_images=test_images, validation_source=source)


def test_a_split_is_given_with_its_images_or_named_as_missing():
    whole = splits(validation="v", validation_images="vi", test="t", test_images="ti", source="10% held out")
    assert whole.split("validation") == ("v", "vi") and whole.split("test") == ("t", "ti")
    with pytest.raises(ValueError, match=r"^unknown split 'train'; choose validation or test$"):
        whole.split("train")
    with pytest.raises(ValueError, match=r"^fm has no validation split$"):
        splits(validation="v").split("validation")  # half a split is no split
    with pytest.raises(ValueError, match=r"^fm has no validation split \(--val-fraction 0\)$"):
        splits(source="--val-fraction 0").split("validation")
    with pytest.raises(ValueError, match=r"^fm has no test split$"):  # the validation source is not the test's
        splits(source="--val-fraction 0").split("test")
    with pytest.raises(ValueError, match=r"^fm has no validation split$"):
        splits().split("validation")
