"""Measuring and using a trained model.

    evaluate.py      evaluate(model_or_dir, data=None, ...) -> EvaluationResult; evaluate_loader, which the
                     training loop calls each epoch; images that fail to decode are excluded and named
    predict.py       predict(model_or_dir, inputs, top_k=5) -> PredictionReport, one entry per input
    model_source.py  MODEL as a model or run directory, and what the run recorded (epoch, weights, data set)
    input_fit.py     one warning when images are converted or resized a lot to fit the model
    placement.py     the caller's model comes back as it went in: its mode, device and dtype
    tta.py           test-time crops: center, 10-crop, the paper's 144 crops

May import models, data, weights and `googlenet.distributed`; never training, inference or the
command line.
"""
