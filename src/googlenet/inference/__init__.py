"""Running a trained model fast: `optimize` (BatchNorm folding, 1x1 fusion, the backend chosen by
measurement; `precision` for opt-in bf16), `quantize` (int8 on ONNX Runtime or OpenVINO, right on CPUs with
and without VNNI) and `benchmark` (with `benchmark_subjects`, what is timed, and `benchmark_report`, the
figures: torchvision and ours in the same process, inference and `googlenet train`'s step).

May import every layer below (models, data, weights, evaluation, training: the benchmark times the
training step that `googlenet train` runs) and the bottom utility `googlenet.machine`; never the command
line.
"""
