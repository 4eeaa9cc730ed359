"""musictag: music auto-tagging and genre classification."""

from musictag.errors import AudioError, MusictagError, ParameterError, WeightsNotFoundError
from musictag.inference.results import EmbedResult, FileError, TagResult
from musictag.inference.tagger import Tagger

__version__ = "0.1.0"

__all__ = [
    "AudioError",
    "EmbedResult",
    "FileError",
    "MusictagError",
    "ParameterError",
    "TagResult",
    "Tagger",
    "WeightsNotFoundError",
    "__version__",
]
