"""Deprecated: `googlenet.run_logging` moved to `googlenet.training.outputs`; this alias goes in the next release."""

import sys
import warnings

import googlenet.training.outputs as _moved

warnings.warn("googlenet.run_logging moved to googlenet.training.outputs; import it from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
