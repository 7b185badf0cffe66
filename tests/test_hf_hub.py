"""from_pretrained / save_pretrained with Hugging Face Hub repositories ("hf-hub:user/repo"), offline: a Hugging Face cache laid
out as huggingface_hub writes it (models--user--repo/snapshots/<commit>/..., refs/<branch>) in tmp_path,
HF_HUB_OFFLINE=1, and HfApi's network calls replaced by recorders for pushing."""

import shutil
import sys
from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import pytest
import torch
from huggingface_hub.utils import filter_repo_objects

import googlenet
from helpers import real_scale_googlenet
from googlenet.weights.init import load_initial_weights
from googlenet.weights.model_dir import from_pretrained, push_to_hub, save_pretrained

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER_COMMIT = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """An empty offline Hugging Face cache: huggingface_hub reads its settings when imported, so its
    constants are set along with the environment."""
    cache = tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return cache


def cache_repo(cache, repo_id, model_dir, commit=COMMIT, refs=("main",)):
    """Put a model directory into the cache as repository `repo_id` at `commit`, named by `refs`."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir(exist_ok=True)
    for ref in refs:
        (repo / "refs" / ref).write_text(commit)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Two real-scale 3-class models and their model directories."""
    models, directories = [], []
    for seed in (0, 1):
        model = real_scale_googlenet("bn", num_classes=3, seed=seed).eval()
        models.append(model)
        directories.append(save_pretrained(model, tmp_path_factory.mktemp(f"model{seed}"), class_names=["a", "b", "c"]))
    return models, directories


def same_weights(loaded, model) -> bool:
    """Every tensor of the state_dict equal (the networks are built from the same config): the same model."""
    want = model.state_dict()
    got = loaded.state_dict()
    return got.keys() == want.keys() and all(torch.equal(got[key], want[key]) for key in want)


def test_a_repo_id_loads_from_the_offline_cache(hf_cache, saved):
    (first, second), (first_dir, second_dir) = saved
    cache_repo(hf_cache, "someone/googlenet-tiny", first_dir)
    cache_repo(hf_cache, "someone/googlenet-tiny", second_dir, commit=OTHER_COMMIT, refs=("v2",))
    loaded = from_pretrained("hf-hub:someone/googlenet-tiny")
    assert loaded.class_names == ["a", "b", "c"] and not loaded.training
    assert same_weights(loaded, first)
    # A branch or tag, a commit (as an argument or in the name, as timm reads it), and the package's front door.
    assert same_weights(from_pretrained("hf-hub:someone/googlenet-tiny", revision="v2"), second)
    assert same_weights(from_pretrained("hf-hub:someone/googlenet-tiny", revision=OTHER_COMMIT), second)
    assert same_weights(from_pretrained(f"hf-hub:someone/googlenet-tiny@{OTHER_COMMIT}"), second)
    assert same_weights(googlenet.from_pretrained("hf-hub:someone/googlenet-tiny"), first)  # the package's own name
    with pytest.raises(ValueError, match=r"names revision 'v2', and revision='main' was given"):
        from_pretrained("hf-hub:someone/googlenet-tiny@v2", revision="main")


def test_a_path_is_a_path_even_beside_a_cached_repo_of_that_name(hf_cache, saved, tmp_path, monkeypatch):
    (first, second), (first_dir, second_dir) = saved
    cache_repo(hf_cache, "someone/googlenet-tiny", first_dir)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"^someone/googlenet-tiny does not exist \(a Hugging Face Hub "
                                                r"repository is written hf-hub:someone/googlenet-tiny\)"):
        from_pretrained("someone/googlenet-tiny")
    shutil.copytree(second_dir, tmp_path / "someone" / "googlenet-tiny")
    assert same_weights(from_pretrained("someone/googlenet-tiny"), second)
    assert same_weights(from_pretrained("hf-hub:someone/googlenet-tiny"), first)
    with pytest.raises(ValueError, match=r"is a local path: revision='v2' applies to hf-hub:user/repo names only"):
        from_pretrained("someone/googlenet-tiny", revision="v2")


def test_a_repo_missing_offline_is_named(hf_cache, saved):
    with pytest.raises(ValueError, match=r"Hub repository hf-hub:someone/absent: config.json is not in the Hugging Face "
                                         r"cache \(HF_HUB_OFFLINE is set\)"):
        from_pretrained("hf-hub:someone/absent")
    cache_repo(hf_cache, "someone/googlenet-tiny", saved[1][0])
    with pytest.raises(ValueError, match=r"Hub repository hf-hub:someone/googlenet-tiny at revision 'v9': config.json "
                                         r"is not in the Hugging Face cache"):
        from_pretrained("hf-hub:someone/googlenet-tiny", revision="v9")


def test_without_huggingface_hub_only_a_hub_name_asks_for_it(hf_cache, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"hf-hub:someone/googlenet-tiny names a Hugging Face Hub repository.*"
                                          r"pip install huggingface_hub"):
        from_pretrained("hf-hub:someone/googlenet-tiny")
    with pytest.raises(FileNotFoundError, match=r"someone/googlenet-tiny does not exist"):
        from_pretrained(tmp_path / "someone" / "googlenet-tiny")


