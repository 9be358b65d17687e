"""The image builder: a code or git job built (and pushed) as an image, and its settings."""
