"""What a layer's settings parser is given: readers for the INI sections it owns, and only those.

Lives with the config reader so that reading configuration never imports the runtime.
"""

from __future__ import annotations

from typing import Mapping

from stoad.config._reader import Problems, SectionReader


class SectionSource:
    """Gives a layer's settings parser readers for the sections it owns (and only those)."""

    def __init__(self, sections: Mapping[str, Mapping[str, str]], problems: Problems,
                 base_dir: str, state_dir: str = ".") -> None:
        self._sections = sections
        self.problems = problems
        self.base_dir = base_dir
        self.state_dir = state_dir  # [server] state_dir: where layers keep what they write
        self.claimed: set[str] = set()

    def names(self, prefix: str) -> list[str]:
        """Section names that start with C{prefix} (e.g. C{"consumer:"})."""
        return [name for name in self._sections if name.startswith(prefix)]

    def reader(self, name: str, required: bool = False) -> SectionReader | None:
        self.claimed.add(name)
        if name not in self._sections:
            if required:
                self.problems.add(name, None, "required section is missing")
            return None
        return SectionReader(name, dict(self._sections[name]), self.problems, self.base_dir)
