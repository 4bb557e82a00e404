"""cleaner: find text mangled by article spinners and machine translation, and restore it.

    >>> from cleaner import Cleaner
    >>> r = Cleaner(stages=("tables", "mt")).clean("Rights teams warn about local weather change.")
    >>> r.text
    'Rights groups warn about climate change.'
"""

from .edits import Edit, EditConflict, apply_edits, revert_edits
from .pipeline import Cleaner, Result, clean

__version__ = "0.1.0"
__all__ = ["Cleaner", "Result", "Edit", "EditConflict", "apply_edits", "revert_edits", "clean", "__version__"]
