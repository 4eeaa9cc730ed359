"""Type checkers read the lazy public names of :mod:`musictag` from here (``__init__.py`` imports them on
first use); keep the two lists alike (``tests/test_layout.py`` checks it)."""

from musictag.errors import AudioError as AudioError
from musictag.errors import MusictagError as MusictagError
from musictag.errors import ParameterError as ParameterError
from musictag.errors import WeightsNotFoundError as WeightsNotFoundError
from musictag.inference.base import TaggerBackend as TaggerBackend
from musictag.inference.factory import open_tagger as open_tagger
from musictag.inference.results import EmbedResult as EmbedResult
from musictag.inference.results import FileError as FileError
from musictag.inference.results import TagResult as TagResult
from musictag.inference.tagger import Tagger as Tagger

__version__: str
__all__: list[str]
