"""A sheet: one row per channel, its visualisation beside the dataset images that excite it most, as one
PNG (what OpenAI Microscope shows per channel)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

TILE = 64  # pixels per picture on the sheet (32-px images are doubled, nearest-neighbour)
GAP = 4
LABEL_WIDTH = 64
TITLE_HEIGHT = 20
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


@dataclass
class SheetRow:
    channel: int
    visualisation: Tensor  # [C, S, S] in [0, 1]
    examples: Tensor | None = None  # [k, C, S, S] in [0, 1], best first


def as_pil(image: Tensor) -> Image.Image:
    """[C, H, W] in [0, 1] as a PIL image: "L" for one channel, "RGB" for three."""
    pixels = (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    if pixels.shape[0] == 1:
        return Image.fromarray(pixels[0].numpy(), "L")
    return Image.fromarray(np.ascontiguousarray(pixels.permute(1, 2, 0).numpy()), "RGB")


def picture(image: Tensor, tile: int = TILE) -> Image.Image:
    """[C, S, S] in [0, 1] (C = 1 or 3) as an RGB PIL image `tile` pixels a side."""
    shown = as_pil(image).convert("RGB")
    smaller = tile < max(shown.size)
    return shown.resize((tile, tile), Image.Resampling.BILINEAR if smaller else Image.Resampling.NEAREST)


def sheet_image(title: str, rows: list[SheetRow], tile: int = TILE) -> Image.Image:
    """The rows under a title: "ch N", the visualisation, a gap, then the examples left to right."""
    columns = 1 + max((len(row.examples) for row in rows if row.examples is not None), default=0)
    width = LABEL_WIDTH + columns * (tile + GAP) + (GAP * 3 if columns > 1 else 0)
    height = TITLE_HEIGHT + len(rows) * (tile + GAP) + GAP
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((GAP, 4), title, fill=INK)
    for number, row in enumerate(rows):
        top = TITLE_HEIGHT + number * (tile + GAP)
        draw.text((GAP, top + tile // 2 - 6), f"ch {row.channel}", fill=INK)
        sheet.paste(picture(row.visualisation, tile), (LABEL_WIDTH, top))
        for column, example in enumerate(row.examples if row.examples is not None else []):
            sheet.paste(picture(example, tile), (LABEL_WIDTH + (column + 1) * (tile + GAP) + GAP * 3, top))
    return sheet


def save_sheet(path: str | os.PathLike, title: str, rows: list[SheetRow], tile: int = TILE) -> Path:
    """The sheet as a PNG at `path` (written whole or not at all)."""
    from googlenet.atomic_files import write_with

    path = Path(path)
    sheet = sheet_image(title, rows, tile)
    write_with(path, lambda file: sheet.save(file, format="PNG", optimize=True))
    return path
