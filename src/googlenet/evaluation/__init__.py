"""Measuring and using a trained model: accuracy over a loader (`evaluate`), test-time augmentation
geometry (`tta`: center, 10-crop, the paper's 144 crops) and prediction on image files (`predict`).

May import models, data, weights and `googlenet.distributed`; never training, inference or the
command line.
"""
