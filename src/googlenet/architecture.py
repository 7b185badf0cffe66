"""Deprecated: `googlenet.architecture` moved to `googlenet.models.table`; this alias goes in the next release."""

import sys
import warnings

import googlenet.models.table as _moved

warnings.warn("googlenet.architecture moved to googlenet.models.table; import it from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
