"""Training: the run's configuration, the loop, checkpoints, the learning-rate schedule and the run's
outputs (metrics files, plots, the model directory).

May import models, data, weights, evaluation and `googlenet.distributed`; never inference or the
command line.
"""
