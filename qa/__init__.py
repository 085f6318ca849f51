"""qa: semantic search and question answering over articles, with exact citations.

    import qa
    searcher = qa.load("index/")
    result = searcher.ask("How does NATO respond to an attack on a member?", k=5)
"""

from .models import Answer, AskRequest, AskResponse, Citation, Notice, Passage
from .searcher import Searcher, load
from .settings import Settings
from .store import IndexLoadError

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "AskRequest",
    "AskResponse",
    "Citation",
    "IndexLoadError",
    "Notice",
    "Passage",
    "Searcher",
    "Settings",
    "__version__",
    "load",
]
