"""What the type-checking fixes promise at run time: the list of fields ``with_overrides``
may change follows :class:`Profile`, and helpers given the wrong kind of argument say so."""

from __future__ import annotations

from typing import get_type_hints

import pytest
import torch

from mnist_helpers.display.inside import feature_maps
from mnist_helpers.display.notebook import markdown_table
from mnist_helpers.models import build_model
from mnist_helpers.profiles import Profile, ProfileChanges


def test_profile_changes_names_every_profile_field_with_its_type():
    assert get_type_hints(ProfileChanges) == get_type_hints(Profile)


def test_markdown_table_refuses_a_row_that_is_neither_a_dataclass_nor_a_dict():
    with pytest.raises(TypeError, match="rows must be dataclasses or dicts, not tuple"):
        markdown_table([("fast_cnn", 23_466)])


def test_feature_maps_refuses_a_model_without_feature_layers():
    with pytest.raises(TypeError, match=r"model must hold its layers.*\(a Logistic does not\)"):
        feature_maps(build_model("logistic"), torch.zeros(1, 1, 28, 28))


def test_feature_maps_crops_the_border_of_a_border_cropping_model():
    maps = feature_maps(build_model("tiny_cnn"), torch.zeros(1, 1, 28, 28))
    assert maps and all(m.dim() == 3 for _, m in maps)
    assert maps[0][1].shape[-1] < 24  # 28 less the 2-pixel border each side, then shrunk
