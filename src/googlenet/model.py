"""Deprecated: `googlenet.model` moved to `googlenet.models.network`; this alias goes in the next release."""

import sys
import warnings

import googlenet.models.network as _moved

warnings.warn("googlenet.model moved to googlenet.models.network; import it from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
