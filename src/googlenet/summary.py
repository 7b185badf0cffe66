"""Deprecated: `googlenet.summary` moved to `googlenet.models.summary`; this alias goes in the next release."""

import sys
import warnings

import googlenet.models.summary as _moved

warnings.warn("googlenet.summary moved to googlenet.models.summary; import it from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
