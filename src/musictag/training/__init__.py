"""Training: recipes, transfer heads, cross-validation."""
