"""Features: the librosa-equal log-mel front end and its settings, streaming, patches and crops,
handcrafted descriptors, and the content-keyed feature cache."""
