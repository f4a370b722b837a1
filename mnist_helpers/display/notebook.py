"""What every notebook uses: the setup it starts with, showing a helper's source, tables, and
a model that is there even when the training notebook has not been run."""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType

import torch
from matplotlib.figure import Figure
from torch import nn

from ..checkpoint import CheckpointInfo, load_checkpoint
from ..device import describe_device, get_device
from ..profiles import Profile, get_profile
from ..recipe import train_model


def setup() -> tuple[Profile, torch.device]:
    """The start of every notebook: crisp figures, then the profile and the device chosen and
    the library versions, printed. Returns ``(profile, device)``."""
    import matplotlib.pyplot as plt
    import torchvision

    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "font.size": 10,
                         "axes.titlesize": 11, "figure.titlesize": 12})
    try:  # 2× pixels: sharp on high-resolution screens
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")
    except ImportError:  # pragma: no cover - outside Jupyter
        pass
    profile, device = get_profile(), get_device()
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    print(f"profile: {profile.name} (set MNIST_PROFILE=quick|default|robust|best to change)")
    print(f"device: {describe_device(device)}")
    if device.type == "cpu":
        print("No GPU found: running on the CPU, which is fine for this series.")
    return profile, device


def show_source(obj: Callable[..., object] | ModuleType) -> None:
    """Display the source code of a helper with syntax highlighting (plain text outside
    Jupyter): notebooks show the one real copy of the code instead of repeating it."""
    code = inspect.getsource(obj)
    try:
        from IPython.display import Code, display
    except ImportError:  # pragma: no cover - outside IPython
        print(code)
        return
    display(Code(code, language="python"))


def show_as_jpeg(fig: Figure, dpi: int = 80, quality: int = 75) -> None:
    """Show a figure of photographs as a JPEG, ``dpi`` dots per inch on the screen (twice as
    many pixels, for sharp screens), then close it so that it is not shown a second time.

    The inline backend stores figures as PNG, which keeps every pixel exactly; the grain of a
    photo of paper then makes the file large, and a notebook of such figures has to shrink
    them until their labels are hard to read. JPEG drops detail the eye does not see, so the
    same figure can be shown at a readable size."""
    import io

    import matplotlib.pyplot as plt

    picture = io.BytesIO()
    fig.savefig(picture, format="jpeg", dpi=2 * dpi, bbox_inches="tight",  # as the inline backend
                pil_kwargs={"quality": quality})
    plt.close(fig)
    try:
        from IPython.display import Image, display
    except ImportError:  # pragma: no cover - outside IPython
        return
    display(Image(data=picture.getvalue(), format="jpeg", retina=True))


def _cell(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")


def _row_dict(row: object) -> dict[str, object]:
    """A row of a table (a dataclass or a dict) as a dict."""
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return dataclasses.asdict(row)
    if isinstance(row, Mapping):
        return dict(row)
    raise TypeError(f"rows must be dataclasses or dicts, not {type(row).__name__}")


def markdown_table(rows: Sequence[object], columns: dict[str, str] | None = None) -> str:
    """``rows`` (dataclasses or dicts) as a Markdown table: ``columns`` maps a field name to
    its heading (default: every field, named as it is); numbers get thousands separators."""
    if not rows:
        raise ValueError("No rows to show.")
    dicts = [_row_dict(row) for row in rows]
    columns = columns or {key: key for key in dicts[0]}
    lines = ["| " + " | ".join(columns.values()) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(k, "")) for k in columns) + " |" for row in dicts]
    return "\n".join(lines)


def show_table(rows: Sequence[object], columns: dict[str, str] | None = None) -> None:
    """Display ``rows`` as a table (Markdown in Jupyter, plain text elsewhere)."""
    table = markdown_table(rows, columns)
    try:
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - outside IPython
        print(table)
        return
    display(Markdown(table))


def layer_table(model: nn.Module, input_shape: tuple[int, ...] = (1, 1, 28, 28)) -> list[dict]:
    """One row per layer that computes (no containers): its name, type, output shape and
    number of parameters, from a real forward pass on zeros."""
    rows: list[dict] = []
    hooks = [module.register_forward_hook(
        lambda mod, _inp, out, name=name: rows.append(
            {"layer": name, "type": type(mod).__name__, "output shape": tuple(out.shape),
             "parameters": sum(p.numel() for p in mod.parameters())}))
        for name, module in model.named_modules() if not list(module.children())]
    try:
        from ..evaluate import evaluation_mode

        with evaluation_mode(model):
            model(torch.zeros(input_shape, device=next(model.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
    return rows


def load_or_train(path: str | os.PathLike, device: torch.device | str, *,
                  data_dir: str | os.PathLike | None = None,
                  log: Callable[[str], None] = print) -> tuple[nn.Module, CheckpointInfo]:
    """Load the checkpoint at ``path``; if there is none yet, say so and train a quick one
    there, so a notebook stands on its own when the training notebook has not been run."""
    if not Path(path).is_file():
        quick = get_profile("quick")
        log(f"No checkpoint at {path} (notebook 03 makes the real one). Training a quick one "
            f"now ({quick.epochs} epoch on {quick.train_limit:,} images).")
        train_model(quick, device, data_dir=data_dir, checkpoint_path=path)
    return load_checkpoint(path, device)
