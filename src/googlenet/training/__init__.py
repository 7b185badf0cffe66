"""Training: the run's configuration, the loop, checkpoints, the learning-rate schedule, the weight
average and the run's outputs (metrics files, plots, the model directory).

    config.py     TrainConfig (every field with its command-line help) and TrainResult
    trainer.py    train() and Trainer: the pieces below, in order
    setup.py      the run directory checked, the data loaded, the model made (--init, --freeze-to)
    step.py       the one training step (googlenet benchmark times the same function)
    loop.py       one epoch of steps, one evaluation: free functions over a Session and a RunState
    state.py      RunState: model, optimizer, schedule, EMA, position, running sums, selection
    selection.py  which weights are kept: chosen on the validation split, the test split only reported
    checkpoint.py the state to a file and back, every rank's random state included
    schedule.py   warm-up and cosine (or the paper's steps), continued without rising on resume
    ema.py        the weight average with its warm-up
    resume.py     what --resume accepts and refuses
    outputs.py    RunOutputs: metrics, TensorBoard, plots, model/, all written atomically

May import models, data, weights, evaluation and the bottom utilities (distributed, atomic_files,
machine); never inference, serving or the command line.
"""
