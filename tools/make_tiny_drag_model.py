"""Save a tiny randomly initialised DragVideoPipeline (no weights downloaded).

Usage: python tools/make_tiny_drag_model.py OUT_DIR
Then: partdrag4d generator=puppet_master generator.model_path=OUT_DIR
"""

from __future__ import annotations

import argparse

from partdrag4d.generator.tiny import tiny_drag_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="folder to save_pretrained into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tiny_drag_pipeline(seed=args.seed).save_pretrained(args.out_dir)
    print(f"saved a tiny random DragVideoPipeline to {args.out_dir}")


if __name__ == "__main__":
    main()
