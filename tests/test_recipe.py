"""The fine-tuning recipe command (benchmarks/recipe.py): its argument parsing."""

from __future__ import annotations

import pytest

from benchmarks.recipe import parse_recipe


def test_a_recipe_is_batch_by_epochs():
    assert parse_recipe("16x2") == (16, 2)
    assert parse_recipe("32X1") == (32, 1)


@pytest.mark.parametrize("text", ["16", "16x", "x2", "16x2x1", "ax2", "0x2", "16x0"])
def test_a_bad_recipe_names_itself(text):
    with pytest.raises(ValueError, match=repr(text).replace("[", r"\[")):
        parse_recipe(text)
