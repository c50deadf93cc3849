"""Progress bars: runtime.progress=false silences them without process-wide state."""

import os

from partdrag4d.progress import bar, disabled, silenced


def test_silenced_switches_bars_off_without_touching_the_environment():
    before = dict(os.environ)
    with silenced():
        assert disabled() is True and bar(range(3)).disable
        assert dict(os.environ) == before
    with silenced(False):
        assert disabled() is None or "TQDM_DISABLE" in os.environ
