"""Deprecated: `googlenet.hub` moved to `googlenet.weights.model_dir`; this alias goes in the next release."""

import sys
import warnings

import googlenet.weights.model_dir as _moved

warnings.warn("googlenet.hub moved to googlenet.weights.model_dir; import it from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
