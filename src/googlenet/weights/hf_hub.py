"""Model directories on the Hugging Face Hub: a repository ("hf-hub:user/repo", `googlenet.weights.sources`)
in, a push out.

A model directory already is the Hub's layout (config.json + model.safetensors), so pulling is
downloading those two files into the Hugging Face cache and pushing is uploading them. Both go through
`huggingface_hub`, which is optional (`pip install huggingface_hub`; from a clone, the `hub` extra) and imported only here, when
called; it honours its own settings: `HF_HOME`/`HF_HUB_CACHE` (where the cache is), `HF_HUB_OFFLINE=1`
(the cache only, no network), `HF_TOKEN` (private repositories, pushing).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

INSTALL_HINT = "pip install huggingface_hub"
HUB_PREFIX = "hf-hub:"


def _hub(repo_id: str) -> ModuleType:
    """huggingface_hub, once `repo_id` is checked by its own rule for repository ids."""
    try:
        import huggingface_hub
    except ImportError:
        raise ImportError(f"{HUB_PREFIX}{repo_id} names a Hugging Face Hub repository, and the Hub needs the "
                          f"huggingface_hub package: {INSTALL_HINT}") from None
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ValueError(f"{repo_id!r} is not a Hub repository id ('user/repo'): {_first_line(error)}") from None
    return huggingface_hub


def download_model_directory(repo_id: str, revision: str | None = None, files: tuple[str, ...] = ()) -> Path:
    """The model directory of Hub repository `repo_id` (at `revision`: a branch, tag or commit; None: main)
    in the Hugging Face cache, `files` downloaded there first unless already cached. Offline
    (`HF_HUB_OFFLINE=1`) only the cache is read. A ValueError names the repository when it cannot be had."""
    hub = _hub(repo_id)
    from huggingface_hub import constants
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError

    at = f"{HUB_PREFIX}{repo_id}" + (f" at revision {revision!r}" if revision else "")
    paths = []
    for name in files:
        try:
            paths.append(Path(hub.hf_hub_download(repo_id, name, revision=revision)))
        except LocalEntryNotFoundError as error:
            where = "the Hugging Face cache (HF_HUB_OFFLINE is set)" if constants.is_offline_mode() else \
                "the Hugging Face cache, and the Hub could not be reached"
            raise ValueError(f"Hub repository {at}: {name} is not in {where}: download it once with a network "
                             f"(cache: {constants.HF_HUB_CACHE}); {_first_line(error)}") from None
        except EntryNotFoundError:
            raise ValueError(f"Hub repository {at} has no {name}: it is not a googlenet model directory") from None
        except HfHubHTTPError as error:  # no such repository or revision, no access, the Hub down
            raise ValueError(f"Hub repository {at}: {type(error).__name__}: {_first_line(error)}") from None
    return paths[0].parent if paths else Path()


def push_model_directory(
    directory: str | Path,
    repo_id: str,
    *,
    files: tuple[str, ...],
    revision: str | None = None,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload googlenet model",
) -> str:
    """Upload a model directory's `files` (and its README.md, the model card, if it has one) to Hub repository
    `repo_id` ("user/repo", or as loading spells it, "hf-hub:user/repo"), creating the repository if need be;
    returns the commit's URL."""
    repo_id = repo_id.removeprefix(HUB_PREFIX)
    hub = _hub(repo_id)
    api = hub.HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    commit = api.upload_folder(repo_id=repo_id, folder_path=str(directory), repo_type="model", revision=revision,
                               commit_message=commit_message, allow_patterns=[*files, "README.md"])
    return str(getattr(commit, "commit_url", commit))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
