"""What a request carries: its images (multipart, JSON with base64, or raw bytes) and its options, checked.

Every problem becomes a `RequestProblem` with an HTTP status and a sentence naming the problem and the
part of the request it is in; nothing here lets an exception from PIL or the parser reach the client.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from torch import Tensor

SUPPORTED_BODIES = ("multipart/form-data (file fields, e.g. 'image')", "application/json ({\"images\": [base64, ...]})",
                    "an image's bytes with an image/* or application/octet-stream content type")


class RequestProblem(Exception):
    """A request the server refuses: `status` (4xx) and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ImageUpload:
    name: str  # how the client knows it: the file name, "images[2]", or "body"
    data: bytes


@dataclass
class ParsedRequest:
    images: list[ImageUpload]
    fields: dict[str, str] = field(default_factory=dict)  # form fields / JSON keys / query parameters


async def parse_request(request: Request, max_images: int) -> ParsedRequest:
    """The images and option fields of a POST, in whichever of SUPPORTED_BODIES it came."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields = dict(request.query_params)
    if media == "multipart/form-data":
        images, form_fields = await _multipart(request, max_images)
    elif media == "application/json":
        images, form_fields = _json_images(await request.body())
    elif media.startswith("image/") or media == "application/octet-stream":
        images, form_fields = [ImageUpload("body", await request.body())], {}
    else:
        shown = f"content type {media!r}" if media else "no content type"
        raise RequestProblem(415, f"unsupported request body ({shown}); send {'; or '.join(SUPPORTED_BODIES)}")
    fields.update(form_fields)
    if not images:
        raise RequestProblem(422, "the request holds no image; send at least one")
    if len(images) > max_images:
        raise RequestProblem(413, f"{len(images)} images in one request; the limit is {max_images}")
    return ParsedRequest(images, fields)


async def _multipart(request: Request, max_images: int) -> tuple[list[ImageUpload], dict[str, str]]:
    form = await request.form(max_files=max_images + 1, max_fields=32)
    images, fields = [], {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            images.append(ImageUpload(value.filename or key, await value.read()))
        else:
            fields[key] = value
    return images, fields


def _json_images(body: bytes) -> tuple[list[ImageUpload], dict[str, str]]:
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RequestProblem(422, f"the body is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise RequestProblem(422, "the JSON body must be an object: {\"images\": [base64, ...], \"top_k\": 5}")
    encoded = document.get("images", [document["image"]] if "image" in document else None)
    if not isinstance(encoded, list) or not all(isinstance(item, str) for item in encoded):
        raise RequestProblem(422, "the JSON body needs \"images\": a list of base64 strings (or \"image\": one)")
    images = [ImageUpload(f"images[{index}]", _base64(text, f"images[{index}]")) for index, text in enumerate(encoded)]
    fields = {key: str(value) for key, value in document.items()
              if key not in ("images", "image") and isinstance(value, (str, int, float))}
    return images, fields


def _base64(text: str, name: str) -> bytes:
    if text.startswith("data:"):  # a data URL: data:image/png;base64,....
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RequestProblem(422, f"{name} is not valid base64") from None


def whole_number(fields: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """Field `name` as a whole number in [low, high], or `default` when absent."""
    text = fields.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise RequestProblem(422, f"{name} must be a whole number from {low} to {high}, got {text!r}") from None
    if not low <= value <= high:
        raise RequestProblem(422, f"{name} must be from {low} to {high} (this model has {high} classes), got {value}"
                             if name == "top_k" else f"{name} must be from {low} to {high}, got {value}")
    return value


@dataclass
class DecodedImage:
    tensor: Tensor  # the model's input [C, S, S]
    warnings: list[str]  # what `googlenet predict` would say of this image alone: converted or resized to fit


def decode_images(uploads: list[ImageUpload], in_chans: int, preprocessing: Any, transform: Callable[[Any], Tensor],
                  max_pixels: int, max_request_pixels: int) -> list[DecodedImage]:
    """A request's files as the model's inputs. Every header is read first: an image over `max_pixels`, or
    images over `max_request_pixels` together, are refused before any of them is decoded."""
    total = sum(image_pixels(upload, max_pixels) for upload in uploads)
    if total > max_request_pixels:
        raise RequestProblem(413, f"{len(uploads)} image(s) of {total:,} pixels in all, over the limit of "
                             f"{max_request_pixels:,} pixels per request; send them in several requests")
    return [decode_image(upload, in_chans, preprocessing, transform) for upload in uploads]


def image_pixels(upload: ImageUpload, max_pixels: int) -> int:
    """Width x height of an uploaded file, from its header alone (PIL's open is lazy); an image over
    `max_pixels` (a decompression bomb) is refused here, before it is decoded."""
    name, data = upload.name, upload.data
    if not data:
        raise RequestProblem(422, f"{name}: empty file (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit is checked here instead
        try:
            with Image.open(io.BytesIO(data)) as header:  # reads the header only
                width, height = header.size
        except Image.DecompressionBombError as error:  # PIL's own hard limit, above ours
            raise RequestProblem(413, f"{name}: too many pixels, over the limit of {max_pixels:,} (a decompression "
                                 f"bomb?): {error}") from None
        except UnidentifiedImageError:
            raise RequestProblem(415, f"{name}: not an image (no image format recognised in its {len(data):,} bytes)") from None
        except Exception as error:  # PIL raises OSError, SyntaxError, struct.error... by format
            raise RequestProblem(422, f"{name}: damaged image header ({error})") from None
    if width * height > max_pixels:
        raise RequestProblem(413, f"{name}: {width}x{height} = {width * height:,} pixels, over the limit of "
                             f"{max_pixels:,} (a decompression bomb?)")
    return width * height


def decode_image(upload: ImageUpload, in_chans: int, preprocessing: Any,
                 transform: Callable[[Any], Tensor]) -> DecodedImage:
    """One uploaded file, its size already checked (`image_pixels`), as the model's input: through the one
    open-and-convert of googlenet.data, with the input-fit warnings of googlenet.evaluation.input_fit (the
    words `googlenet predict` uses)."""
    from googlenet.data.images import read_image, to_model_channels
    from googlenet.evaluation.input_fit import InputFitNotes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked by image_pixels instead
        try:
            picture = read_image(upload.data)
        except Exception as error:
            raise RequestProblem(422, f"{upload.name}: truncated or damaged image ({error})") from None
    notes = InputFitNotes(preprocessing, in_chans)
    notes.note(upload.name, picture.mode, picture.size)
    return DecodedImage(transform(to_model_channels(picture, in_chans)), notes.messages())
