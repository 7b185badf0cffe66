"""Deprecated: `googlenet.presets` moved to `googlenet.data.transforms`; this alias goes in the next release."""

import sys
import warnings

import googlenet.data.transforms as _moved

warnings.warn("googlenet.presets moved to googlenet.data.transforms; import it from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
