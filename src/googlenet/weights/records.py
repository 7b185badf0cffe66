"""What a run or model directory wrote about itself (config.json, evaluation.json), read for describing it.

These files name the data, the epoch, the kept weights: a model card or a report reads them where they are
and goes on without them where they are not. Loading weights never reads them through here: its reader
(`model_dir.read_config`) refuses a bad config.json with the file and the key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_record(path: Path) -> dict[str, Any]:
    """The JSON object in `path`, or {} where the file is missing, unreadable or not an object."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}
