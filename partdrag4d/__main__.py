"""``python -m partdrag4d`` runs the app (same as the ``partdrag4d`` console script)."""

from partdrag4d.app import main

main()
