"""Test configuration: runtime shape/type checking of the whole package.

Every function and dataclass in ``partdrag4d`` is checked against its jaxtyping
annotations (beartype) while the tests run. The hook stays
installed for the whole session, so it must run before any ``partdrag4d`` import.
"""

from jaxtyping import install_import_hook

install_import_hook("partdrag4d", "beartype.beartype")
