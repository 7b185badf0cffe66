"""Images in: the `Preprocessing` record a model carries, the train and eval transforms (`transforms`),
the built-in data sets and image folders (`datasets`).

May import `googlenet.models` (never the layers above: weights, evaluation, training, inference, cli).
PIL, numpy and torchvision's data sets are imported here, which is why `import googlenet` does not
import this package until it is used.
"""