@pytest.mark.parametrize("name, message", [
    ("hf-hub:", r"'hf-hub:' names no repository: write hf-hub:user/repo"),
    ("hf-hub:user/re..po", r"'user/re..po' is not a Hub repository id \('user/repo'\): Cannot have -- or \.\."),
    ("hf-hub:user/repo/extra", r"'user/repo/extra' is not a Hub repository id"),
])
def test_a_hub_name_is_checked_by_the_hubs_own_rule(hf_cache, name, message):
    with pytest.raises(ValueError, match=message):
        from_pretrained(name)


@pytest.fixture
def recorded_pushes(monkeypatch, tmp_path):
    """HfApi.create_repo / upload_folder replaced: each push records the repo id and the files upload_folder
    would send (the folder's files through its own pattern filter), copied before the folder goes away."""
    pushes = []

    def create_repo(self, repo_id, **options):
        pushes.append({"created": repo_id, "exist_ok": options.get("exist_ok")})

    def upload_folder(self, *, repo_id, folder_path, allow_patterns=None, revision=None, **options):
        folder = Path(folder_path)
        sent = sorted(filter_repo_objects([path.name for path in folder.iterdir()], allow_patterns=allow_patterns))
        copy = tmp_path / "pushed" / str(len(pushes))
        copy.mkdir(parents=True)
        for name in sent:
            shutil.copy2(folder / name, copy / name)
        pushes.append({"repo_id": repo_id, "files": sent, "revision": revision, "copy": copy})
        return f"https://huggingface.co/{repo_id}/commit/{COMMIT}"

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    return pushes


def test_save_pretrained_pushes_the_model_directory(recorded_pushes, saved, tmp_path):
    model = saved[0][0]
    directory = save_pretrained(saved[0][1], tmp_path / "model")  # an earlier version, with more beside it
    (directory / "README.md").write_text("model card\n")
    save_pretrained(model, directory, push_to_hub=True, repo_id="me/my-googlenet", revision="dev")
    created, upload = recorded_pushes
    assert created == {"created": "me/my-googlenet", "exist_ok": True}
    assert (upload["repo_id"], upload["revision"]) == ("me/my-googlenet", "dev")
    assert upload["files"] == ["README.md", "config.json", "model.safetensors"]
    assert same_weights(from_pretrained(upload["copy"]), model)


def test_push_to_hub_uploads_a_saved_copy(recorded_pushes, saved, tmp_path):
    model = saved[0][1]
    url = push_to_hub(model, "me/other", class_names=["x", "y", "z"])
    upload = recorded_pushes[1]
    assert url.startswith("https://huggingface.co/me/other/commit/")
    assert upload["repo_id"] == "me/other" and upload["files"] == ["README.md", "config.json", "model.safetensors"]
    card = huggingface_hub.ModelCard.load(upload["copy"] / "README.md")  # the model card, naming its repository
    assert card.data.pipeline_tag == "image-classification" and "googlenet.from_pretrained('hf-hub:me/other')" in card.text
    pushed = from_pretrained(upload["copy"])
    assert pushed.class_names == ["x", "y", "z"] and same_weights(pushed, model)


def test_pushing_needs_a_repo_id(recorded_pushes, saved, tmp_path):
    with pytest.raises(ValueError, match=r"push_to_hub=True needs repo_id='user/repo'"):
        save_pretrained(saved[0][0], tmp_path / "model", push_to_hub=True)
    with pytest.raises(ValueError, match=r"'not a repo' is not a Hub repository id \('user/repo'\)"):
        push_to_hub(saved[0][0], "not a repo")
    assert recorded_pushes == [] and not (tmp_path / "model").exists()


def test_initial_weights_come_from_a_repo_id(hf_cache, saved):
    (first, _), (first_dir, _) = saved
    cache_repo(hf_cache, "someone/googlenet-tiny", first_dir)
    initial = load_initial_weights("hf-hub:someone/googlenet-tiny", num_classes=4, in_chans=3)
    assert initial.source.endswith(COMMIT) and initial.model.fc.out_features == 4
    assert torch.equal(initial.model.inception5b.branch1.conv.weight, first.inception5b.branch1.conv.weight)
    with pytest.raises(ValueError, match=r"Hub repository hf-hub:someone/absent: config.json is not in the Hugging Face"):
        load_initial_weights("hf-hub:someone/absent", num_classes=4, in_chans=3)


def test_commands_take_a_hub_name_and_never_export_into_the_cache(hf_cache, saved, capsys):
    from googlenet.cli import main
    from googlenet.evaluation.model_source import find_model
    from googlenet.weights.export import export

    cache_repo(hf_cache, "someone/googlenet-tiny", saved[1][0])
    source = find_model("hf-hub:someone/googlenet-tiny")
    assert source.model_dir.name == COMMIT and source.describe() == "hf-hub:someone/googlenet-tiny"
    before = sorted(path.name for path in hf_cache.rglob("*"))
    assert main(["export", "hf-hub:someone/googlenet-tiny", "--format", "torchscript"]) == 2
    assert "hf-hub:someone/googlenet-tiny is read from the Hugging Face cache: give --output" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"read from the Hugging Face cache: give the export an output path"):
        export("hf-hub:someone/googlenet-tiny", format="torchscript")
    assert sorted(path.name for path in hf_cache.rglob("*")) == before
