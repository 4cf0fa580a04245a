"""The fine-tuning recipe command (tools/recipe.py): its argument parsing (recipes and losses)."""

from __future__ import annotations

import pytest

from tools.recipe import parse_recipe


def test_a_recipe_is_batch_by_epochs():
    assert parse_recipe("16x2") == (16, 2)
    assert parse_recipe("32X1") == (32, 1)


@pytest.mark.parametrize("text", ["16", "16x", "x2", "16x2x1", "ax2", "0x2", "16x0"])
def test_a_bad_recipe_names_itself(text):
    with pytest.raises(ValueError, match=repr(text).replace("[", r"\[")):
        parse_recipe(text)


def test_a_loss_is_label_weight_and_temperature_or_none():
    from tools.recipe import parse_distill

    assert parse_distill("0.2:4") == (0.2, 4.0)
    assert parse_distill("0:1") == (0.0, 1.0)
    assert parse_distill("none") == (1.0, 1.0)


@pytest.mark.parametrize("text", ["0.2", "0.2:", ":4", "a:4", "1.5:4", "-0.1:4", "0.2:0", "0.2:4:1"])
def test_a_bad_loss_names_itself(text):
    from tools.recipe import parse_distill

    with pytest.raises(ValueError, match=repr(text)):
        parse_distill(text)
