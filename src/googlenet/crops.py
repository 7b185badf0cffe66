"""Deprecated: `googlenet.crops` moved to `googlenet.evaluation.tta`; this alias goes in the next release."""

import sys
import warnings

import googlenet.evaluation.tta as _moved

warnings.warn("googlenet.crops moved to googlenet.evaluation.tta; import it from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
