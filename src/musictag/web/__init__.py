"""The local web page and HTTP API (``musictag serve``)."""
