"""Deprecated: `googlenet.fast` moved to `googlenet.inference.optimize`; this alias goes in the next release."""

import sys
import warnings

import googlenet.inference.optimize as _moved

warnings.warn("googlenet.fast moved to googlenet.inference.optimize; import it from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
