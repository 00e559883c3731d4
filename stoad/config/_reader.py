"""Typed, allow-listed reading of INI sections that collects every problem instead of stopping.

Every problem is reported as C{[section] key: what is wrong}; the caller raises them all at once.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")

_REQUIRED = object()
_TRUE = {"yes", "true", "on", "1"}
_FALSE = {"no", "false", "off", "0"}
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}


class ConfigError(Exception):
    """Every problem found in a configuration, one C{[section] key: problem} line each."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class Problems:
    """A collector of configuration problems shared by every section reader."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.files: set[str] = set()  # every file or folder a key named: part of the config hash
        self.keys_read: set[tuple[str, str]] = set()  # (section, key) of every key asked for

    def add(self, section: str, key: str | None, problem: str) -> None:
        where = f"[{section}] {key}" if key else f"[{section}]"
        self.items.append(f"{where}: {problem}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.items)


class SectionReader:
    """
    Reads one INI section's keys as typed values. Each key read is marked used; C{finish}
    reports every key that nobody read as unknown. A missing or bad value is recorded in
    C{problems} and a placeholder returned, so parsing goes on and every problem is reported.
    """

    def __init__(
        self, name: str, values: dict[str, str], problems: Problems, base_dir: str = "."
    ) -> None:
        self.name = name
        self._values = dict(values)
        self._used: set[str] = set()
        self.problems = problems
        self.base_dir = base_dir

    def has(self, key: str) -> bool:
        return key in self._values

    def keys(self) -> list[str]:
        return list(self._values)

    def problem(self, key: str | None, text: str) -> None:
        self.problems.add(self.name, key, text)

    def _raw(self, key: str, default: object) -> str | None:
        self._used.add(key)
        self.problems.keys_read.add((self.name, key))
        if key in self._values:
            return self._values[key].strip()
        if default is _REQUIRED:
            self.problem(key, "required key is missing")
        return None

    def _typed(self, key: str, default: object, convert: Callable[[str], T], placeholder: T) -> T:
        raw = self._raw(key, default)
        if raw is None:
            return placeholder if default is _REQUIRED else default  # type: ignore[return-value]
        try:
            return convert(raw)
        except ValueError as e:
            self.problem(key, str(e))
            return placeholder

    def string(self, key: str, default: object = _REQUIRED) -> str:
        def convert(raw: str) -> str:
            if not raw:
                raise ValueError("must not be empty")
            return raw

        return self._typed(key, default, convert, "")

    def optional_string(self, key: str) -> str | None:
        return self.string(key, None) or None

    def integer(self, key: str, default: object = _REQUIRED, minimum: int | None = None,
                maximum: int | None = None) -> int:
        def convert(raw: str) -> int:
            try:
                value = int(raw, 10)
            except ValueError:
                raise ValueError(f"expected a whole number, got {raw!r}") from None
            _check_range(value, minimum, maximum)
            return value

        return self._typed(key, default, convert, 0)

    def size(self, key: str, default: object = _REQUIRED, minimum: int = 0) -> int:
        """A byte size such as C{65536}, C{64k}, C{10m} or C{1g}."""

        def convert(raw: str) -> int:
            text = raw.lower().replace(" ", "")
            digits = text.rstrip("kmgb")
            unit = text[len(digits):]
            if not digits.isdigit() or unit not in _SIZE_UNITS:
                raise ValueError(f"expected a size like 65536, 64k or 10m, got {raw!r}")
            value = int(digits) * _SIZE_UNITS[unit]
            _check_range(value, minimum, None)
            return value

        return self._typed(key, default, convert, 0)

    def duration(self, key: str, default: object = _REQUIRED, minimum: float = 0.0,
                 maximum: float | None = None) -> float:
        """A duration in seconds: C{30}, C{2.5s}, C{250ms}, C{5m} or C{1h}."""

        def convert(raw: str) -> float:
            text = raw.lower().replace(" ", "")
            for unit in ("ms", "s", "m", "h"):
                if text.endswith(unit):
                    number, scale = text[: -len(unit)], _DURATION_UNITS[unit]
                    break
            else:
                number, scale = text, 1.0
            try:
                value = float(number) * scale
            except ValueError:
                raise ValueError(f"expected a duration like 30s or 250ms, got {raw!r}") from None
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(f"expected a finite duration, got {raw!r}")
            _check_range(value, minimum, maximum)
            return value

        return self._typed(key, default, convert, 0.0)

    def boolean(self, key: str, default: object = _REQUIRED) -> bool:
        def convert(raw: str) -> bool:
            low = raw.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(f"expected yes or no, got {raw!r}")

        return self._typed(key, default, convert, False)

    def choice(self, key: str, choices: Iterable[str], default: object = _REQUIRED) -> str:
        allowed = tuple(choices)

        def convert(raw: str) -> str:
            if raw.lower() not in allowed:
                raise ValueError(f"expected one of {', '.join(allowed)}, got {raw!r}")
            return raw.lower()

        return self._typed(key, default, convert, allowed[0])

    def words(self, key: str, default: object = _REQUIRED) -> tuple[str, ...]:
        """A list separated by commas, whitespace or newlines."""

        def convert(raw: str) -> tuple[str, ...]:
            return tuple(w for w in raw.replace(",", " ").split() if w)

        return self._typed(key, default, convert, ())

    def path(self, key: str, default: object = _REQUIRED, must_exist: bool = True,
             directory: bool = False) -> str:
        """A file (or directory) path, relative paths taken from the config file's folder."""

        def convert(raw: str) -> str:
            full = os.path.normpath(os.path.join(self.base_dir, os.path.expanduser(raw)))
            if must_exist:
                if directory and not os.path.isdir(full):
                    raise ValueError(f"no such directory: {full}")
                if not directory and not os.path.isfile(full):
                    raise ValueError(f"no such file: {full}")
                if not os.access(full, os.R_OK):
                    raise ValueError(f"not readable: {full}")
                # Inputs only: folders stoad writes to (state, audit) are not configuration.
                self.problems.files.add(full)
            return full

        return self._typed(key, default, convert, "")

    def optional_path(self, key: str, must_exist: bool = True, directory: bool = False) -> str | None:
        return self.path(key, None, must_exist, directory) or None

    def finish(self) -> None:
        """Report every key of this section that no reader asked for."""
        for key in self._values:
            if key not in self._used:
                self.problem(key, "unknown key")


def _check_range(value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise ValueError(f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"must be at most {maximum}, got {value}")


REQUIRED = _REQUIRED
