"""Training: typed recipes and the runner that carries them out (transfer heads, classical pipelines,
Lightning training of zoo models, cross-validation), and the synthetic-to-real study."""
