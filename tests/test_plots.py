"""Notebook 06's figures and tables, drawn from real values and written to PNG files."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from PIL import Image

from mnist_helpers import plots
from mnist_helpers.notebooks import markdown_table


def _saved(fig, tmp_path, name: str) -> Image.Image:
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    image = Image.open(path)
    assert image.width > 300 and image.height > 150
    return image


def test_experiment_figures_render(tmp_path):
    rows = [{"name": "a", "parameters": 1_000, "seconds/epoch": 2.0, "test acc %": 98.5},
            {"name": "b", "parameters": 100_000, "seconds/epoch": 40.0, "test acc %": 99.1}]
    _saved(plots.plot_tradeoff(rows), tmp_path, "tradeoff")
    _saved(plots.plot_grouped_bars({"off": [99.0, 80.5], "on": [99.1, 95.0]}, ["MNIST", "photo"],
                                   ylabel="%", title="t", ylim=(0, 105)), tmp_path, "bars")
    grid = torch.tensor([[0.95, 0.98, 0.97], [0.93, 0.97, 0.985]])
    fig = plots.plot_sweep(grid, [0.01, 0.1, 1.0], [32, 128])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["95.0", "98.0", "97.0", "93.0", "97.0", "98.5"]
    _saved(fig, tmp_path, "sweep")
    fig = plots.plot_step_breakdown({"slow": {"batch": 30.0, "forward": 50.0},
                                     "fast": {"batch": 1.0, "forward": 9.0}})
    assert [t.get_text() for t in fig.axes[0].texts] == [" 80 ms", " 10 ms"]
    _saved(fig, tmp_path, "breakdown")
    fig = plots.plot_ladder(["base", "better"], [100.0, 250.0])
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels == [" 100", " 250 (×2.50; ×2.5 in all)"]
    _saved(fig, tmp_path, "ladder")


def test_markdown_table():
    table = markdown_table([{"name": "fast_cnn", "parameters": 23_466, "acc %": 99.1},
                            {"name": "seed_cnn", "parameters": 1_199_882, "acc %": 98.75}])
    assert table.splitlines() == [
        "| name | parameters | acc % |", "|---|---|---|",
        "| fast_cnn | 23,466 | 99.1 |", "| seed_cnn | 1,199,882 | 98.75 |"]
    with pytest.raises(ValueError, match="No rows"):
        markdown_table([])
