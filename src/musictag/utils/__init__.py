"""Small helpers every layer uses: atomic writes, progress bars and messages, cache paths, memory."""
