"""Running a trained model fast: `optimize` (BatchNorm folding, 1x1 fusion, the backend chosen by
measurement), `quantize` (int8) and `benchmark` (measured against torchvision in the same process).

May import every layer below (models, data, weights, evaluation, training: the benchmark times the
training step that `googlenet train` runs); never the command line.
"""
