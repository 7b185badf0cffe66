"""`googlenet export`: ONNX checked with onnxruntime, torch.export and TorchScript, with the preprocessing."""

import json

import onnx
import onnxruntime
import pytest
import torch

from helpers import real_scale_googlenet
from googlenet import googlenet
from googlenet.cli import main
from googlenet.weights.export import EXPORT_FORMATS, export, sidecar_path
from googlenet.weights.model_dir import from_pretrained, save_pretrained
from googlenet.models.preprocessing import Preprocessing

SIZE = 64
TOLERANCE = 1e-4


def model_dir(tmp_path, flavour, **options):
    model = real_scale_googlenet(flavour, num_classes=10, **options)
    model.class_names = [f"class {i}" for i in range(10)]
    model.preprocessing = Preprocessing(input_size=SIZE, resize_size=73)
    return save_pretrained(model, tmp_path / flavour)


def assert_matches_pytorch(run, reference: torch.nn.Module) -> None:
    """`run` (an exported model) against the PyTorch model on a batch of 1 and of 3: dynamic batch."""
    for batch in (1, 3):
        x = torch.randn(batch, 3, SIZE, SIZE)
        with torch.no_grad():
            expected = reference(x)
        got = torch.as_tensor(run(x))
        assert expected.std() > 0.1  # a near-constant output would make any export "agree"
        assert got.shape == (batch, 10)
        difference = (got - expected).abs().max().item()
        assert difference <= TOLERANCE, f"batch {batch}: max abs difference {difference:.2e}"


@pytest.mark.slow
@pytest.mark.parametrize("flavour, options", [("bn", {}), ("torchvision", {"transform_input": True})])
def test_onnx_export_agrees_with_pytorch_in_onnxruntime(tmp_path, flavour, options):
    directory = model_dir(tmp_path, flavour, **options)
    path = export(directory, format="onnx")
    assert path == directory / "model.onnx"
    reference = from_pretrained(directory)

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (model_input,), outputs = session.get_inputs(), session.get_outputs()
    assert model_input.name == "input" and model_input.shape == ["batch", 3, SIZE, SIZE]
    assert [output.name for output in outputs] == ["logits"]  # aux heads dropped
    assert_matches_pytorch(lambda x: session.run(None, {"input": x.numpy()})[0], reference)

    metadata = {prop.key: json.loads(prop.value) for prop in onnx.load(str(path), load_external_data=False).metadata_props}
    assert metadata["preprocessing"] == {**reference.preprocessing.to_dict(), "mean": list(reference.preprocessing.mean),
                                         "std": list(reference.preprocessing.std)}
    assert metadata["class_names"] == reference.class_names
    assert metadata["model"]["transform_input"] == options.get("transform_input", False)
    assert metadata["model"]["aux_logits"] is False

    description = json.loads(sidecar_path(path).read_text())
    assert description["preprocessing"] == metadata["preprocessing"] and description["class_names"] == metadata["class_names"]
    assert description["input"]["shape"] == ["batch", 3, SIZE, SIZE]


@pytest.mark.slow
def test_exported_program_agrees_with_pytorch(tmp_path):
    model = real_scale_googlenet("paper", num_classes=10)
    model.preprocessing = Preprocessing(input_size=SIZE)
    path = export(model, tmp_path / "out" / "googlenet.pt2", "exported-program")
    assert model.aux1 is not None and model.training  # the caller's model is left as it was

    program = torch.export.load(path)
    assert not any(name.startswith("aux") for name in program.state_dict)
    assert_matches_pytorch(program.module(), model.eval())
    assert json.loads(sidecar_path(path).read_text())["format"] == "exported-program"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit is deprecated upstream; tracing still works
def test_torchscript_export_from_the_command_line(tmp_path, capsys):
    directory = model_dir(tmp_path, "bn")
    assert main(["export", str(directory), "--format", "torchscript"]) == 0
    path = directory / EXPORT_FORMATS["torchscript"]
    assert str(path) in capsys.readouterr().out
    traced = torch.jit.load(path)
    assert_matches_pytorch(traced, from_pretrained(directory))
    assert json.loads(sidecar_path(path).read_text())["preprocessing"]["input_size"] == SIZE


def test_an_unknown_format_is_a_clear_error_listing_the_formats(tmp_path, capsys):
    directory = model_dir(tmp_path, "bn")
    with pytest.raises(ValueError, match="unknown export format 'tflite'; choose one of: onnx, exported-program, torchscript"):
        export(directory, tmp_path / "model.tflite", "tflite")
    try:  # argparse refuses it (its choices are EXPORT_FORMATS), exiting with 2
        code = main(["export", str(directory), "--format", "tflite"])
    except SystemExit as exit:
        code = exit.code
    assert code == 2
    error = capsys.readouterr().err
    assert "googlenet export: error: argument --format: invalid choice: 'tflite'" in error and "'onnx'" in error
    assert not (tmp_path / "model.tflite").exists()


def test_exporting_a_missing_model_directory_names_it(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nowhere")]) == 2
    assert f"googlenet export: error: {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_an_export_without_recorded_preprocessing_uses_224(tmp_path):
    model = googlenet("torchvision", num_classes=10, aux_logits=False)
    path = export(model, tmp_path / "model.pt", "torchscript")
    description = json.loads(sidecar_path(path).read_text())
    assert description["input"]["shape"] == ["batch", 3, 224, 224] and description["preprocessing"] is None
    output = torch.jit.load(path)(torch.zeros(1, 3, 224, 224))
    assert output.shape == (1, 10) and torch.isfinite(output).all()


# -- one export path, run directories, nothing half-written ------------------------------------------------


def test_export_and_the_fast_path_share_one_onnx_exporter():
    import googlenet.weights.export as export_module
    from googlenet.inference import optimize

    assert optimize.onnx_bytes is export_module.onnx_bytes
    assert optimize.exported_program is export_module.exported_program


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_a_run_directory_exports_its_model(tmp_path):
    from googlenet.weights.export import export

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"epochs": 2, "flavour": "bn"}))  # a run's TrainConfig
    model = real_scale_googlenet("bn", num_classes=10)
    model.preprocessing = Preprocessing(input_size=SIZE, resize_size=73)
    save_pretrained(model, run / "model")
    path = export(run, format="torchscript")
    assert path == run / "model" / EXPORT_FORMATS["torchscript"]
    assert_matches_pytorch(torch.jit.load(path), from_pretrained(run / "model"))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_a_failed_export_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    directory = model_dir(tmp_path, "bn")
    path = export(directory, format="torchscript")
    before = path.read_bytes(), sidecar_path(path).read_bytes()

    def write_half_then_fail(module, file):
        file.write(b"half an export")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch.jit, "save", write_half_then_fail)
    with pytest.raises(OSError, match=f"cannot write {path}: No space left on device"):
        export(directory, format="torchscript")
    assert (path.read_bytes(), sidecar_path(path).read_bytes()) == before
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        ["README.md", "config.json", "model.safetensors", path.name, sidecar_path(path).name])  # no temporary left behind
    monkeypatch.undo()
    assert_matches_pytorch(torch.jit.load(path), from_pretrained(directory))
